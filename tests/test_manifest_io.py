"""Manifest read/write in Parquet, CSV (Open-Sora meta.csv) and JSONL; ids; schema."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vidcurate.core import schema
from vidcurate.core.errors import ConfigError
from vidcurate.io import manifest as mio
from vidcurate.io.fs import atomic_path


def sample() -> pa.Table:
    return schema.from_rows(
        [
            {
                "id": "a",
                "path": "/v/a.mp4",
                "caption": "a dog, running",
                "num_frames": 10,
                "fps": 24.0,
                "conversations": [{"from": "human", "value": "<video>\nWhat?"}, {"from": "gpt", "value": "A dog."}],
            },
            {"id": "b", "path": "/v/b é.mp4", "caption": None, "num_frames": None, "fps": 30.0, "conversations": None},
        ]
    )


@pytest.mark.parametrize("ext", [".parquet", ".csv", ".jsonl"])
def test_round_trip(tmp_path: Path, ext: str) -> None:
    t = sample()
    p = mio.write_manifest(t, tmp_path / f"m{ext}")
    back = mio.read_manifest(p)
    assert back.column("id").to_pylist() == ["a", "b"]
    assert back.column("path").to_pylist() == ["/v/a.mp4", "/v/b é.mp4"]
    assert back.column("caption").to_pylist() == ["a dog, running", None]
    assert back.column("num_frames").to_pylist() == [10, None]
    assert back.schema.field("num_frames").type == pa.int64()
    assert back.column("conversations").to_pylist()[0][1] == {"from": "gpt", "value": "A dog."}


def test_csv_is_opensora_meta(tmp_path: Path) -> None:
    p = mio.write_manifest(sample(), tmp_path / "meta.csv")
    header = p.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[:2] == ["path", "text"]
    # an Open-Sora meta.csv without ids reads, with stable ids derived from content
    row = '/v/x.mp4,"a cat, sleeping",48\n'
    (tmp_path / "os.csv").write_text("path,text,num_frames\n" + row + row)
    t = mio.ensure_ids(mio.read_manifest(tmp_path / "os.csv"))
    ids = t.column("id").to_pylist()
    assert ids[0] != ids[1] and ids[1] == ids[0] + "-2"
    assert t.column("caption").to_pylist()[0] == "a cat, sleeping"
    again = mio.ensure_ids(mio.read_manifest(tmp_path / "os.csv"))
    assert again.column("id").to_pylist() == ids


def test_atomic_write_leaves_no_partial_file(tmp_path: Path) -> None:
    dest = tmp_path / "m.parquet"
    mio.write_manifest(sample(), dest)
    before = dest.read_bytes()
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert dest.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.parquet"]


def test_bad_inputs_name_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl"
    p.write_text('{"path": "/a.mp4"}\n{"path": "/b.mp4",\n')
    with pytest.raises(ConfigError, match=r"m.jsonl: line 2: not valid JSON"):
        mio.read_manifest(p)
    with pytest.raises(ConfigError, match="unknown manifest format"):
        mio.read_manifest(tmp_path / "m.xlsx")
    with pytest.raises(ConfigError, match="no 'path' column"):
        mio.ensure_ids(pa.table({"x": [1]}))
    c = tmp_path / "bad.csv"
    c.write_text('path,conversations\n/a.mp4,"[{not json"\n')
    with pytest.raises(ConfigError, match=r"bad.csv: line 2: column 'conversations'"):
        mio.read_manifest(c)


def test_streaming_read_is_bounded(tmp_path: Path) -> None:
    n = 50_000
    t = pa.table({"id": [str(i) for i in range(n)], "path": [f"/v/{i}.mp4" for i in range(n)]})
    pq.write_table(t, tmp_path / "big.parquet", row_group_size=10_000)
    sizes = [b.num_rows for b in mio.iter_manifest(tmp_path / "big.parquet", batch_rows=8192)]
    assert sum(sizes) == n and max(sizes) <= 8192


def test_conform_and_unify() -> None:
    t = pa.table({"id": ["a"], "path": ["p"], "width": pa.array([640], pa.int64()), "extra": [None]})
    c = schema.conform(t)
    assert c.schema.field("width").type == pa.int32()
    assert c.schema.field("extra").type == pa.null()
    u = schema.unify([c.schema, pa.schema([("extra", pa.string())])])
    assert u.field("extra").type == pa.string()
    assert schema.stable_id("x") == schema.stable_id("x") != schema.stable_id("y")
    assert os.sep not in schema.stable_id("a/b")


@pytest.mark.parametrize("ext", [".parquet", ".csv", ".jsonl"])
def test_write_stream_unifies_batches(tmp_path: Path, ext: str) -> None:
    batches = [
        pa.table({"id": ["a"], "path": ["/a.mp4"], "caption": pa.nulls(1)}),
        pa.table({"id": ["b"], "path": ["/b.mp4"], "caption": ["a cat"], "score": [0.5]}),
    ]
    dest = tmp_path / f"m{ext}"
    assert mio.write_stream(iter(batches), dest) == 2
    back = mio.read_manifest(dest)
    assert back.column("id").to_pylist() == ["a", "b"]
    assert back.column("caption").to_pylist() == [None, "a cat"]
    assert back.column("score").to_pylist() == [None, 0.5]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"m{ext}"]  # spill folder removed


def test_atomic_writes_get_normal_file_mode(tmp_path: Path) -> None:
    mask = os.umask(0)
    os.umask(mask)
    dest = mio.write_manifest(sample(), tmp_path / "m.parquet")
    assert dest.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600
    with atomic_path(tmp_path / "clip.mp4", keep_suffix=True) as tmp:
        assert tmp.suffix == ".mp4"
        tmp.write_bytes(b"x")
