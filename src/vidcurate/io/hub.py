"""Files of a Hugging Face Hub dataset: `hf://datasets/OWNER/NAME/PATTERN`, cached and resumable.

`huggingface_hub` keeps what it downloaded (and resumes a partial file), so a second call costs
nothing. No Hub is reachable from the test machine: the tests stop at `snapshot_download`.
"""

from __future__ import annotations

from pathlib import Path

from vidcurate.core.errors import ConfigError

PREFIX = "hf://datasets/"


def is_hub(ref: str) -> bool:
    return ref.startswith(PREFIX)


def parse(ref: str) -> tuple[str, str]:
    """`hf://datasets/OWNER/NAME/PATTERN` -> ("OWNER/NAME", "PATTERN")."""
    rest = ref[len(PREFIX) :]
    parts = rest.split("/", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ConfigError(f"{ref}: use hf://datasets/OWNER/NAME/PATTERN (e.g. hf://datasets/nkp37/OpenVid-1M/*.zip)")
    return f"{parts[0]}/{parts[1]}", parts[2] if len(parts) > 2 and parts[2] else "*"


def fetch(ref: str, dest: Path) -> list[Path]:
    """Download the matching files into `dest/<NAME>` (where the Hub cache has them: no copy made)."""
    repo, pattern = parse(ref)
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ConfigError("hf:// paths need huggingface_hub: pip install huggingface_hub") from None
    local = dest / repo.split("/", 1)[1]
    try:
        root = Path(snapshot_download(repo_id=repo, repo_type="dataset", allow_patterns=[pattern], local_dir=local))
    except Exception as e:
        reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ConfigError(f"{ref}: download failed ({reason})") from None
    found = sorted(p for p in root.rglob("*") if p.is_file() and p.match(pattern) and ".cache" not in p.parts)
    if not found:
        raise ConfigError(f"{ref}: no file of {repo} matches {pattern}")
    return found
