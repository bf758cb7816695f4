"""Model weights by name: where each comes from, whether it is here, and loading it once per worker."""
