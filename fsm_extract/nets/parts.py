"""The parts of a recurrent net every later stage sees: ``embedding`` (symbol ids (B, T) ->
inputs (B, T, E)), ``rnn`` (a ``batch_first`` ``nn.LSTM``, ``nn.GRU`` or ``nn.RNN``), ``head``
(hidden states (..., H) -> logits) and ``alphabet``.

A step's output is a class with its probabilities (:meth:`RecurrentParts.class_probs`). Three
output kinds (:data:`OutputKind`): ``"accept"`` (the head gives one logit, or two class logits;
class 1 is "accept"), ``"classes"`` (C >= 2 class logits, softmax) and ``"next-symbol"``
(|alphabet| + 1 logits: each next symbol, then end-of-word). The empty prefix uses the zero
initial state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from ..errors import ArgumentTypeError, ValidationError
from .trace import CellKind

__all__ = ["RecurrentParts", "CellKind", "CELLS", "OUTPUT_KINDS", "OutputKind", "cell_kind", "check_device", "padded",
           "seed_everything"]

OutputKind = Literal["accept", "classes", "next-symbol"]
OUTPUT_KINDS: tuple[str, ...] = ("accept", "classes", "next-symbol")

CELLS: dict[str, type[nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def cell_kind(rnn: nn.Module) -> str:
    for kind, cls in CELLS.items():
        if isinstance(rnn, cls):
            return kind
    raise ArgumentTypeError(f"rnn={type(rnn).__name__} must be an nn.LSTM, nn.GRU or nn.RNN")


class RecurrentParts:
    """Shared behaviour of anything with ``embedding``, ``rnn``, ``head`` and ``alphabet``."""

    embedding: Callable[[torch.Tensor], torch.Tensor]
    rnn: nn.RNNBase
    head: Callable[[torch.Tensor], torch.Tensor]
    alphabet: tuple[str, ...]
    output_kind: OutputKind = "accept"

    @property
    def n_classes(self) -> int:
        """Output classes of a step: 2 for an acceptor, the head's width otherwise (|alphabet| + 1
        for a next-symbol model)."""
        return 2 if self.output_kind == "accept" else int(getattr(self, "_n_classes"))

    @property
    def cell(self) -> str:
        """``"lstm"``, ``"gru"`` or ``"rnn"``."""
        return cell_kind(self.rnn)

    @property
    def hidden_size(self) -> int:
        return int(self.rnn.hidden_size)

    @property
    def num_layers(self) -> int:
        return int(self.rnn.num_layers)

    def _device(self) -> torch.device:
        try:
            return next(self.rnn.parameters()).device
        except StopIteration:  # pragma: no cover - an RNN always has parameters
            return torch.device("cpu")

    def _dtype(self) -> torch.dtype:
        """The dtype of the recurrent weights (float32, float64, bfloat16, ...): states and
        inputs are computed in it; traces convert the results to float32."""
        try:
            return next(self.rnn.parameters()).dtype
        except StopIteration:  # pragma: no cover - an RNN always has parameters
            return torch.float32

    def _inputs(self, ids: torch.Tensor) -> torch.Tensor:
        """The RNN's inputs for symbol ids (B, T), in the RNN's dtype (a one-hot embedding
        giving float32 feeds a float64 net)."""
        return self.embedding(ids).to(self._dtype())

    def class_probs(self, h: torch.Tensor) -> torch.Tensor:
        """Class probabilities after top-layer hidden states ``h`` (..., H) -> (..., n_classes):
        an acceptor is the two-class case (class 1 = accept, probability ``sigmoid(logit)``);
        the other kinds take the softmax of the head's logits."""
        if self.output_kind != "accept":
            return torch.softmax(self.class_logits(h), dim=-1)
        p = torch.sigmoid(self.accept_logit(h))
        return torch.stack([1.0 - p, p], dim=-1)

    def _head(self, h: torch.Tensor) -> Any:
        head_dtype = next((p.dtype for p in self.head.parameters() if p.is_floating_point()), None) \
            if isinstance(self.head, nn.Module) else None
        return self.head(h.to(head_dtype) if head_dtype is not None else h)

    def class_logits(self, h: torch.Tensor) -> torch.Tensor:
        """The head's class logits (..., H) -> (..., n_classes) of a ``"classes"`` or
        ``"next-symbol"`` net (an acceptor: use :meth:`accept_logit`)."""
        out = self._head(h)
        lead = tuple(h.shape[:-1])
        want = (*lead, self.n_classes)
        if isinstance(out, torch.Tensor) and out.is_floating_point() and tuple(out.shape) == want:
            return out
        got = f"shape {tuple(out.shape)}, dtype {out.dtype}" if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValidationError(
            f"head must map hidden states (..., H) to float logits of shape (..., {self.n_classes}) for "
            f"output_kind={self.output_kind!r}, keeping every leading dimension, but hidden states of shape "
            f"{tuple(h.shape)} gave {got}"
        )

    def step_logits(self, h: torch.Tensor) -> torch.Tensor:
        """What the head gives for ``h``: the acceptance logit (...) of an acceptor, else the
        class logits (..., n_classes)."""
        return self.accept_logit(h) if self.output_kind == "accept" else self.class_logits(h)

    def accept_logit(self, h: torch.Tensor) -> torch.Tensor:
        """Acceptance logit from top-layer hidden states ``h`` of shape (..., H) -> (...).

        ``h`` is given to the head in the dtype of the head's weights (the RNN's for a head
        without weights). The head must keep every leading dimension: (..., H) -> (..., 1),
        (..., 2) or (...); anything else raises ValidationError naming ``head``.
        """
        out = self._head(h)
        lead = tuple(h.shape[:-1])
        if isinstance(out, torch.Tensor) and out.is_floating_point():
            if tuple(out.shape) == lead:
                return out
            if tuple(out.shape) == (*lead, 1):
                return out[..., 0]
            if tuple(out.shape) == (*lead, 2):
                return out[..., 1] - out[..., 0]
        got = f"shape {tuple(out.shape)}, dtype {out.dtype}" if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValidationError(
            f"head must map hidden states (..., H) to float logits of shape (..., 1), (..., 2) or (...), keeping "
            f"every leading dimension (a squeeze() drops those of size 1), but hidden states of shape "
            f"{tuple(h.shape)} gave {got}"
        )

    def zero_state(self, batch_size: int) -> Any:
        """The initial recurrent state (zeros) in the RNN's dtype, in ``nn.LSTM``/``nn.GRU`` layout."""
        shape = (self.num_layers, batch_size, self.hidden_size)
        dev, dtype = self._device(), self._dtype()
        h = torch.zeros(shape, device=dev, dtype=dtype)
        return (h, torch.zeros(shape, device=dev, dtype=dtype)) if self.cell == "lstm" else h


def check_device(name: str, value: Any) -> torch.device:
    """A torch device that exists here: ``"cpu"``, ``"cuda"``/``"cuda:N"`` with CUDA, ``"mps"`` on Apple."""
    if not isinstance(value, (str, torch.device)):
        raise ArgumentTypeError(f"{name}={value!r} must be a device such as 'cpu' or 'cuda:0', got {type(value).__name__}")
    try:
        dev = torch.device(value)
    except (RuntimeError, TypeError, ValueError):
        raise ValidationError(f"{name}={value!r} must name a torch device such as 'cpu', 'cuda' or 'cuda:0'") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValidationError(f"{name}={value!r} needs CUDA, but this torch has no usable CUDA device; use 'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValidationError(f"{name}={value!r} must be one of the {torch.cuda.device_count()} CUDA device(s) here")
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValidationError(f"{name}={value!r} needs Apple's MPS, which this machine lacks; use 'cpu'")
    elif dev.type != "cpu":
        raise ValidationError(f"{name}={value!r} must be a 'cpu', 'cuda' or 'mps' device, got type {dev.type!r}")
    return dev


def padded(symbols: np.ndarray, offsets: np.ndarray, index: np.ndarray, pad: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Padded (B, T) id matrix and lengths for the words ``index`` of a CSR encoding."""
    starts, ends = offsets[index], offsets[index + 1]
    lengths = ends - starts
    t_max = int(lengths.max()) if lengths.size else 0
    out = np.full((len(index), max(t_max, 1)), pad, dtype=np.int64)
    if t_max:
        cols = np.arange(t_max)
        mask = cols[None, :] < lengths[:, None]
        out[:, :t_max][mask] = symbols[(starts[:, None] + cols[None, :])[mask]]
    return out, lengths


def seed_everything(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
    return torch.Generator().manual_seed(seed)
