"""Searching the net for behaviour the automaton does not explain.

Held-out sampling cannot see what it does not sample. :func:`search_disagreements` spends a
budget of net steps looking for words on which the net and the FSM answer differently, with
three strategies, all batched through the net:

- ``systematic``: every FSM state's shortest access word followed by every word up to a small
  length (the length is the largest that fits a third of the budget);
- ``explore``: breadth-first over continuations of the net's own reachable states. It starts
  from the FSM states' access words; at each depth it keeps up to ``beam`` words, picked
  farthest-first (in the net's raw state space) from every state already known (the FSM
  states' mean visited states, then everything explored so far) and from each other, and drops
  words whose state is one already seen. So it walks into regions the FSM's data never
  visited: a state that is half-way through a rare trigger is a new point in state space long
  before its output differs. It stops early when no new state is reached;
- ``random``: random words of lengths up to ``max_len``.

Every reported disagreement is re-run through the net and the FSM before it is returned (no
false alarms; 2% of the budget is kept for that, and candidates it cannot cover are counted in
``unverified``, not reported), with the step where the net's state leaves the FSM's and the (state, symbol)
there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product
from typing import Any

import numpy as np

from ._validation import check_int, check_seed
from .automaton import ExtractedFSM
from .counting import run_transitions
from .errors import ArgumentTypeError, ValidationError
from .models import as_recurrent
from .refined import access_words, first_disagreeing_prefixes
from .trace import _state_dim, collect_trace_encoded, padded_steps, step_from
from .words import decode_word, encode_ids, format_word

__all__ = ["Disagreement", "SearchResult", "search_disagreements"]


@dataclass(frozen=True)
class Disagreement:
    """A verified word on which the net and the FSM answer differently.

    ``step`` is the 0-based position where the net's (abstracted) state first leaves the FSM's
    state, ``state``/``symbol`` the FSM state before that step and the symbol read there (None
    when the states never part: the FSM state's output is what differs)."""

    word: Any
    net_accepts: bool
    fsm_accepts: bool
    step: int | None
    state: int | None
    symbol: str | None
    strategy: str

    def to_dict(self) -> dict[str, Any]:
        return {"word": format_word(self.word), "net_accepts": self.net_accepts, "fsm_accepts": self.fsm_accepts,
                "step": self.step, "state": self.state, "symbol": self.symbol, "strategy": self.strategy}


@dataclass(frozen=True)
class SearchResult:
    """Verified disagreements, shortest first, and what each strategy spent and found."""

    disagreements: tuple
    steps_spent: int
    budget: int
    by_strategy: dict = field(default_factory=dict)
    unverified: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"disagreements": [d.to_dict() for d in self.disagreements], "steps_spent": self.steps_spent,
                "budget": self.budget, "by_strategy": self.by_strategy, "unverified": self.unverified}

    def __str__(self) -> str:
        head = (f"{len(self.disagreements)} verified disagreement(s) in {self.steps_spent} of {self.budget} net steps"
                + "".join(f"; {k}: {v['found']} in {v['steps']} steps" for k, v in self.by_strategy.items()))
        lines = [head] + [f"  {format_word(d.word)!r}: net {'accepts' if d.net_accepts else 'rejects'}, FSM "
                          f"{'accepts' if d.fsm_accepts else 'rejects'}; parts at step {d.step} "
                          f"(q{d.state} --{d.symbol}-->) [{d.strategy}]" for d in self.disagreements[:10]]
        if self.unverified:
            lines.append(f"  ({self.unverified} longer candidate(s) left unverified: the budget ran out; not reported)")
        return "\n".join(lines)


class _Runner:
    """Runs words through the net and the FSM, counts net steps, collects disagreements."""

    def __init__(self, model: Any, fsm: ExtractedFSM, budget: int) -> None:
        self.model, self.fsm, self.budget, self.spent = model, fsm, budget, 0
        self.state = fsm.metadata.get("state", "h")
        self.full = "hc" if model.cell == "lstm" else "h"  # what step_from needs
        self.dim = _state_dim(model, self.state)
        self.fmap = None
        if fsm.metadata.get("features") is not None:
            from .behaviour import FeatureMap

            self.fmap = FeatureMap.from_dict(fsm.metadata["features"])

    def left(self) -> int:
        return self.budget - self.spent

    def points(self, hidden: np.ndarray) -> np.ndarray:
        """The FSM's abstraction space; behavioural features cost net steps, which are counted."""
        if self.fmap is None:
            return hidden
        self.spent += hidden.shape[0] * self.feature_steps()
        return self.fmap.transform(self.model, hidden)

    def feature_steps(self) -> int:
        """Net steps the FSM's features cost per state (its continuations up to ``depth``)."""
        return 0 if self.fmap is None else self.fmap.steps_per_state(self.fsm.n_symbols)

    def start_states(self, words: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """The net's full state and the FSM's state after each word (its steps are spent)."""
        symbols, offsets = encode_ids(words)
        self.spent += padded_steps(offsets, _BATCH)
        trace = collect_trace_encoded(self.model, symbols, offsets, state=self.full, batch_size=_BATCH)
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
        """One net step from each full state (spent)."""
        self.spent += int(ids.size)
        return step_from(self.model, states, ids, state=self.full)

    def novelty_space(self, full_states: np.ndarray) -> np.ndarray:
        """Full states cut to the layout the FSM was traced in (``h`` of an LSTM's ``hc``)."""
        return full_states[:, : self.dim].astype(np.float64)

    def known_states(self) -> np.ndarray:
        """The net states the FSM knows: each state's mean visited state (when it is in the
        space the search traces), else none yet."""
        c = np.asarray(self.fsm.centroids, dtype=np.float64)
        return c if c.ndim == 2 and c.shape[1] == self.dim else np.zeros((0, self.dim))

    def run(self, words: list[list[int]]):
        """(trace, per-step disagreement mask) of the words; spends their steps."""
        symbols, offsets = encode_ids(words)
        # small batches: words of mixed lengths are padded to the longest in their batch,
        # and padding is spent like any other step
        self.spent += padded_steps(offsets, _BATCH)
        trace = collect_trace_encoded(self.model, symbols, offsets, state=self.state, batch_size=_BATCH)
        fsm_out = self.fsm.accepting[run_transitions(self.fsm.transitions, symbols, offsets, self.fsm.initial)]
        return trace, fsm_out != (trace.outputs > 0.5)


_BATCH = 128  # words per traced batch
_MAX_KNOWN = 2048  # explored states remembered by ``explore`` (the most recent ones)


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
    for s in range(0, known.shape[0], 2048):
        d = np.minimum(d, _sq_dist(pts, known[s : s + 2048]).min(1))
    picked = []
    tol2 = tol * tol
    while len(picked) < beam:
        i = int(np.argmax(d))
        if d[i] <= tol2:
            break
        picked.append(i)
        d = np.minimum(d, _sq_dist(pts, pts[i : i + 1])[:, 0])
    return order[np.array(picked, dtype=np.int64)]


def _verify(runner: _Runner, found: dict[tuple, str]) -> tuple[list[Disagreement], int]:
    """Re-run the candidates, shortest first, through the net and the FSM while the budget
    lasts; keep the true disagreements. Returns them and how many candidates did not fit."""
    if not found:
        return [], 0
    fsm = runner.fsm
    per_step = 1 + (runner.feature_steps() if fsm.cluster_centroids is not None else 0)
    ordered = [list(w) for w in sorted(found, key=lambda w: (len(w), w))]
    lengths = np.array([len(w) for w in ordered], dtype=np.int64)
    m = _fitting(lengths, runner.left(), extra_per_step=per_step - 1)
    words = ordered[:m]
    symbols, offsets = encode_ids(words)
    runner.spent += padded_steps(offsets, _BATCH)
    trace = collect_trace_encoded(runner.model, symbols, offsets, state=runner.state, batch_size=_BATCH)
    fsm_states = run_transitions(fsm.transitions, symbols, offsets, fsm.initial).astype(np.int64)
    net_states = fsm.abstract(runner.points(trace.hidden)) if fsm.cluster_centroids is not None else None
    out = []
    for i, w in enumerate(words):
        s, e = int(offsets[i]), int(offsets[i + 1])
        if e == s:
            continue
        net_acc, fsm_acc = bool(trace.outputs[e - 1] > 0.5), bool(fsm.accepting[fsm_states[e - 1]])
        if net_acc == fsm_acc:
            continue  # not a disagreement after all: never reported
        step = state = symbol = None
        if net_states is not None:
            parted = np.flatnonzero(net_states[s:e] != fsm_states[s:e])
            if parted.size:
                step = int(parted[0])
                state = fsm.initial if step == 0 else int(fsm_states[s + step - 1])
                symbol = fsm.alphabet[w[step]]
        out.append(Disagreement(word=decode_word(w, fsm.alphabet), net_accepts=net_acc, fsm_accepts=fsm_acc,
                                step=step, state=state, symbol=symbol, strategy=found[tuple(w)]))
    out.sort(key=lambda d: (len(d.word), format_word(d.word)))
    return out, len(found) - len(words)


def search_disagreements(
    model: Any,
    fsm: ExtractedFSM,
    *,
    budget: int = 1_000_000,
    max_len: int = 60,
    seed: int = 0,
    beam: int = 256,
) -> SearchResult:
    """Look for words where the net and ``fsm`` answer differently, within ``budget`` net steps.

    Parameters
    ----------
    model : RNNClassifier or RecurrentAdapter
    fsm : ExtractedFSM
        Extracted from ``model``.
    budget : int
        Net steps to spend, counted as the net computes them: every symbol read, padding of
        batched words of mixed lengths, the behavioural features of an FSM fitted on them, and
        re-running the finds. ``systematic`` gets a third, ``explore`` half of what is left,
        ``random`` the rest less 2% kept for verification; what one strategy leaves goes to the
        next.
    max_len : int
        Longest word tried by ``explore`` and ``random``.
    seed : int
    beam : int
        Words kept per depth by ``explore``.

    Returns
    -------
    SearchResult
    """
    model = as_recurrent(model)
    if not isinstance(fsm, ExtractedFSM):
        raise ArgumentTypeError(f"fsm must be an ExtractedFSM, got {type(fsm).__name__}")
    if fsm.alphabet != model.alphabet:
        raise ValidationError(f"fsm.alphabet={list(fsm.alphabet)} must equal the model's alphabet {list(model.alphabet)}")
    budget = check_int("budget", budget, min=1)
    max_len = check_int("max_len", max_len, min=1, max=100_000)
    seed = check_seed("seed", seed)
    beam = check_int("beam", beam, min=1)
    rng = np.random.default_rng(seed)
    runner = _Runner(model, fsm, budget)
    k = fsm.n_symbols
    found: dict[tuple, str] = {}
    stats: dict[str, dict] = {}

    def record(name: str, words: list[list[int]], before: int) -> None:
        trace, bad = runner.run(words)
        new = first_disagreeing_prefixes(words, bad, trace.offsets)
        for w in new:
            found.setdefault(tuple(w), name)
        s = stats.setdefault(name, {"words": 0, "steps": 0, "found": 0})
        s["words"] += len(words)
        s["steps"] = runner.spent - before
        s["found"] += len(new)

    # 1. systematic: access words x all suffixes up to the longest length that fits
    share = budget // 3
    acc = access_words(fsm)
    before = runner.spent
    words: list[list[int]] = []
    for length in range(0, max_len + 1):
        batch = [w for w in (a + list(suf) for a in acc for suf in product(range(k), repeat=length)) if w]
        if batch and padded_steps(encode_ids(words + batch)[1], _BATCH) > share:
            break
        words.extend(batch)
    if words:
        record("systematic", words, before)

    # 2. explore: breadth-first over continuations of the net's states, keeping the most novel;
    # each depth steps the kept states once per symbol (no word is re-run from its start)
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
        bad = (outs > 0.5) != fsm.accepting[q]
        for i in np.flatnonzero(bad):
            found.setdefault(tuple(cand[i]), "explore")
        ok = np.flatnonzero(~bad)  # a word that already disagrees is found: do not extend it
        pts = runner.novelty_space(nxt[ok])
        keep = ok[_most_novel(pts, known, beam, tol, rng)]
        if keep.size == 0:
            break  # every state reached is one already seen: the reachable set is explored
        frontier, states, fsm_q = [cand[i] for i in keep], nxt[keep], q[keep]
        known = np.vstack([known, runner.novelty_space(states)])[-_MAX_KNOWN:]  # the explored set grows
    stats["explore"] = {"words": n_explored, "steps": runner.spent - before,
                        "found": sum(1 for v in found.values() if v == "explore")}

    # 3. random words with what is left, less a reserve for verifying what was found
    before = runner.spent
    words = []
    left = runner.left() - budget // 50
    if left > 0:
        lengths = rng.integers(1, max_len + 1, size=left // max(1, (max_len + 1) // 2) + 1)
        m = _fitting(lengths, left)
        words = [rng.integers(0, k, size=int(n)).tolist() for n in lengths[:m]]
    if words:
        record("random", words, before)

    verified, unverified = _verify(runner, found)
    return SearchResult(disagreements=tuple(verified), steps_spent=runner.spent, budget=budget, by_strategy=stats,
                        unverified=unverified)
