"""The one build step: a trace and a fitted abstraction -> counts -> completed transitions ->
:class:`~fsm_extract.automata.automaton.ExtractedFSM` (minimised), used by every extraction path."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..automata.automaton import ExtractedFSM
from ..automata.counting import count_outputs, count_transitions, run_transitions
from ..automata.sums import sum_rows
from ..automata.state_map import StateAbstraction
from ..nets.trace import Trace
from ..words import encode_words
from .completion import complete_transitions

__all__ = ["build_fsm", "ClusterTotals", "row_sums", "state_centroids", "cluster_means", "cluster_probs", "own_run_probs",
           "fewer_clusters_record"]


def fewer_clusters_record(requested: int, used: int) -> dict[str, Any]:
    """Metadata for an abstraction that used fewer clusters than requested (none otherwise):
    ``n_clusters`` is what was used, ``fewer_clusters`` says why."""
    if used >= requested:
        return {}
    return {"n_clusters": used, "fewer_clusters": {"requested": requested, "used": used,
                                                   "reason": "fewer distinct hidden states than requested clusters"}}


@dataclass(frozen=True, eq=False)
class ClusterTotals:
    """What one pass over words under a fitted abstraction counts, per cluster: sums that add up
    chunk by chunk (:meth:`__add__`), so a corpus too large for memory is counted in pieces, on
    one machine or many, and gives the totals of one pass over all of it.

    Attributes
    ----------
    transitions : ndarray of shape (k, n_symbols, k), int64
    outputs : ndarray of shape (k, n_outputs), int64
        Output classes per cluster, the empty prefix once per word in the initial cluster.
    sizes : ndarray of shape (k,), int64
        Steps in each cluster.
    hidden_sums : ndarray of shape (k, dim), float64
        Sum of the states of each cluster's steps.
    prob_sums : ndarray of shape (k, n_classes), float64
        Sum of the net's class probabilities at each cluster's steps.
    n_words, n_steps, net_steps : int
        Words and steps counted; net steps spent (padding included).
    """

    transitions: np.ndarray
    outputs: np.ndarray
    sizes: np.ndarray
    hidden_sums: np.ndarray
    prob_sums: np.ndarray
    n_words: int
    n_steps: int
    net_steps: int = 0

    @classmethod
    def of_trace(cls, trace: Trace, labels: np.ndarray, initial: int, k: int, *, net_steps: int = 0) -> "ClusterTotals":
        """The totals of ``trace`` whose steps are in clusters ``labels``."""
        labels = np.asarray(labels)
        transitions = count_transitions(labels, trace.symbols, trace.offsets, initial, k, len(trace.alphabet))
        outputs = count_outputs(labels, trace.classes, initial, trace.offsets, k, trace.n_outputs,
                                initial_output=trace.h0_class)
        return cls(transitions=transitions, outputs=outputs, sizes=np.bincount(labels, minlength=k).astype(np.int64),
                   hidden_sums=row_sums(labels, trace.hidden, k), prob_sums=row_sums(labels, trace.probs, k),
                   n_words=trace.n_words, n_steps=trace.n_steps, net_steps=net_steps)

    def __add__(self, other: "ClusterTotals") -> "ClusterTotals":
        return ClusterTotals(**{f.name: getattr(self, f.name) + getattr(other, f.name)
                                for f in dataclasses.fields(self)})


def row_sums(labels: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    """Sum of the rows of ``x`` (n, d) in each of ``k`` groups ``labels`` (n,), float64 (k, d):
    bit for bit ``np.add.at``, tens of times faster (:func:`~fsm_extract.automata.sums.sum_rows`)."""
    return sum_rows(labels, x, k)


def build_fsm(net: Any, trace: Trace, abstraction: Any, *, labels: np.ndarray | None = None,
              points: np.ndarray | None = None, point0: np.ndarray | None = None, minimize: bool = True,
              metadata: dict | None = None, totals: ClusterTotals | None = None) -> ExtractedFSM:
    """The automaton of ``trace`` under a fitted ``abstraction``: the one build step of every
    extraction path (plain, auto, sweep, refined and streamed).

    Counts the net's transitions and output classes per abstract state, completes unobserved
    pairs from the net, builds the :class:`ExtractedFSM` (with its typed abstraction:
    ``trace.state`` and the abstraction's behavioural features, if any), minimises (by default)
    and sets each state's centroid to the mean hidden state of its steps.

    Parameters
    ----------
    net : Net
    trace : Trace
    abstraction : fitted abstraction
        ``predict`` (hidden states -> cluster), ``centroids_`` (cluster centres, in the space it
        clusters), ``initial_label_``; optionally ``n_states`` (the clusters asked for) and
        ``features`` (a :class:`~fsm_extract.automata.state_map.FeatureSpec`).
    labels : ndarray of shape (n_steps,), optional
        The cluster of each step, when already known (default: ``abstraction.predict``).
    points, point0 : ndarray, optional
        What the abstraction clusters, when that is not the hidden state (behavioural features).
    totals : ClusterTotals, optional
        Counts and sums of a pass over more words than ``trace`` (a streamed corpus): the
        automaton is built from them, and ``trace`` (a sample of the corpus) only serves to
        complete the pairs they never took.
    """
    if labels is None:
        labels = abstraction.predict(trace.hidden)
    centres = np.asarray(abstraction.centroids_, dtype=np.float64)
    k, init = centres.shape[0], int(abstraction.initial_label_)
    if totals is None:
        totals = ClusterTotals.of_trace(trace, labels, init, k)
    completion, how = complete_transitions(net, abstraction, trace, labels, totals.transitions.sum(-1), points=points,
                                           point0=point0)
    meta = {"completion": how, **(metadata or {}), **fewer_clusters_record(getattr(abstraction, "n_states", k), k)}
    features = getattr(abstraction, "features", None)
    fsm = ExtractedFSM.from_counts(
        totals.transitions, totals.outputs, initial=init, alphabet=trace.alphabet, completion=completion,
        centroids=cluster_means(totals, trace.h0), cluster_map=np.arange(k), metadata=meta, cluster_centroids=centres,
        abstraction=StateAbstraction(state=trace.state, features=None if features is None else features.spec()),
        output_kind=trace.output_kind, codebook=trace.codebook,
        output_probs=None if trace.output_kind == "accept" else cluster_probs(totals, trace.h0_probs, init),
    )
    if minimize:
        fsm = fsm.minimize()
    return state_centroids(fsm, totals)


def own_run_probs(net: Any, fsm: ExtractedFSM, words: Any) -> ExtractedFSM:
    """``fsm`` with each state's output distribution re-estimated along the automaton's own run:
    the mean of the net's output probabilities at the prefixes of ``words`` that the automaton
    puts in that state (the empty prefix once per word in the initial state), what fidelity
    compares. States the run never reaches keep theirs. An acceptor is returned as it is."""
    if fsm.output_kind == "accept" or fsm.output_probs is None:
        return fsm
    symbols, offsets = encode_words(words, fsm.alphabet)
    probs, h0 = net.outputs(symbols, offsets)
    states = run_transitions(fsm.transitions, symbols, offsets, fsm.initial)
    n = fsm.n_states
    sums = row_sums(states, probs, n)
    counts = np.bincount(states, minlength=n).astype(np.float64)
    n_words = offsets.size - 1
    sums[fsm.initial] += n_words * h0.astype(np.float64)
    counts[fsm.initial] += n_words
    out = np.array(fsm.output_probs, dtype=np.float64)
    seen = counts > 0
    out[seen] = sums[seen] / counts[seen, None]
    return dataclasses.replace(fsm, output_probs=out / out.sum(1, keepdims=True))


def cluster_probs(totals: ClusterTotals, h0_probs: np.ndarray, initial: int) -> np.ndarray:
    """The mean output probabilities of each cluster, ndarray of shape (k, n_classes): over its
    steps, and the empty prefix once per word for the ``initial`` cluster (as the output
    counts); ``h0_probs`` for a cluster without any."""
    sums = totals.prob_sums.copy()
    sums[initial] += totals.n_words * h0_probs.astype(np.float64)
    sizes = totals.sizes.astype(np.float64)
    sizes[initial] += totals.n_words
    out = np.repeat(h0_probs[None, :].astype(np.float64), sums.shape[0], axis=0)
    out[sizes > 0] = sums[sizes > 0] / sizes[sizes > 0, None]
    return out / out.sum(1, keepdims=True)


def cluster_means(totals: ClusterTotals, h0: np.ndarray) -> np.ndarray:
    """The mean hidden state of each cluster's steps, ndarray of shape (k, dim); ``h0`` for a
    cluster without steps (it holds only the initial state, or nothing)."""
    sizes = totals.sizes
    means = np.repeat(h0[None, :].astype(np.float64), sizes.size, axis=0)
    means[sizes > 0] = totals.hidden_sums[sizes > 0] / sizes[sizes > 0, None]
    return means


def state_centroids(fsm: ExtractedFSM, totals: ClusterTotals) -> ExtractedFSM:
    """Set each FSM state's centroid to the mean hidden state of the steps in it.

    After merging, a state's centroid is then the mean of what the net actually visited there,
    the ``c(q)`` the fidelity checker's variance explained uses. A state with no step (only
    ``h0``) keeps its merged cluster centroid."""
    n = fsm.n_states
    keep = fsm.cluster_map >= 0
    sums = np.zeros((n, totals.hidden_sums.shape[1]))
    counts = np.zeros(n, dtype=np.int64)
    for c in np.flatnonzero(keep):
        sums[fsm.cluster_map[c]] += totals.hidden_sums[c]
        counts[fsm.cluster_map[c]] += totals.sizes[c]
    centroids = np.array(fsm.centroids, dtype=np.float64)
    visited = counts > 0
    centroids[visited] = sums[visited] / counts[visited, None]
    return dataclasses.replace(fsm, centroids=centroids)
