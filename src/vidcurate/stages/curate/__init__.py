"""LLM curation: keep dynamic videos, tell agents from other objects (validated JSON -> columns)."""
