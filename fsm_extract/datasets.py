"""``fx.datasets``: labelled words (JSONL files, the bundled Tomita splits) and the bundled models.

The public face of :mod:`fsm_extract.data.datasets` and :mod:`fsm_extract.nets.bundled`.
"""

from .data.datasets import SPLITS, Dataset, bundled_dir, bundled_names, load, load_jsonl
from .nets.bundled import bundled_model

__all__ = ["Dataset", "load", "load_jsonl", "bundled_names", "bundled_dir", "bundled_model", "SPLITS"]
