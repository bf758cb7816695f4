"""What is in the picture, from a panoptic segmentation model (the Frame-In-N-Out subject filter).

On `frames` frames: `seg_thing_ratio`, the mean share of the frame covered by "thing" classes
(people, animals, vehicles, objects: COCO's 80 by default; stuff is sky, road, wall...);
`seg_instances`, the most thing instances seen in one frame; `seg_top_classes`, the three classes
covering the most area over the clip; `seg_person`, whether a person is in any frame. Enough to
keep clips with a salient subject and drop landscapes or empty rooms.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import Field

from vidcurate.core.frames import Frames, FrameSpec
from vidcurate.core.scorer import FrameScorer
from vidcurate.core.stage import Columns, Resources
from vidcurate.models.device import ModelOptions, model_resources, pick_device, pick_dtype
from vidcurate.models.segmentation import Segmenter, load_segmenter
from vidcurate.models.store import ensure

# COCO's 80 thing classes as Mask2Former's COCO checkpoints name them (the other 53 are stuff).
THING_CLASSES = frozenset(
    (
        "person",
        "bicycle",
        "car",
        "motorcycle",
        "airplane",
        "bus",
        "train",
        "truck",
        "boat",
        "traffic light",
        "fire hydrant",
        "stop sign",
        "parking meter",
        "bench",
        "bird",
        "cat",
        "dog",
        "horse",
        "sheep",
        "cow",
        "elephant",
        "bear",
        "zebra",
        "giraffe",
        "backpack",
        "umbrella",
        "handbag",
        "tie",
        "suitcase",
        "frisbee",
        "skis",
        "snowboard",
        "sports ball",
        "kite",
        "baseball bat",
        "baseball glove",
        "skateboard",
        "surfboard",
        "tennis racket",
        "bottle",
        "wine glass",
        "cup",
        "fork",
        "knife",
        "spoon",
        "bowl",
        "banana",
        "apple",
        "sandwich",
        "orange",
        "broccoli",
        "carrot",
        "hot dog",
        "pizza",
        "donut",
        "cake",
        "chair",
        "couch",
        "potted plant",
        "bed",
        "dining table",
        "toilet",
        "tv",
        "laptop",
        "mouse",
        "remote",
        "keyboard",
        "cell phone",
        "microwave",
        "oven",
        "toaster",
        "sink",
        "refrigerator",
        "book",
        "clock",
        "vase",
        "scissors",
        "teddy bear",
        "hair drier",
        "toothbrush",
    )
)


class SegmentConfig(ModelOptions):
    model: str = Field(
        "mask2former-swin-tiny-coco-panoptic", description="universal segmentation model: name, Hub id or folder"
    )
    frames: int = Field(3, ge=1, description="frames spread over the clip")
    size: int = Field(384, ge=32, description="shorter side the frames are resized to for the model")
    threshold: float = Field(0.8, ge=0.0, le=1.0, description="class probability a segment needs")
    overlap: float = Field(0.8, ge=0.0, le=1.0, description="share of its own mask a segment must keep")
    thing_classes: list[str] | None = Field(None, description="classes that count as things (default: COCO's 80)")
    batch_size: int = Field(8, ge=1, description="frames per forward pass")


class SegmentScorer(FrameScorer[SegmentConfig]):
    """Subject coverage and classes from panoptic segmentation."""

    name: ClassVar[str] = "segment"
    columns: ClassVar[Columns] = {
        "seg_thing_ratio": pa.float64(),
        "seg_instances": pa.int64(),
        "seg_top_classes": pa.list_(pa.string()),
        "seg_person": pa.bool_(),
    }
    packages: ClassVar[tuple[tuple[str, str], ...]] = (("torch", "torch"), ("transformers", "transformers"))
    _path: Path | None = None
    _model: Segmenter | None = None

    def frame_spec(self) -> FrameSpec:
        return FrameSpec(num=self.config.frames, max_side=max(640, 2 * self.config.size))

    def check(self) -> None:
        super().check()
        self._path = ensure(self.config.model, "scorer 'segment'")

    def needs(self) -> Resources:
        return model_resources(self.config.device, 2.0)

    def setup(self) -> None:
        if self._model is None:
            if self._path is None:
                self.check()
            assert self._path is not None
            device = pick_device(self.config.device)
            self._model = load_segmenter(self._path, device, pick_dtype(self.config.dtype, device))

    def teardown(self) -> None:
        self._model = None

    def score(self, frames: Frames) -> dict[str, Any]:
        return self.score_batch([frames])[0]

    def score_batch(self, clips: Sequence[Frames]) -> list[dict[str, Any]]:
        if self._model is None:
            self.setup()
        assert self._model is not None
        cfg = self.config
        things = frozenset(cfg.thing_classes) if cfg.thing_classes is not None else THING_CLASSES
        out = []
        for clip in clips:  # frames of one clip share a size: one batch per clip
            if not len(clip):
                out.append(self.empty())
                continue
            per_frame = self._model.segments(
                list(clip.data), size=cfg.size, threshold=cfg.threshold, overlap=cfg.overlap, batch_size=cfg.batch_size
            )
            area: dict[str, float] = {}
            for segs in per_frame:
                for s in segs:
                    area[s.label] = area.get(s.label, 0.0) + s.area
            out.append(
                {
                    "seg_thing_ratio": sum(sum(s.area for s in segs if s.label in things) for segs in per_frame)
                    / len(per_frame),
                    "seg_instances": max(sum(1 for s in segs if s.label in things) for segs in per_frame),
                    "seg_top_classes": sorted(area, key=lambda c: -area[c])[:3],
                    "seg_person": any(s.label == "person" for segs in per_frame for s in segs),
                }
            )
        return out
