"""Refined extraction: behavioural features, splitting, and a counterexample loop.

``fx.extract(..., refine=True)`` (the default) runs :func:`extract_refined`:

1. trace the net's full recurrent state on the fitting words;
2. map every state to features (:mod:`fsm_extract.behaviour`) and cluster them with k-means;
3. split clusters until the net's transitions between them are deterministic
   (:func:`fsm_extract.refine.refine_partition`);
4. build and minimise the automaton;
5. check it against the net on words it was not fitted on: random words longer than any
   fitting word, and every state's shortest access word followed by every word up to
   ``probe_length``. Disagreeing prefixes join the fitting data and steps 1-4 run again, until
   a check of the stated size finds nothing or ``max_rounds`` is reached. With ``search``,
   a round whose check finds nothing also runs :func:`fsm_extract.search.search_disagreements`
   (that many net steps), and what it finds is a counterexample like any other. The automaton
   returned has always been checked: ``metadata["refine"]["check_passed"]`` says whether its
   check (and search) found nothing.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from itertools import product
from typing import Any

import numpy as np

from .abstraction import make_abstraction
from .automaton import ExtractedFSM
from .behaviour import FeatureKind, FeatureMap
from .completion import complete_transitions
from .counting import count_outputs, count_transitions, run_transitions
from .refine import nearest_centroid, refine_partition
from .trace import collect_trace_encoded
from .words import decode_word, encode_ids, encode_word, encode_words

__all__ = ["extract_refined", "access_words", "check_words"]


class _NearestCentre:
    """The refined abstraction: features of a full state, then the nearest centre."""

    def __init__(self, model: Any, fmap: FeatureMap, centroids: np.ndarray, initial_label: int) -> None:
        self.model, self.fmap, self.centroids_, self.initial_label_ = model, fmap, centroids, initial_label

    def predict(self, hidden: np.ndarray) -> np.ndarray:
        return nearest_centroid(self.fmap.transform(self.model, hidden), self.centroids_)


def access_words(fsm: ExtractedFSM) -> list[list[int]]:
    """For each state, a shortest word (symbol ids, first in symbol order) that reaches it."""
    words: dict[int, list[int]] = {fsm.initial: []}
    queue = deque([fsm.initial])
    while queue:
        q = queue.popleft()
        for a in range(fsm.n_symbols):
            r = int(fsm.transitions[q, a])
            if r not in words:
                words[r] = words[q] + [a]
                queue.append(r)
    return [words[q] for q in sorted(words)]


def check_words(fsm: ExtractedFSM, *, probe_length: int, n_random: int, min_len: int, max_len: int,
                rng: np.random.Generator) -> list[list[int]]:
    """The words a counterexample check runs (symbol ids)."""
    k = fsm.n_symbols
    suffixes = [list(w) for d in range(probe_length + 1) for w in product(range(k), repeat=d)]
    out = [acc + suf for acc in access_words(fsm) for suf in suffixes if acc or suf]
    lengths = rng.integers(min_len, max_len + 1, size=n_random)
    out.extend(rng.integers(0, k, size=int(n)).tolist() for n in lengths)
    return out


def first_disagreeing_prefixes(words: list[list[int]], bad: np.ndarray, offsets: np.ndarray) -> list[list[int]]:
    """For each word with a disagreeing step (``bad``, per step), its prefix up to the first one."""
    found = []
    for i, w in enumerate(words):
        hit = np.flatnonzero(bad[offsets[i] : offsets[i + 1]])
        if hit.size:
            found.append(w[: int(hit[0]) + 1])
    return found


def _disagreements(model: Any, fsm: ExtractedFSM, words: list[list[int]]) -> tuple[list[list[int]], int]:
    """Shortest disagreeing prefix of each word where the FSM and the net part (and steps run)."""
    symbols, offsets = encode_ids(words)
    trace = collect_trace_encoded(model, symbols, offsets, state="h")
    fsm_out = fsm.accepting[run_transitions(fsm.transitions, symbols, offsets, fsm.initial)]
    bad = fsm_out != (trace.outputs > 0.5)
    found = [[]] if bool(fsm.accepting[fsm.initial]) != (trace.h0_output > 0.5) else []  # the empty word
    return found + first_disagreeing_prefixes(words, bad, offsets), int(symbols.size)


def _searched(model: Any, fsm: ExtractedFSM, *, budget: int, seed: int, max_len: int) -> tuple[list[list[int]], int]:
    """The verified disagreements :func:`~fsm_extract.search.search_disagreements` finds (symbol
    ids) and the net steps it spent."""
    from .search import search_disagreements

    result = search_disagreements(model, fsm, budget=budget, seed=seed, max_len=max_len)
    return [encode_word(d.word, fsm.alphabet).tolist() for d in result.disagreements], result.steps_spent


def _fit(model: Any, symbols: np.ndarray, offsets: np.ndarray, alphabet: tuple, *, state: str, fmap_args: dict, method: str,
         batch_size: int, progress: bool,
         n_states: int, seed: int, max_fit_points: int, centroids: np.ndarray | None, threshold: float,
         max_states: int, iteration0: int) -> tuple:
    trace = collect_trace_encoded(model, symbols, offsets, state=state, batch_size=batch_size, progress=progress)
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
    out_cls = (trace.outputs > 0.5).astype(np.int32)
    out0 = int(trace.h0_output > 0.5)
    centroids, splits, status = refine_partition(points, point0, centroids, trace.symbols, trace.offsets, out_cls, out0,
                                                 alphabet, threshold=threshold, max_states=max_states, iteration0=iteration0)
    status["initial_clusters"] = initial_clusters
    labels = nearest_centroid(points, centroids)
    init = int(nearest_centroid(point0[None, :], centroids)[0])
    n, k = centroids.shape[0], len(alphabet)
    counts = count_transitions(labels, trace.symbols, trace.offsets, init, n, k)
    outs = count_outputs(labels, out_cls, init, trace.offsets, n, 2, initial_output=out0)
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
) -> ExtractedFSM:
    """Extract with refinement and counterexamples; see the module docstring.

    ``metadata["refine"]`` records every split (which cluster, why, on which symbol, how much
    impure mass), the state of the last partition, and each counterexample round (words
    checked, net steps, disagreements found and added; with ``search > 0``, the search's net
    steps and finds).
    """
    from .pipeline import _state_centroids, fewer_clusters_record

    t0 = time.perf_counter()
    alphabet = model.alphabet
    state = "hc" if model.cell == "lstm" else "h"
    symbols, offsets = encode_words(words, alphabet)
    fit_words = [symbols[offsets[i] : offsets[i + 1]].tolist() for i in range(offsets.size - 1)]
    max_fit_len = int(np.diff(offsets).max()) if offsets.size > 1 else 0
    fmap_args = {"features": features, "depth": depth}
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
        fsm = _state_centroids(fsm, trace, labels)
        check = check_words(fsm, probe_length=probe_length, n_random=n_random, min_len=max_fit_len + 1,
                            max_len=max(2 * max_fit_len, max_fit_len + 10), rng=rng)
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
        fit_words.extend(found)
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
                             "random_lengths": [max_fit_len + 1, max(2 * max_fit_len, max_fit_len + 10)]}},
        "n_fit_words": trace.n_words, "n_fit_steps": trace.n_steps, "max_fit_length": max_fit_len,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if initial_clusters < n_states:
        meta["fewer_clusters"] = fewer_clusters_record(n_states, initial_clusters)["fewer_clusters"]
    return fsm.with_metadata(**meta)
