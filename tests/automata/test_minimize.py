"""Tests of fsm_extract.automata.minimize: ExtractedFSM.minimize keeps the language, is minimal,
and merges (sums) the evidence of merged states."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings

from fsm_extract.automata.automaton import ExtractedFSM

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
