"""Tiny random-initialised models saved the way real checkpoints are, for tests and benchmarks.

`install(cache)` writes a CLIP, a LAION-style aesthetic head and a Mask2Former into a model cache
under the registered names (`clip-vit-large-patch14`, `laion-aesthetic-v2`,
`mask2former-swin-tiny-coco-panoptic`), so scorers load them through the registry exactly as they
load downloaded weights. Weights are random (seeded): the columns are meaningless but have the
real types, shapes and code paths. `clip_like(dest, preset)` builds a full-size random CLIP
(ViT-B/32 or L/14 shape) for throughput benchmarks.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import torch

# The byte-level alphabet CLIP's BPE starts from (GPT-2's printable stand-ins for 256 bytes).
_PRINTABLE = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]


def _byte_alphabet() -> list[str]:
    chars, extra = list(_PRINTABLE), 0
    for b in range(256):
        if b not in _PRINTABLE:
            chars.append(256 + extra)
            extra += 1
    return [chr(c) for c in chars]


def _quiet() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def tiny_clip(dest: Path, *, dim: int = 16, image_size: int = 32, seed: int = 0) -> Path:
    """A 2-layer CLIP (text and vision), its byte-level tokenizer and preprocessing config."""
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    _quiet()
    alphabet = _byte_alphabet()
    vocab = {c: i for i, c in enumerate(alphabet)} | {c + "</w>": 256 + i for i, c in enumerate(alphabet)}
    vocab |= {"<|startoftext|>": 512, "<|endoftext|>": 513}
    text = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                vocab_size=len(vocab), max_position_embeddings=32, bos_token_id=512, eos_token_id=513,
                pad_token_id=513)  # fmt: skip
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                  image_size=image_size, patch_size=8)  # fmt: skip
    torch.manual_seed(seed)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=dim)).eval()
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest)
    CLIPTokenizer(vocab=vocab, merges=[], model_max_length=32).save_pretrained(dest)
    pre = {"crop_size": {"height": image_size, "width": image_size}, "size": {"shortest_edge": image_size}}
    (dest / "preprocessor_config.json").write_text(json.dumps(pre))
    return dest


def tiny_aesthetic(dest: Path, *, in_dim: int = 16, seed: int = 0) -> Path:
    """A head shaped like LAION's (linear layers 0, 2, 4, 6, 7), saved under its file name."""
    torch.manual_seed(seed)
    dims = [in_dim, 32, 16, 8, 4, 1]
    state: dict[str, Any] = {}
    for idx, (a, b) in zip((0, 2, 4, 6, 7), itertools.pairwise(dims), strict=True):
        layer = torch.nn.Linear(a, b)
        state[f"layers.{idx}.weight"], state[f"layers.{idx}.bias"] = layer.weight.detach(), layer.bias.detach()
    state["layers.7.bias"] = state["layers.7.bias"] + 5.0  # centred on LAION's scale (~5)
    dest.mkdir(parents=True, exist_ok=True)
    torch.save(state, dest / "sac+logos+ava1-l14-linearMSE.pth")
    return dest


SEG_LABELS = ("person", "dog", "car", "sky", "grass")


def tiny_segmenter(dest: Path, *, seed: int = 0) -> Path:
    """A Mask2Former with a 4-stage Swin of one block each and five classes (three things)."""
    from transformers import Mask2FormerConfig, Mask2FormerForUniversalSegmentation, SwinConfig

    _quiet()
    swin: dict[str, Any] = dict(image_size=64, patch_size=4, embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
                                window_size=4, out_features=["stage1", "stage2", "stage3", "stage4"])  # fmt: skip
    m2f: dict[str, Any] = dict(
        backbone_config=SwinConfig(**swin), hidden_dim=32, mask_feature_size=32, feature_size=32, num_queries=10,
        encoder_layers=1, decoder_layers=2, encoder_feedforward_dim=64, dim_feedforward=64, num_attention_heads=2,
        num_labels=len(SEG_LABELS), id2label=dict(enumerate(SEG_LABELS)),
        label2id={n: i for i, n in enumerate(SEG_LABELS)},
    )  # fmt: skip
    cfg = Mask2FormerConfig(**m2f)
    torch.manual_seed(seed)
    model = Mask2FormerForUniversalSegmentation(cfg).eval()
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest)
    return dest


def install(cache: Path, *, dim: int = 16) -> Path:
    """Tiny models in a model cache under the names the scorers ask for by default."""
    tiny_clip(cache / "clip-vit-large-patch14", dim=dim)
    tiny_aesthetic(cache / "laion-aesthetic-v2", in_dim=dim)
    tiny_segmenter(cache / "mask2former-swin-tiny-coco-panoptic")
    return cache


PRESETS = {
    # (vision width, layers, heads, patch, text width, text layers, projection)
    "b32": (768, 12, 12, 32, 512, 12, 512),
    "l14": (1024, 24, 16, 14, 768, 12, 768),
}


def clip_like(dest: Path, preset: str = "b32", seed: int = 0) -> Path:
    """A random CLIP with the shape of OpenAI's ViT-B/32 or ViT-L/14 (throughput, not accuracy)."""
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    _quiet()
    vw, vl, vh, patch, tw, tl, proj = PRESETS[preset]
    small = tiny_clip(dest / "_tok")
    tok = CLIPTokenizer.from_pretrained(small)
    text = dict(hidden_size=tw, intermediate_size=4 * tw, num_hidden_layers=tl, num_attention_heads=tw // 64,
                vocab_size=len(tok), max_position_embeddings=77, bos_token_id=512, eos_token_id=513,
                pad_token_id=513)  # fmt: skip
    vision = dict(hidden_size=vw, intermediate_size=4 * vw, num_hidden_layers=vl, num_attention_heads=vh,
                  image_size=224, patch_size=patch)  # fmt: skip
    torch.manual_seed(seed)
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=proj)).eval().save_pretrained(dest)
    tok.save_pretrained(dest)
    (dest / "preprocessor_config.json").write_text(json.dumps({"crop_size": 224, "size": {"shortest_edge": 224}}))
    return dest
