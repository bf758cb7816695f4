"""Is the endpoint there, and does it serve the model? Asked once before a run, not after every row failed.

`GET <base_url>/models` answers both questions on OpenAI-compatible servers (vLLM, SGLang, Ollama,
hosted APIs). A server without that route gets one chat request of one token instead. An
unreachable server, a refused key or an unknown model stops the run with one line; the key never
appears in it.
"""

from __future__ import annotations

from typing import Any

from vidcurate.core.errors import ConfigError
from vidcurate.llm.options import LLMOptions

TIMEOUT_S = 15.0


def check_endpoint(options: LLMOptions, stage: str) -> None:
    """Raise a one-line ConfigError when `options` cannot work: no server, a refused key, no such model."""
    import httpx

    base = options.endpoint()
    key = options.key()
    headers = {"Authorization": f"Bearer {key}"} if key else {}

    def clean(text: str) -> str:
        text = " ".join(str(text).split())[:200]
        return text.replace(f"Bearer {key}", "[redacted]").replace(key, "[redacted]") if key else text

    try:
        with httpx.Client(headers=headers, timeout=min(TIMEOUT_S, options.timeout_s)) as http:
            resp = http.get(f"{base}/models")
            if resp.status_code in (404, 405, 501):
                body: dict[str, Any] = {
                    "model": options.model,
                    "messages": [{"role": "user", "content": "ping"}],
                    "max_tokens": 1,
                }
                resp = http.post(f"{base}/chat/completions", json=body)
    except httpx.HTTPError as e:
        raise ConfigError(
            f"{stage}: cannot reach the LLM endpoint {base} ({type(e).__name__}: {clean(str(e)) or 'no answer'}); "
            "is the server running and base_url right?"
        ) from None
    status = resp.status_code
    if status in (401, 403):
        raise ConfigError(f"{stage}: {base} refused the API key ({status}); check ${options.api_key_env}")
    if status == 404:
        raise ConfigError(f"{stage}: {base} does not serve the model '{options.model}' ({clean(resp.text)})")
    if status >= 400:
        raise ConfigError(f"{stage}: {base} answered HTTP {status} to a check request ({clean(resp.text)})")
    served = _model_ids(resp)
    if served and options.model not in served:
        shown = ", ".join(sorted(served)[:8]) + (" ..." if len(served) > 8 else "")
        raise ConfigError(f"{stage}: {base} does not serve the model '{options.model}' (it serves: {shown})")


def _model_ids(resp: Any) -> set[str]:
    """Model ids of a `/models` answer (empty when the answer is not a model list)."""
    try:
        data = resp.json()
    except ValueError:
        return set()
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return set()
    return {str(m["id"]) for m in items if isinstance(m, dict) and m.get("id")}
