"""``fx.extract``: from a trained recurrent net to a minimised automaton.

This module only wires the stages together: trace -> abstraction -> counting -> completion ->
automaton -> minimisation.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np

from ._validation import check_bool, check_choice, check_int, check_seed
from .abstraction import Method, make_abstraction
from .automaton import ExtractedFSM
from .completion import complete_transitions
from .counting import count_outputs, count_transitions
from .datasets import Dataset
from .models import as_recurrent
from .trace import StateKind, Trace, collect_trace

__all__ = ["extract", "fit_fsm"]


def fit_fsm(model: Any, trace: Trace, abstraction: Any, *, minimize: bool = True, metadata: dict | None = None) -> ExtractedFSM:
    """Build the automaton of ``trace`` under a fitted ``abstraction``.

    Counts the net's transitions and outputs per abstract state, completes unobserved pairs
    from the net, and (by default) minimises.
    """
    labels = abstraction.predict(trace.hidden)
    k, n_sym = abstraction.n_states_, len(trace.alphabet)
    init = abstraction.initial_label_
    counts = count_transitions(labels, trace.symbols, trace.offsets, init, k, n_sym)
    out_counts = count_outputs(
        labels, (trace.outputs > 0.5).astype(np.int32), init, trace.offsets, k, 2, initial_output=int(trace.h0_output > 0.5)
    )
    completion, how = complete_transitions(model, abstraction, trace, labels, counts.sum(-1))
    meta = {"completion": how, **(metadata or {})}
    fsm = ExtractedFSM.from_counts(
        counts,
        out_counts,
        initial=init,
        alphabet=trace.alphabet,
        completion=completion,
        centroids=abstraction.centroids_,
        cluster_map=np.arange(k),
        metadata=meta,
    )
    return fsm.minimize() if minimize else fsm


def extract(
    model: Any,
    data: Any,
    *,
    n_states: int = 16,
    method: Method = "kmeans",
    state: StateKind = "h",
    seed: int = 0,
    max_fit_points: int = 100_000,
    minimize: bool = True,
    batch_size: int = 512,
    progress: bool = False,
) -> ExtractedFSM:
    """Extract a finite-state machine from a recurrent classifier.

    Parameters
    ----------
    model : RNNClassifier or RecurrentAdapter
    data : Dataset or sequence of words
        The words whose hidden states are clustered (the fitting data). Labels are not used:
        the automaton describes the net, not the task.
    n_states : int, default 16
        Clusters in the abstraction (the minimised automaton may be smaller).
    method : {"kmeans", "gmm"}
    state : {"h", "hc"}
        Cluster hidden vectors, or an LSTM's hidden and cell vectors.
    seed : int
        Same seed, same automaton.
    max_fit_points : int
        Fit the clustering on at most this many steps.
    minimize : bool, default True
    batch_size : int
        Words per batch when tracing.
    progress : bool

    Returns
    -------
    ExtractedFSM
        ``metadata`` records the method, parameters, fitting size and timing.
    """
    model = as_recurrent(model)
    n_states = check_int("n_states", n_states, min=1)
    check_choice("method", method, ("kmeans", "gmm"))
    check_choice("state", state, ("h", "hc"))
    seed = check_seed("seed", seed)
    minimize = check_bool("minimize", minimize)
    if isinstance(data, Dataset):
        data.check_nonempty("data")
    t0 = time.perf_counter()
    trace = collect_trace(model, data, state=state, batch_size=batch_size, progress=progress)
    if trace.n_steps == 0:
        from .errors import ValidationError

        raise ValidationError("data must hold at least one non-empty word, got only empty words")
    abstraction = make_abstraction(method, n_states=n_states, seed=seed, max_fit_points=max_fit_points).fit(trace)
    meta = {
        "method": method,
        "n_clusters": n_states,
        "state": state,
        "seed": seed,
        "n_fit_words": trace.n_words,
        "n_fit_steps": trace.n_steps,
        "max_fit_length": int(trace.lengths.max()),
    }
    fsm = fit_fsm(model, trace, abstraction, minimize=minimize, metadata=meta)
    return fsm.with_metadata(seconds=round(time.perf_counter() - t0, 3))
