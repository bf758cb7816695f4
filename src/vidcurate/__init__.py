"""vidcurate: video collections in, training data out."""

__version__ = "0.1.0"
