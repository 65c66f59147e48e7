"""Aligning a given automaton (a specification) to a net, so that it can be checked against it.

An automaton that was not extracted from the net (a regex, a ``Language``, an automata-lib
``DFA``, a saved FSM without cluster centres) says what the net *should* do, but not where in
the net's state space each of its states lives. Without that, the fidelity checker can compare
outputs, but not tell where the net's state leaves the automaton's.

The alignment is the simplest one that needs no fitting: run the automaton beside the net on
the evaluated words, and give each state the mean net state over the steps the automaton puts
in it (its centre; the initial state's centre also counts the initial net state ``h0``, once per
word). The net's state after a step is then mapped to the state of the nearest centre, and the
first step where that differs from the automaton's own state is where the specification stops
describing the net. The centres are computed on the very words that are evaluated: the
alignment describes where the net *is* when the specification says it is in a state. A state
the evaluated words never visit has no centre: it is left out of the abstraction (no net state
maps to it) and listed in ``metadata["aligned"]["unvisited_states"]``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..automata.automaton import ExtractedFSM
from ..automata.counting import run_transitions
from ..nets.trace import Trace

__all__ = ["align_to_net", "needs_alignment"]


def needs_alignment(fsm: ExtractedFSM) -> bool:
    """Whether ``fsm`` lacks the cluster centres that map net states to its states."""
    return fsm.cluster_centroids is None


def align_to_net(fsm: ExtractedFSM, trace: Trace) -> ExtractedFSM:
    """A copy of ``fsm`` whose states carry centres in the net's state space (see the module
    docstring).

    Parameters
    ----------
    fsm : ExtractedFSM
        The specification; its alphabet must be the trace's.
    trace : Trace
        The net's states on the evaluated words.

    Returns
    -------
    ExtractedFSM
        With ``centroids`` of shape (n_states, trace.dim) (``h0`` for unvisited states),
        ``cluster_centroids`` the centres of the visited states, ``cluster_map`` their state
        ids, and ``metadata["aligned"]`` recording how it was aligned.
    """
    n, d = fsm.n_states, trace.dim
    states = run_transitions(fsm.transitions, trace.symbols, trace.offsets, fsm.initial).astype(np.int64)
    sums = np.zeros((n, d))
    np.add.at(sums, states, trace.hidden.astype(np.float64))
    visits = np.bincount(states, minlength=n).astype(np.float64)
    sums[fsm.initial] += trace.n_words * trace.h0.astype(np.float64)  # the empty prefix of every word
    visits[fsm.initial] += trace.n_words
    visited = visits > 0
    centroids = np.repeat(trace.h0[None, :].astype(np.float64), n, axis=0)
    centroids[visited] = sums[visited] / visits[visited, None]
    cluster_map = np.flatnonzero(visited).astype(np.int64)
    meta = {
        **fsm.to_dict()["metadata"],
        "state": trace.state,
        "aligned": {
            "words": trace.n_words,
            "steps": trace.n_steps,
            "state": trace.state,
            "centre": "mean net state over the steps the automaton is in (and h0 for the initial state)",
            "unvisited_states": np.flatnonzero(~visited).tolist(),
        },
    }
    return dataclasses.replace(fsm, centroids=centroids, cluster_map=cluster_map,
                               cluster_centroids=centroids[visited], metadata=meta)
