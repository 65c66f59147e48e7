"""The three strategies of :func:`fsm_extract.analysis.search.search_disagreements`, and the runner
that counts every net step they spend.

Memory is bounded whatever the budget: ``systematic`` and ``random`` draw, run and drop their
words :data:`CHUNK_STEPS` net steps at a time, keeping only the outputs of a chunk (never the
states), and only the :data:`MAX_CANDIDATES` shortest candidate disagreements are kept.
"""

from __future__ import annotations

from itertools import product
from typing import Any

import numpy as np

from ..abstraction.features import FeatureMap
from ..automata.automaton import ExtractedFSM
from ..automata.counting import run_transitions
from ..nets.forward import padded_steps
from ..nets.net import Net
from ..words import encode_ids

__all__ = ["CHUNK_STEPS", "MAX_CANDIDATES"]


class _Runner:
    """Runs words through the net and the FSM, counts net steps, collects disagreements."""

    def __init__(self, net: Net, fsm: ExtractedFSM, budget: int) -> None:
        self.net, self.fsm, self.budget, self.start = net, fsm, budget, net.steps
        self.state = fsm.state_layout
        self.full = net.full_state  # what a single step needs
        self.dim = net.state_dim(self.state)
        self.fmap = None
        if fsm.abstraction is not None and fsm.abstraction.features is not None:
            self.fmap = FeatureMap.from_spec(fsm.abstraction.features)

    @property
    def spent(self) -> int:
        """Net steps spent: read from the net's own counter (what it computed)."""
        return self.net.steps - self.start

    def left(self) -> int:
        return self.budget - self.spent

    def points(self, hidden: np.ndarray) -> np.ndarray:
        """The FSM's abstraction space; behavioural features cost net steps, which are counted."""
        if self.fmap is None:
            return hidden
        return self.fmap.transform(self.net, hidden)

    def feature_steps(self) -> int:
        """Net steps the FSM's features cost per state (its continuations up to ``depth``)."""
        return 0 if self.fmap is None else self.fmap.steps_per_state(self.fsm.n_symbols)

    def start_states(self, words: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """The net's full state and the FSM's state after each word (its steps are spent)."""
        symbols, offsets = encode_ids(words)
        trace = self.net.trace(symbols, offsets, state=self.full, batch_size=_BATCH)
        states = np.repeat(trace.h0[None, :], len(words), axis=0)
        ends = offsets[1:] - 1
        nonempty = np.diff(offsets) > 0
        states[nonempty] = trace.hidden[ends[nonempty]]
        fsm_q = np.full(len(words), self.fsm.initial, dtype=np.int64)
        if symbols.size:
            run = run_transitions(self.fsm.transitions, symbols, offsets, self.fsm.initial)
            fsm_q[nonempty] = run[ends[nonempty]]
        return states, fsm_q

    def step(self, states: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One net step from each full state (spent): next states and output classes."""
        nxt, probs = self.net.step(states, ids, state=self.full)
        return nxt, self.net.classes_of(probs)

    def novelty_space(self, full_states: np.ndarray) -> np.ndarray:
        """Full states cut to the layout the FSM was traced in (``h`` of an LSTM's ``hc``)."""
        return full_states[:, : self.dim].astype(np.float64)

    def known_states(self) -> np.ndarray:
        """The net states the FSM knows: each state's mean visited state (when it is in the
        space the search traces), else none yet."""
        c = np.asarray(self.fsm.centroids, dtype=np.float64)
        return c if c.ndim == 2 and c.shape[1] == self.dim else np.zeros((0, self.dim))

    def run(self, words: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """(CSR offsets, per-step disagreement mask) of the words; spends their steps. Only
        the net's outputs are kept (4 bytes a step), never its states."""
        symbols, offsets = encode_ids(words)
        # small batches: words of mixed lengths are padded to the longest in their batch,
        # and padding is spent like any other step
        probs, _ = self.net.outputs(symbols, offsets, state=self.state, batch_size=_BATCH)
        fsm_out = self.fsm.state_outputs[run_transitions(self.fsm.transitions, symbols, offsets, self.fsm.initial)]
        return offsets, fsm_out != self.net.classes_of(probs)


_BATCH = 128  # words per traced batch
_MAX_KNOWN = 2048  # explored states remembered by ``explore`` (the most recent ones)
#: Net steps of words drawn, run and dropped at once by ``systematic`` and ``random``, and the
#: most ``verify`` holds (with states and features) at once: memory is bounded by this, not by
#: the budget.
CHUNK_STEPS = 2**20
#: Candidate words kept for verification (the shortest); more found are counted in ``unverified``.
MAX_CANDIDATES = 10_000


class _Found:
    """Candidate disagreements (word -> strategy), the ``MAX_CANDIDATES`` shortest kept."""

    def __init__(self) -> None:
        self.words: dict[tuple, str] = {}
        self.dropped = 0

    def add(self, word: Any, strategy: str) -> None:
        self.words.setdefault(tuple(word), strategy)
        if len(self.words) > 2 * MAX_CANDIDATES:
            keep = sorted(self.words, key=lambda w: (len(w), w))[:MAX_CANDIDATES]
            self.dropped += len(self.words) - len(keep)
            self.words = {w: self.words[w] for w in keep}

    def count(self, strategy: str) -> int:
        return sum(1 for v in self.words.values() if v == strategy)


def _same_state_tolerance(known: np.ndarray) -> float:
    """Distance below which two net states count as one: 0.1% of the median distance from a
    known state to its nearest other known state (1e-6 when there are fewer than two)."""
    if known.shape[0] < 2:
        return 1e-6
    d = _sq_dist(known, known)
    np.fill_diagonal(d, np.inf)
    return max(1e-3 * float(np.median(np.sqrt(d.min(1)))), 1e-6)


def _fitting(lengths: np.ndarray, left: int, *, extra_per_step: int = 0) -> int:
    """How many of the words with these ``lengths`` (the first m) fit in ``left`` net steps,
    padding included, plus ``extra_per_step`` for every real step."""

    def cost(m: int) -> int:
        offsets = np.concatenate([[0], np.cumsum(lengths[:m])])
        return padded_steps(offsets, _BATCH) + extra_per_step * int(offsets[-1])

    lo, hi = 0, lengths.size  # cost(lo) <= left; find the largest such m
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if cost(mid) <= left:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum((a**2).sum(1)[:, None] - 2.0 * a @ b.T + (b**2).sum(1)[None, :], 0.0)


def _most_novel(points: np.ndarray, known: np.ndarray, beam: int, tol: float, rng: np.random.Generator) -> np.ndarray:
    """Up to ``beam`` points picked farthest-first from ``known`` and from each other (greedy
    farthest-point selection, ties broken at random); points within ``tol`` of a known or picked
    point are never picked."""
    order = rng.permutation(points.shape[0])
    pts = points[order]
    d = np.full(pts.shape[0], np.inf)
    step = max(1, min(2048, 2**22 // max(1, pts.shape[0])))  # at most 2^22 distances at once
    for s in range(0, known.shape[0], step):
        d = np.minimum(d, _sq_dist(pts, known[s : s + step]).min(1))
    picked = []
    tol2 = tol * tol
    while len(picked) < beam:
        i = int(np.argmax(d))
        if d[i] <= tol2:
            break
        picked.append(i)
        d = np.minimum(d, _sq_dist(pts, pts[i : i + 1])[:, 0])
    return order[np.array(picked, dtype=np.int64)]


def _systematic(runner: _Runner, record: Any, acc: list[list[int]], k: int, share: int, max_len: int) -> None:
    """Every access word followed by every word of each length, while the whole length fits
    ``share``; run a chunk of at most ``CHUNK_STEPS`` steps at a time (a length whose words
    exceed a chunk runs in pieces, the last that fits included)."""
    before = runner.spent
    pending: list[list[int]] = []

    def flush() -> None:
        if pending:
            record("systematic", pending, before)
            pending.clear()

    for length in range(0, max_len + 1):
        real = k**length * sum(len(a) + length for a in acc)  # steps of this length's words, padding aside
        if runner.spent - before + sum(map(len, pending)) + real > share:
            break  # cannot fit, padding or not: never built
        if sum(map(len, pending)) + real <= CHUNK_STEPS:
            batch = [w for w in (a + list(suf) for a in acc for suf in product(range(k), repeat=length)) if w]
            if batch and runner.spent - before + padded_steps(encode_ids(pending + batch)[1], _BATCH) > share:
                break
            pending.extend(batch)
            continue
        flush()
        piece: list[list[int]] = []
        for w in (a + list(suf) for a in acc for suf in product(range(k), repeat=length)):
            piece.append(w)
            if len(piece) * len(w) >= CHUNK_STEPS:
                if runner.spent - before + padded_steps(encode_ids(piece)[1], _BATCH) > share:
                    return
                record("systematic", piece, before)
                piece = []
        if piece and runner.spent - before + padded_steps(encode_ids(piece)[1], _BATCH) > share:
            return
        if piece:
            record("systematic", piece, before)
    flush()


def _random(runner: _Runner, record: Any, k: int, max_len: int, reserve: int, rng: np.random.Generator) -> None:
    """Random words with what is left (less ``reserve``), drawn, run and dropped at most
    ``CHUNK_STEPS`` steps at a time."""
    before = runner.spent
    while True:
        left = runner.left() - reserve
        if left <= 0:
            return
        piece = min(left, CHUNK_STEPS)
        lengths = rng.integers(1, max_len + 1, size=piece // max(1, (max_len + 1) // 2) + 1)
        m = _fitting(lengths, piece)
        if m == 0:
            return
        record("random", [rng.integers(0, k, size=int(n)).tolist() for n in lengths[:m]], before)
        if piece == left:
            return  # what was left fitted in one piece


def _explore(runner: _Runner, found: _Found, stats: dict, acc: list[list[int]], k: int, max_len: int, beam: int,
             rng: np.random.Generator) -> None:
    """Breadth-first over continuations of the net's states, keeping the ``beam`` most novel per
    depth; each depth steps the kept states once per symbol (no word is re-run from its start).
    Spends half of what is left."""
    fsm = runner.fsm
    share = runner.left() // 2  # half of what systematic left; random gets the rest
    n_explored, before = 0, runner.spent
    frontier = [a for a in acc] or [[]]
    start_cost = padded_steps(encode_ids(frontier)[1], _BATCH)
    states, fsm_q = runner.start_states(frontier) if start_cost < share else (None, None)
    known = runner.known_states()
    tol = _same_state_tolerance(known)
    for _ in range(max_len if states is not None else 0):
        n = len(frontier) * k
        if runner.spent - before + n > share or n == 0:
            break
        ids = np.tile(np.arange(k), len(frontier))
        nxt, outs = runner.step(np.repeat(states, k, axis=0), ids)
        q = fsm.transitions[np.repeat(fsm_q, k), ids]
        cand = [w + [a] for w in frontier for a in range(k)]
        n_explored += n
        bad = outs != fsm.state_outputs[q]
        for i in np.flatnonzero(bad):
            found.add(cand[i], "explore")
        ok = np.flatnonzero(~bad)  # a word that already disagrees is found: do not extend it
        pts = runner.novelty_space(nxt[ok])
        keep = ok[_most_novel(pts, known, beam, tol, rng)]
        if keep.size == 0:
            break  # every state reached is one already seen: the reachable set is explored
        frontier, states, fsm_q = [cand[i] for i in keep], nxt[keep], q[keep]
        known = np.vstack([known, runner.novelty_space(states)])[-_MAX_KNOWN:]  # the explored set grows
    stats["explore"] = {"words": n_explored, "steps": runner.spent - before,
                        "found": found.count("explore")}

