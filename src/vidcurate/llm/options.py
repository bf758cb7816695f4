"""Endpoint and request settings shared by every LLM/VLM stage (flat keys in a recipe).

Kept free of httpx so that a light install can still load and validate a recipe. The API key is
read from an environment variable by default; a key given in the config is a `SecretStr` that is
excluded from dumps, so it never lands in `_stage.json`, a fingerprint or a log line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from vidcurate.core.errors import ConfigError
from vidcurate.core.stage import StageConfig
from vidcurate.llm.template import PromptRef

DEFAULT_BASE_URL = "http://localhost:8000/v1"  # `vllm serve` / `sglang` default port
CACHE_ENV = "VIDCURATE_CACHE"
CACHE_FILE = "llm.sqlite"
# Row error kinds that say "try again later", not "this row is bad" (retries exhausted on a timeout,
# a dropped connection, a 5xx or a 429): a rerun retries those rows, paying only for them.
TRANSIENT = ("timeout", "connection", "server_error", "rate_limited", "bad_response")


class LLMOptions(StageConfig):
    """Where to send chat completions and how hard to try."""

    model: str = Field(..., min_length=1, description="model name as the server knows it")
    prompt: PromptRef = Field("", description="packaged prompt name or a template file ($column placeholders)")
    response_format: Literal["auto", "json_object", "json_schema", "none"] = Field(
        "auto",
        description="when a stage wants JSON: auto (json_object, dropped if refused), json_schema (strict), "
        "none (prompt only)",
    )
    base_url: str | None = Field(
        None, description=f"OpenAI-compatible endpoint (default: $OPENAI_BASE_URL or {DEFAULT_BASE_URL})"
    )
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key")
    api_key: SecretStr | None = Field(None, exclude=True, description="API key (prefer api_key_env)")
    concurrency: int = Field(16, ge=1, le=1024, description="requests in flight at once, per worker process")
    timeout_s: float = Field(120.0, gt=0, description="deadline of one HTTP request")
    max_retries: int = Field(5, ge=0, le=50, description="retries on 429/5xx/timeouts/dropped connections")
    backoff_s: float = Field(1.0, ge=0, description="first backoff; doubles per retry, with jitter")
    backoff_max_s: float = Field(60.0, ge=0, description="longest backoff (and longest Retry-After honoured)")
    temperature: float | None = Field(0.0, ge=0, description="sampling temperature (None: server default)")
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(512, ge=1, description="completion token limit (None: server default)")
    seed: int | None = None
    extra_body: dict[str, Any] = Field(default_factory=dict, description="extra request fields (e.g. top_k)")
    cache: bool = Field(True, description="reuse answers from the on-disk response cache")
    cache_path: str | None = Field(
        None, description=f"SQLite cache file or folder (default: ${CACHE_ENV} or ./.vidcurate-cache/{CACHE_FILE})"
    )
    max_answer_kb: int = Field(1024, ge=1, description="an answer bigger than this is a row error, not a cell")

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/") if v else v

    def endpoint(self) -> str:
        return (self.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")

    def key(self) -> str | None:
        """The API key, or None for servers that need none (a local vLLM)."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        return os.environ.get(self.api_key_env) or None

    def sampling(self) -> dict[str, Any]:
        """The request fields besides model and messages (they are part of the cache key)."""
        out: dict[str, Any] = {}
        for k in ("temperature", "top_p", "max_tokens", "seed"):
            v = getattr(self, k)
            if v is not None:
                out[k] = v
        out.update(self.extra_body)
        return out

    def resolved_cache_path(self) -> Path | None:
        if not self.cache:
            return None
        return cache_file(self.cache_path or os.environ.get(CACHE_ENV) or None)


def cache_file(where: str | Path | None) -> Path:
    """The cache file for a configured path: a folder (or a name without suffix) gets `llm.sqlite` inside."""
    p = Path.cwd() / ".vidcurate-cache" / CACHE_FILE if where is None else Path(where).expanduser()
    if where is not None and (p.is_dir() or not p.suffix):
        p = p / CACHE_FILE
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create the LLM cache folder {p.parent}: {e.strerror or e}") from None
    return p
