"""Completing unobserved transitions from the net itself.

A (state, symbol) pair that the fitting data never took still needs a transition. It is
never given a silent default: the recurrent cell is run from the state on that symbol, and
the resulting hidden state is assigned to the nearest abstract state.

- When the trace holds the net's full recurrent state (GRU and plain RNN always; an LSTM with
  ``state="hc"``), the cell is stepped from the state's centroid.
- An LSTM traced with ``state="h"`` lacks the cell vector, so a centroid is not a state the
  net can be run from. Then the member of the cluster nearest its centroid (its medoid) is
  taken, and the net is re-run on that member's prefix followed by the symbol.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ..nets.net import as_net
from ..nets.trace import Trace

__all__ = ["complete_transitions", "CompletionMethod"]

CompletionMethod = Literal["centroid", "medoid-prefix"]


def _medoid_prefixes(trace: Trace, labels: np.ndarray, initial_label: int, centroids: np.ndarray, states: np.ndarray,
                     points: np.ndarray, point0: np.ndarray) -> list[np.ndarray]:
    """For each abstract state, the symbol ids of a prefix whose net state is that state's medoid
    (the member nearest its centre, in the space the abstraction clusters: ``points``)."""
    word_of = trace.word_of_step()
    out = []
    for q in states:
        members = np.flatnonzero(labels == q)
        if members.size == 0:  # only h0 lives here (or nothing): the empty prefix
            out.append(np.zeros(0, dtype=np.int32))
            continue
        d = ((points[members] - centroids[q]) ** 2).sum(1)
        if q == initial_label:
            d0 = float(((point0 - centroids[q]) ** 2).sum())
            if d0 <= d.min():
                out.append(np.zeros(0, dtype=np.int32))
                continue
        t = int(members[np.argmin(d)])
        start = int(trace.offsets[word_of[t]])
        out.append(trace.symbols[start : t + 1].copy())
    return out


def complete_transitions(
    model: Any,
    abstraction: Any,
    trace: Trace,
    labels: np.ndarray,
    support: np.ndarray,
    *,
    points: np.ndarray | None = None,
    point0: np.ndarray | None = None,
) -> tuple[np.ndarray, CompletionMethod]:
    """Successor of every (state, symbol) pair with zero support, computed by the net.

    Parameters
    ----------
    model : Net (or RNNClassifier / RecurrentAdapter)
    abstraction : fitted abstraction (``predict``, ``centroids_``, ``initial_label_``)
    trace : Trace
    labels : ndarray of shape (n_steps,), int
        The abstraction's label of each step.
    support : ndarray of shape (n_states, n_symbols), int
        How often each pair was observed.
    points, point0 : ndarray, optional
        What the abstraction clusters, when that is not the hidden state itself (behavioural
        features): its centres are then not states of the net, so the medoid's prefix is re-run.

    Returns
    -------
    completion : ndarray of shape (n_states, n_symbols), int64
        Filled at the unobserved pairs (``-1`` elsewhere).
    method : {"centroid", "medoid-prefix"}
    """
    n_states, n_symbols = support.shape
    completion = np.full((n_states, n_symbols), -1, dtype=np.int64)
    qs, syms = np.nonzero(support == 0)
    full_state = (trace.cell != "lstm" or trace.state == "hc") and points is None
    method: CompletionMethod = "centroid" if full_state else "medoid-prefix"
    if qs.size == 0:
        return completion, method
    centroids = np.asarray(abstraction.centroids_, dtype=np.float32)
    if full_state:
        nxt, _ = as_net(model).step(centroids[qs], syms, state=trace.state)
    else:
        uniq = np.unique(qs)
        pts, pt0 = (trace.hidden, trace.h0) if points is None else (points, point0)
        prefixes = dict(zip(uniq.tolist(), _medoid_prefixes(trace, labels, abstraction.initial_label_, centroids, uniq, pts, pt0)))
        words = [np.append(prefixes[int(q)], np.int32(a)) for q, a in zip(qs, syms)]
        offsets = np.zeros(len(words) + 1, dtype=np.int64)
        np.cumsum([w.size for w in words], out=offsets[1:])
        sub = as_net(model).trace(np.concatenate(words).astype(np.int32), offsets, state=trace.state)
        nxt = sub.hidden[sub.offsets[1:] - 1]
    completion[qs, syms] = abstraction.predict(nxt)
    return completion, method
