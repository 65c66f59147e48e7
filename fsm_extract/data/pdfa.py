"""Probabilistic deterministic finite automata (PDFAs), as in the PAutomaC competition.

A PDFA is a complete DFA whose every state also carries a distribution over the next symbol
and the end of the word. It defines a distribution over finite words: the probability of a
word is the product of the probabilities of its symbols along its path, times the end
probability of the state it stops in. A PDFA is the reference for a next-symbol net: a net
trained on its words should learn exactly its next-symbol distributions, and a machine
extracted from the net can be compared with it prefix by prefix.

Words are represented as everywhere else in the package (:mod:`fsm_extract.words`): a ``str``
when every symbol is one character, else a tuple of symbols. Column ``n_symbols`` of a
next-symbol distribution is the end of the word.

>>> from fsm_extract import languages
>>> pdfa = languages.random_pdfa(n_states=4, alphabet="abc", seed=0)
>>> pdfa.n_states, pdfa.next_symbol_probs("ab").shape
(4, (4,))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._checks import check_finite_array, check_float, check_int, check_seed
from ..errors import ArgumentTypeError, ValidationError
from ..words import check_alphabet, decode_word, encode_word, encode_words
from . import pdfa_tables as _tables

__all__ = ["PDFA", "random_pdfa"]

_MAX_LEN = 10_000  # the longest max_len of PDFA.sample, as for Language.sample
_MAX_TABLE = 100_000_000  # (max_len + 1) * n_states: cells of the table behind a capped sample
_SUM_TOL = 1e-6  # how far a row of probs may sum from 1 (it is then rescaled exactly)
_MIN_TV = 0.2  # random_pdfa: total variation that tells two states apart
_REPAIRS = 100  # random_pdfa: rounds of redrawing states that are not told apart


def _check_table(transitions: Any, k: int) -> np.ndarray:
    try:
        table = np.array(transitions)
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(f"transitions must be an array of state ids: {exc}") from None
    if table.dtype.kind not in "iu":
        raise ArgumentTypeError(f"transitions must hold integer state ids, got dtype {table.dtype}")
    if table.ndim != 2 or table.shape[0] < 1 or table.shape[1] != k:
        raise ValidationError(
            f"transitions must have shape (n_states, {k}), one column per symbol and n_states >= 1, got shape {table.shape}"
        )
    n = table.shape[0]
    bad = np.argwhere((table < 0) | (table >= n))
    if bad.size:
        s, a = bad[0]
        raise ValidationError(f"transitions[{s}, {a}]={table[s, a]} must be a state id in 0..{n - 1}")
    return table.astype(np.int64)


def _check_probs(probs: Any, n: int, k: int) -> np.ndarray:
    arr = check_finite_array("probs", probs, ndim=2).astype(np.float64)
    if arr.shape != (n, k + 1):
        raise ValidationError(
            f"probs must have shape (n_states, n_symbols + 1) = ({n}, {k + 1}): one row per state, one column "
            f"per symbol and a last column for the end of the word, got shape {arr.shape}"
        )
    bad = np.argwhere(arr < 0)
    if bad.size:
        s, c = bad[0]
        raise ValidationError(f"probs[{s}, {c}]={arr[s, c]} must be >= 0")
    sums = arr.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > _SUM_TOL)
    if off.size:
        s = off[0]
        raise ValidationError(
            f"probs[{s}] must sum to 1 (within {_SUM_TOL}): a distribution over the {k} symbols and the end "
            f"of the word, got sum {sums[s]!r}"
        )
    return arr / sums[:, None]


def _check_ends(table: np.ndarray, probs: np.ndarray, initial: int) -> None:
    """Every state that can be reached with positive probability must be able to end."""
    n, k = table.shape
    src, dst = _tables.live_edges(table, probs)
    start = np.zeros(n, dtype=bool)
    start[initial] = True
    reach = _tables.closure(src, dst, start)
    can_end = _tables.closure(dst, src, probs[:, k] > 0)
    bad = np.flatnonzero(reach & ~can_end)
    if bad.size:
        raise ValidationError(
            f"probs: state {bad[0]} is reached with positive probability but can never end (no path of "
            "positive-probability symbols leads from it to a positive end probability), so its words would "
            "be infinite; every reachable state must be able to end"
        )


@dataclass(frozen=True, eq=False, repr=False)
class PDFA:
    """A probabilistic deterministic finite automaton: a distribution over finite words.

    Reading a word from ``initial`` follows ``transitions``; in each state ``s`` the next
    symbol is ``alphabet[a]`` with probability ``probs[s, a]`` and the word ends with
    probability ``probs[s, n_symbols]``. The probability of a word is the product of the
    probabilities of its symbols along its path times the end probability of its last state.

    Construction checks the shapes, that the ids are states, that every row of ``probs`` is a
    distribution (non-negative, summing to 1 within 1e-6; it is then rescaled to sum to 1
    exactly), and that every state reached with positive probability can end (so the words are
    finite with probability 1). The arrays are stored as read-only copies.

    Parameters
    ----------
    alphabet : str or sequence of str
        The symbols, in column order (``"ab"`` -> ``("a", "b")``).
    transitions : array-like of shape (n_states, n_symbols), int
        ``transitions[s, a]`` is the state after reading ``alphabet[a]`` in state ``s``.
    probs : array-like of shape (n_states, n_symbols + 1), float
        Next-symbol distributions; the last column is the end of the word.
    initial : int, default 0
    name : str, default ""

    Raises
    ------
    ValidationError, ArgumentTypeError
        Naming the argument (and the entry) that breaks a rule.
    """

    alphabet: tuple
    transitions: np.ndarray
    probs: np.ndarray
    initial: int = 0
    name: str = ""
    _rows: tuple = field(init=False, repr=False)
    _log: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        alphabet = check_alphabet(self.alphabet)
        if not isinstance(self.name, str):
            raise ArgumentTypeError(f"name={self.name!r} must be a str, got {type(self.name).__name__}")
        table = _check_table(self.transitions, len(alphabet))
        probs = _check_probs(self.probs, table.shape[0], len(alphabet))
        initial = check_int("initial", self.initial, min=0, max=table.shape[0] - 1)
        _check_ends(table, probs, initial)
        with np.errstate(divide="ignore"):
            log = np.log(probs)
        for arr in (table, probs, log):
            arr.setflags(write=False)
        object.__setattr__(self, "alphabet", alphabet)
        object.__setattr__(self, "transitions", table)
        object.__setattr__(self, "probs", probs)
        object.__setattr__(self, "initial", initial)
        object.__setattr__(self, "_rows", tuple(tuple(int(t) for t in row) for row in table))
        object.__setattr__(self, "_log", log)

    @property
    def n_states(self) -> int:
        """Number of states."""
        return int(self.transitions.shape[0])

    @property
    def n_symbols(self) -> int:
        """Number of symbols (the distributions have one more entry: the end of the word)."""
        return len(self.alphabet)

    def state_of(self, word: Any) -> int:
        """The state reached by reading ``word`` (a str or a sequence of symbols) from ``initial``.

        Raises
        ------
        UnknownSymbolError
            If the word holds a symbol outside the alphabet (the message names the position).
        """
        state = self.initial
        rows = self._rows
        for a in encode_word(word, self.alphabet).tolist():
            state = rows[state][a]
        return state

    def next_symbol_probs(self, word: Any) -> np.ndarray:
        """The distribution of what follows ``word``.

        Returns
        -------
        ndarray of shape (n_symbols + 1,), float64
            Entry ``a`` is the probability that ``alphabet[a]`` comes next, the last entry that
            the word ends here. A prefix of probability zero still has a state, and its row.
        """
        return self.probs[self.state_of(word)].copy()

    def log_prob(self, word: Any) -> float:
        """The natural logarithm of the probability of ``word`` as a whole word (its end included).

        ``-inf`` for a word of probability zero.
        """
        state, total = self.initial, 0.0
        rows, log = self._rows, self._log
        for a in encode_word(word, self.alphabet).tolist():
            total += log[state, a]
            state = rows[state][a]
        return float(total + log[state, self.n_symbols])

    def prefix_states(self, words: Any) -> tuple[np.ndarray, np.ndarray]:
        """The state after every prefix of every word, the empty prefix included.

        Parameters
        ----------
        words : sequence of words

        Returns
        -------
        states : ndarray of shape (n_steps + n_words,), int64
            Word ``i`` owns ``states[offsets[i]:offsets[i + 1]]``: its ``len + 1`` prefix states.
        offsets : ndarray of shape (n_words + 1,), int64
        """
        symbols, word_offsets = encode_words(words, self.alphabet)
        lengths = np.diff(word_offsets)
        n = lengths.size
        offsets = word_offsets + np.arange(n + 1)
        states = np.empty(int(offsets[-1]), dtype=np.int64)
        order = np.argsort(-lengths, kind="stable")
        neg = -lengths[order]
        state = np.full(n, self.initial, dtype=np.int64)
        for t in range(int(lengths.max()) + 1 if n else 0):
            m = int(np.searchsorted(neg, -t, side="right"))  # words of length >= t, a prefix of order
            states[offsets[order[:m]] + t] = state[:m]
            m = int(np.searchsorted(neg, -(t + 1), side="right"))  # words longer than t
            state[:m] = self.transitions[state[:m], symbols[word_offsets[order[:m]] + t]]
        return states, offsets

    def prefix_probs(self, words: Any) -> list[np.ndarray]:
        """The true next-symbol distribution at every prefix of every word.

        Parameters
        ----------
        words : sequence of words

        Returns
        -------
        list of ndarray, one of shape (len(word) + 1, n_symbols + 1) per word
            Row ``t`` is the distribution after the first ``t`` symbols (row 0: the empty prefix).
        """
        states, offsets = self.prefix_states(words)
        table = self.probs[states]
        return [table[offsets[i]:offsets[i + 1]] for i in range(offsets.size - 1)]

    def expected_length(self) -> float:
        """The expected number of symbols of a word (exact: a linear solve over the reachable states)."""
        n, k = self.transitions.shape
        src, dst = _tables.live_edges(self.transitions, self.probs)
        start = np.zeros(n, dtype=bool)
        start[self.initial] = True
        keep = np.flatnonzero(_tables.closure(src, dst, start))
        index = np.full(n, -1, dtype=np.int64)
        index[keep] = np.arange(keep.size)
        step = np.zeros((keep.size, keep.size))
        for a in range(k):  # step[i, j]: probability of moving from keep[i] to keep[j] on a symbol
            np.add.at(step, (np.arange(keep.size), index[self.transitions[keep, a]]), self.probs[keep, a])
        visits = np.linalg.solve(np.eye(keep.size) - step.T, (keep == self.initial).astype(np.float64))
        return float(visits @ (1.0 - self.probs[keep, k]))

    def sample(self, *, n: int, seed: int = 0, max_len: int | None = None) -> list:
        """Draw words from the PDFA's own distribution.

        Each word is drawn symbol by symbol from the next-symbol distributions until the end is
        drawn. With ``max_len``, words are drawn from the distribution conditioned on
        ``len(word) <= max_len``: exactly what rejecting longer words and drawing again would
        give, computed without rejection (the next symbol is drawn in proportion to its
        probability times the probability of ending within the symbols left), so a cap is
        never slow, however rare the short words.

        Parameters
        ----------
        n : int, >= 1
        seed : int
            The same seed gives the same words.
        max_len : int, 0 <= max_len <= 10000, optional
            Without it a word is as long as it comes (an error if one reaches 1,000,000
            symbols); ``(max_len + 1) * n_states`` must be <= 100,000,000.

        Returns
        -------
        list of words, length n
            A ``str`` per word when every symbol is one character, else a tuple of symbols.

        Raises
        ------
        ValidationError
            For a bad argument, or if no word of length <= ``max_len`` has positive probability.
        """
        n = check_int("n", n, min=1, max=10_000_000)
        seed = check_seed("seed", seed)
        if max_len is not None:
            max_len = check_int("max_len", max_len, min=0, max=_MAX_LEN)
            if (max_len + 1) * self.n_states > _MAX_TABLE:
                raise ValidationError(
                    f"max_len={max_len}: (max_len + 1) * n_states = {(max_len + 1) * self.n_states:,} must be "
                    f"<= {_MAX_TABLE:,} (the table of ending probabilities behind a capped sample)"
                )
        rng = np.random.default_rng(seed)
        symbols, offsets = _tables.draw_words(self.transitions, self.probs, self.initial, n, max_len, rng)
        return [decode_word(symbols[offsets[i]:offsets[i + 1]], self.alphabet) for i in range(n)]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PDFA):
            return NotImplemented
        return (self.alphabet == other.alphabet and self.initial == other.initial
                and np.array_equal(self.transitions, other.transitions) and np.array_equal(self.probs, other.probs))

    def __hash__(self) -> int:
        return hash((self.alphabet, self.initial, self.transitions.tobytes(), self.probs.tobytes()))

    def __repr__(self) -> str:
        alphabet = "".join(self.alphabet) if all(len(s) == 1 for s in self.alphabet) else self.alphabet
        return f"PDFA({self.name!r}, alphabet={alphabet!r}, n_states={self.n_states})"


def random_pdfa(*, n_states: int, alphabet: Any = "ab", seed: int = 0, end_prob: float = 0.1) -> PDFA:
    """A random PDFA with ``n_states`` states, all reachable, any two told apart by some word.

    The structure is drawn as in :func:`fsm_extract.languages.random_dfa`: a random spanning
    tree from state 0 makes every state reachable, the other transitions are uniform. Every
    state ends a word with the same probability ``end_prob``, so word lengths are geometric
    whatever the path: ``P(len = L) = (1 - end_prob)**L * end_prob`` and the expected length is
    ``(1 - end_prob) / end_prob`` (9 symbols at the default 0.1). The rest of a state's mass,
    ``1 - end_prob``, is split over the symbols by a Dirichlet(1, ..., 1) draw mixed with 10%
    uniform (so every symbol has probability >= 0.1 (1 - end_prob) / n_symbols and every
    state is reached with positive probability). Each state keeps the first of 16 such draws
    whose next-symbol distribution is at total variation >= 0.2 from every earlier state's (else
    the farthest), so with few states per symbol the distributions differ directly.

    The result is minimal and its states are clearly distinct for a learner: for every two
    states there is a word after which their next-symbol distributions differ by total variation
    >= 0.2. States that fail this are redrawn (distribution and non-tree transitions) from the
    same seeded generator.

    Parameters
    ----------
    n_states : int, 1 <= n_states <= 1000
    alphabet : str or sequence of str, default "ab"
        At least two symbols when ``n_states > 1`` (with one symbol, states would differ only in
        their end probability, which is shared here).
    seed : int
        The same seed gives the same PDFA.
    end_prob : float, 0.001 <= end_prob <= 0.5, default 0.1

    Raises
    ------
    ValidationError
        For a bad argument, or if the states cannot be told apart after 100 rounds of redrawing.
    """
    n_states = check_int("n_states", n_states, min=1, max=1000)
    alphabet = check_alphabet(alphabet)
    seed = check_seed("seed", seed)
    end_prob = check_float("end_prob", end_prob, min=0.001, max=0.5)
    k = len(alphabet)
    if k == 1 and n_states > 1:
        raise ValidationError(
            f"alphabet={list(alphabet)} must hold at least two symbols for n_states={n_states} > 1: over one symbol "
            "the states of random_pdfa (which share end_prob) would all behave alike"
        )
    rng = np.random.default_rng(seed)
    table, tree = _tables.spanning_table(n_states, k, rng)
    symbol_tv = _MIN_TV / (1.0 - end_prob)  # the end column is shared, so TV scales by 1 - end_prob
    dist = np.empty((n_states, k))
    for s in range(n_states):
        dist[s] = _tables.far_draw(rng, k, dist[:s], symbol_tv)
    for _ in range(_REPAIRS):
        probs = np.column_stack([(1.0 - end_prob) * dist, np.full(n_states, end_prob)])
        apart = _tables.apart_pairs(table, probs, _MIN_TV - 1e-12)
        np.fill_diagonal(apart, True)
        redraw = np.flatnonzero(~apart.all(axis=0) & (np.arange(n_states) > np.argmin(apart, axis=0)))
        if not redraw.size:
            return PDFA(alphabet, table, probs, 0, f"random_pdfa(n_states={n_states}, seed={seed})")
        for s in redraw.tolist():
            dist[s] = _tables.far_draw(rng, k, np.delete(dist, s, axis=0), symbol_tv)
            slots = ~tree[s]
            table[s, slots] = rng.integers(0, n_states, size=int(slots.sum()))
    raise ValidationError(
        f"n_states={n_states}: found no PDFA whose states are pairwise told apart over {list(alphabet)} "
        f"in {_REPAIRS} rounds (seed={seed})"
    )
