"""Image sets: Caltech-101 folders, mini-ImageNet CSVs, Karpathy caption JSON (COCO 2014, Flickr30k/5k)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidcurate.datasets import Settings, convert
from vidcurate.datasets.prompts import POOLS


def jpg(path: Path, w: int = 40, h: int = 30) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 2] = 200
    assert cv2.imwrite(str(path), img)
    return path


def test_caltech101_folder_tree(tmp_path: Path) -> None:
    cats = tmp_path / "caltech101" / "101_ObjectCategories"
    jpg(cats / "accordion" / "image_0001.jpg")
    jpg(cats / "Faces_easy" / "image_0001.jpg", 50, 20)
    jpg(cats / "Faces_easy" / "image_0002.jpg")
    (cats / "Faces_easy" / "notes.txt").write_text("not an image")
    res = convert("caltech101", [tmp_path / "caltech101"], Settings(check_videos=True))
    rows = res.table.to_pylist()
    assert [(r["label"], r["answer"]) for r in rows] == [
        ("Faces_easy", "Faces easy"),
        ("Faces_easy", "Faces easy"),
        ("accordion", "accordion"),
    ]
    r = rows[0]
    assert (r["media"], r["path"]) == ("image", str(cats / "Faces_easy" / "image_0001.jpg"))
    assert r["query"] in POOLS["image_class"]
    assert r["conversations"] == [
        {"from": "human", "value": f"<image>\n{r['query']}"},
        {"from": "gpt", "value": "Faces easy"},
    ]
    assert (r["width"], r["height"], r.get("error")) == (50, 20, None)  # probed


def test_mini_imagenet_csv_with_class_names(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text(
        "filename,label\nn0144076400000001.jpg,n01440764\nn0153282900000005.jpg,n01532829\n"
    )
    jpg(tmp_path / "images" / "n0144076400000001.jpg")
    names = tmp_path / "LOC_synset_mapping.txt"
    names.write_text("n01440764 tench, Tinca tinca\n")
    res = convert("mini-imagenet", [tmp_path / "train.csv"], Settings(check_videos=True), {"names": str(names)})
    a, b = res.table.to_pylist()
    assert (a["answer"], a["label"], a["split"]) == ("tench", "n01440764", "train")
    assert a["path"] == str(tmp_path / "images" / "n0144076400000001.jpg") and a.get("error") is None
    assert b["answer"] == "n01532829"  # not in the names file: the id
    assert b["error_kind"] == "convert:missing" and str(tmp_path / "images" / "n0153282900000005.jpg") in b["error"]
    plain = convert("mini-imagenet", [tmp_path / "train.csv"], Settings())
    assert plain.issues.messages == ["no --opt names=FILE: answers are WordNet ids"]


def karpathy(dataset: str, filepath: bool) -> dict:
    img = {"filename": "COCO_val2014_000000391895.jpg", "imgid": 0, "split": "test", "cocoid": 391895,
           "sentences": [{"raw": "A man riding a bike. ", "tokens": [], "sentid": 770337},
                         {"raw": "A person on a dirt road.", "tokens": [], "sentid": 771687}]}  # fmt: skip
    other = {"filename": "COCO_train2014_000000057870.jpg", "imgid": 1, "split": "restval", "cocoid": 57870,
             "sentences": [{"raw": "A restaurant.", "tokens": [], "sentid": 787980}]}  # fmt: skip
    if filepath:
        img["filepath"], other["filepath"] = "val2014", "train2014"
    else:
        for x in (img, other):
            x.pop("cocoid")
    return {"images": [img, other], "dataset": dataset}


def test_mscoco2014_karpathy_json_and_split(tmp_path: Path) -> None:
    f = tmp_path / "dataset_coco.json"
    f.write_text(json.dumps(karpathy("coco", filepath=True)))
    root = tmp_path / "coco"
    rows = convert("mscoco2014", [f], Settings(video_root=root)).table.to_pylist()
    assert [(r["source_id"], r["question_id"], r["caption"], r["split"]) for r in rows] == [
        ("391895", "770337", "A man riding a bike.", "test"),
        ("391895", "771687", "A person on a dirt road.", "test"),
        ("57870", "787980", "A restaurant.", "restval"),
    ]
    assert rows[0]["path"] == str(root / "val2014" / "COCO_val2014_000000391895.jpg")
    assert rows[0]["media"] == "image" and rows[0]["query"] in POOLS["image_caption"]
    assert rows[0]["conversations"][0]["value"] == f"<image>\n{rows[0]['query']}"
    train = convert("mscoco2014", [f], Settings(video_root=root, split="train,restval")).table
    assert train.column("caption").to_pylist() == ["A restaurant."]


@pytest.mark.parametrize("name", ["flickr30k", "flickr5k"])
def test_flickr_karpathy_csv_and_token(tmp_path: Path, name: str) -> None:
    f = tmp_path / "dataset_flickr30k.json"
    f.write_text(json.dumps(karpathy("flickr30k", filepath=False)))
    root = tmp_path / "flickr30k-images"
    root.mkdir()
    rows = convert(name, [f], Settings(video_root=root)).table.to_pylist()
    assert [r["path"] for r in rows] == [str(root / "COCO_val2014_000000391895.jpg")] * 2 + [
        str(root / "COCO_train2014_000000057870.jpg")
    ]
    assert rows[0]["source"] == name
    csv_file = tmp_path / "results.csv"
    csv_file.write_text("image_name| comment_number| comment\n1000092795.jpg| 0| Two young guys outside .\n")
    token = tmp_path / "results_20130124.token"
    token.write_text("1000092795.jpg#1\tTwo men in green shirts .\nbroken line\n")
    res = convert(name, [csv_file, token], Settings(video_root=root))
    a, b = res.table.to_pylist()
    assert (a["caption"], a["question_id"], b["caption"], b["question_id"]) == (
        "Two young guys outside .", "0", "Two men in green shirts .", "1")  # fmt: skip
    assert a["path"] == b["path"] == str(root / "1000092795.jpg")
    assert res.issues.messages == [f"{token}:2: expected '<image>#<n><TAB><caption>'; line skipped"]
