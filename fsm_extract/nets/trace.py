"""Hidden-state traces: the state after every symbol of many words, in CSR layout.

A :class:`Trace` is plain NumPy (this module does not import torch): everything after the
trace works on its arrays. Nets produce traces through :class:`fsm_extract.nets.net.Net`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np

from .._checks import check_choice, check_float
from ..errors import ArgumentTypeError, ValidationError
from ..words import check_alphabet

__all__ = ["Trace", "StateKind", "CellKind", "output_classes", "nearest_rows"]

StateKind = Literal["h", "hc"]
CellKind = Literal["lstm", "gru", "rnn"]


def output_classes(probs: np.ndarray, codebook: np.ndarray | None = None) -> np.ndarray:
    """The output class of each row of class probabilities (n, n_classes), int32.

    The one place where an acceptor's threshold lives: with two classes, class 1 ("accept")
    when its probability is above 0.5 (a tie rejects); otherwise the most probable class. With a
    ``codebook`` (m, n_classes) of distributions (a next-symbol net's output classes), the
    nearest row in L1 distance (ties: the first).
    """
    probs = np.asarray(probs)
    if codebook is not None:
        return nearest_rows(probs, codebook)
    if probs.shape[1] == 2:
        return (probs[:, 1] > 0.5).astype(np.int32)
    return np.argmax(probs, axis=1).astype(np.int32)


def nearest_rows(probs: np.ndarray, codebook: np.ndarray, chunk: int = 16384) -> np.ndarray:
    """The nearest ``codebook`` row (L1) of each row of ``probs``, int32, in chunks of rows."""
    out = np.empty(probs.shape[0], np.int32)
    book = np.asarray(codebook, dtype=np.float32)
    for start in range(0, probs.shape[0], chunk):
        block = np.asarray(probs[start:start + chunk], dtype=np.float32)
        out[start:start + chunk] = np.abs(block[:, None, :] - book[None, :, :]).sum(-1).argmin(1)
    return out


def _class_probs(outputs: Any, h0_output: Any, probs: Any, h0_probs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Checked (n_steps, n_classes) and (n_classes,) float32 class probabilities, from ``probs``
    or from acceptance probabilities ``outputs``."""
    if probs is None:
        if outputs is None:
            raise ValidationError("a Trace needs outputs (acceptance probabilities) or probs (class probabilities)")
        p = _as_array("outputs", outputs)
        if p.ndim != 1:
            raise ValidationError(f"outputs must be 1-dimensional, got shape {p.shape}")
        if p.dtype.kind not in "fiu":
            raise ArgumentTypeError(f"outputs must have a numeric dtype of kind 'fiu', got {p.dtype}")
        if not np.isfinite(p).all() or (p.size and (p.min() < 0 or p.max() > 1)):
            raise ValidationError("outputs must be acceptance probabilities in [0, 1]")
        h0 = check_float("h0_output", h0_output)
        if not 0.0 <= h0 <= 1.0:
            raise ValidationError(f"h0_output={h0} must be an acceptance probability in [0, 1]")
        p = p.astype(np.float32)
        return np.stack([1.0 - p, p], axis=1), np.array([1.0 - h0, h0], dtype=np.float32)
    probs, h0_probs = _as_array("probs", probs), _as_array("h0_probs", h0_probs)
    if probs.ndim != 2 or probs.shape[1] < 2:
        raise ValidationError(f"probs must have shape (n_steps, n_classes >= 2), got {probs.shape}")
    if h0_probs.shape != (probs.shape[1],):
        raise ValidationError(f"h0_probs must have shape ({probs.shape[1]},), got {h0_probs.shape}")
    for name, arr in (("probs", probs), ("h0_probs", h0_probs)):
        if arr.dtype.kind not in "fiu" or not np.isfinite(arr).all() or (arr.size and (arr.min() < 0 or arr.max() > 1)):
            raise ValidationError(f"{name} must be class probabilities in [0, 1]")
    return probs.astype(np.float32), h0_probs.astype(np.float32)


@dataclass(frozen=True, eq=False)
class Trace:
    """The recurrent state after every symbol of many words (CSR layout).

    Attributes
    ----------
    hidden : ndarray of shape (n_steps, dim), float32
        State after each symbol. With ``state="h"`` the hidden vectors of every layer,
        concatenated; with ``state="hc"`` those followed by the LSTM cell vectors.
    symbols : ndarray of shape (n_steps,), int32
        The symbol read at each step (index into ``alphabet``).
    offsets : ndarray of shape (n_words + 1,), int64
        Word ``i`` occupies steps ``offsets[i]:offsets[i + 1]``.
    h0 : ndarray of shape (dim,), float32
        The initial state (before any symbol), shared by every word.
    outputs : ndarray of shape (n_steps,), float32, or None
        The net's acceptance probability after each step (the probability of class 1, for a
        two-class output); give it, or ``probs``.
    h0_output : float or None
        The same for the empty prefix.
    alphabet : tuple of str
    state : {"h", "hc"}
    cell : {"lstm", "gru", "rnn"}
    probs : ndarray of shape (n_steps, n_classes), float32, optional
        The net's class probabilities after each step (rows sum to 1). Default: from
        ``outputs``, ``[1 - p, p]``.
    h0_probs : ndarray of shape (n_classes,), optional
        The same for the empty prefix.
    output_kind : {"accept", "classes", "next-symbol"}, default "accept"
        What the net's outputs are (a next-symbol net's classes: each next symbol, then
        end-of-word).
    codebook : ndarray of shape (n_outputs, n_classes), optional
        Output classes of a next-symbol net: a step's class is the nearest row (L1) instead of
        the most probable next symbol (see :func:`output_classes`).

    A step's output is a class: :attr:`classes` (see :func:`output_classes`, where the 0.5
    threshold of an acceptor lives) with its probabilities kept in :attr:`probs`.
    """

    hidden: np.ndarray
    symbols: np.ndarray
    offsets: np.ndarray
    h0: np.ndarray
    outputs: np.ndarray | None
    h0_output: float | None
    alphabet: tuple
    state: StateKind = "h"
    cell: CellKind = "lstm"
    probs: np.ndarray | None = None
    h0_probs: np.ndarray | None = None
    output_kind: str = "accept"
    codebook: np.ndarray | None = None

    def __post_init__(self) -> None:
        alphabet = check_alphabet(self.alphabet)
        check_choice("state", self.state, ("h", "hc"))
        check_choice("output_kind", self.output_kind, ("accept", "classes", "next-symbol"))
        check_choice("cell", self.cell, ("lstm", "gru", "rnn"))
        hidden, symbols, offsets, h0 = (
            _as_array(name, getattr(self, name)) for name in ("hidden", "symbols", "offsets", "h0")
        )
        probs, h0_probs = _class_probs(self.outputs, self.h0_output, self.probs, self.h0_probs)
        if hidden.ndim != 2:
            raise ValidationError(f"hidden must have shape (n_steps, dim), got shape {hidden.shape}")
        if hidden.shape[1] < 1:
            raise ValidationError(f"hidden must have at least one feature column, got shape {hidden.shape}")
        n_steps, dim = hidden.shape
        for name, arr, kinds in (("symbols", symbols, "iu"), ("offsets", offsets, "iu")):
            if arr.ndim != 1:
                raise ValidationError(f"{name} must be 1-dimensional, got shape {arr.shape}")
            if arr.dtype.kind not in kinds:
                raise ArgumentTypeError(f"{name} must have a numeric dtype of kind {kinds!r}, got {arr.dtype}")
        if hidden.dtype.kind != "f":
            raise ArgumentTypeError(f"hidden must be floating point, got {hidden.dtype}")
        if symbols.shape[0] != n_steps or probs.shape[0] != n_steps:
            raise ValidationError(
                f"symbols ({symbols.shape[0]}) and outputs ({probs.shape[0]}) must have one entry per step "
                f"of hidden ({n_steps})"
            )
        if h0.dtype.kind not in "fiu":
            raise ArgumentTypeError(f"h0 must hold numbers, got dtype {h0.dtype}")
        if h0.shape != (dim,):
            raise ValidationError(f"h0 must have shape ({dim},), got {h0.shape}")
        if offsets.shape[0] < 1 or offsets[0] != 0 or offsets[-1] != n_steps:
            raise ValidationError(
                f"offsets must start at 0 and end at n_steps={n_steps}, got "
                f"{offsets[:1].tolist()}..{offsets[-1:].tolist()}"
            )
        if offsets.size > 1 and (np.diff(offsets) < 0).any():
            i = int(np.argmax(np.diff(offsets) < 0))
            raise ValidationError(f"offsets must be non-decreasing, but offsets[{i + 1}]={offsets[i + 1]} < offsets[{i}]={offsets[i]}")
        if n_steps and (symbols.min() < 0 or symbols.max() >= len(alphabet)):
            bad = int(symbols.max()) if symbols.max() >= len(alphabet) else int(symbols.min())
            raise ValidationError(f"symbols must be in [0, {len(alphabet)}) for alphabet {list(alphabet)}, got {bad}")
        with np.errstate(over="ignore"):  # values beyond float32 become inf, and are refused below
            hidden = hidden.astype(np.float32, copy=False)
            h0 = h0.astype(np.float32, copy=False)
        if not np.isfinite(hidden).all() or not np.isfinite(h0).all():
            bad = int((~np.isfinite(hidden)).sum()) + int((~np.isfinite(h0)).sum())
            raise ValidationError(f"hidden must be finite, but {bad} value(s) are NaN or infinite")
        frozen = {
            "hidden": hidden.astype(np.float32, copy=False),
            "symbols": symbols.astype(np.int32, copy=False),
            "offsets": offsets.astype(np.int64, copy=False),
            "h0": h0.astype(np.float32, copy=False),
            "probs": probs,
            "h0_probs": h0_probs,
        }
        if self.codebook is not None:
            book = _as_array("codebook", self.codebook)
            if book.ndim != 2 or book.shape[1] != probs.shape[1] or book.shape[0] < 1:
                raise ValidationError(f"codebook must have shape (n_outputs >= 1, {probs.shape[1]}), got {book.shape}")
            frozen["codebook"] = book.astype(np.float32)
        if probs.shape[1] == 2:
            frozen["outputs"] = probs[:, 1]
        for name, arr in frozen.items():
            arr = np.ascontiguousarray(arr).view()  # a read-only view; the caller's array stays writable
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "alphabet", alphabet)
        object.__setattr__(self, "h0_output", float(h0_probs[1]) if h0_probs.size == 2 else None)
        if probs.shape[1] != 2:
            object.__setattr__(self, "outputs", None)

    # --- sizes -------------------------------------------------------------------------
    @property
    def n_steps(self) -> int:
        return int(self.hidden.shape[0])

    @property
    def n_words(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def dim(self) -> int:
        return int(self.hidden.shape[1])

    @property
    def lengths(self) -> np.ndarray:
        """ndarray of shape (n_words,), int64."""
        return np.diff(self.offsets)

    def word_of_step(self) -> np.ndarray:
        """ndarray of shape (n_steps,), int64: the word each step belongs to."""
        return np.repeat(np.arange(self.n_words, dtype=np.int64), self.lengths)

    @property
    def n_classes(self) -> int:
        """The width of :attr:`probs`."""
        return int(self.probs.shape[1])

    @property
    def n_outputs(self) -> int:
        """The number of output classes a step may have: the codebook's rows, or ``n_classes``."""
        return int(self.codebook.shape[0]) if self.codebook is not None else self.n_classes

    @cached_property
    def classes(self) -> np.ndarray:
        """The net's output class after each step, ndarray of shape (n_steps,), int32."""
        out = output_classes(self.probs, self.codebook)
        out.setflags(write=False)
        return out

    @property
    def h0_class(self) -> int:
        """The net's output class on the empty prefix."""
        return int(output_classes(self.h0_probs[None, :], self.codebook)[0])

    def final_classes(self) -> np.ndarray:
        """The output class of each whole word, ndarray of shape (n_words,), int32 (empty
        words: the empty prefix's class)."""
        out = np.full(self.n_words, self.h0_class, dtype=np.int32)
        nonempty = self.lengths > 0
        out[nonempty] = self.classes[self.offsets[1:][nonempty] - 1]
        return out

    def final_outputs(self) -> np.ndarray:
        """Acceptance probability of each whole word, ndarray of shape (n_words,), float32.

        Empty words get ``h0_output``."""
        ends = self.offsets[1:]
        out = np.full(self.n_words, self.h0_output, dtype=np.float32)
        nonempty = self.lengths > 0
        out[nonempty] = self.outputs[ends[nonempty] - 1]
        return out

    def previous_hidden(self) -> np.ndarray:
        """The state before each step (``h0`` at each word's first step), (n_steps, dim)."""
        prev = np.empty_like(self.hidden)
        if self.n_steps:
            prev[1:] = self.hidden[:-1]
            starts = self.offsets[:-1][self.lengths > 0]
            prev[starts] = self.h0
        return prev

    def __repr__(self) -> str:
        return (
            f"Trace(n_words={self.n_words}, n_steps={self.n_steps}, dim={self.dim}, state={self.state!r}, "
            f"cell={self.cell!r}, alphabet={self.alphabet})"
        )


def _as_array(name: str, value: Any) -> np.ndarray:
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nesting, objects numpy cannot hold
        raise ArgumentTypeError(f"{name} must be array-like of numbers: {exc}") from None
