"""Sums of rows by group: what a streamed pass adds up per cluster (hidden states, output
probabilities), chunk by chunk.

:func:`sum_rows` is a serial Numba kernel behind a boundary check; :func:`sum_rows_reference`
(``np.add.at``) is its NumPy reference, and the two agree bit for bit: both add row by row in
order, in float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from .._checks import check_int
from ..errors import ArgumentTypeError, ValidationError
from .counting import index_array

__all__ = ["sum_rows", "sum_rows_reference"]


@njit(cache=True)
def _sum_rows_kernel(labels, x, n_groups):  # pragma: no cover
    # row by row, in order: the same float64 additions as np.add.at, so the same bits
    out = np.zeros((n_groups, x.shape[1]), np.float64)
    for t in range(labels.shape[0]):
        g = labels[t]
        for j in range(x.shape[1]):
            out[g, j] += x[t, j]
    return out


def sum_rows(labels: Any, x: Any, n_groups: int) -> np.ndarray:
    """Sum of the rows of ``x`` in each group: ``out[g] = x[labels == g].sum(0)`` in float64.

    Parameters
    ----------
    labels : array-like of int, shape (n,)
        Group of each row, in ``[0, n_groups)``.
    x : array-like of float, shape (n, d)
    n_groups : int

    Returns
    -------
    ndarray of float64, shape (n_groups, d)
        The sums, added row by row in order (bit for bit :func:`sum_rows_reference`).
    """
    n_groups = check_int("n_groups", n_groups, min=1)
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValidationError(f"x must have shape (n, d), got {x.shape}")
    if x.dtype.kind != "f":
        raise ArgumentTypeError(f"x must be floating point, got {x.dtype}")
    labels = index_array("labels", labels, n_groups, "n_groups", None)
    if labels.shape[0] != x.shape[0]:
        raise ValidationError(f"labels has length {labels.shape[0]} but x has {x.shape[0]} rows; they must match")
    return _sum_rows_kernel(labels, np.ascontiguousarray(x), n_groups)


def sum_rows_reference(labels: Any, x: Any, n_groups: int) -> np.ndarray:
    """NumPy reference of :func:`sum_rows`: ``np.add.at``."""
    out = np.zeros((int(n_groups), np.asarray(x).shape[1]))
    np.add.at(out, np.asarray(labels, dtype=np.int64), np.asarray(x, dtype=np.float64))
    return out
