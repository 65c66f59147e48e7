"""Checkpoints: :func:`load_model` reads what :meth:`RNNClassifier.save` wrote, checking what a
file asks for against what it holds before anything is materialised (see :mod:`._checkpoint`)."""

from __future__ import annotations

import os

import torch

from .._checks import check_existing_file, check_int
from .._limits import MAX_PARAMETERS
from ..errors import ArgumentTypeError, DataFormatError, ValidationError
from . import _checkpoint
from .models import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, RNNClassifier
from .parts import check_device

__all__ = ["load_model"]


def load_model(
    path: str | os.PathLike, *, map_location: str | torch.device = "cpu", max_parameters: int = MAX_PARAMETERS
) -> RNNClassifier:
    """Load a checkpoint written by :meth:`RNNClassifier.save`.

    Checkpoints are read with ``torch.load(weights_only=True)``: a file from elsewhere cannot
    run code. Before any weight is materialised, what the file asks for is checked against what
    it holds and against ``max_parameters``: the size its records unpack to (at most 8 bytes per
    allowed parameter plus 4 MiB), the number of weights its config declares, and that every
    weight is stored in full (a weight expanded from one value with stride 0, overlapping
    strides, or a view past its storage is refused, naming the weight).

    Parameters
    ----------
    path : str or os.PathLike
    map_location : str or torch.device, default "cpu"
    max_parameters : int, default 50,000,000
        The most weights the checkpoint may declare in all (200 MB as float32; a 4-layer LSTM of
        1,024 units has 33.6 million). Raise it to load a larger net.

    Raises
    ------
    MissingFileError
        Nothing is at ``path``.
    DataFormatError
        The file is corrupted or foreign, its config or weights are invalid, hold NaN, are not
        stored in full, or ask for more than ``max_parameters``.
    ValidationError
        ``map_location`` is not a device here, or ``max_parameters`` < 1.
    """
    path = check_existing_file("path", path)
    map_location = check_device("map_location", map_location)
    max_parameters = check_int("max_parameters", max_parameters, min=1)
    where = f"path={str(path)!r}"
    _checkpoint.check_unpacked_size(where, path, max_parameters)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types on garbage: normalise them
        raise DataFormatError(
            f"{where} must be an fsm-extract model checkpoint, but torch could not read it "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else 'no detail'})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise DataFormatError(
            f"{where} must be an fsm-extract model checkpoint (format {CHECKPOINT_FORMAT!r}), "
            f"got {type(payload).__name__} without that format tag"
        )
    version = payload.get("version")
    if type(version) is not int or version != CHECKPOINT_VERSION:  # True == 1, but is no version
        raise DataFormatError(f"{where}: checkpoint version {version!r} must be {CHECKPOINT_VERSION}")
    config, state = payload.get("config"), payload.get("state_dict")
    if not isinstance(config, dict) or not isinstance(state, dict):
        raise DataFormatError(f"{where}: checkpoint must hold a 'config' dict and a 'state_dict' dict")
    try:
        kwargs, shapes = _checkpoint.expected_shapes(config)
    except KeyError as exc:
        raise DataFormatError(f"{where}: checkpoint config is invalid: it lacks the key {exc}") from None
    except (ValidationError, ArgumentTypeError) as exc:
        raise DataFormatError(f"{where}: checkpoint config is invalid: {exc}") from None
    _checkpoint.check_parameter_count(where, kwargs, shapes, max_parameters)
    _checkpoint.check_weights(where, state, shapes)  # before building: a config cannot ask for more than the file holds
    for key, tensor in state.items():
        if not torch.isfinite(tensor).all():
            raise DataFormatError(f"{where}: weight {key!r} must be finite, but holds NaN or infinite values")
    alphabet = kwargs.pop("alphabet")
    try:
        model = RNNClassifier(alphabet, **kwargs)
        with torch.no_grad():  # float64/float16 weights are cast; values beyond float32 become inf
            model.load_state_dict(state, strict=True)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise DataFormatError(
            f"{where}: checkpoint config or weights are invalid ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
        ) from None
    for key, tensor in model.state_dict().items():
        if not torch.isfinite(tensor).all():
            raise DataFormatError(f"{where}: weight {key!r} must be finite, but holds NaN or infinite values")
    model.to(map_location)
    meta = payload.get("metadata")
    model.metadata = dict(meta) if isinstance(meta, dict) else {}
    return model.eval()
