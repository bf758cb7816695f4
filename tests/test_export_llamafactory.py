"""LLaMA-Factory import and export, checked by LLaMA-Factory itself.

`lf_load` runs a dataset folder through llamafactory 0.9.5's own loader, sharegpt converter and
SFT preprocessing (`lf_real.load`): an example it would drop or refuse (role order, message count,
media-token count) fails the test with LLaMA-Factory's reason, and every image/video path must
resolve to a file the way its `_find_medias` resolves it (joined to `media_dir`).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pyarrow.parquet as pq
import pytest

import lf_real
from conftest import SHARED_ANNOTATIONS, cli_inprocess
from vidcurate.core import schema
from vidcurate.core.errors import ConfigError
from vidcurate.datasets.base import Settings
from vidcurate.datasets.convert import convert, convert_to_file
from vidcurate.export.driver import EmptyExport, export
from vidcurate.export.llamafactory import merge_entry
from vidcurate.io.manifest import read_manifest, write_manifest
from vidcurate.testing import synth

LF_SAMPLE = SHARED_ANNOTATIONS / "llamafactory_video"
ANET_QA = SHARED_ANNOTATIONS / "activitynet_qa"

LF_TOKENS = {"images": "<image>", "videos": "<video>", "audios": "<audio>"}


def lf_sample() -> Path:
    if not LF_SAMPLE.is_dir():
        pytest.skip(f"LLaMA-Factory sample not present at {LF_SAMPLE}")
    return LF_SAMPLE


def lf_load(
    dataset_dir: Path, name: str, *, media_dir: Path | None = None, must_exist: tuple[str, ...] = ("images", "videos")
) -> list[dict[str, Any]]:
    """The examples LLaMA-Factory's own loader trains on (`lf_real.load`); AssertionError where it
    would drop or refuse one, or where a media path resolves to no file."""
    out = lf_real.load(dataset_dir, name, media_dir=media_dir)
    for ex in out:
        for col in must_exist:
            for p in ex[col]:
                assert os.path.isfile(p), f"{col}: {p} resolves to nothing under {media_dir or dataset_dir}"
    return out


def norm(examples: list[dict[str, Any]], media_dir: Path) -> list[dict[str, Any]]:
    """Examples with media paths relative to `media_dir` and user/assistant role names."""
    role = {"human": "user", "gpt": "assistant"}
    out = []
    for ex in examples:
        rec = {
            "system": ex["system"],
            "messages": [{**m, "role": role.get(m["role"], m["role"])} for m in ex["messages"]],
        }
        for col in LF_TOKENS:
            rec[col] = [os.path.relpath(p, media_dir) if os.path.isabs(p) else p for p in ex[col]]
        out.append(rec)
    return out


def writable_copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    for p in [dest, *dest.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)
    return dest


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return cli_inprocess(*args)


# --- the checker itself accepts the real LLaMA-Factory data ----------------------------------------


def test_checker_accepts_the_real_demo_and_rejects_a_broken_copy(tmp_path: Path) -> None:
    data = writable_copy(lf_sample(), tmp_path / "data")
    demo = lf_load(data, "mllm_video_demo")
    assert [ex["videos"] for ex in demo] == [[str(data / "mllm_demo_data" / f)] for f in ("1.mp4", "2.avi", "3.mp4")]
    recs = json.loads((data / "mllm_video_demo.json").read_text())
    recs[1]["messages"][0]["content"] = "<video><video>What is she doing?"
    (data / "mllm_video_demo.json").write_text(json.dumps(recs))
    with pytest.raises(AssertionError, match="number of videos"):
        lf_load(data, "mllm_video_demo")


# --- import ------------------------------------------------------------------------------------


def test_import_real_demo_both_files(tmp_path: Path) -> None:
    sample = lf_sample()
    res = convert("llamafactory", [sample], Settings())
    rows = res.table.to_pylist()
    assert res.rows == 6 and res.issues.count == 0
    by_q = {r["query"]: r for r in rows}
    r = by_q["What is she doing?"]
    assert r["path"] == str(sample / "mllm_demo_data" / "2.avi")
    assert r["media"] == "video" and r["source"] == "llamafactory" and r.get("error") is None
    assert r["conversations"] == [
        {"from": "human", "value": "<video>What is she doing?"},
        {"from": "gpt", "value": "She is cooking."},
    ]
    assert r["answer"] == "She is cooking."
    a = by_q["What does this girl say?"]
    assert a["audios"] == [str(sample / "mllm_demo_data" / "4.mp3")]
    assert a["conversations"][0]["value"] == "<video><audio>What does this girl say?"
    # --check-videos probes the real files: 2.avi is 320x240, 270 frames
    checked = {
        r["query"]: r
        for r in convert(
            "llamafactory", [sample / "mllm_video_demo.json"], Settings(check_videos=True)
        ).table.to_pylist()
    }
    assert (checked["What is she doing?"]["width"], checked["What is she doing?"]["num_frames"]) == (320, 270)


def write_json(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def test_import_tag_sets_dataset_info_and_bad_records(tmp_path: Path) -> None:
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "a.mp4").write_bytes(b"x")

    def sg(first: str, videos: Any, first_from: str = "human") -> dict[str, Any]:
        other = "gpt" if first_from == "human" else "human"
        return {
            "conversations": [{"from": first_from, "value": first}, {"from": other, "value": "x"}],
            "videos": videos,
        }

    system_rec = {
        "conversations": conv(
            ("system", "Be brief."), ("human", "<video>\nWhat happens?"), ("gpt", "A man runs."),
            ("human", "Where?"), ("gpt", "On a beach."),
        ),
        "videos": "v/a.mp4",  # one path, not a list: LLaMA-Factory accepts both
    }  # fmt: skip
    records = [
        system_rec,
        sg("<video>Hi", ["../a.mp4"]),
        sg("<video>Hi", ["/etc/passwd"]),
        sg("x", ["v/a.mp4"], first_from="gpt"),
        sg("<video><video>Hi", ["v/a.mp4"]),
        sg("<video>Hi", ["v/a.mp4", "v/a.mp4"]),
    ]
    write_json(tmp_path / "sg.json", records)
    # an entry whose tags omit system_tag: LLaMA-Factory then does not recognise the system message
    msgs = [{"role": "user", "content": "<image>Name it."}, {"role": "assistant", "content": "A cat."}]
    with_system = [{"role": "system", "content": "S"}, *msgs]
    write_json(
        tmp_path / "oa.json",
        [{"messages": msgs, "images": ["v/a.mp4"]}, {"messages": with_system, "images": "v/a.mp4"}],
    )
    tags = {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}
    columns = {"messages": "messages", "images": "images"}
    entry = {"file_name": "oa.json", "formatting": "sharegpt", "columns": columns, "tags": tags}
    # alpaca (the default formatting of an entry): instruction + input -> one user turn
    alpaca = {
        "file_name": "al.json",
        "columns": {"prompt": "instruction", "query": "input", "response": "output", "videos": "videos"},
    }
    write_json(
        tmp_path / "al.json",
        [{"instruction": "<video>Describe.", "input": "Briefly.", "output": "A dog.", "videos": ["v/a.mp4"]}],
    )
    write_json(tmp_path / "dataset_info.json", {"mine": entry, "alp": alpaca})
    res = convert("llamafactory", [tmp_path], Settings())
    rows = res.table.to_pylist()
    ok = [r for r in rows if not r.get("error")]
    errs = {r["error_kind"]: r for r in rows if r.get("error")}
    assert len(ok) == 3
    al = next(r for r in ok if r["conversations"][0]["value"].startswith("<video>Describe"))
    assert al["conversations"] == [
        {"from": "human", "value": "<video>Describe.\nBriefly."},
        {"from": "gpt", "value": "A dog."},
    ]
    first = next(r for r in ok if r["media"] == "video" and r is not al)
    assert first["conversations"][0] == {"from": "system", "value": "Be brief."}
    assert len(first["conversations"]) == 5 and first["query"] == "What happens?" and first.get("answer") is None
    img = next(r for r in ok if r["media"] == "image")
    assert img["conversations"] == [{"from": "human", "value": "<image>Name it."}, {"from": "gpt", "value": "A cat."}]
    assert img["path"] == str(tmp_path / "v" / "a.mp4")
    # escaping paths and token mismatches are error rows with the reason; unparseable records are reported
    assert set(errs) == {"convert:unsafe_path", "convert:token_mismatch"}
    assert sum(1 for r in rows if r.get("error_kind") == "convert:unsafe_path") == 2
    assert "2 <video> tokens for 1 videos" in errs["convert:token_mismatch"]["error"]
    text = "\n".join(res.issues.messages)
    assert "sg.json:1 record 3" in text and "expected 'human'" in text
    assert "sg.json:1 record 5" in text and "2 videos/images in one record" in text
    # the entry's tags leave system_tag out, so (as in LLaMA-Factory) a system message breaks the record
    assert "oa.json:1 record 1" in text and "has role 'system', expected 'user'" in text


# --- export: the round trip on the real demo ---------------------------------------------------------


def test_round_trip_real_demo_into_its_own_dataset_dir(tmp_path: Path) -> None:
    data = writable_copy(lf_sample(), tmp_path / "data")
    info_before = (data / "dataset_info.json").read_text(encoding="utf-8")
    manifest = tmp_path / "demo.parquet"
    convert_to_file("llamafactory", [data / "mllm_video_demo.json"], manifest, Settings(check_videos=True))
    r = cli("export", "llamafactory", str(manifest), "-o", str(data), "--name", "vidcurate_demo", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "exported 3 rows" in r.stdout
    original = lf_load(data, "mllm_video_demo")
    exported = lf_load(data, "vidcurate_demo")
    assert norm(exported, data) == norm(original, data)
    raw = json.loads((data / "vidcurate_demo.json").read_text())
    assert [x["videos"] for x in raw] == [["mllm_demo_data/1.mp4"], ["mllm_demo_data/2.avi"], ["mllm_demo_data/3.mp4"]]
    # every other entry keeps its exact bytes: the old text is the new one minus the inserted entry
    info_after = (data / "dataset_info.json").read_text(encoding="utf-8")
    head = info_before.rstrip().removesuffix("}").rstrip()
    assert info_after.startswith(head) and info_after.endswith(info_before[len(head) :])
    new, old = json.loads(info_after), json.loads(info_before)
    assert list(new) == [*old, "vidcurate_demo"]
    assert new["vidcurate_demo"] == {
        "file_name": "vidcurate_demo.json",
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "videos": "videos"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
    }
    assert stat.S_IMODE((data / "dataset_info.json").stat().st_mode) == stat.S_IMODE(
        (data / "README.md").stat().st_mode
    )
    # a second export replaces only its own entry: same bytes again
    r = cli("export", "llamafactory", str(manifest), "-o", str(data), "--name", "vidcurate_demo", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert (data / "dataset_info.json").read_text(encoding="utf-8") == info_after


def test_round_trip_with_audio_and_media_root_outside_the_dataset_dir(tmp_path: Path) -> None:
    sample = lf_sample()
    rows = convert("llamafactory", [sample / "mllm_video_audio_demo.json"], Settings()).table
    write_manifest(rows, tmp_path / "m.parquet")
    cfg = dict(out=tmp_path / "lf", name="va", media_root=sample)
    res = export("llamafactory", tmp_path / "m.parquet", cfg)
    assert res.written == 3 and res.n_skipped == 0
    assert any(f"media_dir: {sample}" in n for n in res.notes)
    # 4.mp3 is not in the sample: its path is kept and LLaMA-Factory resolves it to the same relative name
    got = lf_load(tmp_path / "lf", "va", media_dir=sample)
    want = lf_load(sample, "mllm_video_audio_demo")
    assert norm(got, sample) == norm(want, sample)
    entry = json.loads((tmp_path / "lf" / "dataset_info.json").read_text())["va"]
    assert entry["columns"] == {"messages": "messages", "videos": "videos", "audios": "audios"}
    # without --media-root the videos are outside the dataset folder: refused, named, never silently absolute
    with pytest.raises(EmptyExport, match=r"nothing written \(3 skipped: path outside media root: 3\)"):
        export("llamafactory", tmp_path / "m.parquet", dict(out=tmp_path / "lf2"))
    assert not (tmp_path / "lf2" / "dataset_info.json").exists()
    res = export("llamafactory", tmp_path / "m.parquet", dict(out=tmp_path / "lf3", absolute=True, name="abs"))
    assert res.written == 3
    assert norm(lf_load(tmp_path / "lf3", "abs", media_dir=tmp_path), sample) == norm(want, sample)


# --- export: converted rows, malformed rows, merge safety ----------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth.static(tmp_path_factory.mktemp("lfclip") / "media" / "c.mp4", num_frames=12, size=(64, 48)).path


def conv(*turns: tuple[str, str]) -> list[dict[str, str]]:
    return [{"from": f, "value": v} for f, v in turns]


def one_row(manifest: Path, clip: Path) -> None:
    row = {"id": "1", "path": str(clip), "conversations": conv(("human", "<video>Q"), ("gpt", "A"))}
    write_manifest(schema.from_rows([row]), manifest)


def test_export_converted_rows_checks_every_row(tmp_path: Path, clip: Path) -> None:
    media = clip.parent
    qa = conv(("human", "<video>Q"), ("gpt", "A"))
    rows = [
        {"id": "llava-style", "path": str(clip), "conversations": conv(("human", "<image>\nWhat?"), ("gpt", "A."))},
        {
            "id": "system+2turns",
            "path": str(clip),
            "conversations": conv(
                ("system", "Be terse."), ("human", "<video>Q1"), ("gpt", "A1"), ("human", "Q2"), ("gpt", "A2")
            ),
        },
        {"id": "no-path", "path": None, "conversations": qa},
        {"id": "no-human", "path": str(clip), "conversations": conv(("gpt", "<video>A"))},
        {"id": "two-tokens", "path": str(clip), "conversations": conv(("human", "<video><video>Q"), ("gpt", "A"))},
        {"id": "no-token", "path": str(clip), "conversations": conv(("human", "Q"), ("gpt", "A"))},
        {"id": "unanswered", "path": str(clip), "conversations": [*qa, {"from": "human", "value": "Q2"}]},
        {"id": "errored", "path": str(clip), "error": "probe: broken", "conversations": qa},
        {"id": "missing-file", "path": str(media / "nope.mp4"), "conversations": qa},
        {"id": "span", "path": str(clip), "start_s": 0.1, "end_s": 0.3, "conversations": qa},
    ]
    manifest = tmp_path / "m.jsonl"
    write_manifest(schema.from_rows(rows), manifest)
    cfg = dict(out=media.parent, name="conv")
    res = export("llamafactory", manifest, cfg)
    assert res.written == 3
    assert res.skipped == {
        "no path": 1,
        "bad conversation": 2,
        "media token count mismatch": 2,
        "row has an error": 1,
        "media file not found": 1,
    }
    skipped = [json.loads(x) for x in (media.parent / "conv.skipped.jsonl").read_text().splitlines()]
    assert [s["id"] for s in skipped] == [
        "no-path",
        "no-human",
        "two-tokens",
        "no-token",
        "unanswered",
        "errored",
        "missing-file",
    ]
    assert "0 <video> and 0 <image> tokens" in skipped[3]["reason"]
    got = lf_load(media.parent, "conv")
    assert got[0]["messages"] == [{"role": "user", "content": "<video>\nWhat?"}, {"role": "assistant", "content": "A."}]
    assert got[0]["videos"] == [str(clip)]
    assert got[1]["system"] == "Be terse." and len(got[1]["messages"]) == 4
    info = json.loads((media.parent / "dataset_info.json").read_text())
    assert info["conv"]["tags"]["system_tag"] == "system"  # or LLaMA-Factory would reject the system message
    raw = json.loads((media.parent / "conv.json").read_text())
    assert raw[2]["start_s"] == 0.1 and raw[2]["end_s"] == 0.3
    assert any("--materialize" in n for n in res.notes)
    # --limit counts exported rows, not rows read: the 3rd good row comes after 7 bad ones
    res = export("llamafactory", manifest, dict(out=media.parent, name="lim", limit=3))
    assert res.written == 3 and res.n_skipped == 7
    assert [x["id"] for x in json.loads((media.parent / "lim.json").read_text())] == [
        "llava-style",
        "system+2turns",
        "span",
    ]
    res = export("llamafactory", manifest, dict(out=media.parent, name="lim", limit=1))
    assert (res.written, res.n_skipped) == (1, 0)  # stops reading once the limit is reached


def test_merge_keeps_foreign_bytes_and_refuses_broken_info(tmp_path: Path) -> None:
    info = tmp_path / "dataset_info.json"
    head = '{"a":{"file_name":"a.json","num_samples":1e3,"x":"\\u00e9"},\n\t'
    odd = head + '"mine": {"file_name": "old.json"} ,"z":[1,2]}\n'
    info.write_text(odd, encoding="utf-8")
    merge_entry(info, "mine", {"file_name": "new.json"})
    text = info.read_text(encoding="utf-8")
    assert text.startswith('{"a":{"file_name":"a.json","num_samples":1e3,"x":"\\u00e9"},\n\t"mine": ')
    assert text.endswith(' ,"z":[1,2]}\n')
    assert json.loads(text)["mine"] == {"file_name": "new.json"}
    merge_entry(info, "b", {"file_name": "b.json"})
    assert list(json.loads(info.read_text())) == ["a", "mine", "z", "b"]
    empty = tmp_path / "e" / "dataset_info.json"
    empty.parent.mkdir()
    empty.write_text("{ }")
    merge_entry(empty, "n", {"file_name": "n.json"})
    assert json.loads(empty.read_text()) == {"n": {"file_name": "n.json"}}
    broken = '{"a": {"file_name": "a.json"},'
    info.write_text(broken)
    with pytest.raises(ConfigError, match="not valid JSON"):
        merge_entry(info, "mine", {"file_name": "x.json"})
    assert info.read_text() == broken
    # the export refuses before writing anything
    clip = synth.static(tmp_path / "c.mp4", num_frames=6, size=(64, 48)).path
    one_row(tmp_path / "m.parquet", clip)
    with pytest.raises(ConfigError, match="not valid JSON"):
        export("llamafactory", tmp_path / "m.parquet", dict(out=tmp_path, name="mine"))
    assert not (tmp_path / "mine.json").exists() and info.read_text() == broken


def test_export_never_overwrites_the_manifest(tmp_path: Path, clip: Path) -> None:
    m = tmp_path / "train.json"
    one_row(m, clip)
    before = m.read_bytes()
    args = ["export", "llamafactory", str(m), "-o", str(tmp_path), "--name", "train", "--no-progress"]
    r = subprocess.run([sys.executable, "-m", "vidcurate.cli", *args], capture_output=True, text=True)  # a real process
    assert r.returncode == 2 and "is the input manifest" in r.stderr and "Traceback" not in r.stderr
    assert m.read_bytes() == before


# --- the seed workflow: convert activitynet-qa | filter | export llamafactory --limit 500 ---------------


def test_seed_workflow_activitynet_qa_to_qwen2vl(tmp_path: Path) -> None:
    if not ANET_QA.is_dir():
        pytest.skip(f"ActivityNet-QA sample not present at {ANET_QA}")
    questions = json.loads((ANET_QA / "train_q.json").read_text())
    answers = {a["question_id"]: a["answer"] for a in json.loads((ANET_QA / "train_a.json").read_text())}
    names = list(dict.fromkeys(q["video_name"] for q in questions))
    assert "v_UmAH95xls" in names  # the id that itself starts with v_: file v_v_UmAH95xls.mp4
    long_names = ["v_UmAH95xls", *[n for n in names if n != "v_UmAH95xls"][:54]]
    short_names = names[60:63]
    data = tmp_path / "data"
    root = data / "anet"  # the fake video root, inside the LLaMA-Factory dataset folder
    long = synth.static(tmp_path / "long.mp4", num_frames=42, fps=2, size=(64, 48)).path  # 21 s
    short = synth.static(tmp_path / "short.mp4", num_frames=10, fps=2, size=(64, 48)).path  # 5 s
    root.mkdir(parents=True)
    for n in long_names:
        shutil.copy(long, root / f"v_{n}.mp4")
    for n in short_names:
        shutil.copy(short, root / f"v_{n}.mp4")
    manifest, kept = tmp_path / "anet.parquet", tmp_path / "kept.parquet"
    r = cli(
        "convert",
        "activitynet-qa",
        "--annotations",
        str(ANET_QA / "train_q.json"),
        "--video-root",
        str(root),
        "--check-videos",
        "-o",
        str(manifest),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert pq.read_metadata(manifest).num_rows == len(questions) == 32000
    r = cli("filter", str(manifest), "--where", "duration_s >= 20", "-o", str(kept))
    assert r.returncode == 0, r.stderr
    kept_rows = read_manifest(kept).to_pylist()
    per_video = {q["video_name"]: 0 for q in questions}
    for q in questions:
        per_video[q["video_name"]] += 1
    assert len(kept_rows) == sum(per_video[n] for n in long_names) > 500
    assert {Path(r["path"]).name for r in kept_rows} == {f"v_{n}.mp4" for n in long_names}
    assert any(Path(r["path"]).name == "v_v_UmAH95xls.mp4" for r in kept_rows)
    r = cli(
        "export", "llamafactory", str(kept), "-o", str(data), "--name", "anet_qa", "--limit", "500", "--no-progress"
    )
    assert r.returncode == 0, r.stderr
    assert "exported 500 rows" in r.stdout
    got = lf_load(data, "anet_qa")
    assert len(got) == 500
    assert all(len(ex["videos"]) == 1 and Path(ex["videos"][0]).parent == root for ex in got)
    raw = json.loads((data / "anet_qa.json").read_text())
    by_id = {r["id"]: r for r in kept_rows}
    for rec in raw[:50] + raw[-50:]:  # field by field against the annotation files
        row = by_id[rec["id"]]
        assert rec["videos"] == [f"anet/v_{row['source_id']}.mp4"]
        assert rec["messages"][0]["role"] == "user" and rec["messages"][0]["content"].startswith("<video>")
        assert rec["messages"][1] == {"role": "assistant", "content": answers[row["question_id"]]}
