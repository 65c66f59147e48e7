"""Hidden-state traces: run a recurrent net over many words and keep the state after every
symbol, in CSR layout.

Only this module and :mod:`fsm_extract.nets.models` import torch; everything downstream works on
the NumPy arrays of a :class:`Trace`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from .._checks import check_bool, check_choice, check_float, check_int
from ..data.datasets import Dataset
from ..errors import ArgumentTypeError, ValidationError
from .forward import eval_mode, iter_steps, layout, padded_steps, state_dim
from .models import _RecurrentParts, as_recurrent, check_device
from ..words import check_alphabet, encode_words

__all__ = ["Trace", "collect_trace", "collect_trace_encoded", "step_from", "StateKind", "padded_steps"]

StateKind = Literal["h", "hc"]


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
    outputs : ndarray of shape (n_steps,), float32
        The net's acceptance probability after each step.
    h0_output : float
        The net's acceptance probability of the empty prefix.
    alphabet : tuple of str
    state : {"h", "hc"}
    cell : {"lstm", "gru", "rnn"}
    """

    hidden: np.ndarray
    symbols: np.ndarray
    offsets: np.ndarray
    h0: np.ndarray
    outputs: np.ndarray
    h0_output: float
    alphabet: tuple
    state: str = "h"
    cell: str = "lstm"

    def __post_init__(self) -> None:
        alphabet = check_alphabet(self.alphabet)
        check_choice("state", self.state, ("h", "hc"))
        check_choice("cell", self.cell, ("lstm", "gru", "rnn"))
        hidden, symbols, offsets, outputs, h0 = (
            _as_array(name, getattr(self, name)) for name in ("hidden", "symbols", "offsets", "outputs", "h0")
        )
        if hidden.ndim != 2:
            raise ValidationError(f"hidden must have shape (n_steps, dim), got shape {hidden.shape}")
        if hidden.shape[1] < 1:
            raise ValidationError(f"hidden must have at least one feature column, got shape {hidden.shape}")
        n_steps, dim = hidden.shape
        for name, arr, kinds in (("symbols", symbols, "iu"), ("offsets", offsets, "iu"), ("outputs", outputs, "fiu")):
            if arr.ndim != 1:
                raise ValidationError(f"{name} must be 1-dimensional, got shape {arr.shape}")
            if arr.dtype.kind not in kinds:
                raise ArgumentTypeError(f"{name} must have a numeric dtype of kind {kinds!r}, got {arr.dtype}")
        if hidden.dtype.kind != "f":
            raise ArgumentTypeError(f"hidden must be floating point, got {hidden.dtype}")
        if symbols.shape[0] != n_steps or outputs.shape[0] != n_steps:
            raise ValidationError(
                f"symbols ({symbols.shape[0]}) and outputs ({outputs.shape[0]}) must have one entry per step "
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
        if not np.isfinite(outputs).all() or (n_steps and (outputs.min() < 0 or outputs.max() > 1)):
            raise ValidationError("outputs must be acceptance probabilities in [0, 1]")
        h0_output = check_float("h0_output", self.h0_output)
        if not 0.0 <= h0_output <= 1.0:
            raise ValidationError(f"h0_output={h0_output} must be an acceptance probability in [0, 1]")
        frozen = {
            "hidden": hidden.astype(np.float32, copy=False),
            "symbols": symbols.astype(np.int32, copy=False),
            "offsets": offsets.astype(np.int64, copy=False),
            "h0": h0.astype(np.float32, copy=False),
            "outputs": outputs.astype(np.float32, copy=False),
        }
        for name, arr in frozen.items():
            arr = np.ascontiguousarray(arr).view()  # a read-only view; the caller's array stays writable
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "alphabet", alphabet)
        object.__setattr__(self, "h0_output", h0_output)

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


_eval_mode, _layout, _state_dim = eval_mode, layout, state_dim  # the names other modules import


def _unlayout(vectors: torch.Tensor, model: _RecurrentParts) -> Any:
    """(B, dim) full state in trace layout -> nn.LSTM / nn.GRU state (L, B, H)."""
    L, H, B = model.num_layers, model.hidden_size, vectors.shape[0]

    def block(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(B, L, H).permute(1, 0, 2).contiguous()

    if model.cell == "lstm":
        return block(vectors[:, : L * H]), block(vectors[:, L * H :])
    return block(vectors)


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
    model : RNNClassifier or RecurrentAdapter
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
    model = as_recurrent(model, check=True)
    if isinstance(words, Dataset):
        if tuple(words.alphabet) != tuple(model.alphabet):
            raise ValidationError(
                f"words.alphabet={list(words.alphabet)} must equal the model's alphabet {list(model.alphabet)}"
            )
        words = words.words
    symbols, offsets = encode_words(words, model.alphabet)
    return collect_trace_encoded(model, symbols, offsets, batch_size=batch_size, state=state, device=device, progress=progress)


@torch.no_grad()
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
    model = as_recurrent(model)
    batch_size = check_int("batch_size", batch_size, min=1)
    check_choice("state", state, ("h", "hc"))
    if state == "hc" and model.cell != "lstm":
        raise ValidationError(f"state='hc' needs an LSTM, but the model's cell is {model.cell!r}; use state='h'")
    progress = check_bool("progress", progress)
    if device is not None:
        device = check_device("device", device)
        for part in (model.embedding, model.rnn, model.head):
            if isinstance(part, torch.nn.Module):
                part.to(device)
    dev = model._device()
    cell = model.cell
    symbols = np.ascontiguousarray(symbols, dtype=np.int32)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    dim = _state_dim(model, state)
    hidden = np.empty((symbols.size, dim), dtype=np.float32)
    outputs = np.empty(symbols.size, dtype=np.float32)
    with _eval_mode(model):
        for rows, states, probs in iter_steps(model, symbols, offsets, batch_size=batch_size, state=state,
                                              progress=progress):
            hidden[rows] = states
            outputs[rows] = probs
        h0 = torch.zeros(1, model.hidden_size, device=dev, dtype=model._dtype())
        h0_output = float(torch.sigmoid(model.accept_logit(h0))[0])
    return Trace(
        hidden=hidden,
        symbols=symbols,
        offsets=offsets,
        h0=np.zeros(dim, dtype=np.float32),
        outputs=outputs,
        h0_output=h0_output,
        alphabet=model.alphabet,
        state=state,
        cell=cell,
    )


@torch.no_grad()
def step_from(
    model: Any,
    states: np.ndarray,
    symbol_ids: np.ndarray,
    *,
    state: StateKind = "h",
    batch_size: int = 65536,
) -> tuple[np.ndarray, np.ndarray]:
    """Run one recurrent step from arbitrary states, batched.

    The step is computed in the model's own dtype (float64 or bfloat16 weights work); the
    results are converted to float32, like a :class:`Trace`.

    Parameters
    ----------
    model : RNNClassifier or RecurrentAdapter
    states : ndarray of shape (n, dim)
        Full recurrent states in the trace layout of ``state`` (for an LSTM this needs
        ``state="hc"``: the cell vector is part of the state).
    symbol_ids : ndarray of shape (n,), int

    Returns
    -------
    next_states : ndarray of shape (n, dim), float32
    outputs : ndarray of shape (n,), float32
        Acceptance probability after the step.
    """
    model = as_recurrent(model)
    check_choice("state", state, ("h", "hc"))
    if model.cell == "lstm" and state != "hc":
        raise ValidationError("state='h' does not hold an LSTM's full state; step_from needs state='hc' for an LSTM")
    dim = _state_dim(model, state)
    states = np.asarray(states, dtype=np.float32)
    symbol_ids = np.asarray(symbol_ids)
    if states.ndim != 2 or states.shape[1] != dim:
        raise ValidationError(f"states must have shape (n, {dim}), got {states.shape}")
    if symbol_ids.shape != (states.shape[0],):
        raise ValidationError(f"symbol_ids must have shape ({states.shape[0]},), got {symbol_ids.shape}")
    if symbol_ids.size and (symbol_ids.min() < 0 or symbol_ids.max() >= len(model.alphabet)):
        raise ValidationError(f"symbol_ids must be in [0, {len(model.alphabet)}), got values {symbol_ids.min()}..{symbol_ids.max()}")
    dev = model._device()
    nxt = np.empty_like(states)
    outs = np.empty(states.shape[0], dtype=np.float32)
    with _eval_mode(model):
        for b0 in range(0, states.shape[0], batch_size):
            sl = slice(b0, b0 + batch_size)
            st = _unlayout(torch.from_numpy(states[sl]).to(dev, dtype=model._dtype()), model)
            ids = torch.from_numpy(symbol_ids[sl].astype(np.int64)).to(dev)[:, None]
            out, st = model.rnn(model._inputs(ids), st)
            nxt[sl] = _layout(st, model.cell, state).float().cpu().numpy()
            outs[sl] = torch.sigmoid(model.accept_logit(out[:, 0])).float().cpu().numpy()
    return nxt, outs
