"""Universal segmentation (Mask2Former, OneFormer, MaskFormer) through `transformers`, panoptic.

The model gives, per query, class logits (the last class is "no object") and a mask. A frame's
panoptic map is built the way `transformers`' post-processing builds it: keep queries whose class
probability passes `threshold`, give each pixel to the query with the highest probability x mask,
and keep a segment only where most of its own mask survived (`overlap`). Preprocessing is done
here (shorter side to `size`, padded to a multiple of 32, normalised as the checkpoint's
preprocessor config says), so no image-processor class is needed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidcurate.core.errors import ConfigError
from vidcurate.models.store import shared

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Segment:
    label: str
    area: float  # fraction of the frame


class Segmenter:
    def __init__(self, path: Path, device: str, dtype: Any) -> None:
        import torch
        from transformers import AutoModelForUniversalSegmentation

        from vidcurate.models.clip import quiet_transformers

        quiet_transformers()
        try:
            self.model = AutoModelForUniversalSegmentation.from_pretrained(str(path), dtype=dtype).to(device).eval()
        except Exception as e:
            raise ConfigError(f"cannot load a segmentation model from {path} ({type(e).__name__}: {e})") from None
        cfg: dict[str, Any] = {}
        if (path / "preprocessor_config.json").is_file():
            cfg = json.loads((path / "preprocessor_config.json").read_text(encoding="utf-8"))
        mean = cfg.get("image_mean") or IMAGENET_MEAN
        std = cfg.get("image_std") or IMAGENET_STD
        scale = 255.0 if max(mean) > 1 else 1.0  # some configs give 0..255 values
        self.mean = np.asarray(mean, np.float32) / scale
        self.std = np.asarray(std, np.float32) / scale
        self.labels = {int(k): str(v) for k, v in self.model.config.id2label.items()}
        self.device, self.dtype, self.torch = device, dtype, torch

    def _prepare(self, rgb: np.ndarray, size: int) -> np.ndarray:
        h, w = rgb.shape[:2]
        s = size / min(h, w)
        nh, nw = max(32, round(h * s / 32) * 32), max(32, round(w * s / 32) * 32)
        img = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        x = (img.astype(np.float32) / 255.0 - self.mean) / self.std
        return np.ascontiguousarray(x.transpose(2, 0, 1))

    def segments(
        self, frames: list[np.ndarray], *, size: int, threshold: float, overlap: float, batch_size: int
    ) -> list[list[Segment]]:
        """Panoptic segments of each frame (frames of one size per call)."""
        out: list[list[Segment]] = []
        for i in range(0, len(frames), batch_size):
            x = np.stack([self._prepare(f, size) for f in frames[i : i + batch_size]])
            with self.torch.inference_mode():
                res = self.model(pixel_values=self.torch.from_numpy(x).to(self.device, self.dtype))
            cls = res.class_queries_logits.float().softmax(-1).cpu().numpy()
            masks = res.masks_queries_logits.float().sigmoid().cpu().numpy()
            out.extend(self._panoptic(c, m, threshold, overlap) for c, m in zip(cls, masks, strict=True))
        return out

    def _panoptic(self, probs: np.ndarray, masks: np.ndarray, threshold: float, overlap: float) -> list[Segment]:
        scores, labels = probs[:, :-1].max(-1), probs[:, :-1].argmax(-1)
        keep = scores > threshold
        if not keep.any():
            return []
        scores, labels, masks = scores[keep], labels[keep], masks[keep]
        owner = (scores[:, None, None] * masks).argmax(0)
        total = owner.size
        segs = []
        for k in range(len(scores)):
            own = masks[k] >= 0.5
            mine = (owner == k) & own
            n = int(mine.sum())
            if n and own.sum() and n / own.sum() >= overlap:
                segs.append(Segment(self.labels.get(int(labels[k]), str(int(labels[k]))), n / total))
        return segs


def load_segmenter(path: Path, device: str, dtype: Any) -> Segmenter:
    return shared(("segment", str(path), device, str(dtype)), lambda: Segmenter(path, device, dtype))
