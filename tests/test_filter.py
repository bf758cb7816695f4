"""The filter stage and command: SQL predicates, shortcut flags, reasons for every rejected row."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vidcurate.core import schema
from vidcurate.core.errors import ConfigError
from vidcurate.stages.filter import FilterConfig, RowFilter, filter_file


def rows() -> pa.Table:
    return schema.from_rows(
        [
            {"id": "ok", "path": "a", "duration_s": 30.0, "num_frames": 720, "width": 1280, "height": 720},
            {"id": "short", "path": "b", "duration_s": 2.0, "num_frames": 48, "width": 1280, "height": 720},
            {"id": "tall", "path": "c", "duration_s": 40.0, "num_frames": 960, "width": 320, "height": 568},
            {"id": "nodur", "path": "d", "duration_s": None, "num_frames": 100, "width": 640, "height": 360},
            {"id": "broken", "path": "e", "error": "probe: empty file", "error_kind": "probe:empty"},
        ]
    )


def reasons(cfg: FilterConfig, t: pa.Table | None = None) -> dict[str, str | None]:
    f = RowFilter(cfg)
    f.setup()
    out = f.process(t if t is not None else rows())
    return dict(zip(out.column("id").to_pylist(), out.column(schema.REJECT).to_pylist(), strict=True))


def test_flags_and_reasons() -> None:
    r = reasons(FilterConfig(drop_errors=True, dmin=20, dmax=120, ar_min=1.0))
    assert r["ok"] is None
    assert r["short"] == "duration_s >= 20.0 (dmin)"
    assert r["tall"] == "aspect >= 1.0 (ar_min)"
    assert r["nodur"] == "duration_s >= 20.0 (dmin) [value missing]"
    assert r["broken"] == "error: probe:empty"


def test_where_sql_and_frames() -> None:
    r = reasons(FilterConfig(where="duration_s BETWEEN 20 AND 120", fmin=100))
    assert r == {
        "ok": None,
        "short": "num_frames >= 100 (fmin)",
        "tall": None,
        "nodur": "duration_s BETWEEN 20 AND 120 [value missing]",
        "broken": "num_frames >= 100 (fmin) [value missing]",
    }
    assert reasons(FilterConfig(min_side=400))["tall"] == "least(width, height) >= 400 (min_side)"


def test_unknown_column_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r'"motion_score".*columns available: id, path'):
        reasons(FilterConfig(where="motion_score > 1"))


def test_flag_on_absent_column_reads_null() -> None:
    t = schema.from_rows([{"id": "x", "path": "p", "error": "probe: x", "error_kind": "probe:x"}])
    assert reasons(FilterConfig(fmin=1), t)["x"] == "num_frames >= 1 (fmin) [value missing]"


@pytest.mark.parametrize("ext", [".parquet", ".csv", ".jsonl"])
def test_filter_file(tmp_path: Path, ext: str) -> None:
    from vidcurate.io.manifest import read_manifest, write_manifest

    src = write_manifest(rows(), tmp_path / f"in{ext}")
    res = filter_file(
        src,
        tmp_path / f"kept{ext}",
        tmp_path / f"rejected{ext}",
        FilterConfig(where="duration_s BETWEEN 20 AND 120", drop_errors=True),
    )
    assert (res.kept, res.rejected) == (2, 3)
    kept = read_manifest(res.output)
    assert kept.column("id").to_pylist() == ["ok", "tall"]
    assert "reject_reason" not in kept.column_names
    rej = read_manifest(res.rejected_path)
    assert rej.column("id").to_pylist() == ["short", "nodur", "broken"]
    assert rej.column("reject_reason").to_pylist()[2] == "error: probe:empty"
    assert set(rej.column("rejected_by").to_pylist()) == {"filter"}


def test_filter_file_refuses_to_overwrite_input(tmp_path: Path) -> None:
    src = tmp_path / "m.parquet"
    pq.write_table(rows(), src)
    before = src.read_bytes()
    with pytest.raises(ConfigError, match="refusing to overwrite the input"):
        filter_file(src, src, tmp_path / "r.parquet", FilterConfig(fmin=1))
    with pytest.raises(ConfigError, match="refusing to overwrite the input"):
        filter_file(src, tmp_path / "k.parquet", src, FilterConfig(fmin=1))
    assert src.read_bytes() == before


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        FilterConfig(where="  ")
