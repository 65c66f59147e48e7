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
from itertools import product
from typing import Any

import numpy as np

from ..abstraction.clustering import make_abstraction
from ..automata.automaton import ExtractedFSM
from ..abstraction.features import MAX_FEATURE_COLUMNS, FeatureKind, FeatureMap
from ..abstraction.completion import complete_transitions
from ..automata.counting import count_outputs, count_transitions, run_transitions
from ..abstraction.splitting import refine_partition
from ..analysis.search import first_disagreeing_prefixes
from ..automata.automaton import access_words
from ..automata.nearest import nearest_centroid
from ..nets.trace import output_classes
from ..words import decode_word, encode_ids, encode_word, encode_words
from ..analysis.search import search_disagreements
from ..abstraction.build import fewer_clusters_record, state_centroids

__all__ = ["extract_refined", "check_words", "probe_words", "MAX_CHECK_STEPS", "MAX_PROBE_WORDS",
           "MAX_ADDED_STEPS"]

#: Net steps one counterexample check runs at most (probe and random words): random words
#: beyond it are dropped, so a fitting word of length 10^4 (random words of 10^4-2*10^4) is
#: checked with a few dozen random words, not 2,000.
MAX_CHECK_STEPS = 1_000_000
#: Probe words (access word + suffix) one check runs at most; see :func:`probe_words`.
MAX_PROBE_WORDS = 20_000
#: Steps of disagreeing prefixes that join the fitting data in one round (shortest first).
MAX_ADDED_STEPS = 100_000


class _NearestCentre:
    """The refined abstraction: features of a full state, then the nearest centre."""

    def __init__(self, model: Any, fmap: FeatureMap, centroids: np.ndarray, initial_label: int) -> None:
        self.model, self.fmap, self.centroids_, self.initial_label_ = model, fmap, centroids, initial_label

    def predict(self, hidden: np.ndarray) -> np.ndarray:
        return nearest_centroid(self.fmap.transform(self.model, hidden), self.centroids_)


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


def _disagreements(model: Any, fsm: ExtractedFSM, words: list[list[int]]) -> tuple[list[list[int]], int]:
    """Shortest disagreeing prefix of each word where the FSM and the net part (and steps run)."""
    symbols, offsets = encode_ids(words)
    probs, h0 = model.outputs(symbols, offsets)  # no states kept
    fsm_out = fsm.state_outputs[run_transitions(fsm.transitions, symbols, offsets, fsm.initial)]
    bad = fsm_out != output_classes(probs)
    found = [[]] if int(fsm.state_outputs[fsm.initial]) != int(output_classes(h0[None, :])[0]) else []  # the empty word
    return found + first_disagreeing_prefixes(words, bad, offsets), int(symbols.size)


def _searched(model: Any, fsm: ExtractedFSM, *, budget: int, seed: int, max_len: int) -> tuple[list[list[int]], int]:
    """The verified disagreements :func:`~fsm_extract.analysis.search.search_disagreements` finds (symbol
    ids) and the net steps it spent."""

    result = search_disagreements(model, fsm, budget=budget, seed=seed, max_len=max_len)
    return [encode_word(d.word, fsm.alphabet).tolist() for d in result.disagreements], result.steps_spent


def _fit(model: Any, symbols: np.ndarray, offsets: np.ndarray, alphabet: tuple, *, state: str, fmap_args: dict, method: str,
         batch_size: int, progress: bool,
         n_states: int, seed: int, max_fit_points: int, centroids: np.ndarray | None, threshold: float,
         max_states: int, iteration0: int) -> tuple:
    trace = model.trace(symbols, offsets, state=state, batch_size=batch_size, progress=progress)
    fmap = FeatureMap.fit(trace, **fmap_args)
    points = fmap.transform(model, trace.hidden)
    point0 = fmap.transform(model, trace.h0[None, :])[0]
    if centroids is None:
        feat_trace = dataclasses.replace(trace, hidden=points, h0=point0)
        # one k-means start is enough: refinement repairs what the starting partition mixes
        extra = {"n_init": 1} if method == "kmeans" else {}
        centroids = make_abstraction(method, n_states=n_states, seed=seed, max_fit_points=max_fit_points,
                                     **extra).fit(feat_trace).centroids_
        initial_clusters = int(centroids.shape[0])
    else:
        initial_clusters = None
    out_cls, out0 = trace.classes, trace.h0_class
    centroids, splits, status = refine_partition(points, point0, centroids, trace.symbols, trace.offsets, out_cls, out0,
                                                 alphabet, threshold=threshold, max_states=max_states, iteration0=iteration0,
                                                 n_classes=trace.n_classes)
    status["initial_clusters"] = initial_clusters
    labels = nearest_centroid(points, centroids)
    init = int(nearest_centroid(point0[None, :], centroids)[0])
    n, k = centroids.shape[0], len(alphabet)
    counts = count_transitions(labels, trace.symbols, trace.offsets, init, n, k)
    outs = count_outputs(labels, out_cls, init, trace.offsets, n, trace.n_classes, initial_output=out0)
    abstraction = _NearestCentre(model, fmap, centroids, init)
    completion, how = complete_transitions(model, abstraction, trace, labels, counts.sum(-1), points=points, point0=point0)
    return trace, fmap, centroids, labels, init, counts, outs, completion, how, splits, status


def extract_refined(
    model: Any,
    words: Any,
    *,
    n_states: int = 16,
    seed: int = 0,
    method: str = "kmeans",
    features: FeatureKind = "both",
    depth: int = 2,
    threshold: float = 0.999,
    max_states: int = 64,
    max_rounds: int = 5,
    probe_length: int = 3,
    n_random: int = 2000,
    max_fit_points: int = 100_000,
    minimize: bool = True,
    batch_size: int = 512,
    progress: bool = False,
    metadata: dict | None = None,
    search: int = 0,
    max_check_steps: int = MAX_CHECK_STEPS,
    max_probe_words: int = MAX_PROBE_WORDS,
    max_added_steps: int = MAX_ADDED_STEPS,
    max_feature_columns: int = MAX_FEATURE_COLUMNS,
) -> ExtractedFSM:
    """Extract with refinement and counterexamples; see the module docstring.

    Memory and time are bounded whatever the words: every trace runs in chunks
    (:mod:`fsm_extract.nets.forward`); a counterexample check runs at most ``max_check_steps`` net
    steps (default :data:`MAX_CHECK_STEPS`, 10^6) of which at most ``max_probe_words`` probe
    words (default :data:`MAX_PROBE_WORDS`, 20,000; a seeded sample beyond); at most
    ``max_added_steps`` steps of disagreeing prefixes (default :data:`MAX_ADDED_STEPS`, 10^5,
    shortest first) join the fitting data per round. The limits used are recorded in
    ``metadata["refine"]["check"]``. Behavioural features use at most ``max_feature_columns``
    continuations per state (default :data:`~fsm_extract.abstraction.features.MAX_FEATURE_COLUMNS`, 256;
    ``metadata["features"]`` says when ``depth`` was reduced or symbols sampled).

    ``metadata["refine"]`` records every split (which cluster, why, on which symbol, how much
    impure mass), the state of the last partition, and each counterexample round (words
    checked, net steps, disagreements found and added; with ``search > 0``, the search's net
    steps and finds).
    """

    t0 = time.perf_counter()
    alphabet = model.alphabet
    state = model.full_state
    symbols, offsets = encode_words(words, alphabet)
    fit_words = [symbols[offsets[i] : offsets[i + 1]].tolist() for i in range(offsets.size - 1)]
    max_fit_len = int(np.diff(offsets).max()) if offsets.size > 1 else 0
    fmap_args = {"features": features, "depth": depth, "max_columns": max_feature_columns, "seed": seed}
    rng = np.random.default_rng(seed)
    centroids, splits, rounds, initial_clusters = None, [], [], n_states
    for round_ in range(max_rounds + 1):
        trace, fmap, centroids, labels, _initial, counts, outs, completion, how, new_splits, status = _fit(
            model, symbols, offsets, alphabet, state=state, fmap_args=fmap_args, method=method, batch_size=batch_size,
            progress=progress, n_states=n_states, seed=seed,
            max_fit_points=max_fit_points, centroids=centroids, threshold=threshold, max_states=max_states,
            iteration0=len(splits))
        splits.extend(new_splits)
        if status["initial_clusters"] is not None:
            initial_clusters = status["initial_clusters"]
        n = centroids.shape[0]
        hidden_means = np.repeat(trace.h0[None, :].astype(np.float64), n, axis=0)  # clusters holding only h0
        sizes = np.bincount(labels, minlength=n)
        sums = np.zeros((n, trace.dim))
        np.add.at(sums, labels, trace.hidden)
        hidden_means[sizes > 0] = sums[sizes > 0] / sizes[sizes > 0, None]
        fsm = ExtractedFSM.from_counts(counts, outs, initial=_initial, alphabet=alphabet, completion=completion,
                                       centroids=hidden_means, cluster_map=np.arange(n), cluster_centroids=centroids)
        if minimize:
            fsm = fsm.minimize()
        fsm = state_centroids(fsm, trace, labels)
        check = check_words(fsm, probe_length=probe_length, n_random=n_random, min_len=max_fit_len + 1,
                            max_len=max(2 * max_fit_len, max_fit_len + 10), rng=rng, max_steps=max_check_steps,
                            max_probe_words=max_probe_words)
        found, steps = _disagreements(model, fsm, check)
        record = {"round": round_ + 1, "checked_words": len(check), "net_steps": steps}
        if search and not found:
            found, record["search_steps"] = _searched(model, fsm.with_metadata(state=state, features=fmap.to_dict()),
                                                      budget=search, seed=(seed + round_) % 2**32,
                                                      max_len=max(2 * max_fit_len, max_fit_len + 10))
        record.update(disagreements=len(found), shortest=[str(decode_word(w, alphabet)) for w in sorted(found, key=len)[:3]])
        rounds.append(record)
        if not found or round_ == max_rounds:
            break  # every automaton built is checked, so the record describes the one returned
        fit_words.extend(_kept_counterexamples(found, max_added_steps))
        symbols, offsets = encode_ids(fit_words)
    meta = {
        **(metadata or {}),
        "method": f"{method}+refine", "n_clusters": int(centroids.shape[0]), "initial_clusters": initial_clusters,
        "state": state, "features": fmap.to_dict(), "completion": how,
        "refine": {"threshold": threshold, "max_states": max_states, "splits": [s.to_dict() for s in splits],
                   "deterministic": status["deterministic"], "stopped": status["stopped"],
                   "remaining": status["remaining"], "counterexample_rounds": rounds,
                   "check_passed": bool(rounds) and rounds[-1]["disagreements"] == 0,
                   "check": {"probe_length": probe_length, "random_words": n_random, "search": search,
                             "max_steps": max_check_steps, "max_probe_words": max_probe_words,
                             "max_added_steps": max_added_steps,
                             "random_lengths": [max_fit_len + 1, max(2 * max_fit_len, max_fit_len + 10)]}},
        "n_fit_words": trace.n_words, "n_fit_steps": trace.n_steps, "max_fit_length": max_fit_len,
        "timing": {"seconds": round(time.perf_counter() - t0, 3)},
    }
    if initial_clusters < n_states:
        meta["fewer_clusters"] = fewer_clusters_record(n_states, initial_clusters)["fewer_clusters"]
    return fsm.with_metadata(**meta)
