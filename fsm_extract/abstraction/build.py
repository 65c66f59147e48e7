"""The one build step: a trace and a fitted abstraction -> counts -> completed transitions ->
:class:`~fsm_extract.automata.automaton.ExtractedFSM` (minimised), used by every extraction path."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..automata.automaton import ExtractedFSM
from ..automata.counting import count_outputs, count_transitions
from ..nets.trace import Trace
from .completion import complete_transitions

__all__ = ["build_fsm", "state_centroids", "fewer_clusters_record"]


def fewer_clusters_record(requested: int, used: int) -> dict[str, Any]:
    """Metadata for an abstraction that used fewer clusters than requested (none otherwise):
    ``n_clusters`` is what was used, ``fewer_clusters`` says why."""
    if used >= requested:
        return {}
    return {"n_clusters": used, "fewer_clusters": {"requested": requested, "used": used,
                                                   "reason": "fewer distinct hidden states than requested clusters"}}


def build_fsm(model: Any, trace: Trace, abstraction: Any, *, minimize: bool = True, metadata: dict | None = None) -> ExtractedFSM:
    """Build the automaton of ``trace`` under a fitted ``abstraction``.

    Counts the net's transitions and outputs per abstract state, completes unobserved pairs
    from the net, and (by default) minimises.
    """
    labels = abstraction.predict(trace.hidden)
    k, n_sym = abstraction.n_states_, len(trace.alphabet)
    init = abstraction.initial_label_
    counts = count_transitions(labels, trace.symbols, trace.offsets, init, k, n_sym)
    out_counts = count_outputs(labels, trace.classes, init, trace.offsets, k, trace.n_classes,
                               initial_output=trace.h0_class)
    completion, how = complete_transitions(model, abstraction, trace, labels, counts.sum(-1))
    meta = {"completion": how, **(metadata or {}), **fewer_clusters_record(abstraction.n_states, k)}
    fsm = ExtractedFSM.from_counts(
        counts,
        out_counts,
        initial=init,
        alphabet=trace.alphabet,
        completion=completion,
        centroids=abstraction.centroids_,
        cluster_map=np.arange(k),
        metadata=meta,
        cluster_centroids=abstraction.centroids_,
    )
    if minimize:
        fsm = fsm.minimize()
    return state_centroids(fsm, trace, labels)


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


#: The refine-only options of :func:`extract` and their defaults (``search=0`` is no search too).
