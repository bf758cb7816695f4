"""MS-COCO 2014 captions in Karpathy's split JSON (``dataset_coco.json``): images ``<filepath>/<filename>``."""

from __future__ import annotations

from vidcurate.datasets.karpathy import KarpathyCaptions


class MSCOCO2014(KarpathyCaptions):
    name = "mscoco2014"
    description = "MS-COCO 2014 image captions (Karpathy dataset_coco.json; images under <filepath>/)"
    patterns = ("dataset_coco.json", "dataset_*.json")
