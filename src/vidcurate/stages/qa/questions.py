"""Template questions over tracks and camera motion, each asked only when its answer is clear.

Every generator returns candidates `{type, question, options, correct, subjects}` with the correct
option's text in `correct`; `qa.template` places it among the options. An object is named by its
colour (and label, when imported tracks have one); two tracks of one colour are not named at all,
so no question is ambiguous about which object it means. Margins keep near-ties out: speeds must
differ by `speed_ratio`, entry times by `time_gap_s`, sizes must change by 25 % for approach.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Any

MOVES = {"left": "to the left", "right": "to the right", "up": "upwards", "down": "downwards"}
SIDES = {"left": "the left side", "right": "the right side", "top": "the top", "bottom": "the bottom"}
CAMERA = {
    "static": "it stays still", "pan_left": "it pans to the left", "pan_right": "it pans to the right",
    "tilt_up": "it tilts up", "tilt_down": "it tilts down", "zoom_in": "it zooms in", "zoom_out": "it zooms out",
}  # fmt: skip


@dataclass(frozen=True)
class Margins:
    min_track_s: float = 1.0
    min_speed: float = 0.05  # frame widths (heights) per second
    axis_ratio: float = 2.0  # the main direction must dominate the other axis this much
    speed_ratio: float = 1.5
    time_gap_s: float = 0.5
    position_gap: float = 0.05  # share of the frame width between two objects compared left/right


def names(tracks: list[dict[str, Any]]) -> dict[int, str]:
    """Track id -> "the red object" (or "the red car"), for colours that only one track has."""
    key = [(t.get("color") or "", t.get("label") or "object") for t in tracks]
    count = Counter(key)
    return {int(t["id"]): f"the {c} {lab}".replace("  ", " ") for t, (c, lab) in zip(tracks, key, strict=True)
            if count[(c, lab)] == 1 and c}  # fmt: skip


def _q(kind: str, question: str, correct: str, distractors: list[str], subjects: list[int]) -> dict[str, Any]:
    return {"type": kind, "question": question, "correct": correct, "distractors": distractors, "subjects": subjects}


def generate(tracks: list[dict[str, Any]], camera: str | None, m: Margins) -> list[dict[str, Any]]:
    long = [t for t in tracks if t["times_s"] and t["times_s"][-1] - t["times_s"][0] >= m.min_track_s]
    name = names(long)
    named = [t for t in long if int(t["id"]) in name]
    out: list[dict[str, Any]] = []
    for t in named:
        n, tid = name[int(t["id"])], [int(t["id"])]
        vx, vy = abs(t["vx"]), abs(t["vy"])
        main, other = max(vx, vy), min(vx, vy)
        if t["direction"] in MOVES and t["speed"] >= m.min_speed and main >= m.axis_ratio * other:
            correct = MOVES[t["direction"]]
            out.append(_q("direction", f"In which direction does {n} move?", correct,
                          [v for v in MOVES.values() if v != correct], tid))  # fmt: skip
        if t.get("depth") in ("approaching", "receding"):
            correct = "it comes closer" if t["depth"] == "approaching" else "it moves away"
            out.append(_q("approach", f"Does {n} come closer to the camera or move away from it?", correct,
                          [x for x in ("it comes closer", "it moves away", "its distance stays about the same")
                           if x != correct], tid))  # fmt: skip
        if t.get("exit_side") in SIDES:
            correct = SIDES[t["exit_side"]]
            out.append(_q("exit_side", f"Through which side does {n} leave the frame?", correct,
                          [v for v in SIDES.values() if v != correct], tid))  # fmt: skip
    for a, b in itertools.combinations(named, 2):
        na, nb, ids = name[int(a["id"])], name[int(b["id"])], [int(a["id"]), int(b["id"])]
        fast, slow = (a, b) if a["speed"] >= b["speed"] else (b, a)
        if fast["speed"] >= m.speed_ratio * max(slow["speed"], 1e-9) and fast["speed"] >= m.min_speed:
            out.append(_q("faster", f"Which moves faster, {na} or {nb}?", name[int(fast["id"])],
                          [name[int(slow["id"])], "they move at about the same speed"], ids))  # fmt: skip
        if _apart(a.get("enter_s"), b.get("enter_s"), m.time_gap_s):
            first, second = (a, b) if a["enter_s"] < b["enter_s"] else (b, a)
            out.append(_q("enters_first", f"Which enters the frame first, {na} or {nb}?", name[int(first["id"])],
                          [name[int(second["id"])], "they enter at the same time"], ids))  # fmt: skip
        if _apart(a.get("exit_s"), b.get("exit_s"), m.time_gap_s):
            last, earlier = (a, b) if a["exit_s"] > b["exit_s"] else (b, a)
            out.append(_q("leaves_last", f"Which leaves the frame last, {na} or {nb}?", name[int(last["id"])],
                          [name[int(earlier["id"])], "they leave at the same time"], ids))  # fmt: skip
        swap = _swap(a, b, m.position_gap)
        if swap is not None:
            out.append(_q("relative_position", f"At the start {na} is {swap[0]} {nb}. Where is it at the end?",
                          f"{swap[1]} {nb}", [f"{swap[0]} {nb}", f"directly above or below {nb}"], ids))  # fmt: skip
    if long and len(long) == len(tracks) and len(long) <= 6:
        count = len(long)
        wrong = [x for x in (count - 1, count + 1, count + 2, count + 3) if x >= 1][:3]
        out.append(_q("count", "How many objects move in the video?", str(count), [str(x) for x in wrong],
                      [int(t["id"]) for t in long]))  # fmt: skip
    if camera in CAMERA:
        correct = CAMERA[camera]
        pool = [v for v in CAMERA.values() if v != correct]
        out.append(_q("camera", "How does the camera move?", correct, pool[:3], []))
    return out


def _apart(x: float | None, y: float | None, gap: float) -> bool:
    return x is not None and y is not None and abs(x - y) >= gap


def _swap(a: dict[str, Any], b: dict[str, Any], gap: float) -> tuple[str, str] | None:
    """("to the left of", "to the right of") when a passes b horizontally while both are in view."""
    common = sorted(set(a["times_s"]) & set(b["times_s"]))
    if len(common) < 2:
        return None

    def x_at(t: dict[str, Any], ts: float) -> float:
        box = t["boxes"][t["times_s"].index(ts)]
        return (box[0] + box[2]) / 2

    d0 = x_at(a, common[0]) - x_at(b, common[0])
    d1 = x_at(a, common[-1]) - x_at(b, common[-1])
    if abs(d0) < gap or abs(d1) < gap or (d0 > 0) == (d1 > 0):
        return None
    return ("to the left of", "to the right of") if d0 < 0 else ("to the right of", "to the left of")
