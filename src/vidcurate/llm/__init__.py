"""Talking to OpenAI-compatible chat endpoints: options, client (retries, limits), cache, prompts, usage.

`client` imports httpx (the `llm` extra); the other modules do not, so recipes naming LLM stages
load and validate on a light install.
"""
