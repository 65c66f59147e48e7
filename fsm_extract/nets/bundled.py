"""The bundled models: 32-unit LSTMs trained on Tomita 1-7 (see datasets/README.md)."""

from __future__ import annotations

from .._checks import check_choice
from ..data.datasets import TOMITA, bundled_dir
from ..errors import MissingFileError
from .checkpoints import load_model
from .models import RNNClassifier

__all__ = ["bundled_model"]


def bundled_model(name: str) -> RNNClassifier:
    """The bundled 32-unit LSTM trained on ``name`` (an :class:`~fsm_extract.nets.models.RNNClassifier`)."""
    check_choice("name", name, TOMITA)
    path = bundled_dir() / "models" / f"{name}.pt"
    if not path.exists():
        raise MissingFileError(f"name={name!r}: bundled model {str(path)!r} is missing; see datasets/README.md to regenerate it")
    return load_model(path)
