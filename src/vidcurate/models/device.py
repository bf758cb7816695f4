"""Device, dtype and batch size of a model-backed scorer: one typed block every such config shares."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from vidcurate.core.errors import ConfigError
from vidcurate.core.scorer import ScorerConfig
from vidcurate.core.stage import Resources

Device = Literal["auto", "cpu", "cuda"]
DType = Literal["auto", "float32", "float16", "bfloat16"]


class ModelOptions(ScorerConfig):
    """Where and how a scorer's model runs (the model itself is named by the subclass's `model`)."""

    device: Device = Field("auto", description="auto: cuda when there is a GPU, else cpu")
    dtype: DType = Field("auto", description="auto: float16 on cuda, float32 on cpu")
    batch_size: int = Field(32, ge=1, description="images per forward pass (frames of several clips)")


def pick_device(device: Device) -> str:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: cuda was asked for, but torch sees no GPU (use device: auto or cpu)")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def pick_dtype(dtype: DType, device: str) -> Any:
    import torch

    if dtype == "auto":
        return torch.float16 if device == "cuda" else torch.float32
    return getattr(torch, dtype)


def model_resources(device: Device, gpu_mem_gb: float) -> Resources:
    """A GPU share when the model may run on one (the engines give none where there are none)."""
    return Resources(cpus=1.0) if device == "cpu" else Resources(cpus=1.0, gpus=0.25, gpu_mem_gb=gpu_mem_gb)
