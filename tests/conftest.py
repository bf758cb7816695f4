"""Shared fixtures: the real test videos in ../shared/data and a per-test work dir."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
SHARED_VIDEOS = SHARED / "videos"
SHARED_ANNOTATIONS = SHARED / "annotations"


def shared_video(name: str) -> Path:
    """Path of a real test video; skips (with the reason) when the shared folder is absent."""
    p = SHARED_VIDEOS / name
    if not p.exists():
        pytest.skip(f"shared test video {p} not present (expected ../shared/data/videos beside the repo)")
    return p


@pytest.fixture
def shared_videos() -> Path:
    if not SHARED_VIDEOS.is_dir():
        pytest.skip(f"shared test videos not present at {SHARED_VIDEOS}")
    return SHARED_VIDEOS
