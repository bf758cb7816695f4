"""A CLIP/SigLIP backbone through Hugging Face `transformers`: image and text embeddings, batched.

Any checkpoint `AutoModel` loads as a dual encoder (`get_image_features` / `get_text_features`):
OpenAI CLIP, SigLIP, LAION's OpenCLIP ports. Frames are preprocessed here with OpenCV, following
the checkpoint's `preprocessor_config.json` (CLIP: resize the shorter side, centre crop; SigLIP:
resize to the square; then normalise), so no image-processor class (several need torchvision,
which does not load beside the CPU torch) is involved. Embeddings come back L2-normalised, float32.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidcurate.core.errors import ConfigError
from vidcurate.models.store import shared

MEMO_FRAMES = 2048  # recent frame embeddings kept (a group of clips, for the stage's other CLIP scorers)
# OpenAI CLIP's normalisation: what a checkpoint without a preprocessor config was trained with.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class Preprocess:
    size: int
    crop: bool  # True: shorter side to `size`, centre crop; False: resize to size x size
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """(3, size, size) float32 of one RGB uint8 frame."""
        h, w = rgb.shape[:2]
        s = self.size
        if self.crop:
            scale = s / min(h, w)
            nh, nw = max(s, round(h * scale)), max(s, round(w * scale))
            img = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
            y, x = (nh - s) // 2, (nw - s) // 2
            img = img[y : y + s, x : x + s]
        else:
            img = cv2.resize(rgb, (s, s), interpolation=cv2.INTER_CUBIC if s > min(h, w) else cv2.INTER_AREA)
        x = img.astype(np.float32) / 255.0
        x = (x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return np.ascontiguousarray(x.transpose(2, 0, 1))


def preprocess_for(path: Path, image_size: int) -> Preprocess:
    """The checkpoint's own preprocessing, read from its `preprocessor_config.json` when it has one."""
    cfg: dict[str, Any] = {}
    f = path / "preprocessor_config.json"
    if f.is_file():
        cfg = json.loads(f.read_text(encoding="utf-8"))
    crop = cfg.get("crop_size")
    size = cfg.get("size")
    if isinstance(crop, dict):
        crop = crop.get("height") or crop.get("shortest_edge")
    squash = isinstance(size, dict) and "height" in size and not cfg.get("do_center_crop", False)
    side = int(crop or (size.get("height") if isinstance(size, dict) else size) or image_size)
    mean = tuple(cfg.get("image_mean") or CLIP_MEAN)
    std = tuple(cfg.get("image_std") or CLIP_STD)
    return Preprocess(side, not squash, mean, std)


class ClipBackbone:
    """A loaded dual encoder; `images` and `texts` give normalised (N, dim) float32 embeddings."""

    def __init__(self, path: Path, device: str, dtype: Any) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        quiet_transformers()
        try:
            self.model = AutoModel.from_pretrained(str(path), dtype=dtype).to(device).eval()
            self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        except Exception as e:
            raise ConfigError(f"cannot load a CLIP/SigLIP model from {path} ({type(e).__name__}: {e})") from None
        if not hasattr(self.model, "get_image_features"):
            raise ConfigError(f"{path} is a {type(self.model).__name__}, not a dual image-text encoder")
        cfg = self.model.config
        vision = getattr(cfg, "vision_config", cfg)
        self.preprocess = preprocess_for(path, int(getattr(vision, "image_size", 224)))
        self.device, self.dtype, self.torch = device, dtype, torch
        text = getattr(cfg, "text_config", cfg)
        self.max_text = int(getattr(text, "max_position_embeddings", 77))
        self.siglip = "siglip" in type(self.model).__name__.lower()
        self.dim = int(getattr(cfg, "projection_dim", 0) or getattr(text, "hidden_size", 0))
        self._memo: OrderedDict[bytes, np.ndarray] = OrderedDict()

    def images(self, frames: list[np.ndarray], batch_size: int) -> np.ndarray:
        """Embeddings of `frames`; a frame embedded moments ago (another scorer of the same stage,
        on the same backbone, asks for the same frames) is not embedded again."""
        keys = [_digest(f) for f in frames]
        todo = list({k: f for k, f in zip(keys, frames, strict=True) if k not in self._memo}.items())
        for i in range(0, len(todo), batch_size):
            chunk = todo[i : i + batch_size]
            x = np.stack([self.preprocess(f) for _, f in chunk])
            with self.torch.inference_mode():
                pix = self.torch.from_numpy(x).to(self.device, self.dtype)
                emb = _normalised(_features(self.model.get_image_features(pixel_values=pix)))
            for (k, _), e in zip(chunk, emb, strict=True):
                self._memo[k] = e
        while len(self._memo) > MEMO_FRAMES:
            self._memo.popitem(last=False)
        return np.stack([self._memo[k] for k in keys]) if keys else np.zeros((0, self.dim), np.float32)

    def texts(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = []
        for i in range(0, len(texts), batch_size):
            tok = self.tokenizer(
                texts[i : i + batch_size],
                padding="max_length" if self.siglip else True,
                truncation=True,
                max_length=self.max_text,
                return_tensors="pt",
            )
            with self.torch.inference_mode():
                feats = self.model.get_text_features(**{k: v.to(self.device) for k, v in tok.items()})
                out.append(_features(feats))
        return _normalised(np.concatenate(out)) if out else np.zeros((0, self.dim), np.float32)


def quiet_transformers() -> None:
    """No progress bars or advice on stderr while a worker loads weights."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _digest(frame: np.ndarray) -> bytes:
    data = np.ascontiguousarray(frame)
    return hashlib.blake2b(data.data, digest_size=16, person=repr(data.shape).encode()[:16]).digest()


def _features(out: Any) -> np.ndarray:
    t = out if hasattr(out, "float") else out.pooler_output  # transformers 5 returns an output object
    return np.asarray(t.float().cpu().numpy(), np.float32)


def _normalised(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def load_clip(path: Path, device: str, dtype: Any) -> ClipBackbone:
    """The backbone at `path`, loaded once per process for each device and dtype."""
    return shared(("clip", str(path), device, str(dtype)), lambda: ClipBackbone(path, device, dtype))
