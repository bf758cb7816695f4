"""Public dataset converters: annotation files -> unified manifest rows (`vidcurate convert`).

    from vidcurate.datasets import Settings, convert
    res = convert("activitynet-qa", ["val_q.json", "val_a.json"], Settings(video_root="videos"))
    res.table        # the rows (pyarrow.Table), res.issues: malformed input, each naming file and line

One module per dataset (``datasets/<name>.py``); :mod:`.registry` maps CLI names to them.
"""

from __future__ import annotations

from vidcurate.datasets.base import Converter, RecordError, Settings
from vidcurate.datasets.convert import ConvertResult, convert, convert_to_file, iter_tables
from vidcurate.datasets.readers import Issues
from vidcurate.datasets.registry import describe, get, names, register

__all__ = [
    "ConvertResult",
    "Converter",
    "Issues",
    "RecordError",
    "Settings",
    "convert",
    "convert_to_file",
    "describe",
    "get",
    "iter_tables",
    "names",
    "register",
]
