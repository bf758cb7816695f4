"""The LAION improved aesthetic predictor's head: a stack of linear layers over a CLIP embedding.

The published weights (`sac+logos+ava1-l14-linearMSE.pth`, a state dict with `layers.{0,2,4,6,7}`:
768 -> 1024 -> 128 -> 64 -> 16 -> 1, dropout between, no activations) are applied as trained: the
linear layers in index order. Any such stack loads (the input size is read from the weights), so a
head trained on another backbone works too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from vidcurate.core.errors import ConfigError
from vidcurate.models.store import shared

_LAYER = re.compile(r"(?:.*\.)?layers\.(\d+)\.(weight|bias)$")


class AestheticHead:
    def __init__(self, state: dict[str, Any], device: str) -> None:
        import torch

        layers: dict[int, dict[str, Any]] = {}
        for key, value in state.items():
            m = _LAYER.fullmatch(key)
            if m:
                layers.setdefault(int(m.group(1)), {})[m.group(2)] = value
        if not layers or any("weight" not in v for v in layers.values()):
            raise ValueError(f"no layers.N.weight tensors (keys: {', '.join(list(state)[:6])})")
        self.linears = []
        prev = None
        for i in sorted(layers):
            w = layers[i]["weight"].float()
            if w.ndim != 2 or (prev is not None and w.shape[1] != prev):
                raise ValueError(f"layer {i} has shape {tuple(w.shape)} after an output of {prev}")
            b = layers[i].get("bias")
            self.linears.append((w.to(device), None if b is None else b.float().to(device)))
            prev = w.shape[0]
        if prev != 1:
            raise ValueError(f"the last layer gives {prev} values, not one score")
        self.in_dim = int(self.linears[0][0].shape[1])
        self.device, self.torch = device, torch

    def __call__(self, embeddings: np.ndarray) -> np.ndarray:
        """One score per row of normalised (N, in_dim) embeddings."""
        with self.torch.inference_mode():
            x = self.torch.from_numpy(np.ascontiguousarray(embeddings, np.float32)).to(self.device)
            for w, b in self.linears:
                x = x @ w.T + (b if b is not None else 0)
        return np.asarray(x[:, 0].cpu().numpy(), np.float64)


def read_state(path: Path) -> dict[str, Any]:
    """A state dict from a .pth/.pt/.safetensors file, or the one such file in a folder."""
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix in (".pth", ".pt", ".safetensors", ".bin"))
        if len(found) != 1:
            raise ConfigError(f"aesthetic weights: expected one .pth/.safetensors file in {path}, found {len(found)}")
        path = found[0]
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return dict(load_file(str(path)))
        import torch

        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        raise ConfigError(f"aesthetic weights {path}: cannot read ({type(e).__name__}: {e})") from None
    return dict(state.get("state_dict", state)) if isinstance(state, dict) else {}


def load_head(path: Path, device: str) -> AestheticHead:
    def build() -> AestheticHead:
        try:
            return AestheticHead(read_state(path), device)
        except ValueError as e:
            raise ConfigError(f"aesthetic weights {path}: {e}") from None

    return shared(("aesthetic", str(path), device), build)
