"""The local engine: shards through a pool of worker processes on this machine (the default)."""

from __future__ import annotations

from vidcurate.engines.orchestrator import Engine, local_executor

LocalEngine = Engine

__all__ = ["Engine", "LocalEngine", "local_executor"]
