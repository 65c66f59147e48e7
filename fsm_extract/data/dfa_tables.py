"""Integer transition-table algorithms behind :mod:`fsm_extract.data.languages`.

A complete DFA is held as ``table`` (int64, shape (n_states, n_symbols)), ``accepting``
(bool, shape (n_states,)) and an initial state. This module converts automata-lib DFAs to and
from such tables, canonicalises them (reachable part, minimisation, breadth-first numbering),
counts the words of each length in
each class (accepted / rejected), and draws words uniformly inside a class.

Counting uses "extended floats": a count is ``m * 2**e`` with ``m`` a float64 in [0.5, 1)
and ``e`` an int32 held apart, so counts never overflow or underflow (the number of words of
length 10 000 over two symbols has 3 011 digits) and counts below 2**53 are exact. Only
additions and exact power-of-two scalings are used, so results are the same on every IEEE
machine. Class 0 is "rejected", class 1 is "accepted", so a class index is also a label.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
from automata.fa.dfa import DFA

from ..errors import ValidationError

__all__ = ["table_of_dfa", "dfa_of_table", "canonical_table", "count_classes", "exact_count", "sample_words"]

_ZERO_EXP = -(2**30)  # exponent stored for a zero count
_EXACT = 2**53  # counts below this are exact; larger ones are reported as _EXACT
_MIN_SHIFT = -1100  # relative scale below which a term is zero in float64 anyway


def table_of_dfa(dfa: DFA, alphabet: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The reachable part of a (possibly partial) DFA as a complete table with initial state 0."""
    if set(dfa.input_symbols) != set(alphabet):
        raise ValidationError(
            f"dfa.input_symbols={sorted(map(str, dfa.input_symbols))} must equal the alphabet {list(alphabet)}"
        )
    index = {dfa.initial_state: 0}
    order = [dfa.initial_state]
    rows: list[list[int]] = []
    trap = -1  # a missing transition goes to a trap state appended at the end
    for state in order:  # grows while we walk it: breadth-first
        row = []
        for symbol in alphabet:
            target = dfa.transitions.get(state, {}).get(symbol)
            if target is None:
                row.append(trap)
                continue
            if target not in index:
                index[target] = len(order)
                order.append(target)
            row.append(index[target])
        rows.append(row)
    table = np.array(rows, dtype=np.int64).reshape(len(order), len(alphabet))
    accepting = np.array([s in dfa.final_states for s in order], dtype=bool)
    if (table < 0).any():
        table[table < 0] = len(order)
        table = np.vstack([table, np.full((1, len(alphabet)), len(order), dtype=np.int64)])
        accepting = np.append(accepting, False)
    return table, accepting


def dfa_of_table(table: np.ndarray, accepting: np.ndarray, alphabet: tuple[str, ...]) -> DFA:
    """An automata-lib DFA with states ``0..n-1`` and initial state 0 from a complete table."""
    n = table.shape[0]
    return DFA(
        states=frozenset(range(n)),
        input_symbols=frozenset(alphabet),
        transitions={s: {sym: int(table[s, a]) for a, sym in enumerate(alphabet)} for s in range(n)},
        initial_state=0,
        final_states=frozenset(int(s) for s in np.flatnonzero(accepting)),
    )


def _bfs(table: np.ndarray, initial: int, order: Sequence[int]) -> list[int]:
    """States reachable from ``initial``, in breadth-first order over the columns ``order``."""
    seen = {initial}
    out = [initial]
    queue = deque(out)
    while queue:
        s = queue.popleft()
        for a in order:
            t = int(table[s, a])
            if t not in seen:
                seen.add(t)
                out.append(t)
                queue.append(t)
    return out


def _renumber(table: np.ndarray, accepting: np.ndarray, initial: int, order: Sequence[int]):
    """Keep the reachable states, numbered 0.. in BFS order (initial state 0)."""
    keep = np.asarray(_bfs(table, initial, order), dtype=np.int64)
    new = np.full(table.shape[0], -1, dtype=np.int64)
    new[keep] = np.arange(keep.size)
    return new[table[keep]], accepting[keep].copy()


def _row_ids(rows: np.ndarray) -> np.ndarray:
    """Dense ids of the distinct rows of a 2-D int array (equal rows, equal ids), 3-4 times
    faster than ``np.unique(axis=0)``, which compares rows as raw bytes."""
    order = np.lexsort(rows.T[::-1])
    ordered = rows[order]
    change = np.ones(len(rows), dtype=bool)
    change[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    ids = np.empty(len(rows), dtype=np.int64)
    ids[order] = np.cumsum(change) - 1
    return ids


def canonical_table(
    table: np.ndarray, accepting: np.ndarray, initial: int, order: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The minimal complete DFA of a complete table, states numbered in BFS order from 0.

    Parameters
    ----------
    table : ndarray of shape (n_states, n_symbols), int
    accepting : ndarray of shape (n_states,), bool
    initial : int
    order : sequence of int
        Column order the breadth-first numbering follows (the sorted symbols).

    Returns
    -------
    table : ndarray of shape (n_min, n_symbols), int64
    accepting : ndarray of shape (n_min,), bool
    """
    table, accepting = _renumber(np.asarray(table, dtype=np.int64), np.asarray(accepting, dtype=bool), initial, order)
    # Moore partition refinement: split classes by (class, classes of successors) until stable.
    # classes numbered 0..n_cls-1 (all states accepting gives one class 0, not class 1)
    cls = np.unique(accepting, return_inverse=True)[1].reshape(-1).astype(np.int64)
    n_cls = int(cls.max()) + 1
    while True:
        new = _row_ids(np.column_stack([cls, cls[table]]))
        n_new = int(new.max()) + 1
        if n_new == n_cls:
            break
        cls, n_cls = new, n_new
    quotient = np.empty((n_cls, table.shape[1]), dtype=np.int64)
    quotient[cls] = cls[table]
    q_accepting = np.empty(n_cls, dtype=bool)
    q_accepting[cls] = accepting
    return _renumber(quotient, q_accepting, int(cls[0]), order)


def count_classes(table: np.ndarray, accepting: np.ndarray, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Count, from every state, the completions of each length that end in each class.

    Returns
    -------
    mant : ndarray of shape (2, max_len + 1, n_states), float64
    expo : ndarray of shape (2, max_len + 1, n_states), int32
        ``mant[c, r, s] * 2**expo[c, r, s]`` is the number of words of length ``r`` that lead
        from state ``s`` to a state of class ``c`` (0 rejected, 1 accepted).
    """
    n, k = table.shape
    mant = np.zeros((2, max_len + 1, n), dtype=np.float64)
    expo = np.full((2, max_len + 1, n), _ZERO_EXP, dtype=np.int32)
    base = np.stack([~accepting, accepting])
    mant[:, 0] = np.where(base, 0.5, 0.0)  # 1 = 0.5 * 2**1
    expo[:, 0] = np.where(base, 1, _ZERO_EXP)
    for r in range(1, max_len + 1):
        m_t = mant[:, r - 1][:, table]  # (2, n, k)
        e_t = expo[:, r - 1][:, table]
        e_max = e_t.max(axis=2)
        total = np.zeros((2, n), dtype=np.float64)
        for a in range(k):  # fixed summation order: identical results everywhere
            total += np.ldexp(m_t[..., a], np.maximum(e_t[..., a] - e_max, _MIN_SHIFT))
        m, de = np.frexp(total)
        mant[:, r] = m
        expo[:, r] = np.where(m > 0, e_max + de, _ZERO_EXP)
    return mant, expo


def exact_count(m: float, e: int) -> int:
    """The count ``m * 2**e`` as an int, or ``2**53`` when it is that large or larger."""
    if m == 0:
        return 0
    if e > 53:
        return _EXACT
    return min(int(np.ldexp(m, e)), _EXACT)


def _water_fill(total: int, caps: list[int]) -> tuple[list[int], int]:
    """Share ``total`` as evenly as possible under per-slot caps.

    What does not divide evenly goes one each to slots spread evenly over the range (always
    including the last), so a few words over many lengths do not bunch at one end.
    """
    alloc = [0] * len(caps)
    active = [i for i, c in enumerate(caps) if c > 0]
    while total > 0 and active:
        m = len(active)
        share, extra = divmod(total, m)
        still = []
        for j, i in enumerate(active):
            give = min(share + ((j + 1) * extra // m - j * extra // m), caps[i] - alloc[i])
            alloc[i] += give
            total -= give
            if alloc[i] < caps[i]:
                still.append(i)
        active = still
    return alloc, total


def _plan(n: int, lengths: range, counts: list[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """Split ``n`` words into slots ``(length, class, n_words, n_distinct_available)``.

    Lengths share ``n`` evenly, capped at the number of distinct words of each length; what the
    caps leave over is shared evenly again (and must repeat words). Inside a length the two
    classes get equal shares when both exist; an odd word goes to the class behind so far.
    """
    caps = [c0 + c1 for c0, c1 in counts]
    alloc, left = _water_fill(n, caps)
    if left:
        more, _ = _water_fill(left, [left] * len(caps))
        alloc = [a + b for a, b in zip(alloc, more)]
    slots = []
    so_far = [0, 0]
    for length, q, (c0, c1) in zip(lengths, alloc, counts):
        if q == 0:
            continue
        if c0 and c1:
            share = [q // 2, q // 2]
            if q % 2:
                if so_far[0] != so_far[1]:
                    odd = 0 if so_far[0] < so_far[1] else 1
                else:
                    odd = 0 if c0 > c1 else 1
                share[odd] += 1
        else:
            share = [q, 0] if c0 else [0, q]
        for c in (0, 1):
            if share[c]:
                slots.append((length, c, share[c], (c0, c1)[c]))
                so_far[c] += share[c]
    return slots


def _walk(
    table: np.ndarray,
    mant: np.ndarray,
    expo: np.ndarray,
    lengths: np.ndarray,
    classes: np.ndarray,
    ranks: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one word per request by walking the DFA forward from state 0.

    A request with a rank (not NaN) gets the word of that rank (in symbol-index order) among
    the words of its length and class; the others get a uniformly random word of that class.
    All words are walked together, aligned so that they end on the same step, which makes the
    remaining length the same for every active word.

    Returns
    -------
    symbols : ndarray of shape (sum(lengths),), int32
    offsets : ndarray of shape (n_requests + 1,), int64
    """
    n_req = lengths.size
    offsets = np.zeros(n_req + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    symbols = np.zeros(int(offsets[-1]), dtype=np.int32)
    if n_req == 0 or lengths.max() == 0:
        return symbols, offsets
    order = np.argsort(-lengths, kind="stable")
    sorted_len = lengths[order]
    cls = classes[order]
    rank = ranks[order].copy()
    by_rank = ~np.isnan(rank)
    state = np.zeros(n_req, dtype=np.int64)
    l_max = int(sorted_len[0])
    for g in range(l_max):
        r = l_max - g  # symbols still to read, this one included
        a = int(np.searchsorted(-sorted_len, -r, side="right"))  # words with length >= r
        targets = table[state[:a]]  # (a, k)
        c = cls[:a, None]
        m_t = mant[c, r - 1, targets]
        e_t = expo[c, r - 1, targets]
        weights = np.ldexp(m_t, np.maximum(e_t - e_t.max(axis=1, keepdims=True), _MIN_SHIFT))
        cum = np.cumsum(weights, axis=1)
        u = rng.random(a) * cum[:, -1]
        u = np.minimum(u, np.nextafter(cum[:, -1], 0.0))
        choice = (u[:, None] < cum).argmax(axis=1)
        exact_rows = np.flatnonzero(by_rank[:a])
        if exact_rows.size:
            exact = np.ldexp(m_t[exact_rows], np.clip(e_t[exact_rows], _MIN_SHIFT, 60))
            cum_x = np.cumsum(exact, axis=1)
            rk = rank[exact_rows]
            pick = (rk[:, None] < cum_x).argmax(axis=1)
            below = np.where(pick > 0, cum_x[np.arange(pick.size), pick - 1], 0.0)
            rank[exact_rows] = rk - below
            choice[exact_rows] = pick
        pos = offsets[order[:a]] + (g - (l_max - sorted_len[:a]))
        symbols[pos] = choice
        state[:a] = targets[np.arange(a), choice]
    return symbols, offsets


def _decode(symbols: np.ndarray, offsets: np.ndarray, alphabet: tuple[str, ...]) -> list:
    if all(len(s) == 1 for s in alphabet):
        lut = np.array([ord(s) for s in alphabet], dtype=np.uint32)
        text = lut[symbols].astype("<u4").tobytes().decode("utf-32-le")
        return [text[offsets[i] : offsets[i + 1]] for i in range(offsets.size - 1)]
    return [tuple(alphabet[j] for j in symbols[offsets[i] : offsets[i + 1]]) for i in range(offsets.size - 1)]


def sample_words(
    table: np.ndarray,
    accepting: np.ndarray,
    alphabet: tuple[str, ...],
    *,
    n: int,
    min_len: int,
    max_len: int,
    seed: int,
) -> tuple[list, np.ndarray]:
    """Draw ``n`` labelled words, balanced per length, uniform inside each (length, class).

    Arguments are assumed valid (checked by :meth:`Language.sample`). A slot whose class has at
    most four times as many words as requested is drawn by rank without replacement (all words,
    then repeats, when it has fewer than requested); a larger slot is drawn by random walks,
    redrawing duplicates. Returns the words in a seeded random order and their labels.
    """
    rng = np.random.default_rng(seed)
    mant, expo = count_classes(table, accepting, max_len)
    lengths = range(min_len, max_len + 1)
    counts = [(exact_count(mant[0, L, 0], expo[0, L, 0]), exact_count(mant[1, L, 0], expo[1, L, 0])) for L in lengths]
    slots = _plan(n, lengths, counts)

    words: list[list] = [[] for _ in slots]
    req_len, req_cls, req_rank, req_slot = [], [], [], []
    for i, (length, c, t, available) in enumerate(slots):
        if available <= 4 * t:
            if t <= available:
                ranks = rng.choice(available, size=t, replace=False)
            else:
                ranks = np.concatenate([np.arange(available), rng.integers(0, available, size=t - available)])
            req_rank.extend(ranks.astype(np.float64).tolist())
        else:
            req_rank.extend([np.nan] * t)
        req_len.extend([length] * t)
        req_cls.extend([c] * t)
        req_slot.extend([i] * t)

    seen: set = set()
    while req_len:
        symbols, offsets = _walk(
            table, mant, expo, np.asarray(req_len, dtype=np.int64), np.asarray(req_cls, dtype=np.int64),
            np.asarray(req_rank, dtype=np.float64), rng,
        )
        drawn = _decode(symbols, offsets, alphabet)
        retry = ([], [], [], [])
        for w, L, c, rk, i in zip(drawn, req_len, req_cls, req_rank, req_slot):
            if not np.isnan(rk):
                words[i].append(w)
            elif w not in seen:
                seen.add(w)
                words[i].append(w)
            else:  # a repeat from a large class: draw again
                for lst, v in zip(retry, (L, c, rk, i)):
                    lst.append(v)
        req_len, req_cls, req_rank, req_slot = retry

    flat = [w for ws in words for w in ws]
    labels = np.array([slots[i][1] == 1 for i, ws in enumerate(words) for _ in ws], dtype=bool)
    perm = rng.permutation(len(flat))
    return [flat[j] for j in perm], labels[perm]
