"""Tests of fsm_extract.automata.minimize: ExtractedFSM.minimize keeps the language, is minimal,
and merges (sums) the evidence of merged states."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_extract.automata.automaton import ExtractedFSM
from fsm_extract.automata.minimize import bfs_order, minimize_fsm

from .conftest import all_words, random_fsms


def test_minimize_hand_built(parity, observed):
    m = parity.minimize()
    assert m.n_states == 2 and m.initial == 0 and m.metadata["minimized_from"] == 3
    np.testing.assert_array_equal(m.transitions, [[0, 1], [1, 0]])
    h = observed.minimize()  # states 1 and 2 both reject and loop among themselves
    np.testing.assert_array_equal(h.transitions, [[0, 1], [1, 1]])
    np.testing.assert_array_equal(h.transition_counts.sum(-1), [[5, 5], [3, 5]])
    np.testing.assert_allclose(h.confidence, [[1, 1], [1, 1]])  # 0 -1-> {1, 2} now all agree
    np.testing.assert_array_equal(h.output_counts, [[0, 5], [5, 1]])
    assert not h.completed.any()  # block {1, 2} was observed on "0" through state 1
    np.testing.assert_allclose(h.centroids, [[1, 0, 0], [0, 4 / 6, 2 / 6]])  # weights 4 and 2 outputs
    np.testing.assert_array_equal(h.cluster_map, [0, 1, 1, 1])
    assert h.metadata["undecided_outputs"] == [] and h.metadata["method"] == "kmeans"


def test_minimize_drops_unreachable_states_and_their_evidence():
    counts = np.zeros((3, 1, 3), int)
    counts[0, 0, 0] = 7
    counts[0, 0, 2] = 1  # into the unreachable state
    counts[2, 0, 2] = 3
    completed = np.array([[False], [True], [False]])
    fsm = ExtractedFSM("a", [[0], [1], [2]], [True, False, False], 0, counts, None, completed,
                       cluster_map=[2, 1, 0, 0])
    m = fsm.minimize()
    assert m.n_states == 1 and m.transition_counts.sum() == 7 and m.metadata["dropped_counts"] == 4
    np.testing.assert_array_equal(m.cluster_map, [-1, -1, 0, 0])
    np.testing.assert_array_equal(m.minimize().cluster_map, [-1, -1, 0, 0])


def test_minimize_marks_completed_blocks():
    completed = np.array([[True], [False]])
    fsm = ExtractedFSM("a", [[1], [1]], [False, False], 0, None, None, completed)
    m = fsm.minimize()
    assert m.n_states == 1 and m.completed.tolist() == [[True]]
    assert ExtractedFSM("a", [[1], [1]], [False, False], 0).minimize().completed.tolist() == [[False]]


@settings(max_examples=60, deadline=None)
@given(random_fsms())
def test_minimize_preserves_the_language_and_is_minimal(fsm):
    m = fsm.minimize()
    assert fsm.to_automata() == m.to_automata() and fsm.equivalent(m)
    words = all_words(fsm.alphabet, 6)
    np.testing.assert_array_equal(fsm.predict(words), m.predict(words))
    assert m.n_states == len(fsm.to_automata().minify().states)
    assert m.initial == 0
    m2 = m.minimize()
    for name in ("transitions", "accepting", "transition_counts", "output_counts", "completed"):
        np.testing.assert_array_equal(getattr(m2, name), getattr(m, name))


@settings(max_examples=60, deadline=None)
@given(random_fsms(evidence=True))
def test_minimize_merges_evidence(fsm):
    m = fsm.minimize()
    assert m.transition_counts.sum() + m.metadata["dropped_counts"] == fsm.transition_counts.sum()
    reachable = np.zeros(fsm.n_states, bool)
    frontier = [fsm.initial]
    while frontier:  # plain depth-first search
        q = frontier.pop()
        if not reachable[q]:
            reachable[q] = True
            frontier.extend(fsm.transitions[q].tolist())
    assert m.output_counts.sum() == fsm.output_counts[reachable].sum()
    if reachable.all():
        assert m.metadata["dropped_counts"] == 0
        np.testing.assert_array_equal(m.output_counts.sum(0), fsm.output_counts.sum(0))
    assert ((m.cluster_map >= 0) == reachable[fsm.cluster_map]).all()
    assert m.centroids.shape == (m.n_states, 3)
    sup = m.support
    assert np.nanmin(m.confidence, initial=1.0) >= 0 and (np.isnan(m.confidence) == (sup == 0)).all()


def test_bfs_order_visits_reachable_states_breadth_first_in_symbol_order():
    table = np.array([[2, 1], [1, 1], [3, 0], [3, 3], [0, 4]])  # state 4 is unreachable from 0
    assert bfs_order(table, 0) == [0, 2, 1, 3]
    assert bfs_order(table, 4) == [4, 0, 2, 1, 3]
    assert bfs_order(np.array([[0]]), 0) == [0]


def test_minimize_fsm_is_what_the_method_returns():
    fsm = ExtractedFSM("ab", [[1, 2], [1, 2], [1, 2]], [False, True, True], 0)
    a, b = minimize_fsm(fsm), fsm.minimize()
    assert a.n_states == b.n_states == 2 and a.equivalent(b)
    np.testing.assert_array_equal(a.transitions, b.transitions)
    np.testing.assert_array_equal(a.accepting, b.accepting)


@settings(max_examples=60, deadline=None)
@given(random_fsms(max_states=6), st.integers(0, 2**32 - 1))
def test_merging_duplicated_states_keeps_the_language_and_sums_their_evidence(fsm, seed):
    """Every state of a minimal automaton split in two copies, transitions pointing at either copy
    at random and random evidence everywhere: minimising merges the copies back, and the merged
    state's counts, outputs and centroid are the sums (weighted mean) of its members'."""
    base = fsm.minimize()
    n, k = base.n_states, base.n_symbols
    rng = np.random.default_rng(seed)
    copy = rng.integers(0, 2, (2 * n, k))
    table = np.concatenate([base.transitions, base.transitions]) + n * copy
    counts = rng.integers(0, 3, (2 * n, k, 2 * n))
    outputs = rng.integers(0, 4, (2 * n, 2))
    centroids = rng.normal(size=(2 * n, 2))
    doubled = ExtractedFSM(base.alphabet, table, np.concatenate([base.accepting, base.accepting]), base.initial,
                           counts, outputs, centroids=centroids, cluster_map=np.arange(2 * n))
    m = doubled.minimize()
    assert m.n_states == n and m.equivalent(base)
    words = all_words(base.alphabet, 5)
    np.testing.assert_array_equal(m.predict(words), base.predict(words))
    state = m.cluster_map  # the merged state of each original state, -1 if unreachable
    reach = state >= 0
    assert reach[base.initial] and m.metadata["minimized_from"] == 2 * n
    for s in range(n):
        members = np.flatnonzero(state == s)
        assert members.size >= 1
        np.testing.assert_array_equal(m.output_counts[s], outputs[members].sum(0))
        for s2 in range(n):
            into = np.flatnonzero(state == s2)
            np.testing.assert_array_equal(m.transition_counts[s, :, s2], counts[np.ix_(members, np.arange(k), into)].sum((0, 2)))
        w = outputs[members].sum(1).astype(float)
        w = w if w.sum() > 0 else np.ones_like(w)
        np.testing.assert_allclose(m.centroids[s], (centroids[members] * w[:, None]).sum(0) / w.sum())
    assert m.metadata["dropped_counts"] == counts.sum() - counts[np.ix_(reach, np.arange(k), reach)].sum()
