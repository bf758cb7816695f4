"""MSR-VTT captions: CLIP4Clip's ``MSRVTT_data.json`` (``videos`` + ``sentences``), a list of
``{video | video_id, caption: [...] | "..."}`` (the layout most training repos ship), or a
``video_id,sentence`` CSV.

Clips are already trimmed (``video<N>.mp4``), so ``start time``/``end time`` (positions in the
YouTube source) are not spans of the file. One row per sentence; ``--split`` selects videos by
their ``split`` field.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from vidcurate.datasets.base import Converter, NoOptions, RecordError, Row, text
from vidcurate.datasets.readers import iter_csv, iter_json_records, load_json, starts_with


class MSRVTT(Converter[NoOptions]):
    name = "msrvtt"
    description = "MSR-VTT captions (MSRVTT_data.json videos + sentences, or video_id,sentence CSV)"
    patterns = ("MSRVTT_data.json", "*.json", "*.csv")
    split_in_records = True

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            if f.suffix.lower() == ".csv":
                for where, rec in iter_csv(f, self.issues, ("video_id", "sentence")):
                    yield where, (rec, None)
                continue
            if starts_with(f, "["):
                for where, rec in iter_json_records(f, self.issues):
                    yield where, (rec, "list")
                continue
            doc = load_json(f, self.issues)
            if doc is None:
                continue
            if not isinstance(doc, dict) or not isinstance(doc.get("sentences"), list):
                self.issues.add(
                    str(f), "expected {'videos': [...], 'sentences': [...]} or a list of {video, caption}; skipped"
                )
                continue
            videos = {v.get("video_id"): v for v in doc.get("videos") or [] if isinstance(v, dict)}
            for i, s in enumerate(doc["sentences"]):
                v = videos.get(s.get("video_id")) if isinstance(s, dict) else None
                if v is not None and not self.want_split(v.get("split")):
                    continue
                yield f"{f} sentence {i}", (s, v if v is not None else {})

    def rows(self, record: tuple[Any, dict[str, Any] | str | None], where: str) -> Iterable[Row]:
        s, video = record
        if video == "list":
            return self._listed(s)
        assert not isinstance(video, str)
        if not isinstance(s, dict):
            raise RecordError("sentence is not an object")
        vid = text(s["video_id"], "video_id")
        sen = s.get("sen_id")
        caption = s.get("caption", s.get("sentence"))
        row: Row = {"_media": self.video_file(vid), "_id": (vid, sen, caption), "source_id": vid}
        if sen is not None:
            row["question_id"] = str(sen)
        if video and video.get("split"):
            row["split"] = str(video["split"])
        if video and video.get("category") is not None:
            row["category"] = str(video["category"])
        return [self.guard(row, lambda: self.caption_row(caption))]

    def _listed(self, rec: Any) -> list[Row]:
        """One row per caption of a ``{video | video_id, caption}`` record."""
        if not isinstance(rec, dict):
            raise RecordError(f"record is {type(rec).__name__}, not an object")
        name = text(rec["video"] if rec.get("video") is not None else rec["video_id"], "video")
        vid = name.rsplit(".", 1)[0] if "." in name else name
        media = name if "." in name else self.video_file(name)
        if not self.want_split(rec.get("split")) and rec.get("split") is not None:
            return []
        caps = rec["caption"] if "caption" in rec else rec["sentence"]
        caps = caps if isinstance(caps, list) else [caps]
        out = []
        for i, cap in enumerate(caps):
            row: Row = {"_media": media, "_id": (vid, i, cap), "source_id": vid, "question_id": f"{vid}_{i}"}
            for key in ("split", "category"):
                if rec.get(key) is not None:
                    row[key] = str(rec[key])
            out.append(self.guard(row, lambda c=cap: self.caption_row(c)))
        return out
