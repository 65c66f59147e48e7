"""Tests of fsm_extract.abstraction.codebook: fit_codebook quantises next-symbol distributions
into the fewest centres that stand for them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_extract.abstraction.codebook import fit_codebook
from fsm_extract.errors import ArgumentTypeError, ValidationError
from fsm_extract.nets.trace import nearest_rows, output_classes


def tv(p, q):
    """Total variation between every row of p and every row of q: (len(p), len(q))."""
    return 0.5 * np.abs(np.asarray(p)[:, None, :] - np.asarray(q)[None, :, :]).sum(-1)


def separated_centres(rng, k, width, min_tv=0.3):
    """k distributions over ``width`` outcomes, pairwise at total variation >= min_tv."""
    while True:
        c = rng.dirichlet(np.ones(width), size=k)
        d = tv(c, c) + np.eye(k)
        if d.min() >= min_tv:
            return c


def around(rng, centres, n, noise):
    """n rows drawn around the centres (each centre used), Gaussian noise, renormalised."""
    labels = np.concatenate([np.arange(len(centres)), rng.integers(0, len(centres), n - len(centres))])
    rng.shuffle(labels)
    rows = np.clip(centres[labels] + rng.normal(0.0, noise, (n, centres.shape[1])), 1e-9, None)
    return rows / rows.sum(1, keepdims=True), labels


@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 6), extra=st.integers(0, 2), seed=st.integers(0, 2**32 - 1))
def test_finds_exactly_the_k_centres(k, extra, seed):
    rng = np.random.default_rng(seed)
    width = max(k, 2) + extra
    centres = separated_centres(rng, k, width)
    rows, labels = around(rng, centres, 1500, noise=0.002)
    book, record = fit_codebook(rows, seed=0)
    assert book.shape == (k, width) and record["n_outputs"] == k
    d = tv(book, centres)
    assert d.min(1).max() < 0.02  # every row is near a true centre ...
    assert sorted(d.argmin(1).tolist()) == list(range(k))  # ... and a different one for each
    np.testing.assert_allclose(book.sum(1), 1.0)
    assert (book >= 0).all()
    assert record["reached"] and record["mean_tv"] <= record["tolerance"] == 0.015
    # a row's class is its nearest centre: the same partition as the true labels
    near = nearest_rows(rows, book)
    assert np.array_equal(d.argmin(1)[near], labels)


def test_finds_five_well_separated_centres():
    rng = np.random.default_rng(4000)
    centres = separated_centres(rng, 5, 7)
    assert (tv(centres, centres) + np.eye(5)).min() > 0.35
    rows, _ = around(rng, centres, 1500, noise=0.002)
    book, record = fit_codebook(rows, seed=0)
    assert book.shape[0] == 5 and record["reached"]


def test_rows_are_in_order_of_first_use():
    rng = np.random.default_rng(1)
    centres = separated_centres(rng, 3, 4)
    rows, _ = around(rng, centres, 600, noise=0.002)
    book, _ = fit_codebook(rows, seed=0)
    near = nearest_rows(rows, book)
    firsts = [int(np.flatnonzero(near == j)[0]) for j in range(book.shape[0])]
    assert firsts == sorted(firsts) and near[0] == 0


def test_same_seed_same_codebook_with_a_subsample():
    rng = np.random.default_rng(2)
    centres = separated_centres(rng, 4, 5)
    rows, _ = around(rng, centres, 3000, noise=0.01)
    a, ra = fit_codebook(rows, seed=7, max_points=500)
    b, rb = fit_codebook(rows, seed=7, max_points=500)
    np.testing.assert_array_equal(a, b)
    assert ra == rb and ra["n_outputs"] == 4
    c, _ = fit_codebook(rows, seed=8, max_points=500)  # another subsample: close, not necessarily equal
    assert c.shape == a.shape and tv(a, c).min(1).max() < 0.02


def test_tolerance_reached_flag():
    rng = np.random.default_rng(3)
    centres = separated_centres(rng, 3, 4)
    rows, _ = around(rng, centres, 900, noise=0.05)  # scatter around each centre: mean TV ~0.05
    book, record = fit_codebook(rows, seed=0)  # tolerance 0.01 is below the scatter: the elbow stops
    assert not record["reached"] and record["mean_tv"] > 0.01
    assert record["n_outputs"] == book.shape[0] == 3  # the scatter is not split
    book, record = fit_codebook(rows, seed=0, tolerance=0.1)
    assert record["reached"] and record["mean_tv"] <= 0.1 and record["tolerance"] == 0.1
    book, record = fit_codebook(rows, seed=0, max_outputs=2)  # too few centres allowed
    assert book.shape[0] == 2 and not record["reached"] and record["mean_tv"] > 0.1


def test_exact_distributions_are_their_own_codebook():
    rows = np.array([[0.5, 0.5, 0.0], [0.2, 0.2, 0.6], [0.5, 0.5, 0.0], [0.1, 0.0, 0.9]])
    book, record = fit_codebook(rows, tolerance=0.0)
    np.testing.assert_allclose(book, [[0.5, 0.5, 0.0], [0.2, 0.2, 0.6], [0.1, 0.0, 0.9]])
    assert record == {"n_outputs": 3, "mean_tv": 0.0, "tolerance": 0.0, "reached": True}
    book, record = fit_codebook([[0.25, 0.75]])
    np.testing.assert_allclose(book, [[0.25, 0.75]])
    assert record["n_outputs"] == 1 and record["reached"]


def test_output_classes_with_a_codebook_are_nearest_rows_in_l1():
    book = np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.4, 0.4, 0.2]])
    probs = np.array([[0.7, 0.2, 0.1], [0.3, 0.3, 0.4], [0.45, 0.45, 0.1], [0.1, 0.8, 0.1]])
    # L1 to the rows: [0.2, 1.4, 0.6], [1.0, 0.8, 0.4], [0.9, 1.4, 0.2], [1.4, 1.4, 0.8]
    assert output_classes(probs, book).tolist() == [0, 2, 2, 2]
    assert output_classes(probs).tolist() == [0, 2, 0, 1]  # without: the most probable class


@pytest.mark.parametrize("kwargs,error,pattern", [
    ({"probs": [0.5, 0.5]}, ValidationError, r"probs must have shape \(n >= 1, n_classes\), got \(2,\)"),
    ({"probs": np.zeros((0, 3))}, ValidationError, r"probs must have shape \(n >= 1, n_classes\), got \(0, 3\)"),
    ({"tolerance": -0.1}, ValidationError, r"tolerance=-0.1 must be >= 0"),
    ({"tolerance": "small"}, ArgumentTypeError, r"tolerance='small' must be a number"),
    ({"max_outputs": 0}, ValidationError, r"max_outputs=0 must be >= 1"),
    ({"max_outputs": 5000}, ValidationError, r"max_outputs=5000 must be <= 4096"),
    ({"seed": -1}, ValidationError, r"seed=-1 must be >= 0"),
])
def test_bad_arguments(kwargs, error, pattern):
    kw = {"probs": [[0.5, 0.5], [0.2, 0.8]], **kwargs}
    with pytest.raises(error, match=pattern):
        fit_codebook(kw.pop("probs"), **kw)


def test_nan_probs_are_refused_by_name():
    with pytest.raises(ValidationError, match="probs"):
        fit_codebook([[np.nan, 0.5], [0.5, 0.5], [0.2, 0.8]])


def test_max_points_zero_is_refused_by_name():
    with pytest.raises(ValidationError, match="max_points=0 must be >= 1"):
        fit_codebook([[0.5, 0.5], [0.2, 0.8]], max_points=0)
