"""Array algorithms behind :mod:`fsm_extract.data.pdfa`.

A PDFA is held as ``table`` (int64, shape (n_states, n_symbols)), ``probs`` (float64, shape
(n_states, n_symbols + 1), the last column the end of the word) and an initial state. This
module finds the states reached with positive probability, draws words (all at once, one step
at a time), and builds the random structure and distributions behind
:func:`fsm_extract.data.pdfa.random_pdfa`.
"""

from __future__ import annotations

import numpy as np

from ..errors import ValidationError

__all__ = ["closure", "live_edges", "ends_within", "draw_words", "spanning_table", "far_draw", "pairwise_tv",
           "apart_pairs", "MAX_STEPS", "FLOOR", "CANDIDATES"]

MAX_STEPS = 1_000_000  # an uncapped draw stops with an error if a word grows this long
FLOOR = 0.1  # random_pdfa: share of a state's symbol mass spread evenly over the symbols
CANDIDATES = 16  # random_pdfa: Dirichlet draws per state, the first far enough is kept


def closure(src: np.ndarray, dst: np.ndarray, start: np.ndarray) -> np.ndarray:
    """The nodes reachable from the ``start`` mask along the edges ``src[i] -> dst[i]``."""
    n = start.size
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    ptr = np.searchsorted(src, np.arange(n + 1))
    seen = start.copy()
    stack = np.flatnonzero(start).tolist()
    while stack:
        s = stack.pop()
        for t in dst[ptr[s]:ptr[s + 1]].tolist():
            if not seen[t]:
                seen[t] = True
                stack.append(t)
    return seen


def live_edges(table: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The transitions taken with positive probability, as (source, target) arrays."""
    k = table.shape[1]
    s, a = np.nonzero(probs[:, :k] > 0)
    return s, table[s, a]


def ends_within(table: np.ndarray, probs: np.ndarray, max_len: int) -> np.ndarray:
    """``beta[r, s]``: the probability that a word continued from state ``s`` ends within ``r`` more
    symbols, for r = 0..max_len; shape (max_len + 1, n_states)."""
    n, k = table.shape
    beta = np.empty((max_len + 1, n))
    beta[0] = probs[:, k]
    for r in range(1, max_len + 1):
        beta[r] = probs[:, k] + (probs[:, :k] * beta[r - 1][table]).sum(axis=1)
    return beta


def draw_words(
    table: np.ndarray, probs: np.ndarray, initial: int, n: int, max_len: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Symbol ids (CSR: symbols, offsets) of ``n`` words drawn step by step, all words at once.

    With ``max_len``, each next outcome is drawn in proportion to its probability times the
    probability of ending within the symbols then left (:func:`ends_within`), which draws from
    the distribution conditioned on ``len <= max_len`` exactly."""
    k = table.shape[1]
    beta = None
    if max_len is not None:
        beta = ends_within(table, probs, max_len)
        if beta[max_len, initial] <= 0:
            raise ValidationError(f"max_len={max_len}: no word of length <= max_len has positive probability")
    state = np.full(n, initial, dtype=np.int64)
    active = np.arange(n)
    rows, syms = [], []
    t = 0
    while active.size:
        if t >= MAX_STEPS:
            raise ValidationError(
                f"max_len=None: a word grew past {MAX_STEPS:,} symbols; pass max_len to draw from the words up to a length"
            )
        s = state[active]
        w = probs[s]
        if beta is not None:  # condition on ending within the symbols left
            left = max_len - t
            w[:, :k] = 0.0 if left == 0 else w[:, :k] * beta[left - 1][table[s]]
        cum = np.cumsum(w, axis=1)
        u = rng.random(active.size) * cum[:, -1]
        last = k - np.argmax(w[:, ::-1] > 0, axis=1)  # the last outcome of positive weight
        choice = np.minimum((cum <= u[:, None]).sum(axis=1), last)
        going = choice < k
        rows.append(active[going])
        syms.append(choice[going])
        state[active[going]] = table[s[going], choice[going]]
        active = active[going]
        t += 1
    idx = np.concatenate(rows)
    order = np.argsort(idx, kind="stable")
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(idx, minlength=n), out=offsets[1:])
    return np.concatenate(syms)[order], offsets


def spanning_table(n: int, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random complete table in which every state is reachable from state 0, and the mask of
    its spanning-tree slots (which stay fixed when a state is redrawn)."""
    table = np.full((n, k), -1, dtype=np.int64)
    free = [(0, a) for a in range(k)]  # open slots of the states already in the tree
    for s in range(1, n):
        j = int(rng.integers(len(free)))
        free[j], free[-1] = free[-1], free[j]
        parent, a = free.pop()
        table[parent, a] = s
        free.extend((s, b) for b in range(k))
    tree = table >= 0
    table[~tree] = rng.integers(0, n, size=int((~tree).sum()))
    return table, tree


def far_draw(rng: np.random.Generator, k: int, others: np.ndarray, threshold: float) -> np.ndarray:
    """A symbol distribution (k,): the first of CANDIDATES floored Dirichlet draws at total
    variation >= ``threshold`` from every row of ``others``, else the farthest draw."""
    cand = (1.0 - FLOOR) * rng.dirichlet(np.ones(k), size=CANDIDATES) + FLOOR / k
    if not others.shape[0]:
        return cand[0]
    nearest = np.array([0.5 * np.abs(others - c).sum(axis=1).min() for c in cand])
    far = np.flatnonzero(nearest >= threshold)
    return cand[far[0] if far.size else int(np.argmax(nearest))]


def pairwise_tv(probs: np.ndarray) -> np.ndarray:
    """Total variation between every two rows; shape (n_rows, n_rows)."""
    tv = np.zeros((probs.shape[0], probs.shape[0]))
    for c in range(probs.shape[1]):
        tv += np.abs(probs[:, c, None] - probs[None, :, c])
    return 0.5 * tv


def apart_pairs(table: np.ndarray, probs: np.ndarray, tol: float) -> np.ndarray:
    """``apart[s, t]``: some word leads from ``s`` and ``t`` to next-symbol distributions at total
    variation >= ``tol`` (a fixpoint over the pair graph); shape (n_states, n_states), bool."""
    apart = pairwise_tv(probs) >= tol
    while True:
        grown = apart.copy()
        for a in range(table.shape[1]):
            grown |= apart[np.ix_(table[:, a], table[:, a])]
        if np.array_equal(grown, apart):
            return apart
        apart = grown
