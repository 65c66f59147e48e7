"""The one net interface: :class:`Net`.

The public API turns whatever the user passed (an :class:`~fsm_extract.nets.models.RNNClassifier`
or a :class:`~fsm_extract.nets.models.RecurrentAdapter`) into a ``Net`` at the boundary
(:func:`as_net`); every stage below takes a ``Net``. It runs batches of words into a
:class:`~fsm_extract.nets.trace.Trace`, steps stored states on symbols, gives the class
probabilities of states, and counts the net steps it spends (:attr:`Net.steps`): the budgets of
search and refinement read that counter, so what they report is what the net computed, padding
of batched words included.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._checks import check_bool, check_choice, check_int
from ..data.datasets import Dataset
from ..errors import ArgumentTypeError, ValidationError
from ..words import encode_words
from .determinism import check_deterministic
from .forward import (
    h0_probs,
    iter_steps,
    net_outputs,
    padded_steps,
    state_dim,
    step_states,
)
from .parts import RecurrentParts, check_device
from .trace import StateKind, Trace, output_classes

__all__ = ["Net", "as_net", "move_net", "collect_trace", "collect_trace_encoded", "step_from"]


class Net:
    """A recurrent net as every stage sees it (see the module docstring).

    Parameters
    ----------
    parts : RecurrentParts
        An ``RNNClassifier`` or a ``RecurrentAdapter``.

    Attributes
    ----------
    parts : RecurrentParts
    steps : int
        Net steps spent so far by this ``Net``: every symbol run (padding of batched words
        included) and every single step.
    """

    def __init__(self, parts: RecurrentParts) -> None:
        if not isinstance(parts, RecurrentParts):
            raise ArgumentTypeError(f"parts must be an RNNClassifier or a RecurrentAdapter, got {type(parts).__name__}")
        self.parts = parts
        self.steps = 0
        self.codebook: np.ndarray | None = None  # a next-symbol net's output classes, once fitted

    @property
    def output_kind(self) -> str:
        """``"accept"``, ``"classes"`` or ``"next-symbol"``."""
        return self.parts.output_kind

    def classes_of(self, probs: np.ndarray) -> np.ndarray:
        """The output class of each row of class probabilities (n, n_classes), int32 (through
        the :attr:`codebook` when one is set)."""
        return output_classes(probs, self.codebook)

    # ------------------------------------------------------------------ what the net is
    @property
    def alphabet(self) -> tuple[str, ...]:
        return self.parts.alphabet

    @property
    def cell(self) -> str:
        return self.parts.cell

    @property
    def hidden_size(self) -> int:
        return self.parts.hidden_size

    @property
    def num_layers(self) -> int:
        return self.parts.num_layers

    @property
    def full_state(self) -> StateKind:
        """The layout that holds the whole recurrent state: ``"hc"`` for an LSTM, else ``"h"``."""
        return "hc" if self.cell == "lstm" else "h"

    def state_dim(self, state: StateKind = "h") -> int:
        """Width of a state in the trace layout ``state``."""
        return state_dim(self.parts, state)

    def h0_probs(self) -> np.ndarray:
        """Class probabilities of the empty prefix, ndarray of shape (n_classes,), float32."""
        with torch.no_grad():
            return h0_probs(self.parts)

    def _check_state(self, state: str) -> StateKind:
        check_choice("state", state, ("h", "hc"))
        if state == "hc" and self.cell != "lstm":
            raise ValidationError(f"state='hc' needs an LSTM, but the model's cell is {self.cell!r}; use state='h'")
        return state  # type: ignore[return-value]

    # ------------------------------------------------------------------ running words
    @torch.no_grad()
    def trace(self, symbols: np.ndarray, offsets: np.ndarray, *, state: StateKind = "h", batch_size: int = 512,
              progress: bool = False) -> Trace:
        """Run CSR-encoded words and keep the state after every symbol (see
        :func:`collect_trace`); the steps run, padding included, are counted."""
        state = self._check_state(state)
        batch_size = check_int("batch_size", batch_size, min=1)
        progress = check_bool("progress", progress)
        symbols = np.ascontiguousarray(symbols, dtype=np.int32)
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        dim = self.state_dim(state)
        hidden = np.empty((symbols.size, dim), dtype=np.float32)
        first = self.h0_probs()
        probs = np.empty((symbols.size, first.size), dtype=np.float32)
        for rows, states, p in iter_steps(self.parts, symbols, offsets, batch_size=batch_size, state=state,
                                          progress=progress):
            hidden[rows] = states
            probs[rows] = p
        self.steps += padded_steps(offsets, batch_size)
        return Trace(hidden=hidden, symbols=symbols, offsets=offsets, h0=np.zeros(dim, dtype=np.float32), outputs=None,
                     h0_output=None, alphabet=self.alphabet, state=state, cell=self.cell, probs=probs, h0_probs=first,
                     output_kind=self.output_kind, codebook=self.codebook)

    def trace_words(self, words: Any, *, name: str = "words", state: StateKind = "h", batch_size: int = 512,
                    progress: bool = False) -> Trace:
        """:meth:`trace` of words (a sequence of words or a Dataset, checked and encoded with the
        net's alphabet; errors name ``name``)."""
        if isinstance(words, Dataset):
            if tuple(words.alphabet) != tuple(self.alphabet):
                raise ValidationError(
                    f"{name}.alphabet={list(words.alphabet)} must equal the model's alphabet {list(self.alphabet)}"
                )
            words = words.words
        symbols, offsets = encode_words(words, self.alphabet, name=name)
        return self.trace(symbols, offsets, state=state, batch_size=batch_size, progress=progress)

    def outputs(self, symbols: np.ndarray, offsets: np.ndarray, *, state: StateKind = "h",
                batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities after every step (n_steps, n_classes) and of the empty prefix,
        keeping no state (memory: the outputs plus one chunk); counted like :meth:`trace`."""
        state = self._check_state(state)
        out = net_outputs(self.parts, symbols, offsets, batch_size=batch_size, state=state)
        self.steps += padded_steps(offsets, batch_size)
        return out

    def step(self, states: Any, symbol_ids: Any, *, state: StateKind | None = None,
             batch_size: int = 65536) -> tuple[np.ndarray, np.ndarray]:
        """One recurrent step from full states, batched (see :func:`step_from`): the next states
        (n, dim) float32 and the class probabilities after the step (n, n_classes). Counts n steps."""
        state = self.full_state if state is None else self._check_state(state)
        if self.cell == "lstm" and state != "hc":
            raise ValidationError("state='h' does not hold an LSTM's full state; step_from needs state='hc' for an LSTM")
        dim = self.state_dim(state)
        states = np.asarray(states, dtype=np.float32)
        symbol_ids = np.asarray(symbol_ids)
        if states.ndim != 2 or states.shape[1] != dim:
            raise ValidationError(f"states must have shape (n, {dim}), got {states.shape}")
        if symbol_ids.shape != (states.shape[0],):
            raise ValidationError(f"symbol_ids must have shape ({states.shape[0]},), got {symbol_ids.shape}")
        k = len(self.alphabet)
        if symbol_ids.size and (symbol_ids.min() < 0 or symbol_ids.max() >= k):
            raise ValidationError(f"symbol_ids must be in [0, {k}), got values {symbol_ids.min()}..{symbol_ids.max()}")
        nxt, probs = step_states(self.parts, states, symbol_ids, state=state, batch_size=batch_size)
        if probs.shape[0] == 0:
            probs = np.empty((0, self.h0_probs().size), dtype=np.float32)
        self.steps += int(symbol_ids.size)
        return nxt, probs

    def __repr__(self) -> str:
        return f"Net({self.parts!r}, steps={self.steps})"


def as_net(model: Any, *, name: str = "model", check: bool = False) -> Net:
    """The :class:`Net` of what a user passed: a ``Net`` as it is, an ``RNNClassifier`` or a
    ``RecurrentAdapter`` wrapped. With ``check`` (the public entry points), two identical
    forward passes must agree (:func:`fsm_extract.nets.determinism.check_deterministic`)."""
    if isinstance(model, Net):
        parts = model.parts
    elif isinstance(model, RecurrentParts):
        parts = model
    else:
        raise ArgumentTypeError(
            f"{name}={type(model).__name__} must be an fsm_extract RNNClassifier or a RecurrentAdapter "
            "(wrap your own torch model with fx.RecurrentAdapter(embedding=..., rnn=..., head=..., alphabet=...))"
        )
    if check:
        check_deterministic(parts, name=name)
    return model if isinstance(model, Net) else Net(parts)


def collect_trace(
    model: Any,
    words: Any,
    *,
    batch_size: int = 512,
    state: StateKind = "h",
    device: str | torch.device | None = None,
    progress: bool = False,
) -> Trace:
    """Run ``model`` over ``words`` and record the state after every symbol.

    The net runs in its own dtype (float32, float64 or bfloat16 weights: zero states, the
    embedding's output and the head's input are cast to it); the trace holds float32.

    Parameters
    ----------
    model : RNNClassifier, RecurrentAdapter or Net
    words : sequence of words, or a Dataset
        A Dataset's alphabet must equal the model's.
    batch_size : int, default 512
        Words per batch. Words are sorted by length first, so batches carry little padding.
        Memory is bounded by chunks, not by word length (:mod:`fsm_extract.nets.forward`): a batch
        holds at most ``MAX_BATCH_STEPS`` padded steps (fewer words when they are long) and is
        run through time in pieces of at most ``CHUNK_VALUES`` state values, the state carried
        over; the returned trace itself holds ``n_steps x dim`` float32.
    state : {"h", "hc"}
        ``"h"``: hidden vectors (one ``nn.LSTM`` call per batch for a one-layer net).
        ``"hc"``: hidden and cell vectors of an LSTM (steps the net over time, still batched).
    device : str or torch.device, optional
        Where to run; the model is moved there. Default: where the model's weights are.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Trace
    """
    net = as_net(model, check=True)
    if device is not None:
        move_net(net, device)
    return net.trace_words(words, state=state, batch_size=batch_size, progress=progress)


def move_net(net: Net, device: Any) -> None:
    """Move ``net``'s model to ``device`` (checked: ``"cuda"`` without a GPU is refused)."""
    device = check_device("device", device)
    for part in (net.parts.embedding, net.parts.rnn, net.parts.head):
        if isinstance(part, torch.nn.Module):
            part.to(device)


def collect_trace_encoded(
    model: Any,
    symbols: np.ndarray,
    offsets: np.ndarray,
    *,
    batch_size: int = 512,
    state: StateKind = "h",
    device: str | torch.device | None = None,
    progress: bool = False,
) -> Trace:
    """:func:`collect_trace` for words already encoded as CSR arrays."""
    net = as_net(model)
    if device is not None:
        move_net(net, device)
    return net.trace(symbols, offsets, state=state, batch_size=batch_size, progress=progress)


def step_from(model: Any, states: np.ndarray, symbol_ids: np.ndarray, *, state: StateKind = "h",
              batch_size: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """Run one recurrent step from arbitrary states, batched.

    The step is computed in the model's own dtype (float64 or bfloat16 weights work); the
    results are converted to float32, like a :class:`Trace`.

    Parameters
    ----------
    model : RNNClassifier, RecurrentAdapter or Net
    states : ndarray of shape (n, dim)
        Full recurrent states in the trace layout of ``state`` (for an LSTM this needs
        ``state="hc"``: the cell vector is part of the state).
    symbol_ids : ndarray of shape (n,), int

    Returns
    -------
    next_states : ndarray of shape (n, dim), float32
    outputs : ndarray of shape (n,), float32
        Acceptance probability after the step (class 1 of a two-class output).
    """
    batch_size = check_int("batch_size", batch_size, min=1)
    nxt, probs = as_net(model).step(states, symbol_ids, state=state, batch_size=batch_size)
    return nxt, probs[:, 1]
