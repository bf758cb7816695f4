"""Third-party components: a scorer from a separate package, found by its entry point, in one file.

The package is made on disk as pip would install it (a module plus a `.dist-info` with
`entry_points.txt`), so `importlib.metadata` finds it the way it finds any installed plugin; spawned
workers see it through PYTHONPATH. It runs in the fused `score` stage and as its own stage
(`score.<name>`), and its columns land in the manifest with the types it declared.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vidcurate.core import registry
from vidcurate.core.errors import ConfigError
from vidcurate.core.recipe import parse_recipe
from vidcurate.engines.local import LocalEngine
from vidcurate.testing import synth

PLUGIN = '''
"""A sharpness scorer shipped by another package: one file, no edit to vidcurate."""

from typing import Any, ClassVar

import cv2
import numpy as np
import pyarrow as pa
from pydantic import Field

from vidcurate.core.frames import Frames, FrameSpec
from vidcurate.core.scorer import FrameScorer, ScorerConfig


class SharpnessConfig(ScorerConfig):
    frames: int = Field(3, ge=1)


class SharpnessScorer(FrameScorer[SharpnessConfig]):
    """Variance of the Laplacian (sharpness), and a coarse level 0-3."""

    name: ClassVar[str] = "sharpness"
    columns: ClassVar[dict[str, Any]] = {"sharpness": pa.float32(), "sharpness_level": pa.int8()}

    def frame_spec(self) -> FrameSpec:
        return FrameSpec(num=self.config.frames, max_side=256, gray=True)

    def score(self, frames: Frames) -> dict[str, Any]:
        if not len(frames):
            return self.empty()
        v = float(np.mean([cv2.Laplacian(f, cv2.CV_64F).var() for f in frames.data]))
        return {"sharpness": v, "sharpness_level": int(min(3, v // 500))}
'''


def install(root: Path, module: str, body: str, entry: str) -> Path:
    """Lay out a package as pip installs it: the module and a dist-info naming its entry point."""
    pkg = root / "acme_scorers"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / f"{module}.py").write_text(textwrap.dedent(body))
    info = root / "acme_scorers-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-scorers\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[vidcurate.scorers]\n{entry}\n")
    return root


@pytest.fixture
def plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = install(tmp_path / "site", "sharpness", PLUGIN, "sharpness = acme_scorers.sharpness:SharpnessScorer")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    registry.scorers.reload_plugins()
    registry.stages.reload_plugins()
    yield root
    monkeypatch.undo()
    registry.scorers.reload_plugins()


def test_an_entry_point_scorer_runs_fused_and_alone_with_typed_columns(plugin_path: Path, tmp_path: Path) -> None:
    vids = tmp_path / "v"
    synth.static(vids / "still.mp4", num_frames=24)
    synth.noise(vids / "noise.mp4", num_frames=24)
    rec = parse_recipe(
        {
            "stages": [
                {"probe": {}},
                {"score": {"scorers": {"motion": {}, "sharpness": {"frames": 2}}}},
                {"score.sharpness": {"frames": 4}},
            ]
        }
    )
    LocalEngine(rec, tmp_path / "out", workers=2, shard_size=1, progress=False).run(vids)
    table = pq.read_table(tmp_path / "out" / "manifest.parquet")
    assert table.schema.field("sharpness").type == pa.float32()  # declared, not inferred (double)
    assert table.schema.field("sharpness_level").type == pa.int8()
    rows = {Path(r["path"]).name: r for r in table.to_pylist()}
    assert rows["noise.mp4"]["sharpness"] > 10 * rows["still.mp4"]["sharpness"]
    assert rows["noise.mp4"]["motion_flow_mean"] is not None and not any(r.get("error") for r in rows.values())
    # the last stage (alone, 4 frames) overwrote the fused stage's column: both ran
    fused = pq.read_table(tmp_path / "out" / "02-score" / "part-00000.parquet").column("sharpness").to_pylist()
    assert fused[0] is not None


def test_a_plugin_cannot_silently_replace_a_built_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = install(tmp_path / "site", "fake_motion", PLUGIN, "motion = acme_scorers.fake_motion:SharpnessScorer")
    monkeypatch.syspath_prepend(str(root))
    try:
        with pytest.raises(ConfigError, match=r"would replace the built-in scorer 'motion'.*VIDCURATE_ALLOW_OVERRIDE"):
            registry.scorers.reload_plugins()
        monkeypatch.setenv("VIDCURATE_ALLOW_OVERRIDE", "scorer:motion")
        registry.scorers.reload_plugins()
        entry = next(e for e in registry.scorers.entries() if e.name == "motion")
        assert entry.overrides == "vidcurate.stages.score.motion:MotionScorer" and "acme-scorers" in entry.origin
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
        shown = subprocess.run(
            [sys.executable, "-m", "vidcurate.cli", "stages"], capture_output=True, text=True, env=env
        )
        assert shown.returncode == 0, shown.stderr
        line = next(x for x in shown.stdout.splitlines() if x.startswith("score.motion"))
        assert "overrides the built-in vidcurate.stages.score.motion:MotionScorer" in line
    finally:
        monkeypatch.delenv("VIDCURATE_ALLOW_OVERRIDE", raising=False)
        monkeypatch.undo()
        registry.scorers.reload_plugins()
