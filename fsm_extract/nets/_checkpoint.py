"""Checks on a checkpoint file before its weights are materialised (used by
:func:`fsm_extract.nets.models.load_model`).

A checkpoint can declare far more than it holds: a zip record deflated 1000:1, a config asking
for billions of weights, or a weight stored as one value expanded with stride 0 (a 2.4 KB file
that ``torch.isfinite`` would turn into 68.7 GB). Each check here compares what the file asks
for with what it holds and with :data:`~fsm_extract._limits.MAX_PARAMETERS`, and raises
:class:`~fsm_extract.errors.DataFormatError` naming the path and the weight.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import Any

import torch

from .._checks import check_choice, check_int
from .._limits import CHECKPOINT_SLACK_BYTES
from ..errors import DataFormatError, ValidationError
from ..words import check_alphabet

__all__ = ["GATES", "check_unpacked_size", "expected_shapes", "check_parameter_count", "check_weights"]

GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def check_unpacked_size(where: str, path: Path, max_parameters: int) -> None:
    """Refuse a file that would unpack to more than ``max_parameters`` float64 weights and
    :data:`CHECKPOINT_SLACK_BYTES`, before torch reads it.

    A zip checkpoint's records may be deflated (torch reads them), so the sizes its central
    directory declares are summed; any other file is read as it is, so its own size counts.
    """
    limit = 8 * max_parameters + CHECKPOINT_SLACK_BYTES
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        unpacked = None  # not a zip (a legacy checkpoint, or garbage torch will refuse)
    if unpacked is None:
        try:
            unpacked = path.stat().st_size
        except OSError:
            return  # torch.load reports the problem
    if unpacked > limit:
        raise DataFormatError(
            f"{where} would unpack to {unpacked:,} bytes, which must be <= {limit:,} (8 bytes for each of "
            f"max_parameters={max_parameters:,} weights, plus {CHECKPOINT_SLACK_BYTES:,}); pass "
            "load_model(..., max_parameters=...) to load a larger net"
        )


def expected_shapes(config: dict) -> tuple[dict[str, Any], dict[str, tuple[int, ...]]]:
    """The constructor arguments ``config`` gives (checked like :class:`RNNClassifier` does) and
    the name and shape of every weight such a net has, without building it."""
    alphabet = check_alphabet(config["alphabet"], name="config['alphabet']")
    cell = check_choice("config['cell']", config["cell"], GATES)
    hidden = check_int("config['hidden_size']", config["hidden_size"], min=1, max=65536)
    layers = check_int("config['num_layers']", config["num_layers"], min=1, max=64)
    emb = config["embedding_dim"]
    emb = check_int("config['embedding_dim']", max(4, len(alphabet)) if emb is None else emb, min=1, max=65536)
    gh = GATES[cell] * hidden
    shapes: dict[str, tuple[int, ...]] = {"embedding.weight": (len(alphabet), emb)}
    for k in range(layers):
        shapes[f"rnn.weight_ih_l{k}"] = (gh, emb if k == 0 else hidden)
        shapes[f"rnn.weight_hh_l{k}"] = (gh, hidden)
        shapes[f"rnn.bias_ih_l{k}"] = (gh,)
        shapes[f"rnn.bias_hh_l{k}"] = (gh,)
    outputs = check_choice("config['outputs']", config.get("outputs", "accept"), ("accept", "classes", "next-symbol"))
    n_classes = config.get("n_classes")
    if outputs == "classes":
        n_classes = check_int("config['n_classes']", n_classes, min=2, max=65536)
    elif n_classes is not None:
        raise ValidationError(f"config['n_classes']={n_classes!r} must be None unless config['outputs'] is 'classes'")
    width = {"accept": 1, "classes": n_classes, "next-symbol": len(alphabet) + 1}[outputs]
    shapes["head.weight"] = (width, hidden)
    shapes["head.bias"] = (width,)
    kwargs = {"alphabet": alphabet, "cell": cell, "hidden_size": hidden, "num_layers": layers, "embedding_dim": emb}
    if outputs != "accept":
        kwargs.update(outputs=outputs, n_classes=n_classes)
    return kwargs, shapes


def check_parameter_count(where: str, kwargs: dict[str, Any], shapes: dict[str, tuple[int, ...]],
                          max_parameters: int) -> None:
    """Refuse a config whose weights number more than ``max_parameters`` in all."""
    total = sum(math.prod(shape) for shape in shapes.values())
    if total > max_parameters:
        raise DataFormatError(
            f"{where}: checkpoint config asks for {total:,} parameters (cell={kwargs['cell']!r}, "
            f"hidden_size={kwargs['hidden_size']}, num_layers={kwargs['num_layers']}, "
            f"embedding_dim={kwargs['embedding_dim']}, {len(kwargs['alphabet'])} symbols), which must be "
            f"<= max_parameters={max_parameters:,}; pass load_model(..., max_parameters=...) to load a larger net"
        )


def _few(keys: list[str]) -> str:
    shown = ", ".join(map(repr, keys[:4]))
    return f"[{shown}]" if len(keys) <= 4 else f"[{shown}, ... ({len(keys)} in all)]"


def check_weights(where: str, state: dict, shapes: dict[str, tuple[int, ...]]) -> None:
    """Raise DataFormatError unless ``state`` holds exactly the float tensors ``shapes`` names,
    each stored in full (see :func:`check_storage`)."""
    for key, value in state.items():
        if not isinstance(key, str):
            raise DataFormatError(f"{where}: state_dict keys must be weight names (str), got {key!r}")
        if not isinstance(value, torch.Tensor) or value.layout != torch.strided:
            raise DataFormatError(f"{where}: weight {key!r} must be a dense tensor, got {type(value).__name__}")
        if not value.is_floating_point():
            raise DataFormatError(f"{where}: weight {key!r} must be a floating-point tensor, got dtype {value.dtype}")
    missing, extra = sorted(set(shapes) - set(state)), sorted(set(state) - set(shapes))
    if missing or extra:
        raise DataFormatError(
            f"{where}: checkpoint weights are invalid for its config: missing {_few(missing)}, unexpected {_few(extra)}"
        )
    for key, shape in shapes.items():
        if tuple(state[key].shape) != shape:
            raise DataFormatError(
                f"{where}: checkpoint weights are invalid for its config: weight {key!r} must have shape "
                f"{shape}, got {tuple(state[key].shape)}"
            )
    for key in shapes:
        check_storage(where, key, state[key])


def check_storage(where: str, key: str, tensor: torch.Tensor) -> None:
    """Refuse a weight whose elements are not each stored once in the file.

    Strides are taken in increasing order; each must step past every offset the smaller ones
    reach, so no two elements share a stored value (stride 0 or overlapping rows are refused),
    and the storage must hold the last element's offset.
    """
    if tensor.numel() == 0:
        return
    reach = 0
    for stride, size in sorted((st, sz) for sz, st in zip(tensor.shape, tensor.stride()) if sz > 1):
        if stride <= reach:
            raise DataFormatError(
                f"{where}: weight {key!r} must be stored in full, but its strides {tuple(tensor.stride())} for shape "
                f"{tuple(tensor.shape)} read stored values more than once (stride 0 or overlapping): "
                f"{tensor.numel():,} elements from {tensor.untyped_storage().nbytes() // tensor.element_size():,} stored values"
            )
        reach += (size - 1) * stride
    need = (tensor.storage_offset() + reach + 1) * tensor.element_size()
    have = tensor.untyped_storage().nbytes()
    if have < need:
        raise DataFormatError(
            f"{where}: weight {key!r} of shape {tuple(tensor.shape)} needs {need:,} stored bytes, but the file holds {have:,}"
        )
