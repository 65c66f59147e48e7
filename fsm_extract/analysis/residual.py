"""Where the automaton and the net part: attribution of disagreements, and shortest
distinguishing words.

Every disagreement between the FSM's output and the net's output on a prefix is charged to
one place. Walk the word with the FSM and, beside it, map the net's actual hidden state to an
FSM state (the abstraction). The first step where the two states part is where the FSM's
story stopped describing the net: the pair (FSM state before that step, symbol read) is
charged (kind ``"transition"``). If the states never part up to the disagreeing prefix, the
net is in the state the FSM predicts but answers differently there: the state's output is
charged (kind ``"output"``, no symbol). Pairs where the states part without changing any
answer on the data are listed too, with no share (kind ``"conflict"``): they are where the
next disagreement will come from.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..words import decode_word, format_word

__all__ = ["ResidualItem", "attribute_residual", "add_search_finds", "shortest_difference", "previous_per_step", "first_per_word"]

Kind = Literal["transition", "output", "conflict"]


@dataclass(frozen=True)
class ResidualItem:
    """One place the automaton fails to explain the net.

    Attributes
    ----------
    state : int
        The FSM state (before the step, for a transition).
    symbol : str or None
        The symbol read; None for an ``"output"`` item.
    kind : {"transition", "output", "conflict"}
    share : float
        Share of all evaluated prefixes whose disagreement is charged here; the shares of all
        items sum to the prefix disagreement rate.
    count : int
        Number of disagreeing prefixes charged here.
    parting_share : float
        Share of all steps where the net's state first leaves the FSM's state at this pair
        (disagreeing or not).
    completed : bool
        The FSM's transition here was completed from the net, not observed when fitting.
    witnesses : tuple of words
        The shortest prefixes that show it (disagreeing prefixes; for a conflict, prefixes
        that end where the states part).
    found_by_search : int
        Verified disagreements a search (:func:`fsm_extract.analysis.search.search_disagreements`)
        found and charged here: words the sampled data does not hold, so they have no share.
    search_witnesses : tuple of words
        The shortest of them.
    """

    state: int
    symbol: str | None
    kind: Kind
    share: float
    count: int
    parting_share: float
    completed: bool
    witnesses: tuple
    found_by_search: int = 0
    search_witnesses: tuple = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "symbol": self.symbol,
            "kind": self.kind,
            "share": self.share,
            "count": self.count,
            "parting_share": self.parting_share,
            "completed": self.completed,
            "witnesses": [format_word(w) for w in self.witnesses],
            "found_by_search": self.found_by_search,
            "search_witnesses": [format_word(w) for w in self.search_witnesses],
        }

    def describe(self) -> str:
        where = f"q{self.state} --{self.symbol}-->" if self.symbol is not None else f"output of q{self.state}"
        extra = " (completed from the net)" if self.completed else ""
        parts = []
        if self.count or not self.found_by_search:
            wit = ", ".join(repr(format_word(w)) for w in self.witnesses)
            parts.append(f"{self.share:.3%} of prefixes; e.g. {wit}")
        if self.found_by_search:
            wit = ", ".join(repr(format_word(w)) for w in self.search_witnesses)
            parts.append(f"{self.found_by_search} found by search, e.g. {wit}")
        return f"{where}{extra}: {self.kind}, " + "; ".join(parts)


def add_search_finds(items: list[ResidualItem], finds: Any, *, transitions: np.ndarray, initial: int,
                     alphabet: tuple, completed: np.ndarray, n_witnesses: int = 3) -> list[ResidualItem]:
    """The residual with a search's verified disagreements charged to their places.

    A find whose net state leaves the FSM's state is charged to the transition where it first
    does (``Disagreement.state``, ``.symbol``); one whose states never part, to the output of
    the state the FSM ends in. A place already in ``items`` gets the count; a conflict that a
    find shows becomes a transition; places only the search saw are added with share 0.

    Parameters
    ----------
    items : list of ResidualItem
    finds : sequence of Disagreement, shortest first
    transitions, initial, alphabet, completed : the FSM's table, initial state, alphabet and
        completed-transition mask

    Returns
    -------
    list of ResidualItem, sampled disagreements first (largest count), then search finds
    """
    index = {s: i for i, s in enumerate(alphabet)}
    found: dict[tuple, list] = {}
    for d in finds:
        if d.symbol is not None and d.state is not None:
            key = (int(d.state), d.symbol)
        else:
            q = initial
            for s in d.word:  # a str of one-character symbols, or a tuple of symbols
                q = int(transitions[q, index[s]])
            key = (q, None)
        found.setdefault(key, []).append(d.word)
    out = list(items)
    where = {(it.state, it.symbol, it.kind == "output"): i for i, it in enumerate(out)}
    for (q, a), words in found.items():
        extra = {"found_by_search": len(words), "search_witnesses": tuple(words[:n_witnesses])}
        i = where.get((q, a, a is None))
        if i is not None:
            kind = "transition" if out[i].kind == "conflict" else out[i].kind
            out[i] = dataclasses.replace(out[i], kind=kind, **extra)
        else:
            out.append(ResidualItem(state=q, symbol=a, kind="output" if a is None else "transition", share=0.0,
                                    count=0, parting_share=0.0,
                                    completed=bool(completed[q, index[a]]) if a is not None else False,
                                    witnesses=(), **extra))
    out.sort(key=_order)
    return out


def _order(it: ResidualItem) -> tuple:
    return (-it.count, -it.found_by_search, -it.parting_share, it.state, it.symbol or "")


def previous_per_step(values: np.ndarray, offsets: np.ndarray, first: Any) -> np.ndarray:
    """``values`` shifted by one step inside each word, ``first`` at each word's first step."""
    prev = np.empty_like(values)
    if values.size:
        prev[1:] = values[:-1]
        starts = offsets[:-1][np.diff(offsets) > 0]
        prev[starts] = first
    return prev


def first_per_word(mask: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Global index of the first True step of each word, -1 where there is none."""
    n_words = offsets.size - 1
    out = np.full(n_words, -1, dtype=np.int64)
    if mask.size == 0:
        return out
    big = np.int64(mask.size)
    pos = np.where(mask, np.arange(mask.size, dtype=np.int64), big)
    nonempty = np.flatnonzero(np.diff(offsets) > 0)
    if nonempty.size:
        firsts = np.minimum.reduceat(pos, offsets[nonempty])
        out[nonempty] = np.where(firsts < big, firsts, -1)
    return out


def _witnesses(keys: np.ndarray, steps: np.ndarray, starts: np.ndarray, symbols: np.ndarray, alphabet: tuple, per_key: int) -> dict[int, tuple]:
    """For each key, the ``per_key`` shortest distinct prefixes ``symbols[start:step+1]``."""
    if keys.size == 0:
        return {}
    lengths = steps - starts + 1
    order = np.lexsort((steps, lengths, keys))
    out: dict[int, list] = {}
    seen: dict[int, set] = {}
    for i in order:
        k = int(keys[i])
        bucket = out.setdefault(k, [])
        if len(bucket) >= per_key:
            continue
        word = decode_word(symbols[starts[i] : steps[i] + 1], alphabet)
        if word not in seen.setdefault(k, set()):
            seen[k].add(word)
            bucket.append(word)
    return {k: tuple(v) for k, v in out.items()}


def attribute_residual(
    *,
    fsm_states: np.ndarray,
    net_states: np.ndarray,
    disagree: np.ndarray,
    symbols: np.ndarray,
    offsets: np.ndarray,
    initial: int,
    net_initial: int,
    n_states: int,
    alphabet: tuple,
    completed: np.ndarray,
    n_prefixes: int,
    n_witnesses: int = 3,
) -> tuple[list[ResidualItem], np.ndarray]:
    """Charge every disagreeing prefix to a (state, symbol) pair or a state's output.

    Parameters
    ----------
    fsm_states, net_states : ndarray of shape (n_steps,), int
        The FSM's state after each step, and the abstraction of the net's hidden state.
    disagree : ndarray of shape (n_steps,), bool
        Where the FSM's output differs from the net's on the prefix ending at that step.
    symbols, offsets : the trace's CSR arrays
    initial, net_initial : int
        The FSM's initial state and the abstraction of the net's initial state.
    completed : ndarray of shape (n_states, n_symbols), bool
    n_prefixes : int
        Denominator of the shares.

    Returns
    -------
    items : list of ResidualItem, largest share first (then largest parting share)
    first_parting : ndarray of shape (n_words,), int64
        For each word, the position (0-based, within the word) of the first step where the
        states part; -1 if they never do.
    """
    n_sym = len(alphabet)
    n_steps = fsm_states.size
    parted = fsm_states != net_states
    prev_fsm = previous_per_step(fsm_states, offsets, initial)
    prev_parted = previous_per_step(parted, offsets, initial != net_initial)
    first_global = first_per_word(parted, offsets)
    starts = np.repeat(offsets[:-1], np.diff(offsets))
    word_of = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
    first_parting = np.where(first_global >= 0, first_global - offsets[:-1], -1)

    # disagreements: transition at the word's first parting step, else the state's output
    t_dis = np.flatnonzero(disagree)
    fp = first_global[word_of[t_dis]]
    by_transition = (fp >= 0) & (fp <= t_dis)
    trans_key = np.where(by_transition, prev_fsm[np.maximum(fp, 0)] * n_sym + symbols[np.maximum(fp, 0)], -1)
    out_key = n_states * n_sym + fsm_states[t_dis]
    keys = np.where(by_transition, trans_key, out_key).astype(np.int64)
    n_keys = n_states * n_sym + n_states
    counts = np.bincount(keys, minlength=n_keys)

    # where a parting begins (states agreed before, differ now): conflicts, disagreeing or not
    begins = np.flatnonzero(parted & ~prev_parted)
    begin_keys = (prev_fsm[begins] * n_sym + symbols[begins]).astype(np.int64)
    parting_counts = np.bincount(begin_keys, minlength=n_keys)

    wit = _witnesses(keys, t_dis, starts[t_dis], symbols, alphabet, n_witnesses)
    conflict_wit = _witnesses(begin_keys, begins, starts[begins], symbols, alphabet, n_witnesses)
    items = []
    denom_p = max(n_prefixes, 1)
    denom_s = max(n_steps, 1)
    for key in np.flatnonzero((counts > 0) | (parting_counts > 0)):
        key = int(key)
        if key < n_states * n_sym:
            q, a = divmod(key, n_sym)
            kind: Kind = "transition" if counts[key] else "conflict"
            items.append(ResidualItem(
                state=q, symbol=alphabet[a], kind=kind, share=counts[key] / denom_p, count=int(counts[key]),
                parting_share=parting_counts[key] / denom_s, completed=bool(completed[q, a]),
                witnesses=wit.get(key) or conflict_wit.get(key, ()),
            ))
        else:
            q = key - n_states * n_sym
            items.append(ResidualItem(
                state=q, symbol=None, kind="output", share=counts[key] / denom_p, count=int(counts[key]),
                parting_share=0.0, completed=False, witnesses=wit.get(key, ()),
            ))
    items.sort(key=_order)
    return items, first_parting


def shortest_difference(
    table_a: np.ndarray, accepting_a: np.ndarray, initial_a: int,
    table_b: np.ndarray, accepting_b: np.ndarray, initial_b: int,
) -> list[int] | None:
    """The shortest word (symbol ids; the first in symbol order among the shortest) on which two
    complete DFAs over the same alphabet answer differently, or None if they are equivalent.

    Breadth-first search over the product automaton: at most ``n_a * n_b`` pairs.
    """
    n_sym = table_a.shape[1]
    start = (int(initial_a), int(initial_b))
    parent: dict[tuple[int, int], tuple[tuple[int, int], int] | None] = {start: None}
    queue = deque([start])
    while queue:
        pair = queue.popleft()
        if bool(accepting_a[pair[0]]) != bool(accepting_b[pair[1]]):
            word = []
            while parent[pair] is not None:
                pair, sym = parent[pair]  # type: ignore[misc]
                word.append(sym)
            return word[::-1]
        for a in range(n_sym):
            nxt = (int(table_a[pair[0], a]), int(table_b[pair[1], a]))
            if nxt not in parent:
                parent[nxt] = (pair, a)
                queue.append(nxt)
    return None
