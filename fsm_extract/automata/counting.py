"""Counting stage: how often the net moved between abstract states, and what it output there.

Every function takes a trace in CSR layout: per-step arrays of length ``n_steps`` and
``offsets`` (n_words + 1,) int64, where word ``i`` is steps ``offsets[i]:offsets[i + 1]``.
``labels[t]`` is the abstract state the net is in *after* step ``t``; before a word's first
step it is in ``initial_label`` (the abstract state of ``h0``).

The public functions validate their arguments with cheap vectorised O(n) checks, cast them to
contiguous arrays of one dtype (int32 per-step arrays, int64 offsets), so each Numba kernel
compiles once, and call a serial ``@njit(cache=True)`` kernel. Each has a plain NumPy reference
(``*_reference``) with the same signature and result, which the tests compare against.

Kernel notes (see ``benchmarks/README.md``): unsigned indices (Numba then emits no
negative-index wraparound code), a flat count array, row and column offsets from small lookup
tables, and ``uint16`` transition counts (4x smaller than int64, so they stay in cache longer)
whose wraparounds are carried into int64, so counts are exact at any size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, uint64

from .._checks import check_int
from ..errors import ArgumentTypeError, ValidationError

__all__ = [
    "count_transitions",
    "count_outputs",
    "run_transitions",
    "count_transitions_reference",
    "count_outputs_reference",
    "run_transitions_reference",
    "index_array",
]


# --------------------------------------------------------------------------- validation

# count_transitions needs 10 bytes per (prev, symbol, next) cell while counting (uint16 + int64):
# 2**30 cells is 10 GiB, far beyond any useful abstraction (8192 states x 16 symbols).
_MAX_CELLS = 2**30
_INT32_MAX = 2**31 - 1  # labels, symbols and outputs are cast to int32


def _int_array(name: str, value: Any, *, ndim: int = 1) -> np.ndarray:
    """``value`` as an integer ndarray of ``ndim`` dimensions (not yet cast)."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(f"{name} must be array-like of integers: {exc}") from None
    if arr.ndim != ndim:
        raise ValidationError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        if arr.size == 0 and arr.dtype.kind in "f":  # np.asarray([]) is float64
            arr = arr.astype(np.int64)
        else:
            raise ArgumentTypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    return arr


def _frozen(arr: np.ndarray) -> np.ndarray:
    """A read-only view, so each kernel sees one array type (Numba compiles read-only and
    writeable arrays separately) whether or not the caller's array was writeable."""
    view = arr.view()
    view.flags.writeable = False
    return view


def _where(name: str, arr: np.ndarray, mask: np.ndarray) -> str:
    """``"name[i]=v"`` for the first True position of ``mask``."""
    idx = np.unravel_index(int(np.argmax(mask)), arr.shape)
    pos = ", ".join(str(int(i)) for i in idx)
    return f"{name}[{pos}]={arr[idx]}"


def _check_range(name: str, arr: np.ndarray, low: int, high: int, high_name: str) -> None:
    """Every value of ``arr`` must lie in ``[low, high)``; ``high_name`` names ``high``."""
    if arr.size == 0:
        return
    if low == 0 and high <= np.iinfo(arr.dtype).max:
        # One pass instead of two: viewed as unsigned, negative values become huge.
        if arr.view(arr.dtype.str.replace("i", "u")).max() < high:
            return
    if arr.min() < low:
        raise ValidationError(f"{_where(name, arr, arr < low)} must be >= {low}")
    if arr.max() >= high:
        raise ValidationError(f"{_where(name, arr, arr >= high)} must be < {high_name}={high}")


def index_array(name: str, value: Any, high: int, high_name: str, n_steps: int | None) -> np.ndarray:
    """A 1-D per-step array with values in ``[0, high)``, as contiguous int32; when ``n_steps``
    is given it must have that length (the length of ``labels``)."""
    arr = _int_array(name, value)
    if n_steps is not None and arr.shape[0] != n_steps:
        raise ValidationError(
            f"{name} has length {arr.shape[0]} but labels has length {n_steps}; "
            "both must have one entry per step (n_steps)"
        )
    _check_range(name, arr, 0, high, high_name)
    return _frozen(np.ascontiguousarray(arr, dtype=np.int32))


def _offsets(value: Any, n_steps: int, steps_name: str) -> np.ndarray:
    """CSR offsets: 1-D, non-decreasing, from 0 to ``n_steps``; contiguous int64."""
    arr = _int_array("offsets", value)
    if arr.shape[0] < 1:
        raise ValidationError("offsets must have length n_words + 1 >= 1, got length 0")
    if arr[0] != 0:
        raise ValidationError(f"offsets[0]={arr[0]} must be 0")
    if arr[-1] != n_steps:
        raise ValidationError(
            f"offsets[-1]={arr[-1]} must equal n_steps={n_steps}, the length of {steps_name}"
        )
    down = arr[1:] < arr[:-1]
    if down.any():
        i = int(np.argmax(down))
        raise ValidationError(
            f"offsets must be non-decreasing, but offsets[{i}]={arr[i]} > offsets[{i + 1}]={arr[i + 1]}"
        )
    return _frozen(np.ascontiguousarray(arr, dtype=np.int64))


def _below(name: str, value: Any, high: int, high_name: str) -> int:
    value = check_int(name, value, min=0)
    if value >= high:
        raise ValidationError(f"{name}={value} must be < {high_name}={high}")
    return value


def _transition_args(
    labels: Any, symbols: Any, offsets: Any, initial_label: Any, n_states: Any, n_symbols: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int, int]:
    n_states = check_int("n_states", n_states, min=1, max=_INT32_MAX)
    n_symbols = check_int("n_symbols", n_symbols, min=1, max=_INT32_MAX)
    cells = n_states * n_symbols * n_states
    if cells > _MAX_CELLS:
        raise ValidationError(
            f"n_states={n_states} and n_symbols={n_symbols} need a count array of "
            f"n_states * n_symbols * n_states = {cells:,} cells ({cells * 10 / 2**30:.1f} GiB while counting), "
            f"which must be <= {_MAX_CELLS:,}; use fewer abstract states"
        )
    labels = index_array("labels", labels, n_states, "n_states", None)
    symbols = index_array("symbols", symbols, n_symbols, "n_symbols", labels.shape[0])
    offsets = _offsets(offsets, labels.shape[0], "labels")
    initial_label = _below("initial_label", initial_label, n_states, "n_states")
    return labels, symbols, offsets, initial_label, n_states, n_symbols


def _output_args(
    labels: Any, outputs: Any, initial_label: Any, offsets: Any, n_states: Any, n_classes: Any, initial_output: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int, int, int]:
    n_states = check_int("n_states", n_states, min=1, max=_INT32_MAX)
    n_classes = check_int("n_classes", n_classes, min=1, max=_INT32_MAX)
    labels = index_array("labels", labels, n_states, "n_states", None)
    outputs = index_array("outputs", outputs, n_classes, "n_classes", labels.shape[0])
    offsets = _offsets(offsets, labels.shape[0], "labels")
    initial_label = _below("initial_label", initial_label, n_states, "n_states")
    initial_output = check_int("initial_output", initial_output, min=-1)
    if initial_output >= n_classes:
        raise ValidationError(
            f"initial_output={initial_output} must be < n_classes={n_classes} (or -1 for none)"
        )
    return labels, outputs, offsets, initial_label, n_states, n_classes, initial_output


def _run_args(table: Any, symbols: Any, offsets: Any, initial: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    table = _int_array("table", table, ndim=2)
    n_states, n_symbols = table.shape
    if n_states < 1 or n_symbols < 1:
        raise ValidationError(
            f"table must have shape (n_states, n_symbols) with both >= 1, got shape {table.shape}"
        )
    _check_range("table", table, -1, n_states, "n_states")
    table = np.ascontiguousarray(table, dtype=np.int32)
    symbols = index_array("symbols", symbols, n_symbols, "n_symbols (table.shape[1])", None)
    offsets = _offsets(offsets, symbols.shape[0], "symbols")
    initial = _below("initial", initial, n_states, "n_states (table.shape[0])")
    return table, symbols, offsets, initial


# --------------------------------------------------------------------------- kernels


@njit(cache=True)
def _count_transitions_kernel(labels, symbols, offsets, initial_label, n_states, n_symbols):  # pragma: no cover
    # Flat cell of (prev, sym, next) is row_of[prev] + col_of[sym] + next; the lookups replace
    # two multiplications per step. Indices are unsigned, so Numba adds no wraparound code.
    row_of = np.arange(n_states).astype(np.uint64) * uint64(n_symbols * n_states)
    col_of = np.arange(n_symbols).astype(np.uint64) * uint64(n_states)
    size = n_states * n_symbols * n_states
    low = np.zeros(size, np.uint16)  # counts modulo 2**16: 4x smaller than int64, stays in cache
    counts = np.zeros(size, np.int64)  # the carries out of `low`, then the totals
    first = row_of[initial_label]
    for w in range(offsets.shape[0] - 1):
        row = first  # row offset of the previous state, kept in a register within the word
        for t in range(uint64(offsets[w]), uint64(offsets[w + 1])):
            nxt = uint64(labels[t])
            i = row + col_of[uint64(symbols[t])] + nxt
            v = (low[i] + 1) & 0xFFFF
            low[i] = v
            if v == 0:
                counts[i] += 65536
            row = row_of[nxt]
    for i in range(size):
        counts[i] += low[i]
    return counts


@njit(cache=True)
def _count_outputs_kernel(labels, outputs, n_states, n_classes):  # pragma: no cover
    nc = uint64(n_classes)
    counts = np.zeros(n_states * n_classes, np.int64)
    for t in range(uint64(labels.shape[0])):
        counts[uint64(labels[t]) * nc + uint64(outputs[t])] += 1
    return counts


@njit(cache=True)
def _run_transitions_kernel(jump, value, symbols, offsets, start):  # pragma: no cover
    # jump[j] is the row offset (next * n_symbols) of the state reached through flat cell j, so
    # the dependency chain per step is one load and one add; value[j] is that state's label.
    out = np.empty(symbols.shape[0], np.int32)
    for w in range(offsets.shape[0] - 1):
        row = uint64(start)
        for t in range(uint64(offsets[w]), uint64(offsets[w + 1])):
            j = row + uint64(symbols[t])
            out[t] = value[j]
            row = jump[j]
    return out


# --------------------------------------------------------------------------- public API




def count_transitions(
    labels: Any, symbols: Any, offsets: Any, initial_label: int, n_states: int, n_symbols: int
) -> np.ndarray:
    """Count the net's moves between abstract states.

    Step ``t`` of word ``i`` (``offsets[i] <= t < offsets[i + 1]``) is a move from the previous
    state (``initial_label`` at the word's first step, else ``labels[t - 1]``) on ``symbols[t]``
    to ``labels[t]``. Empty words contribute nothing.

    Parameters
    ----------
    labels : array-like of int, shape (n_steps,)
        Abstract state after each step, in ``[0, n_states)``.
    symbols : array-like of int, shape (n_steps,)
        Symbol read at each step, in ``[0, n_symbols)``.
    offsets : array-like of int, shape (n_words + 1,)
        Word boundaries: non-decreasing, ``offsets[0] == 0``, ``offsets[-1] == n_steps``.
    initial_label : int
        Abstract state before every word's first step, in ``[0, n_states)``.
    n_states, n_symbols : int
        Number of abstract states and of symbols, both ``>= 1``.

    Returns
    -------
    counts : ndarray of int64, shape (n_states, n_symbols, n_states)
        ``counts[p, a, q]`` is the number of steps that went from ``p`` on ``a`` to ``q``.

    Raises
    ------
    ValidationError
        On wrong shapes, inconsistent lengths, bad offsets or values out of range.
    ArgumentTypeError
        On non-integer arrays or arguments.
    """
    labels, symbols, offsets, initial_label, n_states, n_symbols = _transition_args(
        labels, symbols, offsets, initial_label, n_states, n_symbols
    )
    counts = _count_transitions_kernel(labels, symbols, offsets, initial_label, n_states, n_symbols)
    return counts.reshape(n_states, n_symbols, n_states)


def count_transitions_reference(
    labels: Any, symbols: Any, offsets: Any, initial_label: int, n_states: int, n_symbols: int
) -> np.ndarray:
    """NumPy reference of :func:`count_transitions` (``np.add.at``); same arguments and result."""
    labels, symbols, offsets, initial_label, n_states, n_symbols = _transition_args(
        labels, symbols, offsets, initial_label, n_states, n_symbols
    )
    prev = np.empty_like(labels)
    prev[1:] = labels[:-1]
    starts = offsets[:-1][offsets[:-1] < offsets[1:]]  # first step of each non-empty word
    prev[starts] = initial_label
    counts = np.zeros((n_states, n_symbols, n_states), dtype=np.int64)
    np.add.at(counts, (prev, symbols, labels), 1)
    return counts


def count_outputs(
    labels: Any,
    outputs: Any,
    initial_label: int,
    offsets: Any,
    n_states: int,
    n_classes: int,
    *,
    initial_output: int = -1,
) -> np.ndarray:
    """Count the net's output classes in each abstract state.

    Step ``t`` adds one count of ``outputs[t]`` to state ``labels[t]``. When
    ``initial_output >= 0`` (the net's output on the empty prefix), every word, empty words
    included, also adds one count of ``initial_output`` to ``initial_label``.

    Parameters
    ----------
    labels : array-like of int, shape (n_steps,)
        Abstract state after each step, in ``[0, n_states)``.
    outputs : array-like of int, shape (n_steps,)
        Class of the net's output after each step, in ``[0, n_classes)``.
    initial_label : int
        Abstract state before every word, in ``[0, n_states)``.
    offsets : array-like of int, shape (n_words + 1,)
        Word boundaries: non-decreasing, ``offsets[0] == 0``, ``offsets[-1] == n_steps``.
    n_states, n_classes : int
        Number of abstract states and of output classes, both ``>= 1``.
    initial_output : int, default=-1
        Output class on the empty prefix, in ``[0, n_classes)``, or -1 to count none.

    Returns
    -------
    counts : ndarray of int64, shape (n_states, n_classes)
        ``counts[q, c]`` is how often the net output class ``c`` while in state ``q``.

    Raises
    ------
    ValidationError, ArgumentTypeError
        As :func:`count_transitions`.
    """
    labels, outputs, offsets, initial_label, n_states, n_classes, initial_output = _output_args(
        labels, outputs, initial_label, offsets, n_states, n_classes, initial_output
    )
    counts = _count_outputs_kernel(labels, outputs, n_states, n_classes).reshape(n_states, n_classes)
    if initial_output >= 0:
        counts[initial_label, initial_output] += offsets.shape[0] - 1
    return counts


def count_outputs_reference(
    labels: Any,
    outputs: Any,
    initial_label: int,
    offsets: Any,
    n_states: int,
    n_classes: int,
    *,
    initial_output: int = -1,
) -> np.ndarray:
    """NumPy reference of :func:`count_outputs` (``np.bincount``); same arguments and result."""
    labels, outputs, offsets, initial_label, n_states, n_classes, initial_output = _output_args(
        labels, outputs, initial_label, offsets, n_states, n_classes, initial_output
    )
    flat = labels.astype(np.int64) * n_classes + outputs
    counts = np.bincount(flat, minlength=n_states * n_classes).astype(np.int64)
    counts = counts.reshape(n_states, n_classes)
    if initial_output >= 0:
        counts[initial_label, initial_output] += len(offsets) - 1
    return counts


def run_transitions(table: Any, symbols: Any, offsets: Any, initial: int) -> np.ndarray:
    """Run a deterministic transition table over every word.

    Parameters
    ----------
    table : array-like of int, shape (n_states, n_symbols)
        ``table[q, a]`` is the state reached from ``q`` on ``a``, in ``[0, n_states)``, or -1
        for a missing transition: a word that takes one stays at -1 for the rest of the word.
    symbols : array-like of int, shape (n_steps,)
        Symbols of all words, in ``[0, n_symbols)``.
    offsets : array-like of int, shape (n_words + 1,)
        Word boundaries: non-decreasing, ``offsets[0] == 0``, ``offsets[-1] == n_steps``.
    initial : int
        Start state of every word, in ``[0, n_states)``.

    Returns
    -------
    states : ndarray of int32, shape (n_steps,)
        State after each step (-1 after a missing transition).

    Raises
    ------
    ValidationError, ArgumentTypeError
        As :func:`count_transitions`.
    """
    table, symbols, offsets, initial = _run_args(table, symbols, offsets, initial)
    n_states, n_symbols = table.shape
    # Row n_states is a sink for missing transitions: it loops to itself and reads as -1.
    target = np.where(table < 0, n_states, table).astype(np.uint64).ravel()
    jump = np.concatenate([target * np.uint64(n_symbols), np.full(n_symbols, n_states * n_symbols, np.uint64)])
    value = np.concatenate([table.ravel(), np.full(n_symbols, -1, np.int32)])
    return _run_transitions_kernel(jump, value, symbols, offsets, initial * n_symbols)


def run_transitions_reference(table: Any, symbols: Any, offsets: Any, initial: int) -> np.ndarray:
    """Plain-Python reference of :func:`run_transitions`; same arguments and result."""
    table, symbols, offsets, initial = _run_args(table, symbols, offsets, initial)
    states = np.empty(symbols.shape[0], dtype=np.int32)
    for w in range(len(offsets) - 1):
        state = initial
        for t in range(offsets[w], offsets[w + 1]):
            if state >= 0:
                state = int(table[state, symbols[t]])
            states[t] = state
    return states
