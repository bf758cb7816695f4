"""The `tracks` column: one struct per object, from the `track` stage or imported (`tracks.import`).

Boxes are [x0, y0, x1, y1] in frame coordinates normalised to 0..1, one per entry of `times_s`
(seconds from the clip's start). `enter_side`/`exit_side` are left, right, top, bottom, or null
(the object was already there, or stays); `vx`/`vy` are the object's own velocity in frame widths
and heights per second (camera motion removed; y grows downwards); `direction` is left, right, up,
down or still; `depth` approaching, receding or steady (from the box area over time); `crop` the
reference image of the object (a path) when one was written. `positions_3d` (x, y, z per
timestamp, metres, camera frame of the first timestamp) only comes from imported trajectories.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

TRACK = pa.struct(
    [
        ("id", pa.int32()),
        ("label", pa.string()),
        ("color", pa.string()),
        ("times_s", pa.list_(pa.float64())),
        ("boxes", pa.list_(pa.list_(pa.float32()))),
        ("enter_s", pa.float64()),
        ("exit_s", pa.float64()),
        ("enter_side", pa.string()),
        ("exit_side", pa.string()),
        ("vx", pa.float64()),
        ("vy", pa.float64()),
        ("speed", pa.float64()),
        ("direction", pa.string()),
        ("scale_change", pa.float64()),
        ("depth", pa.string()),
        ("regularity", pa.float64()),
        ("crop", pa.string()),
        ("positions_3d", pa.list_(pa.list_(pa.float64()))),
    ]
)
COLUMNS = {
    "tracks": pa.list_(TRACK),
    "track_count": pa.int64(),
    "track_longest_s": pa.float64(),
    "track_in_out": pa.int64(),
    "track_max_concurrent": pa.int64(),
    "track_regularity": pa.float64(),
}


def summary(tracks: list[dict[str, Any]]) -> dict[str, Any]:
    """The filterable columns of a row's tracks."""
    spans = [(t["times_s"][0], t["times_s"][-1]) for t in tracks if t.get("times_s")]
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans], key=lambda e: (e[0], -e[1]))
    live = peak = 0
    for _, d in events:
        live += d
        peak = max(peak, live)
    reg = [t["regularity"] for t in tracks if t.get("regularity") is not None]
    return {
        "track_count": len(tracks),
        "track_longest_s": max((b - a for a, b in spans), default=0.0),
        "track_in_out": sum(1 for t in tracks if t.get("enter_side") and t.get("exit_side")),
        "track_max_concurrent": peak,
        "track_regularity": sum(reg) / len(reg) if reg else None,
    }
