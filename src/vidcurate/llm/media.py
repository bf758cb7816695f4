"""What a VLM sees of a row: sampled frames as JPEG data URLs, or a `video_url` for servers that decode video.

Frames come from the decode-once sampler (`vidcurate.io.decode.sample`), so the images sent are
exactly the frames the sampler chose for the row's span.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from vidcurate.core.errors import RowError
from vidcurate.core.frames import FrameSpec
from vidcurate.io.decode import sample
from vidcurate.io.images import encode_jpeg
from vidcurate.llm.options import LLMOptions


class FrameOptions(LLMOptions):
    """How a row's video is shown to the model."""

    num_frames: int = Field(8, ge=1, le=256, description="frames spread uniformly over the row's span")
    max_side: int = Field(512, ge=16, description="longer side of each frame, pixels (never upscaled)")
    jpeg_quality: int = Field(85, ge=10, le=100)
    image_detail: Literal["auto", "low", "high"] | None = Field(None, description="OpenAI image `detail` hint")
    video_input: Literal["frames", "video_url"] = Field(
        "frames", description="frames: JPEG images; video_url: send the file's URL (server decodes it)"
    )
    video_url_template: str = Field(
        "file://{path}", description="URL for video_url input; {path} is the row's absolute path"
    )
    decode_threads: int = Field(2, ge=1, le=64, description="threads that decode and encode frames")

    def frame_spec(self) -> FrameSpec:
        return FrameSpec(num=self.num_frames, max_side=self.max_side)


def jpeg_data_url(rgb: np.ndarray, quality: int) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(encode_jpeg(rgb, quality)).decode("ascii")


def frame_urls(row: dict[str, Any], opts: FrameOptions) -> list[str]:
    """Decode the row's span once and encode the chosen frames (runs in a worker thread)."""
    frames = sample(
        row["path"],
        {"vlm": opts.frame_spec()},
        start_s=row.get("start_s"),
        end_s=row.get("end_s"),
        duration_s=row.get("duration_s"),
    )["vlm"]
    if len(frames) == 0:
        raise RowError("no_frames", f"{Path(row['path']).name}: no frame decoded in the span")
    return [jpeg_data_url(f, opts.jpeg_quality) for f in frames.data]


def video_url(row: dict[str, Any], opts: FrameOptions) -> str:
    """The URL of the whole file; a clip of a longer file is refused (the server would see all of it)."""
    start, end, dur = row.get("start_s"), row.get("end_s"), row.get("duration_s")
    clipped = (start or 0) > 0.05 or (end is not None and dur is not None and end < dur - 0.05)
    if clipped or (end is not None and dur is None):
        raise RowError(
            "clip_span",
            f"{Path(row['path']).name}: video_url sends whole files and this row is a span of one "
            "(cut the clips first, or use video_input: frames)",
        )
    return opts.video_url_template.format(path=str(Path(row["path"]).resolve()))


def media_parts(urls: list[str], opts: FrameOptions, *, video: bool = False) -> list[dict[str, Any]]:
    """OpenAI content parts for images (or one video URL)."""
    if video:
        return [{"type": "video_url", "video_url": {"url": urls[0]}}]
    parts = []
    for u in urls:
        image: dict[str, Any] = {"url": u}
        if opts.image_detail:
            image["detail"] = opts.image_detail
        parts.append({"type": "image_url", "image_url": image})
    return parts
