"""Test doubles that ship with the package: synthetic videos with known truth, a fake LLM server.

The test-suite, the benchmarks and `make demo` use them; so can a user checking a recipe offline.
Nothing in the runtime package imports them.
"""
