"""Nearest-centre assignment: the classifier every abstraction of this package applies.

A hidden state (or its behavioural features) belongs to the abstract state whose centre is
nearest in Euclidean distance. It needs no training, is exact to serialise (the centres), and
is what :meth:`~fsm_extract.automata.automaton.ExtractedFSM.abstract` applies later.
"""

from __future__ import annotations

import numpy as np

__all__ = ["nearest_centroid"]


def nearest_centroid(points: np.ndarray, centroids: np.ndarray, *, chunk: int = 65536) -> np.ndarray:
    """Index of the nearest centre of each point, ndarray of shape (n,), int32."""
    c = np.asarray(centroids, dtype=np.float64)
    c_sq = (c**2).sum(1)
    out = np.empty(points.shape[0], dtype=np.int32)
    for s in range(0, points.shape[0], chunk):
        x = points[s : s + chunk].astype(np.float64, copy=False)
        out[s : s + chunk] = np.argmin(c_sq[None, :] - 2.0 * x @ c.T, axis=1)
    return out
