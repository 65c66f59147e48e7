"""Scoring many candidate automata against the net's outputs at once.

The merging that builds the front (:mod:`fsm_extract.abstraction.merging`) compares hundreds
of candidate automata on the same words: each candidate's outputs after every prefix against
the net's output class there. One Numba kernel runs all candidates over the words (no trace,
no automaton object per candidate); :func:`agreement_counts_reference` is its plain NumPy
reference, which the tests compare it with.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from ..errors import ValidationError

__all__ = ["agreement_counts", "agreement_counts_reference"]


@njit(cache=True)
def _agreement_kernel(tables, outputs, initials, symbols, offsets, classes, h0_class):  # pragma: no cover
    m = tables.shape[0]
    n_words = offsets.shape[0] - 1
    prefix = np.zeros(m, np.int64)
    words = np.zeros(m, np.int64)
    for c in range(m):
        for w in range(n_words):
            q = initials[c]
            start, end = offsets[w], offsets[w + 1]
            if start == end:
                if outputs[c, q] == h0_class:
                    words[c] += 1
                continue
            same = False
            for t in range(start, end):
                q = tables[c, q, symbols[t]]
                same = outputs[c, q] == classes[t]
                if same:
                    prefix[c] += 1
            if same:
                words[c] += 1
    return prefix, words


def _checked(tables: Any, outputs: Any, initials: Any, symbols: Any, offsets: Any, classes: Any) -> tuple:
    tables = np.ascontiguousarray(tables, dtype=np.int32)
    outputs = np.ascontiguousarray(outputs, dtype=np.int32)
    initials = np.ascontiguousarray(initials, dtype=np.int32)
    symbols = np.ascontiguousarray(symbols, dtype=np.int32)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    classes = np.ascontiguousarray(classes, dtype=np.int32)
    if tables.ndim != 3 or outputs.shape != tables.shape[:2] or initials.shape != (tables.shape[0],):
        raise ValidationError(f"tables (m, n, k), outputs (m, n) and initials (m,) must agree, got shapes "
                              f"{tables.shape}, {outputs.shape}, {initials.shape}")
    n, k = tables.shape[1], tables.shape[2]
    if tables.size and (tables.min() < 0 or tables.max() >= n):
        raise ValidationError(f"tables must hold states in [0, {n})")
    if initials.size and (initials.min() < 0 or initials.max() >= n):
        raise ValidationError(f"initials must be states in [0, {n})")
    if symbols.size and (symbols.min() < 0 or symbols.max() >= k):
        raise ValidationError(f"symbols must be in [0, {k})")
    if classes.shape != symbols.shape:
        raise ValidationError(f"classes must have one entry per step, got {classes.shape} for {symbols.shape}")
    if offsets.size < 1 or offsets[0] != 0 or offsets[-1] != symbols.size or (np.diff(offsets) < 0).any():
        raise ValidationError("offsets must be non-decreasing from 0 to the number of steps")
    return tables, outputs, initials, symbols, offsets, classes


def agreement_counts(tables: Any, outputs: Any, initials: Any, symbols: Any, offsets: Any, classes: Any,
                     h0_class: int) -> tuple[np.ndarray, np.ndarray]:
    """How often each candidate automaton gives the net's output class.

    Parameters
    ----------
    tables : array-like of shape (m, n_states, n_symbols), int
        The candidates' transition tables (padded to a common ``n_states``).
    outputs : array-like of shape (m, n_states), int
        Each candidate's output class per state.
    initials : array-like of shape (m,), int
    symbols, offsets : CSR arrays of the words
    classes : array-like of shape (n_steps,), int
        The net's output class after each step.
    h0_class : int
        The net's output class on the empty word.

    Returns
    -------
    prefix : ndarray of shape (m,), int64
        Non-empty prefixes on which the candidate's output equals the net's.
    words : ndarray of shape (m,), int64
        Whole words (empty words included) on which it does.
    """
    args = _checked(tables, outputs, initials, symbols, offsets, classes)
    return _agreement_kernel(*args, int(h0_class))


def agreement_counts_reference(tables: Any, outputs: Any, initials: Any, symbols: Any, offsets: Any, classes: Any,
                               h0_class: int) -> tuple[np.ndarray, np.ndarray]:
    """Plain NumPy reference of :func:`agreement_counts`; same arguments and result."""
    tables, outputs, initials, symbols, offsets, classes = _checked(tables, outputs, initials, symbols, offsets, classes)
    m = tables.shape[0]
    prefix, words = np.zeros(m, np.int64), np.zeros(m, np.int64)
    lengths = np.diff(offsets)
    for c in range(m):
        state = np.full(lengths.size, initials[c], np.int64)
        last = outputs[c, state] == h0_class  # empty words keep this
        for t in range(int(lengths.max()) if lengths.size else 0):
            active = lengths > t
            state[active] = tables[c, state[active], symbols[offsets[:-1][active] + t]]
            same = outputs[c, state[active]] == classes[offsets[:-1][active] + t]
            prefix[c] += int(same.sum())
            last[active] = same
        words[c] = int(last.sum())
    return prefix, words
