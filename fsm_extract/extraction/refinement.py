"""Refined extraction: behavioural features, splitting, and a counterexample loop.

``fx.extract(..., refine=True)`` (the default) runs :func:`extract_refined`:

1. trace the net's full recurrent state on the fitting words;
2. map every state to features (:mod:`fsm_extract.abstraction.features`) and cluster them with k-means;
3. split clusters until the net's transitions between them are deterministic
   (:func:`fsm_extract.abstraction.splitting.refine_partition`);
4. build and minimise the automaton;
5. check it against the net on words it was not fitted on: random words longer than any
   fitting word, and every state's shortest access word followed by every word up to
   ``probe_length``. Disagreeing prefixes join the fitting data and steps 1-4 run again, until
   a check of the stated size finds nothing or ``max_rounds`` is reached. With ``search``,
   a round whose check finds nothing also runs :func:`fsm_extract.analysis.search.search_disagreements`
   (that many net steps), and what it finds is a counterexample like any other. The automaton
   returned has always been checked: ``metadata["refine"]["check_passed"]`` says whether its
   check (and search) found nothing.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np

from .._checks import check_bool, check_choice, check_float, check_int
from ..abstraction.build import build_fsm, fewer_clusters_record
from ..abstraction.clustering import Method, make_abstraction
from ..abstraction.features import (
    MAX_FEATURE_COLUMNS,
    FeatureAbstraction,
    FeatureKind,
    FeatureMap,
    output_width,
)
from ..abstraction.splitting import refine_partition
from ..analysis.search import (
    MAX_BUDGET,
    first_disagreeing_prefixes,
    search_disagreements,
)
from ..automata.automaton import ExtractedFSM, access_words
from ..automata.counting import run_transitions
from ..automata.nearest import nearest_centroid
from ..errors import ArgumentTypeError
from ..nets.net import Net
from ..nets.trace import Trace
from ..words import decode_word, encode_ids, encode_word, encode_words

__all__ = ["passes_check", "Refinement", "extract_refined", "check_words", "probe_words", "MAX_CHECK_STEPS", "MAX_PROBE_WORDS",
           "MAX_ADDED_STEPS"]

#: Net steps one counterexample check runs at most (probe and random words): random words
#: beyond it are dropped, so a fitting word of length 10^4 (random words of 10^4-2*10^4) is
#: checked with a few dozen random words, not 2,000.
MAX_CHECK_STEPS = 1_000_000
#: Probe words (access word + suffix) one check runs at most; see :func:`probe_words`.
MAX_PROBE_WORDS = 20_000
#: Steps of disagreeing prefixes that join the fitting data in one round (shortest first).
MAX_ADDED_STEPS = 100_000


@dataclass(frozen=True)
class Refinement:
    """The options of refined extraction: ``fx.extract(model, data, refine=fx.Refinement(...))``.

    Frozen and validated on construction (``Refinement(depth=9)`` raises a ValidationError
    naming ``depth``). ``refine=True`` means ``Refinement()``.

    Parameters
    ----------
    features : {"both", "hidden", "behaviour"}, default "both"
        What is clustered (see :mod:`fsm_extract.abstraction.features`).
    depth : int, default 2
        Longest continuation whose output is a feature (1..6).
    threshold : float, default 0.999
        A transition is deterministic when its majority share reaches this (0.5..1).
    max_rounds : int, default 5
        Counterexample rounds.
    search : bool or int, default False
        When a round's check finds nothing, also search the net for disagreements and refine
        on what it finds: ``True`` spends 200,000 net steps per round, an int that many (at
        most ``search.MAX_BUDGET``); stored as an int (0: no search).
    probe_length : int, default 3
        The check runs every state's access word followed by every word up to this length.
    n_random : int, default 2000
        Random words of lengths beyond the fitting words per check.
    max_check_steps, max_probe_words, max_added_steps, max_feature_columns : int
        The memory and time bounds (see :func:`extract_refined`).
    merge : bool, default True
        Land on the front: hold out a seeded 20% of the fitting words (or use ``validation``),
        fit the fine automaton on the rest, merge it down one size at a time
        (:mod:`fsm_extract.abstraction.merging`) and return the smallest automaton whose
        held-out prefix agreement with the net is within ``tolerance`` of the best size's
        (:meth:`~fsm_extract.extraction.front.ParetoFront.knee`), raised where the fine
        automaton passed its counterexample check to the smallest that passes it too
        (:meth:`~fsm_extract.extraction.front.ParetoFront.choice`). ``False`` returns the fine
        automaton itself, fitted on all the words.
    tolerance : float, optional
        How much held-out agreement the answer may give up to be smaller. Default: half of
        the best automaton's disagreement, at least 0.001
        (:func:`~fsm_extract.extraction.front.knee_tolerance`). Given, it is the rule: the knee
        is returned as it is (no counterexample check raises it).
    """

    features: FeatureKind = "both"
    depth: int = 2
    threshold: float = 0.999
    max_rounds: int = 5
    search: bool | int = 0
    probe_length: int = 3
    n_random: int = 2000
    max_check_steps: int = MAX_CHECK_STEPS
    max_probe_words: int = MAX_PROBE_WORDS
    max_added_steps: int = MAX_ADDED_STEPS
    max_feature_columns: int = MAX_FEATURE_COLUMNS
    merge: bool = True
    tolerance: float | None = None

    def __post_init__(self) -> None:
        check_choice("features", self.features, ("both", "hidden", "behaviour"))
        check_int("depth", self.depth, min=1, max=6)
        object.__setattr__(self, "threshold", check_float("threshold", self.threshold, min=0.5, max=1.0))
        check_int("max_rounds", self.max_rounds, min=0, max=1000)
        search = 200_000 if self.search is True else 0 if self.search is False else check_int(
            "search", self.search, min=0, max=MAX_BUDGET)
        object.__setattr__(self, "search", search)
        check_int("probe_length", self.probe_length, min=0, max=10)
        check_int("n_random", self.n_random, min=0)
        for name in ("max_check_steps", "max_probe_words", "max_added_steps", "max_feature_columns"):
            check_int(name, getattr(self, name), min=1)
        check_bool("merge", self.merge)
        if self.tolerance is not None:
            object.__setattr__(self, "tolerance", check_float("tolerance", self.tolerance, min=0.0, max=1.0))

    @classmethod
    def of(cls, refine: Any) -> "Refinement | None":
        """The options ``refine=`` stands for: None for False, defaults for True."""
        if isinstance(refine, Refinement):
            return refine
        if isinstance(refine, bool):
            return cls() if refine else None
        raise ArgumentTypeError(f"refine={refine!r} must be True, False or an fx.Refinement, got {type(refine).__name__}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def probe_words(fsm: ExtractedFSM, *, probe_length: int, max_words: int, rng: np.random.Generator) -> list[list[int]]:
    """Every state's access word followed by every word up to ``probe_length`` (symbol ids),
    at most ``max_words`` of them.

    When the full set (states x (1 + k + ... + k**probe_length) words) is larger, it keeps every
    suffix of the lengths whose full set fits and fills the rest with a seeded sample of access
    words followed by random suffixes of length ``probe_length`` (each also checks its shorter
    prefixes, since the check compares every step). With a 50-symbol alphabet the full set of
    a 5-state automaton is 637,755 words; the default cap runs 20,000.
    """
    k = fsm.n_symbols
    acc = access_words(fsm)
    full = -1  # the longest suffix length whose full set fits
    for d in range(probe_length + 1):
        if len(acc) * sum(k**j for j in range(d + 1)) > max_words:
            break
        full = d
    suffixes = [list(w) for d in range(full + 1) for w in product(range(k), repeat=d)]
    out = [a + suf for a in acc for suf in suffixes if a or suf]
    if full < probe_length and max_words > len(out):
        n_more = max_words - len(out)
        which = rng.integers(0, len(acc), size=n_more)
        tails = rng.integers(0, k, size=(n_more, probe_length))
        out.extend(acc[int(i)] + t.tolist() for i, t in zip(which, tails))
    return out


def check_words(fsm: ExtractedFSM, *, probe_length: int, n_random: int, min_len: int, max_len: int,
                rng: np.random.Generator, max_steps: int = MAX_CHECK_STEPS,
                max_probe_words: int = MAX_PROBE_WORDS) -> list[list[int]]:
    """The words a counterexample check runs (symbol ids): the probe words
    (:func:`probe_words`, at most ``max_probe_words``), then ``n_random`` random words of
    lengths ``min_len..max_len``, fewer (the first drawn kept, at least one) where their steps
    would take the check past ``max_steps`` net steps."""
    out = probe_words(fsm, probe_length=probe_length, max_words=max_probe_words, rng=rng)
    lengths = rng.integers(min_len, max_len + 1, size=n_random)
    room = max_steps - sum(map(len, out))
    m = int(np.searchsorted(np.cumsum(lengths), room, side="right"))
    m = max(m, min(1, n_random))
    k = fsm.n_symbols
    out.extend(rng.integers(0, k, size=int(n)).tolist() for n in lengths[:m])
    return out


def _kept_counterexamples(found: list[list[int]], max_steps: int) -> list[list[int]]:
    """The disagreeing prefixes that join the fitting data: all of them when their steps fit in
    ``max_steps``, else the shortest that fit (at least one), in the order found."""
    if sum(map(len, found)) <= max_steps:
        return found
    order = sorted(range(len(found)), key=lambda i: len(found[i]))
    keep, total = set(), 0
    for i in order:
        if keep and total + len(found[i]) > max_steps:
            break
        keep.add(i)
        total += len(found[i])
    return [w for i, w in enumerate(found) if i in keep]


def _disagreements(net: Net, fsm: ExtractedFSM, words: list[list[int]]) -> tuple[list[list[int]], int]:
    """Shortest disagreeing prefix of each word where the FSM and the net part (and steps run)."""
    symbols, offsets = encode_ids(words)
    probs, h0 = net.outputs(symbols, offsets)  # no states kept
    fsm_out = fsm.state_outputs[run_transitions(fsm.transitions, symbols, offsets, fsm.initial)]
    bad = fsm_out != net.classes_of(probs)
    found = [[]] if int(fsm.state_outputs[fsm.initial]) != int(net.classes_of(h0[None, :])[0]) else []  # the empty word
    return found + first_disagreeing_prefixes(words, bad, offsets), int(symbols.size)


def passes_check(net: Net, fsm: ExtractedFSM, options: Refinement, *, max_fit_length: int, seed: int) -> bool:
    """Whether ``fsm`` passes the counterexample check a refinement round runs (probe words,
    random words of 1x-2x ``max_fit_length``, and with ``options.search`` a search): no
    disagreement found."""
    lengths = [max_fit_length + 1, max(2 * max_fit_length, max_fit_length + 10)]
    rng = np.random.default_rng(seed)
    check = check_words(fsm, probe_length=options.probe_length, n_random=options.n_random, min_len=lengths[0],
                        max_len=lengths[1], rng=rng, max_steps=options.max_check_steps,
                        max_probe_words=options.max_probe_words)
    if _disagreements(net, fsm, check)[0]:
        return False
    return not (options.search and _searched(net, fsm, budget=options.search, seed=seed, max_len=lengths[1])[0])


def _searched(net: Net, fsm: ExtractedFSM, *, budget: int, seed: int, max_len: int) -> tuple[list[list[int]], int]:
    """The verified disagreements :func:`~fsm_extract.analysis.search.search_disagreements` finds (symbol
    ids) and the net steps it spent."""
    result = search_disagreements(net, fsm, budget=budget, seed=seed, max_len=max_len)
    return [encode_word(d.word, fsm.alphabet).tolist() for d in result.disagreements], result.steps_spent


@dataclass(frozen=True)
class _Setup:
    """What stays fixed over the rounds of one refined extraction."""

    net: Net
    options: Refinement
    n_states: int
    seed: int
    method: Method
    max_states: int
    max_fit_points: int
    minimize: bool
    batch_size: int
    progress: bool


@dataclass(frozen=True)
class _Round:
    """One fit: the trace, the feature map, the refined centres, the automaton and the splits."""

    trace: Trace
    fmap: FeatureMap
    centroids: np.ndarray
    fsm: ExtractedFSM
    splits: list
    status: dict


def _behaviour(net: Net, fmap: FeatureMap, hidden: np.ndarray, cache: dict) -> np.ndarray | None:
    """The continuation outputs of every step, reusing the rows of the last round: each round's
    words are the last round's plus the counterexamples added, so its first steps are the same
    states (most of the cost of a round otherwise)."""
    if fmap.features not in ("behaviour", "both"):
        return None
    key = (fmap.depth, fmap.symbols, fmap.state)
    old = cache.get("behaviour") if cache.get("key") == key else None
    if old is None or old.shape[0] > hidden.shape[0]:
        old = np.zeros((0, fmap.steps_per_state(len(net.alphabet)) * output_width(net)), np.float32)
    new = fmap.continuation_outputs(net, hidden[old.shape[0]:]) if hidden.shape[0] > old.shape[0] else old[:0]
    cache.update(key=key, behaviour=np.concatenate([old, new]))
    return cache["behaviour"]


def _fit(setup: _Setup, symbols: np.ndarray, offsets: np.ndarray, centroids: np.ndarray | None, iteration0: int,
         cache: dict) -> _Round:
    """Trace, features, (starting clusters,) splitting and the automaton of one round."""
    net, opt = setup.net, setup.options
    trace = net.trace(symbols, offsets, state=net.full_state, batch_size=setup.batch_size, progress=setup.progress)
    fmap = FeatureMap.fit(trace, features=opt.features, depth=opt.depth, max_columns=opt.max_feature_columns,
                          seed=setup.seed)
    points = fmap.transform(net, trace.hidden, behaviour=_behaviour(net, fmap, trace.hidden, cache))
    point0 = fmap.transform(net, trace.h0[None, :])[0]
    initial_clusters = None
    if centroids is None:
        feat_trace = dataclasses.replace(trace, hidden=points, h0=point0)
        # one k-means start is enough: refinement repairs what the starting partition mixes
        extra = {"n_init": 1} if setup.method == "kmeans" else {}
        centroids = make_abstraction(setup.method, n_states=setup.n_states, seed=setup.seed,
                                     max_fit_points=setup.max_fit_points, **extra).fit(feat_trace).centroids_
        initial_clusters = int(centroids.shape[0])
    centroids, splits, status = refine_partition(points, point0, centroids, trace, threshold=opt.threshold,
                                                 max_states=setup.max_states, iteration0=iteration0)
    status["initial_clusters"] = initial_clusters
    init = int(nearest_centroid(point0[None, :], centroids)[0])
    abstraction = FeatureAbstraction(net, fmap, centroids, init)
    fsm = build_fsm(net, trace, abstraction, labels=nearest_centroid(points, centroids), points=points, point0=point0,
                    minimize=setup.minimize)
    return _Round(trace=trace, fmap=fmap, centroids=centroids, fsm=fsm, splits=splits, status=status)


def extract_refined(
    net: Net,
    words: Any,
    *,
    n_states: int = 16,
    seed: int = 0,
    method: Method = "kmeans",
    refinement: Refinement | None = None,
    max_states: int = 64,
    max_fit_points: int = 100_000,
    minimize: bool = True,
    batch_size: int = 512,
    progress: bool = False,
    metadata: dict | None = None,
    search_finds: list | None = None,
) -> ExtractedFSM:
    """Extract with refinement and counterexamples; see the module docstring and
    :class:`Refinement` (default: ``Refinement()``). ``search_finds``: a list that receives every
    disagreement the search found (symbol ids), for the front to keep (see
    :meth:`~fsm_extract.extraction.front.ParetoFront.knee`).

    Memory and time are bounded whatever the words: every trace runs in chunks
    (:mod:`fsm_extract.nets.forward`); a counterexample check runs at most ``max_check_steps`` net
    steps (default :data:`MAX_CHECK_STEPS`, 10^6) of which at most ``max_probe_words`` probe
    words (default :data:`MAX_PROBE_WORDS`, 20,000; a seeded sample beyond); at most
    ``max_added_steps`` steps of disagreeing prefixes (default :data:`MAX_ADDED_STEPS`, 10^5,
    shortest first) join the fitting data per round. The limits used are recorded in
    ``metadata["refine"]["check"]``. Behavioural features use at most ``max_feature_columns``
    continuations per state (default :data:`~fsm_extract.abstraction.features.MAX_FEATURE_COLUMNS`, 256;
    ``fsm.abstraction.features`` says when ``depth`` was reduced or symbols sampled).

    ``metadata["refine"]`` records every split (which cluster, why, on which symbol, how much
    impure mass), the state of the last partition, and each counterexample round (words
    checked, net steps, disagreements found and added; with ``search > 0``, the search's net
    steps and finds).
    """
    opt = Refinement() if refinement is None else refinement
    setup = _Setup(net=net, options=opt, n_states=n_states, seed=seed, method=method, max_states=max_states,
                   max_fit_points=max_fit_points, minimize=minimize, batch_size=batch_size, progress=progress)
    t0 = time.perf_counter()
    symbols, offsets = encode_words(words, net.alphabet)
    fit_words = [symbols[offsets[i] : offsets[i + 1]].tolist() for i in range(offsets.size - 1)]
    max_fit_len = int(np.diff(offsets).max()) if offsets.size > 1 else 0
    lengths = [max_fit_len + 1, max(2 * max_fit_len, max_fit_len + 10)]
    rng = np.random.default_rng(seed)
    centroids, splits, rounds, initial_clusters = None, [], [], n_states
    searched = [] if search_finds is None else search_finds
    cache: dict = {}  # continuation outputs of the steps fitted so far
    for round_ in range(opt.max_rounds + 1):
        fit = _fit(setup, symbols, offsets, centroids, len(splits), cache)
        centroids, fsm = fit.centroids, fit.fsm
        splits.extend(fit.splits)
        if fit.status["initial_clusters"] is not None:
            initial_clusters = fit.status["initial_clusters"]
        check = check_words(fsm, probe_length=opt.probe_length, n_random=opt.n_random, min_len=lengths[0],
                            max_len=lengths[1], rng=rng, max_steps=opt.max_check_steps,
                            max_probe_words=opt.max_probe_words)
        found, steps = _disagreements(net, fsm, check)
        record = {"round": round_ + 1, "checked_words": len(check), "net_steps": steps}
        if opt.search and not found:
            found, record["search_steps"] = _searched(net, fsm, budget=opt.search, seed=(seed + round_) % 2**32,
                                                      max_len=lengths[1])
            searched.extend(found)
        record.update(disagreements=len(found),
                      shortest=[str(decode_word(w, net.alphabet)) for w in sorted(found, key=len)[:3]])
        rounds.append(record)
        if not found or round_ == opt.max_rounds:
            break  # every automaton built is checked, so the record describes the one returned
        fit_words.extend(_kept_counterexamples(found, opt.max_added_steps))
        symbols, offsets = encode_ids(fit_words)
    status = fit.status
    meta = {
        **(metadata or {}),
        "method": f"{method}+refine", "n_clusters": int(centroids.shape[0]), "initial_clusters": initial_clusters,
        "state": net.full_state, "features": fit.fmap.to_dict(),
        "refine": {"threshold": opt.threshold, "max_states": max_states, "splits": [s.to_dict() for s in splits],
                   "deterministic": status["deterministic"], "stopped": status["stopped"],
                   "remaining": status["remaining"], "counterexample_rounds": rounds,
                   "check_passed": bool(rounds) and rounds[-1]["disagreements"] == 0,
                   "check": {"probe_length": opt.probe_length, "random_words": opt.n_random, "search": opt.search,
                             "max_steps": opt.max_check_steps, "max_probe_words": opt.max_probe_words,
                             "max_added_steps": opt.max_added_steps, "random_lengths": lengths}},
        "n_fit_words": fit.trace.n_words, "n_fit_steps": fit.trace.n_steps, "max_fit_length": max_fit_len,
        "timing": {"seconds": round(time.perf_counter() - t0, 3)},
    }
    if initial_clusters < n_states:
        meta["fewer_clusters"] = fewer_clusters_record(n_states, initial_clusters)["fewer_clusters"]
    return fsm.with_metadata(**meta)
