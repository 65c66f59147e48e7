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
from typing import Any

import numpy as np

from .._checks import check_int, check_seed
from ..automata.automaton import ExtractedFSM, access_words
from ..automata.counting import run_transitions
from ..errors import ArgumentTypeError, ValidationError
from ..abstraction.codebook import match_outputs
from ..nets.net import as_net
from ..words import decode_word, encode_ids, format_word
from . import search_strategies as _strategies
from .html import search_fragment
from .search_strategies import (
    _BATCH,
    _explore,
    _fitting,
    _Found,
    _random,
    _Runner,
    _systematic,
)

__all__ = ["first_disagreeing_prefixes", "Disagreement", "SearchResult", "search_disagreements", "MAX_BUDGET"]



def first_disagreeing_prefixes(words: list[list[int]], bad: np.ndarray, offsets: np.ndarray) -> list[list[int]]:
    """For each word with a disagreeing step (``bad``, per step), its prefix up to the first one."""
    found = []
    for i, w in enumerate(words):
        hit = np.flatnonzero(bad[offsets[i] : offsets[i + 1]])
        if hit.size:
            found.append(w[: int(hit[0]) + 1])
    return found

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

    def _repr_html_(self) -> str:  # notebooks
        return search_fragment(self.to_dict())


#: The documented ceiling of ``budget`` (raise it with ``max_budget=``): 10^9 net steps take
#: roughly 10-30 minutes on one CPU core.
MAX_BUDGET = 10**9


def _verify_words(runner: _Runner, words: list[list[int]], found: dict[tuple, str]) -> list[Disagreement]:
    """Re-run ``words`` (all of which fit the budget) and keep the true disagreements."""
    fsm = runner.fsm
    symbols, offsets = encode_ids(words)
    trace = runner.net.trace(symbols, offsets, state=runner.state, batch_size=_BATCH)
    fsm_states = run_transitions(fsm.transitions, symbols, offsets, fsm.initial).astype(np.int64)
    net_states = fsm.abstract(runner.points(trace.hidden)) if fsm.cluster_centroids is not None else None
    net_cls, fsm_cls = trace.classes, fsm.state_outputs[fsm_states]
    out = []
    for i, w in enumerate(words):
        s, e = int(offsets[i]), int(offsets[i + 1])
        if e == s:
            continue
        net_acc, fsm_acc = bool(net_cls[e - 1] == 1), bool(fsm_cls[e - 1] == 1)
        if net_cls[e - 1] == fsm_cls[e - 1]:
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
    return out


def _verify(runner: _Runner, found: _Found) -> tuple[list[Disagreement], int]:
    """Re-run the candidates, shortest first, through the net and the FSM while the budget
    lasts, a piece of at most ``CHUNK_STEPS`` values (steps x state and feature width) at a
    time; keep the true disagreements. Returns them and how many candidates were not run."""
    if not found.words:
        return [], found.dropped
    per_step = 1 + (runner.feature_steps() if runner.fsm.cluster_centroids is not None else 0)
    width = runner.dim + (runner.feature_steps() if runner.fmap is not None else 0)
    piece_steps = max(1, 16 * _strategies.CHUNK_STEPS // max(1, width))
    ordered = [list(w) for w in sorted(found.words, key=lambda w: (len(w), w))]
    lengths = np.array([len(w) for w in ordered], dtype=np.int64)
    out, i, n_run = [], 0, 0
    while i < len(ordered):
        # a piece: whole batches of words (sorted by length, so its padding is what one run
        # of all of them would pad), at most ``piece_steps`` steps (at least one batch)
        n_fit = int(np.searchsorted(np.cumsum(lengths[i:]), piece_steps, side="right"))
        j = len(ordered) if n_fit == len(ordered) - i else i + max(_BATCH, n_fit // _BATCH * _BATCH)
        m = _fitting(lengths[i:j], runner.left(), extra_per_step=per_step - 1)
        out.extend(_verify_words(runner, ordered[i : i + m], found.words))
        n_run += m
        if m < min(j, len(ordered)) - i:
            break
        i = j
    out.sort(key=lambda d: (len(d.word), format_word(d.word)))
    return out, len(ordered) - n_run + found.dropped


def _check_budget(budget: Any, max_budget: Any) -> int:
    max_budget = check_int("max_budget", max_budget, min=1)
    budget = check_int("budget", budget, min=1)
    if budget > max_budget:
        raise ValidationError(f"budget={budget} must be <= {max_budget} (max_budget, the documented ceiling of net "
                              "steps; pass max_budget= to raise it)")
    return budget


def search_disagreements(
    model: Any,
    fsm: ExtractedFSM,
    *,
    budget: int = 1_000_000,
    max_len: int = 60,
    seed: int = 0,
    beam: int = 256,
    max_budget: int = MAX_BUDGET,
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
        next. At most ``max_budget``.
    max_len : int
        Longest word tried by ``explore`` and ``random``.
    seed : int
    beam : int
        Words kept per depth by ``explore``.
    max_budget : int, default :data:`MAX_BUDGET` (10^9)
        The ceiling of ``budget``; raise it to spend more.

    Memory is bounded whatever the budget: ``systematic`` and ``random`` draw, run and drop
    their words :data:`CHUNK_STEPS` net steps at a time and keep only the outputs of a chunk,
    verification runs pieces of the same order, and only the :data:`MAX_CANDIDATES`
    shortest candidates are kept (more are counted in ``unverified``). With a budget above
    ``CHUNK_STEPS`` per strategy, the words drawn differ from one run of all of them at once.

    Returns
    -------
    SearchResult
    """
    net = as_net(model)  # no probe: every net step here is counted in the budget
    if not isinstance(fsm, ExtractedFSM):
        raise ArgumentTypeError(f"fsm must be an ExtractedFSM, got {type(fsm).__name__}")
    if fsm.alphabet != net.alphabet:
        raise ValidationError(f"fsm.alphabet={list(fsm.alphabet)} must equal the model's alphabet {list(net.alphabet)}")
    match_outputs(net, fsm)
    budget = _check_budget(budget, max_budget)
    max_len = check_int("max_len", max_len, min=1, max=100_000)
    seed = check_seed("seed", seed)
    beam = check_int("beam", beam, min=1)
    rng = np.random.default_rng(seed)
    runner = _Runner(net, fsm, budget)
    k = fsm.n_symbols
    found = _Found()
    stats: dict[str, dict] = {}

    def record(name: str, words: list[list[int]], before: int) -> None:
        offsets, bad = runner.run(words)
        new = first_disagreeing_prefixes(words, bad, offsets)
        for w in new:
            found.add(w, name)
        s = stats.setdefault(name, {"words": 0, "steps": 0, "found": 0})
        s["words"] += len(words)
        s["steps"] = runner.spent - before
        s["found"] += len(new)

    # 1. systematic: access words x all suffixes up to the longest length that fits
    acc = access_words(fsm)
    _systematic(runner, record, acc, k, budget // 3, max_len)

    # 2. explore: breadth-first over continuations of the net's states, keeping the most novel
    _explore(runner, found, stats, acc, k, max_len, beam, rng)

    # 3. random words with what is left, less a reserve for verifying what was found
    _random(runner, record, k, max_len, budget // 50, rng)

    verified, unverified = _verify(runner, found)
    return SearchResult(disagreements=tuple(verified), steps_spent=runner.spent, budget=budget, by_strategy=stats,
                        unverified=unverified)
