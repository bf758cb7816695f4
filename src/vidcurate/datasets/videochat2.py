"""VideoChat2-IT: ``video/<task>/<subset>/train*.json`` lists of ``{"video", "QA": [{i, q, a}], [start, end]}``.

Each subset's ``video`` paths are relative to that subset's own data root: give them with
``--root-map SUBSET=DIR`` (``SUBSET`` is the folder name, e.g. ``textvr``, or ``task/subset``);
unmapped subsets fall back to ``--video-root``. Every QA turn is kept: a record becomes one row with
a multi-turn conversation (``i`` instruction and ``q`` question joined on a line each).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from vidcurate.datasets.base import Converter, NoOptions, RecordError, Row, text
from vidcurate.datasets.readers import iter_json_records


class VideoChat2(Converter[NoOptions]):
    name = "videochat2"
    description = "VideoChat2-IT instruction data (<task>/<subset>/train*.json; --root-map per subset)"
    patterns = ("*.json",)
    uses = ("roots",)
    needs_root = False

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            subset, task = f.parent.name, f.parent.parent.name
            root = self._root_for(subset, task)
            if root is None:
                hint = f"give --root-map {subset}=DIR or --video-root"
                self.issues.add(str(f), f"no video root for subset '{subset}' ({hint}); skipped")
                continue
            for where, rec in iter_json_records(f, self.issues):
                yield where, (subset, root, rec)

    def _root_for(self, subset: str, task: str) -> Path | None:
        roots = self.settings.roots
        for key in (f"{task}/{subset}", subset):
            if key in roots:
                return roots[key]
        return self.settings.video_root

    def rows(self, record: tuple[str, Path, Any], where: str) -> Iterable[Row]:
        subset, root, rec = record
        if not isinstance(rec, dict):
            raise RecordError(f"record is {type(rec).__name__}, not an object")
        media = "image" if "image" in rec and "video" not in rec else "video"
        rel = text(rec[media], media)
        qa = rec["QA"]
        base: Row = {
            "_media": rel,
            "_root": root,
            "_id": (subset, rel, json.dumps(qa, sort_keys=True, ensure_ascii=False)),
            "media": media,
            "source_id": rel,
            "subset": subset,
        }

        def build() -> Row:
            if not isinstance(qa, list) or not qa:
                raise RecordError("'QA' must be a non-empty list of {i, q, a}")
            turns = []
            for n, item in enumerate(qa):
                if not isinstance(item, dict):
                    raise RecordError(f"QA[{n}] is {type(item).__name__}, not an object")
                parts = [text(item.get(k) or "", f"QA[{n}].{k}", allow_empty=True) for k in ("i", "q")]
                ask = "\n".join(p for p in parts if p)
                if not ask:
                    raise RecordError(f"QA[{n}] has neither an instruction nor a question")
                turns.append({"from": "human", "value": ask})
                turns.append({"from": "gpt", "value": text(item["a"], f"QA[{n}].a", allow_empty=True)})
            query = turns[0]["value"]
            turns[0] = {"from": "human", "value": self.human(query, media)}
            row: Row = {"query": query, "conversations": turns}
            if len(qa) == 1:
                row["answer"] = turns[1]["value"]
            if rec.get("start") is not None and rec.get("end") is not None:
                span, warn = self.span(rec["start"], rec["end"])
                row.update(span)
                row["_warn"] = warn
            return row

        return [self.guard(base, build)]
