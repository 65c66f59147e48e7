"""Searching the net for behaviour the automaton does not explain.

Held-out sampling cannot see what it does not sample. :func:`search_disagreements` spends a
budget of net steps looking for words on which the net and the FSM answer differently, with
three strategies, all batched through the net:

- ``systematic``: every FSM state's shortest access word followed by every word up to a small
  length (the length is the largest that fits a third of the budget);
- ``explore``: breadth-first over continuations of the net's own reachable states, keeping at
  each depth the words whose state lies farthest from every state already seen (the explored
  set grows as it goes), so the search walks into regions the FSM's data never visited;
- ``random``: random words of lengths up to ``max_len``.

Every reported disagreement is re-run through the net and the FSM before it is returned (no
false alarms), with the step where the net's state leaves the FSM's and the (state, symbol)
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
from .refine import nearest_centroid
from .refined import access_words, first_disagreeing_prefixes
from .trace import collect_trace_encoded
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

    def to_dict(self) -> dict[str, Any]:
        return {"disagreements": [d.to_dict() for d in self.disagreements], "steps_spent": self.steps_spent,
                "budget": self.budget, "by_strategy": self.by_strategy}

    def __str__(self) -> str:
        head = (f"{len(self.disagreements)} verified disagreement(s) in {self.steps_spent} of {self.budget} net steps"
                + "".join(f"; {k}: {v['found']} in {v['steps']} steps" for k, v in self.by_strategy.items()))
        lines = [head] + [f"  {format_word(d.word)!r}: net {'accepts' if d.net_accepts else 'rejects'}, FSM "
                          f"{'accepts' if d.fsm_accepts else 'rejects'}; parts at step {d.step} "
                          f"(q{d.state} --{d.symbol}-->) [{d.strategy}]" for d in self.disagreements[:10]]
        return "\n".join(lines)


class _Runner:
    """Runs words through the net and the FSM, counts net steps, collects disagreements."""

    def __init__(self, model: Any, fsm: ExtractedFSM, budget: int) -> None:
        self.model, self.fsm, self.budget, self.spent = model, fsm, budget, 0
        self.state = fsm.metadata.get("state", "h")
        self.fmap = None
        if fsm.metadata.get("features") is not None:
            from .behaviour import FeatureMap

            self.fmap = FeatureMap.from_dict(fsm.metadata["features"])

    def left(self) -> int:
        return self.budget - self.spent

    def points(self, hidden: np.ndarray) -> np.ndarray:
        return hidden if self.fmap is None else self.fmap.transform(self.model, hidden)

    def run(self, words: list[list[int]]):
        """(trace, per-step disagreement mask) of the words; spends their steps."""
        symbols, offsets = encode_ids(words)
        self.spent += int(symbols.size)
        trace = collect_trace_encoded(self.model, symbols, offsets, state=self.state)
        fsm_out = self.fsm.accepting[run_transitions(self.fsm.transitions, symbols, offsets, self.fsm.initial)]
        return trace, fsm_out != (trace.outputs > 0.5)


def _verify(runner: _Runner, found: dict[tuple, str]) -> list[Disagreement]:
    """Re-run every candidate through the net and the FSM; keep the true disagreements."""
    if not found:
        return []
    words = [list(w) for w in found]
    symbols, offsets = encode_ids(words)
    trace = collect_trace_encoded(runner.model, symbols, offsets, state=runner.state)
    fsm = runner.fsm
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
    return out


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
        Net steps to spend (one symbol read by the net is one step), shared by the strategies:
        a third each, what one leaves goes to the next.
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
        batch = [a + list(suf) for a in acc for suf in product(range(k), repeat=length)]
        cost = sum(len(w) for w in batch)
        if cost > share - sum(len(w) for w in words) or not batch:
            break
        words.extend(w for w in batch if w)
    if words:
        record("systematic", words, before)

    # 2. explore: breadth-first over continuations, keeping the most novel states
    share = runner.left() // 2  # half of what systematic left; random gets the rest
    known = np.asarray(fsm.cluster_centroids) if fsm.cluster_centroids is not None else None
    frontier: list[list[int]] = [a for a in acc] or [[]]
    spent_here = n_explored = 0
    for _ in range(max_len):
        cand = [w + [a] for w in frontier for a in range(k)]
        cost = sum(len(w) for w in cand)
        if spent_here + cost > share or not cand:
            break
        trace, bad = runner.run(cand)
        spent_here += cost
        n_explored += len(cand)
        for w in first_disagreeing_prefixes(cand, bad, trace.offsets):
            found.setdefault(tuple(w), "explore")
        last = trace.hidden[trace.offsets[1:] - 1]
        pts = runner.points(last)
        if known is None or pts.shape[1] != known.shape[1]:
            order = rng.permutation(len(cand))
        else:
            near = known[nearest_centroid(pts, known)]
            order = np.argsort(-((pts - near) ** 2).sum(1), kind="stable")
        keep = order[:beam]
        frontier = [cand[i] for i in keep]
        if known is not None and pts.shape[1] == known.shape[1]:
            known = np.vstack([known, pts[keep[: max(1, beam // 8)]]])  # the explored set grows
    stats["explore"] = {"words": n_explored, "steps": spent_here, "found": sum(1 for v in found.values() if v == "explore")}

    # 3. random words with what is left
    before = runner.spent
    words = []
    left = runner.left()
    while left > 0:
        n = int(rng.integers(1, max_len + 1))
        n = min(n, left)
        words.append(rng.integers(0, k, size=n).tolist())
        left -= n
    if words:
        record("random", words, before)

    verified = _verify(runner, found)
    return SearchResult(disagreements=tuple(verified), steps_spent=runner.spent, budget=budget, by_strategy=stats)
