"""NExT-QA multiple choice: CSV ``video,frame_count,width,height,question,answer,qid,type,a0..a4``.

``answer`` is an int index into ``a0..a4``; the row keeps the index and the option text it points at.
Videos are ``NExTVideo/<folder>/<video>.mp4`` where ``map_vid_vidorID.json`` gives ``<folder>/<video>``:
pass it with ``--annotations`` or leave it beside the CSV. The NExT-QA open-ended CSVs (no a0..a4)
convert as open-ended questions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vidcurate.datasets import choices
from vidcurate.datasets.base import Converter, Row, error_row, optional_int, text
from vidcurate.datasets.readers import iter_csv, load_json

MAP_NAME = "map_vid_vidorID.json"
OPTIONS = ("a0", "a1", "a2", "a3", "a4")


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ext: str = Field("mp4", description="video file extension")


class NExTQA(Converter[Options]):
    name = "nextqa"
    description = "NExT-QA multiple choice ({train,val,test}.csv + map_vid_vidorID.json; answer = index into a0..a4)"
    patterns = ("*.csv", MAP_NAME)

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        maps = [f for f in files if f.suffix.lower() == ".json"]
        csvs = [f for f in files if f.suffix.lower() == ".csv"]
        for f in csvs:
            beside = f.with_name(MAP_NAME)
            if not maps and beside.is_file():
                maps.append(beside)
        self.map: dict[str, str] | None = None
        for m in maps:
            data = load_json(m, self.issues)
            if isinstance(data, dict):
                self.map = {**(self.map or {}), **{str(k): str(v) for k, v in data.items()}}
            elif data is not None:
                self.issues.add(str(m), "expected an object {video: folder/video}; skipped")
        if self.map is None:
            self.issues.add("", f"no {MAP_NAME}: videos are looked for as <video>.{self.opts.ext} under the root")
        for f in csvs:
            yield from iter_csv(f, self.issues, ("video", "question", "answer", "qid"))

    def rows(self, rec: dict[str, str], where: str) -> Iterable[Row]:
        video = text(rec["video"], "video")
        qid = text(rec["qid"], "qid")
        rel = video if self.map is None else self.map.get(video)
        base: Row = {
            "_media": f"{rel or video}.{self.opts.ext}",
            "_id": (video, qid),
            "source_id": video,
            "question_id": f"{video}_{qid}",
            "num_frames": optional_int(rec.get("frame_count")),
            "width": optional_int(rec.get("width")),
            "height": optional_int(rec.get("height")),
        }
        if rec.get("type"):
            base["question_type"] = rec["type"]
        if rel is None:
            return [{**base, **error_row("unknown_video", f"video {video} is not in {MAP_NAME}")}]
        if not all(k in rec for k in OPTIONS):
            return [{**base, **self.qa(rec["question"], rec["answer"])}]
        opts = [rec[k] for k in OPTIONS]
        try:
            index = choices.check_index(rec["answer"], len(opts))
        except ValueError as e:
            return [{**base, "query": text(rec["question"], "question"), **error_row("bad_answer", str(e))}]
        return [{**base, **self.qa(rec["question"], options=opts, answer_index=index)}]
