"""The one build step: a trace and a fitted abstraction -> counts -> completed transitions ->
:class:`~fsm_extract.automata.automaton.ExtractedFSM` (minimised), used by every extraction path."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..automata.automaton import ExtractedFSM
from ..automata.counting import count_outputs, count_transitions, run_transitions
from ..automata.state_map import StateAbstraction
from ..nets.trace import Trace
from ..words import encode_words
from .completion import complete_transitions

__all__ = ["build_fsm", "state_centroids", "cluster_means", "cluster_probs", "own_run_probs", "fewer_clusters_record"]


def fewer_clusters_record(requested: int, used: int) -> dict[str, Any]:
    """Metadata for an abstraction that used fewer clusters than requested (none otherwise):
    ``n_clusters`` is what was used, ``fewer_clusters`` says why."""
    if used >= requested:
        return {}
    return {"n_clusters": used, "fewer_clusters": {"requested": requested, "used": used,
                                                   "reason": "fewer distinct hidden states than requested clusters"}}


def build_fsm(net: Any, trace: Trace, abstraction: Any, *, labels: np.ndarray | None = None,
              points: np.ndarray | None = None, point0: np.ndarray | None = None, minimize: bool = True,
              metadata: dict | None = None) -> ExtractedFSM:
    """The automaton of ``trace`` under a fitted ``abstraction``: the one build step of every
    extraction path (plain, auto, sweep and refined).

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
    """
    if labels is None:
        labels = abstraction.predict(trace.hidden)
    centres = np.asarray(abstraction.centroids_, dtype=np.float64)
    k, n_sym, init = centres.shape[0], len(trace.alphabet), int(abstraction.initial_label_)
    counts = count_transitions(labels, trace.symbols, trace.offsets, init, k, n_sym)
    out_counts = count_outputs(labels, trace.classes, init, trace.offsets, k, trace.n_outputs,
                               initial_output=trace.h0_class)
    completion, how = complete_transitions(net, abstraction, trace, labels, counts.sum(-1), points=points, point0=point0)
    meta = {"completion": how, **(metadata or {}), **fewer_clusters_record(getattr(abstraction, "n_states", k), k)}
    features = getattr(abstraction, "features", None)
    fsm = ExtractedFSM.from_counts(
        counts, out_counts, initial=init, alphabet=trace.alphabet, completion=completion,
        centroids=cluster_means(trace, labels, k), cluster_map=np.arange(k), metadata=meta, cluster_centroids=centres,
        abstraction=StateAbstraction(state=trace.state, features=None if features is None else features.spec()),
        output_kind=trace.output_kind, codebook=trace.codebook,
        output_probs=None if trace.output_kind == "accept" else cluster_probs(trace, labels, init, k),
    )
    if minimize:
        fsm = fsm.minimize()
    return state_centroids(fsm, trace, labels)


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
    sums = np.zeros((n, probs.shape[1]))
    np.add.at(sums, states, probs.astype(np.float64))
    counts = np.bincount(states, minlength=n).astype(np.float64)
    n_words = offsets.size - 1
    sums[fsm.initial] += n_words * h0.astype(np.float64)
    counts[fsm.initial] += n_words
    out = np.array(fsm.output_probs, dtype=np.float64)
    seen = counts > 0
    out[seen] = sums[seen] / counts[seen, None]
    return dataclasses.replace(fsm, output_probs=out / out.sum(1, keepdims=True))


def cluster_probs(trace: Trace, labels: np.ndarray, initial: int, k: int) -> np.ndarray:
    """The mean output probabilities of each cluster, ndarray of shape (k, n_classes): over its
    steps, and the empty prefix once per word for the ``initial`` cluster (as the output
    counts); ``h0_probs`` for a cluster without any."""
    sums = np.zeros((k, trace.n_classes))
    np.add.at(sums, labels, trace.probs.astype(np.float64))
    sums[initial] += trace.n_words * trace.h0_probs.astype(np.float64)
    sizes = np.bincount(labels, minlength=k).astype(np.float64)
    sizes[initial] += trace.n_words
    out = np.repeat(trace.h0_probs[None, :].astype(np.float64), k, axis=0)
    out[sizes > 0] = sums[sizes > 0] / sizes[sizes > 0, None]
    return out / out.sum(1, keepdims=True)


def cluster_means(trace: Trace, labels: np.ndarray, k: int) -> np.ndarray:
    """The mean hidden state of each cluster's steps, ndarray of shape (k, dim); ``h0`` for a
    cluster without steps (it holds only the initial state, or nothing)."""
    means = np.repeat(trace.h0[None, :].astype(np.float64), k, axis=0)
    sizes = np.bincount(labels, minlength=k)
    sums = np.zeros((k, trace.dim))
    np.add.at(sums, labels, trace.hidden.astype(np.float64))
    means[sizes > 0] = sums[sizes > 0] / sizes[sizes > 0, None]
    return means


def state_centroids(fsm: ExtractedFSM, trace: Trace, labels: np.ndarray) -> ExtractedFSM:
    """Set each FSM state's centroid to the mean hidden state of the steps in it.

    After merging, a state's centroid is then the mean of what the net actually visited there,
    the ``c(q)`` the fidelity checker's variance explained uses. A state with no step (only
    ``h0``) keeps its merged cluster centroid."""
    states = fsm.cluster_map[labels]
    keep = states >= 0
    n, d = fsm.n_states, trace.dim
    sums = np.zeros((n, d))
    np.add.at(sums, states[keep], trace.hidden[keep].astype(np.float64))
    counts = np.bincount(states[keep], minlength=n)
    centroids = np.array(fsm.centroids, dtype=np.float64)
    visited = counts > 0
    centroids[visited] = sums[visited] / counts[visited, None]
    return dataclasses.replace(fsm, centroids=centroids)
