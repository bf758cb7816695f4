"""The README's convert -> export chain, run as written, each output loaded by its real consumer.

LLaMA-Factory's own loader and preprocessing (`lf_real`), the `webdataset` library, Hugging Face
`datasets`, and LLaVA-NeXT's rule for where the media enter a sample: its `LazySupervisedDataset`
opens `video_folder/<video>` for a video record, and `preprocess_multimodal` /
`tokenizer_image_token` recognise only ``<image>`` (moved to the front of its turn) as the place the
visual features go; a sample without one trains on text alone, and a ``<video>`` stays plain text.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import datasets
import pyarrow.parquet as pq
import webdataset as wds

import lf_real
from conftest import REPO, SHARED_ANNOTATIONS, cli_inprocess
from vidcurate.testing import synth

ANET_QA = SHARED_ANNOTATIONS / "activitynet_qa"


def readme_chain() -> list[list[str]]:
    """The commands of the README block marked as run by this test."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- chain: tests/test_export_consumers.py[^>]*-->\s*```bash\n(.*?)```", text, re.S)
    assert block, "README has no chain block marked for this test"
    return [shlex.split(line, comments=True) for line in block.group(1).splitlines() if line.strip()]


def llava_next_sample(rec: dict[str, Any], video_folder: Path) -> Path:
    """What LLaVA-NeXT's dataset does with one record: the media file it opens; AssertionError if the
    visual features would have nowhere to go (no ``<image>``), or go twice."""
    media_key = "video" if "video" in rec else "image"
    assert media_key in rec, f"{rec['id']}: no video or image: LLaVA-NeXT trains it as text only"
    path = video_folder / rec[media_key]
    assert path.is_file(), f"{rec['id']}: {path} does not exist"
    turns = rec["conversations"]
    n_image = sum(t["value"].count("<image>") for t in turns)
    assert n_image == 1, f"{rec['id']}: {n_image} <image> tokens: the {media_key} must enter exactly once"
    assert turns[0]["from"] == "human" and "<image>" in turns[0]["value"]
    assert not any("<video>" in t["value"] for t in turns), f"{rec['id']}: <video> is plain text to LLaVA-NeXT"
    return path


VILAMP = [
    {
        "id": "cook-1",
        "video": "VIDEO0",
        "max_frame_num": 64,
        "data_source": "youcook2",
        "conversations": [
            {"from": "human", "value": "<image>\nWhat is cooked?"},
            {"from": "gpt", "value": "Noodles."},
        ],
    },
    {
        "id": "cook-2",
        "video": "VIDEO1",
        "max_frame_num": 32,
        "conversations": [
            {"from": "human", "value": "What happens first?\n<image>"},
            {"from": "gpt", "value": "Water boils."},
        ],
    },
]


def test_readme_chain_outputs_load_in_their_consumers(tmp_path: Path, monkeypatch: Any) -> None:
    shutil.copytree(ANET_QA, tmp_path / "activitynet-qa", ignore=shutil.ignore_patterns("train_*"))
    videos = tmp_path / "videos"
    questions = json.loads((ANET_QA / "val_q.json").read_text())
    names = list(dict.fromkeys(q["video_name"] for q in questions))[:4]
    for i, n in enumerate(names):  # two containers: the lookup finds either
        synth.counter(videos / f"v_{n}.{'mkv' if i % 2 else 'mp4'}", num_frames=6, fps=6, size=(64, 48))
    vilamp = [{**r, "video": f"v_{names[i]}.{'mkv' if i % 2 else 'mp4'}"} for i, r in enumerate(VILAMP)]
    (tmp_path / "vilamp_train.json").write_text(json.dumps(vilamp))
    monkeypatch.chdir(tmp_path)

    chain = readme_chain()
    assert len(chain) >= 6
    for argv in chain:
        r = cli_inprocess(*([*argv, "--no-progress"] if argv[1] == "export" else argv)[1:])
        assert r.returncode == 0, f"{' '.join(argv)} failed: {r.stderr}"

    asked = {n: sum(1 for q in questions if q["video_name"] == n) for n in names}
    total = sum(asked.values())
    assert pq.read_metadata("anet.parquet").num_rows == len(questions)  # every question converted

    # LLaMA-Factory: its own loader, converter and preprocessing keep every exported example
    examples = lf_real.load(tmp_path / "data", "anet_qa", media_dir=videos)
    assert len(examples) == total
    assert all(len(ex["videos"]) == 1 and Path(ex["videos"][0]).is_file() for ex in examples)

    # LLaVA-NeXT: every record opens its video and has the one <image> its features replace
    recs = json.loads(Path("llava/train.json").read_text())
    assert len(recs) == total
    opened = {llava_next_sample(r, videos).name for r in recs}
    assert opened == {p.name for p in videos.iterdir()}

    # webdataset: one sample per video, with all its questions
    shards = sorted(str(p) for p in Path("shards").glob("*.tar"))
    samples = list(wds.WebDataset(shards, shardshuffle=False, empty_check=False).decode())
    assert len(samples) == len(names)
    for s in samples:
        src = videos / Path(s["json"]["path"]).name
        assert s.get("mp4", s.get("mkv")) == src.read_bytes()
        assert len(s["json"]["rows"]) == asked[src.stem[2:]]

    # Hugging Face datasets
    ds = datasets.load_dataset("parquet", data_files="hf/train.parquet", split="train", cache_dir=str(tmp_path / "c"))
    assert ds.num_rows == total and all((videos / p).is_file() for p in ds["path"])

    # a LLaVA-format file through `convert llava` and back: keys kept, <image> where LLaVA-NeXT wants it
    back = json.loads(Path("vilamp/train.json").read_text())
    assert [(r["source_id"], r["max_frame_num"]) for r in back] == [("cook-1", 64), ("cook-2", 32)]
    assert back[0]["data_source"] == "youcook2" and "data_source" not in back[1]
    assert [llava_next_sample(r, videos).name for r in back] == [v["video"] for v in vilamp]
    assert back[1]["conversations"][0]["value"] == "<image>\nWhat happens first?"
