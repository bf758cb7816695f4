"""NExT-QA multiple choice: CSV ``video,frame_count,width,height,question,answer,qid,type,a0..a4``.

``answer`` is an int index into ``a0..a4``; the row keeps the index and the option text it points at.
Videos are ``NExTVideo/<folder>/<video>.mp4`` where ``map_vid_vidorID.json`` gives ``<folder>/<video>``:
pass it with ``--annotations`` or leave it beside the CSV. The NExT-OE open-ended CSVs (no a0..a4,
an ``additional_ref`` column) convert as open-ended questions. A CSV with some but not all of
a0..a4 is skipped with a report; one with none and no ``additional_ref`` whose answer is an index
gives error rows (a multiple-choice file that lost its options must not become open-ended QA).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from vidcurate.datasets import choices
from vidcurate.datasets.base import Converter, Row, error_row, ext_field, optional_int, text
from vidcurate.datasets.readers import iter_csv, load_json

MAP_NAME = "map_vid_vidorID.json"
OPTIONS = ("a0", "a1", "a2", "a3", "a4")


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ext: str = ext_field("video file extension")


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
        self.open_ended = self.no_options = False
        for m in maps:
            data = load_json(m, self.issues)
            if isinstance(data, dict):
                self.map = {**(self.map or {}), **{str(k): str(v) for k, v in data.items()}}
            elif data is not None:
                self.issues.add(str(m), "expected an object {video: folder/video}; skipped")
        if self.map is None:
            self.issues.add("", f"no {MAP_NAME}: videos are looked for as <video>.{self.opts.ext} under the root")
        for f in csvs:
            first = True
            for where, rec in iter_csv(f, self.issues, ("video", "question", "answer", "qid")):
                if first and not self._options_complete(f, rec):
                    break
                first = False
                yield where, rec

    def _options_complete(self, f: Path, rec: dict[str, str]) -> bool:
        """A multiple-choice CSV must have all of a0..a4 (one missing would change the task)."""
        have = [k for k in OPTIONS if k in rec]
        if have and len(have) < len(OPTIONS):
            missing = ", ".join(k for k in OPTIONS if k not in rec)
            self.issues.add(f"{f}:1", f"multiple-choice CSV without option column(s) {missing}; file skipped")
            return False
        self.open_ended = not have and "additional_ref" in rec
        self.no_options = not have and not self.open_ended
        return True

    def rows(self, rec: dict[str, str], where: str) -> Iterable[Row]:
        video = text(rec["video"], "video")
        qid = text(rec["qid"], "qid")
        rel = video if self.map is None else self.map.get(video)
        base: Row = {
            "_media": self.video_file(rel or video),
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
            answer = str(rec["answer"]).strip()
            if self.no_options and answer.isdigit() and int(answer) < len(OPTIONS):
                msg = f"answer {answer} is an option index but the file has no a0..a4 columns"
                return [{**base, "query": text(rec["question"], "question"), **error_row("missing_options", msg)}]
            return [{**base, **self.qa(rec["question"], rec["answer"])}]
        opts = [rec[k] for k in OPTIONS]
        try:
            index = choices.check_index(rec["answer"], len(opts))
        except ValueError as e:
            return [{**base, "query": text(rec["question"], "question"), **error_row("bad_answer", str(e))}]
        return [{**base, **self.qa(rec["question"], options=opts, answer_index=index)}]
