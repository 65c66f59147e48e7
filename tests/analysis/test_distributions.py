"""Tests of fsm_extract.analysis.distributions: values worked out by hand, the properties each
measure must have (hypothesis), SPiCe's one-hot special case, and the argument checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fsm_extract.analysis.distributions import (
    bits_per_symbol,
    kl_divergence,
    mean_by_length,
    ndcg_at_k,
    total_variation,
    word_error_rate,
)
from fsm_extract.data.pdfa import random_pdfa
from fsm_extract.errors import ArgumentTypeError, ValidationError


@st.composite
def rows(draw, n=None, m=None):
    """Distributions as rows (n, m), with zeros now and then."""
    n = draw(st.integers(1, 6)) if n is None else n
    m = draw(st.integers(1, 7)) if m is None else m
    raw = draw(hnp.arrays(np.float64, (n, m), elements=st.one_of(st.just(0.0), st.floats(1e-3, 1.0))))
    raw[raw.sum(axis=1) == 0, 0] = 1.0
    return raw / raw.sum(axis=1, keepdims=True)


@st.composite
def pairs(draw):
    p = draw(rows())
    return p, draw(rows(*p.shape))


# ---------------------------------------------------------------------------------------------
# total variation and KL


def test_total_variation_by_hand():
    p = [[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]
    q = [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]
    np.testing.assert_allclose(total_variation(p, q), [0.3, 0.0], atol=1e-15)
    assert total_variation([1.0, 0.0], [0.0, 1.0]) == 1.0
    assert isinstance(total_variation([1.0, 0.0], [0.5, 0.5]), float)


@given(pairs())
def test_total_variation_is_a_distance_in_0_1(pq):
    p, q = pq
    tv = total_variation(p, q)
    assert tv.shape == (p.shape[0],)
    assert ((tv >= 0) & (tv <= 1)).all()
    np.testing.assert_array_equal(total_variation(p, p), 0.0)
    np.testing.assert_allclose(tv, total_variation(q, p))
    r = np.roll(q, 1, axis=1)
    assert (total_variation(p, r) <= tv + total_variation(q, r) + 1e-12).all()


def test_kl_by_hand_in_bits():
    assert kl_divergence([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.5 * 1 + 0.5 * math.log2(0.5 / 0.75), abs=1e-12)
    assert kl_divergence([0.5, 0.5, 0.0], [0.5, 0.25, 0.25]) == pytest.approx(0.5, abs=1e-12)  # 0 log 0 = 0
    assert kl_divergence([1.0, 0.0], [0.0, 1.0]) == pytest.approx(-math.log2(1e-12))
    assert kl_divergence([1.0, 0.0], [0.0, 1.0], eps=1e-6) == pytest.approx(-math.log2(1e-6))


@given(pairs())
def test_kl_is_zero_exactly_for_equal_rows_and_bounds_tv_pinsker(pq):
    p, q = pq
    kl = kl_divergence(p, q)
    assert (kl >= 0).all()
    np.testing.assert_array_equal(kl_divergence(p, p), 0.0)
    tv = total_variation(p, q)
    # Pinsker: KL (nats) >= 2 TV^2, so KL (bits) >= 2 TV^2 / ln 2; positive whenever the rows differ
    assert (kl >= 2 * tv**2 / math.log(2) - 1e-9).all()
    assert (kl[tv > 1e-6] > 0).all()


# ---------------------------------------------------------------------------------------------
# bits per symbol


def test_bits_per_symbol_by_hand():
    probs = [[0.5, 0.25, 0.25], [0.125, 0.125, 0.75]]
    assert bits_per_symbol(probs, [1, 0]) == 2.5  # (2 + 3) / 2
    np.testing.assert_array_equal(bits_per_symbol(probs, [1, 0], per_row=True), [2.0, 3.0])
    assert bits_per_symbol([[1.0, 0.0]], [1]) == math.inf


def test_bits_per_symbol_of_a_pdfa_on_its_own_words_is_its_log_likelihood():
    pdfa = random_pdfa(n_states=6, alphabet="abc", seed=2)
    words = pdfa.sample(n=300, seed=0)
    probs = np.concatenate(pdfa.prefix_probs(words))
    targets = np.concatenate([[pdfa.alphabet.index(ch) for ch in w] + [pdfa.n_symbols] for w in words])
    total_log2 = sum(pdfa.log_prob(w) for w in words) / math.log(2)
    assert bits_per_symbol(probs, targets) == pytest.approx(-total_log2 / targets.size, rel=1e-10)


# ---------------------------------------------------------------------------------------------
# NDCG@k


def test_ndcg_by_hand():
    p = [0.5, 0.3, 0.2]
    q = [0.2, 0.3, 0.5]  # q ranks outcome 2, then 1
    expected = (0.2 + 0.3 / math.log2(3)) / (0.5 + 0.3 / math.log2(3))
    assert ndcg_at_k(p, q, k=2) == pytest.approx(expected, abs=1e-12)
    assert ndcg_at_k(p, q, k=1) == pytest.approx(0.2 / 0.5)
    assert ndcg_at_k(p, q, k=3) == ndcg_at_k(p, q, k=50)  # k is cut to the number of outcomes
    assert ndcg_at_k(p, q, k=3) == pytest.approx(
        (0.2 + 0.3 / math.log2(3) + 0.5 / 2) / (0.5 + 0.3 / math.log2(3) + 0.2 / 2), abs=1e-12)


@given(pairs(), st.integers(1, 8))
def test_ndcg_is_in_0_1_and_1_when_the_rankings_agree(pq, k):
    p, q = pq
    score = ndcg_at_k(p, q, k=k)
    assert score.shape == (p.shape[0],)
    assert ((score >= 0) & (score <= 1 + 1e-12)).all()
    np.testing.assert_allclose(ndcg_at_k(p, p, k=k), 1.0, rtol=1e-12)
    same_order = p**2 / (p**2).sum(axis=1, keepdims=True)  # a strictly monotone change keeps the ranking
    np.testing.assert_allclose(ndcg_at_k(p, same_order, k=k), 1.0, rtol=1e-12)


@given(rows(m=6), st.integers(0, 5), st.integers(1, 6))
def test_ndcg_against_a_one_hot_reference_is_spices_real_data_score(q, a, k):
    """SPiCe: with p(a' | y) = [a' = a], NDCG_k = 1 / log2(j + 1), j the rank of a in q (0 beyond k)."""
    q = q[:1]
    ranks = np.argsort(-q[0], kind="stable")
    j = int(np.flatnonzero(ranks == a)[0]) + 1
    expected = 1 / math.log2(j + 1) if j <= k else 0.0
    assert ndcg_at_k(np.eye(6)[a], q[0], k=k) == pytest.approx(expected, abs=1e-12)


def test_ndcg_punishes_a_swap_at_the_top():
    p = np.array([0.6, 0.3, 0.1])
    assert ndcg_at_k(p, [0.3, 0.6, 0.1], k=5) < ndcg_at_k(p, [0.6, 0.1, 0.3], k=5) < 1.0


# ---------------------------------------------------------------------------------------------
# word error rate


def test_word_error_rate_by_hand():
    p = [[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.2, 0.7, 0.1], [0.4, 0.4, 0.2]]
    q = [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8], [0.2, 0.7, 0.1], [0.2, 0.6, 0.2]]
    assert word_error_rate(p, q) == 0.5
    np.testing.assert_array_equal(word_error_rate(p, q, per_row=True), [1, 0, 0, 1])
    assert word_error_rate([0.5, 0.5], [0.5, 0.5]) == 0.0  # ties: the lower id on both sides


@given(pairs())
def test_word_error_rate_against_one_hot_targets_counts_wrong_predictions(pq):
    p, q = pq
    targets = p.argmax(axis=1)
    wer = word_error_rate(np.eye(p.shape[1])[targets], q)
    assert wer == pytest.approx(float(np.mean(q.argmax(axis=1) != targets)))
    assert word_error_rate(p, p) == 0.0
    assert 0.0 <= word_error_rate(p, q) <= 1.0


def test_a_pdfa_scored_against_itself_is_perfect_and_against_another_is_not():
    a, b = random_pdfa(n_states=5, alphabet="abc", seed=0), random_pdfa(n_states=5, alphabet="abc", seed=1)
    words = a.sample(n=200, seed=0)
    pa, pb = np.concatenate(a.prefix_probs(words)), np.concatenate(b.prefix_probs(words))
    assert word_error_rate(pa, pa) == 0.0 and np.allclose(ndcg_at_k(pa, pa), 1.0)
    assert word_error_rate(pa, pb) > 0.1 and ndcg_at_k(pa, pb).mean() < 0.99
    assert total_variation(pa, pb).mean() > 0.05


# ---------------------------------------------------------------------------------------------
# by length


def test_mean_by_length_by_hand():
    means, counts = mean_by_length([1.0, 2.0, 3.0, 10.0, 7.0], [0, 1, 5, 9, 30], [0, 2, 6, 10])
    np.testing.assert_array_equal(counts, [2, 1, 1])  # length 30 is beyond the last edge
    np.testing.assert_array_equal(means, [1.5, 3.0, 10.0])
    means, counts = mean_by_length([1.0, math.inf], [0, 40], [0, 1, 5, np.inf])
    assert counts.tolist() == [1, 0, 1] and means[0] == 1.0 and math.isnan(means[1]) and means[2] == math.inf


# ---------------------------------------------------------------------------------------------
# argument checks


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: total_variation([[0.5, 0.5]], [[0.2, 0.3, 0.5]]), ValidationError, "p and q must have the same shape"),
        (lambda: total_variation([0.5, 0.5], [[0.5, 0.5]]), ValidationError, "p and q must have the same shape"),
        (lambda: total_variation([[1.2, -0.2]], [[0.5, 0.5]]), ValidationError, r"p\[0, 1\]=-0.2 must be >= 0"),
        (lambda: kl_divergence([[0.5, 0.5]], [[0.5, 0.6]]), ValidationError, r"q\[0\] must sum to 1"),
        (lambda: kl_divergence([[0.5, np.nan]], [[0.5, 0.5]]), ValidationError, "p must be finite"),
        (lambda: kl_divergence([0.5, 0.5], [0.5, 0.5], eps=0), ValidationError, "eps=0.0 must be > 0"),
        (lambda: ndcg_at_k(np.ones((1, 1, 1)), np.ones((1, 1, 1))), ValidationError, "p must have shape"),
        (lambda: ndcg_at_k([0.5, 0.5], [0.5, 0.5], k=0), ValidationError, "k=0 must be >= 1"),
        (lambda: ndcg_at_k(["a"], ["b"]), ArgumentTypeError, "p must hold numbers"),
        (lambda: word_error_rate(np.zeros((0, 3)), np.zeros((0, 3))), ValidationError, "at least one row"),
        (lambda: word_error_rate([1.0], [1.0], per_row=1), ArgumentTypeError, "per_row=1"),
        (lambda: bits_per_symbol([[0.5, 0.5]], [2]), ValidationError, r"targets\[0\]=2 must be an outcome id in 0..1"),
        (lambda: bits_per_symbol([[0.5, 0.5]], [0.0]), ArgumentTypeError, "targets must hold integer"),
        (lambda: bits_per_symbol([[0.5, 0.5]], [0, 1]), ValidationError, "targets must have one id per row"),
        (lambda: bits_per_symbol([[0.5, 0.5]], [-1]), ValidationError, r"targets\[0\]=-1"),
        (lambda: mean_by_length([1.0], [0], [3, 1]), ValidationError, "edges=.* strictly increasing"),
        (lambda: mean_by_length([np.nan], [0], [0, 1]), ValidationError, "values must not hold NaN"),
        (lambda: mean_by_length([1.0], [0.5], [0, 1]), ValidationError, "lengths must be integers"),
    ],
)
def test_bad_arguments_are_refused_naming_them(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_empty_inputs_give_empty_per_row_results():
    empty = np.zeros((0, 3))
    assert total_variation(empty, empty).shape == (0,)
    assert ndcg_at_k(empty, empty).shape == (0,)
    assert word_error_rate(empty, empty, per_row=True).shape == (0,)
