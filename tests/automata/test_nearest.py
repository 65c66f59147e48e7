"""Tests of fsm_extract.automata.nearest: nearest-centre assignment, against a brute-force NumPy
reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fsm_extract.automata.nearest import nearest_centroid

_COORD = st.floats(-100, 100, allow_nan=False, width=32)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4).flatmap(lambda d: st.tuples(
    hnp.arrays(np.float32, st.tuples(st.integers(0, 40), st.just(d)), elements=_COORD),
    hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.just(d)), elements=_COORD),
    st.integers(1, 7))))
def test_nearest_centroid_matches_brute_force(case):
    points, centroids, chunk = case
    got = nearest_centroid(points, centroids, chunk=chunk)
    assert got.dtype == np.int32 and got.shape == (points.shape[0],)
    assert ((got >= 0) & (got < centroids.shape[0])).all()
    dist = ((points[:, None, :].astype(np.float64) - centroids[None, :, :]) ** 2).sum(-1)
    best = dist.min(1) if points.shape[0] else np.zeros(0)
    # the chosen centre is a nearest one (ties may pick any of them, up to rounding)
    chosen = dist[np.arange(points.shape[0]), got]
    np.testing.assert_allclose(chosen, best, rtol=1e-9, atol=1e-6 * (1 + np.abs(best).max(initial=0)))
    np.testing.assert_array_equal(got, nearest_centroid(points, centroids))  # chunking changes nothing


def test_nearest_centroid_on_a_hand_case():
    centroids = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = np.array([[1.0, 1.0], [9.0, -1.0], [-1.0, 8.0], [6.0, 0.0], [4.0, 0.0]], np.float32)
    assert nearest_centroid(points, centroids).tolist() == [0, 1, 2, 1, 0]
    assert nearest_centroid(points[:0], centroids).shape == (0,)
