"""LLaMA-Factory's own data path (llamafactory==0.9.5, installed --no-deps by the Makefile), for tests.

`load` runs a dataset folder through LLaMA-Factory's loader and sharegpt converter
(`data.loader._load_single_dataset`), then through its SFT preprocessing with the ``qwen2_omni``
template, which validates every example's media tokens against its images, videos and audios
(`mm_plugin._validate_messages`). The tokenizer is a tiny byte-level BPE built here and the
processor a stand-in, so nothing is downloaded; media are not decoded (``expand_mm_tokens`` off).

Two shims, both only for what this machine lacks: LLaMA-Factory imports torchaudio unguarded
(used only to decode audio; the PyPI wheel does not load beside the CPU torch), and its version
check wants trl, which the data path never imports.
"""

from __future__ import annotations

import copy
import importlib.machinery
import logging
import os
import sys
import tempfile
import types
from pathlib import Path
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("DISABLE_VERSION_CHECK", "1")

import datasets
import peft  # noqa: F401  (imported before the torchaudio shim: transformers probes torchaudio)
import transformers

if "torchaudio" not in sys.modules:
    _shim = types.ModuleType("torchaudio")
    _shim.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
    sys.modules["torchaudio"] = _shim

from llamafactory.data import get_template_and_fix_tokenizer
from llamafactory.data.loader import _get_preprocessed_dataset, _load_single_dataset
from llamafactory.data.parser import get_dataset_list
from llamafactory.hparams import DataArguments, ModelArguments

datasets.disable_progress_bars()
TEMPLATE = "qwen2_omni"  # images, videos and audios
SPECIALS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|IMAGE|>", "<|VIDEO|>", "<|AUDIO|>",
    "<|vision_bos|>", "<|vision_eos|>", "<|audio_bos|>", "<|audio_eos|>",
]  # fmt: skip


class LFWarnings(logging.Handler):
    """LLaMA-Factory's warnings (it logs to its own stdout handler, not through the root logger)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(["Describe the video. You are a helpful assistant."], trainer)
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIALS[1:],
    )


def load(dataset_dir: Path, name: str, *, media_dir: Path | None = None) -> list[dict[str, Any]]:
    """The examples LLaMA-Factory trains on; AssertionError naming LLaMA-Factory's reason for any it
    would drop or refuse. Each: ``{"system", "messages": [{role, content}], "images", "videos", "audios"}``."""
    cache = tempfile.mkdtemp(prefix="lf-cache-")  # never beside the data: it may be ../shared
    data_args = DataArguments(
        dataset_dir=str(dataset_dir),
        dataset=name,
        media_dir=str(media_dir or dataset_dir),
        overwrite_cache=True,
        template=TEMPLATE,
        cutoff_len=4096,
    )
    model_args = ModelArguments(model_name_or_path="unused", cache_dir=cache)  # the loader never loads it
    train_args = transformers.Seq2SeqTrainingArguments(output_dir=cache, report_to="none")
    log = logging.getLogger("llamafactory")
    seen = LFWarnings()
    log.addHandler(seen)
    try:
        (attr,) = get_dataset_list([name], str(dataset_dir))
        aligned = _load_single_dataset(attr, model_args, data_args, train_args)
        rows = list(aligned)
        dropped = [r for r in rows if not r["_prompt"] or not r["_response"]]
        assert not dropped, f"LLaMA-Factory drops {len(dropped)} examples: {seen.messages}"
        tok = _tokenizer()
        template = copy.deepcopy(get_template_and_fix_tokenizer(tok, data_args))
        template.mm_plugin.expand_mm_tokens = False  # one token per media: nothing is decoded
        processor = SimpleNamespace(
            image_processor=SimpleNamespace(merge_size=2), video_processor=object(), feature_extractor=object()
        )
        try:
            done = _get_preprocessed_dataset(aligned, data_args, train_args, "sft", template, tok, processor)
        except ValueError as e:
            raise AssertionError(f"LLaMA-Factory refuses the dataset: {e}") from None
        assert done is not None and len(done) == len(rows), f"LLaMA-Factory dropped examples: {seen.messages}"
    finally:
        log.removeHandler(seen)
    return [
        {
            "system": r["_system"] or "",
            "messages": [*r["_prompt"], *r["_response"]],
            **{k: list(r[f"_{k}"] or []) for k in ("images", "videos", "audios")},
        }
        for r in rows
    ]
