"""Tests of fsm_extract.abstraction.splitting: refine_partition splits a cluster whose members go
to different places (or answer differently) until the data is deterministic; behaviour_blocks is
Moore's partition of the majority automaton.

The hand-built cases use 1-D points. Net states A (0.0, the initial state), B (1.0), C (1.2),
D (5.0) and E (-5.0) over ("a", "b"): A -a-> B -a-> D and A -b-> C -a-> E, D accepting and the
rest rejecting. Starting centres put B and C in one cluster, which then goes to D on "a" from B
and to E from C: that cluster must be split, and only it.
"""

from __future__ import annotations

import numpy as np
import pytest

from fsm_extract.abstraction.splitting import Split, behaviour_blocks, refine_partition
from fsm_extract.automata.nearest import nearest_centroid
from fsm_extract.nets.trace import Trace
from fsm_extract.words import encode_words


A, B, C, D, E = 0.0, 1.0, 1.2, 5.0, -5.0
ALPHABET = ("a", "b")


def _data(words, point_of, out_of, repeat=5):
    """Points, outputs and CSR arrays of ``words`` (each ``repeat`` times) whose states are given."""
    words = [w for w in words for _ in range(repeat)]
    symbols, offsets = encode_words(words, ALPHABET)
    points = np.array([[point_of[w[: i + 1]]] for w in words for i in range(len(w))], np.float64)
    outs = np.array([out_of[w[: i + 1]] for w in words for i in range(len(w))], np.int64)
    return points, symbols, offsets, outs


def _trace(points, symbols, offsets, outs, out0=0):
    """The Trace refine_partition reads its CSR arrays and output classes from (the initial
    state's output class ``out0``)."""
    return Trace(hidden=points, symbols=symbols, offsets=offsets, h0=np.array([A]), outputs=outs.astype(float),
                 h0_output=float(out0), alphabet=ALPHABET)


def _mixed_successors():
    return _data(["aa", "ba"], {"a": B, "aa": D, "b": C, "ba": E}, {"a": 0, "aa": 1, "b": 0, "ba": 0})


def test_a_cluster_with_two_successors_on_a_symbol_is_split():
    points, symbols, offsets, outs = _mixed_successors()
    start = np.array([[A], [(B + C) / 2], [D], [E]])
    centroids, splits, status = refine_partition(points, np.array([A]), start, _trace(points, symbols, offsets, outs),
                                                 min_mass=2)
    assert status == {"deterministic": True, "stopped": "deterministic", "remaining": []}
    assert len(splits) == 1
    s = splits[0]
    assert isinstance(s, Split) and (s.cluster, s.reason, s.symbol, s.into) == (1, "transition", "a", (1, 4))
    assert s.majority_share == 0.5 and s.impure_mass == 5 and s.separation == 1.0
    assert s.to_dict()["into"] == [1, 4] and s.iteration == 1
    assert centroids.shape == (5, 1)
    assert sorted(centroids[[1, 4], 0].tolist()) == pytest.approx([B, C])  # the members' means
    np.testing.assert_array_equal(centroids[[0, 2, 3], 0], [A, D, E])  # the other clusters are untouched
    labels = nearest_centroid(points, centroids)
    b_label = labels[np.flatnonzero(points[:, 0] == B)]
    c_label = labels[np.flatnonzero(points[:, 0] == C)]
    assert len(set(b_label)) == 1 and len(set(c_label)) == 1 and b_label[0] != c_label[0]


def test_the_state_budget_stops_splitting_and_reports_what_remains():
    points, symbols, offsets, outs = _mixed_successors()
    start = np.array([[A], [(B + C) / 2], [D], [E]])
    centroids, splits, status = refine_partition(points, np.array([A]), start, _trace(points, symbols, offsets, outs),
                                                 max_states=4)
    assert splits == [] and centroids.shape == (4, 1)
    assert status["deterministic"] is False and status["stopped"] == "state budget"
    assert status["remaining"] == [{"cluster": 1, "symbol": "a", "majority_share": 0.5, "impure_mass": 5}]


def test_a_cluster_with_mixed_outputs_is_split_by_output():
    # B accepts, C rejects, both are last steps: one cluster mixes the two outputs
    points, symbols, offsets, outs = _data(["a", "b"], {"a": B, "b": C}, {"a": 1, "b": 0})
    start = np.array([[A], [(B + C) / 2]])
    centroids, splits, status = refine_partition(points, np.array([A]), start, _trace(points, symbols, offsets, outs))
    assert status["deterministic"] and [(s.cluster, s.reason, s.symbol) for s in splits] == [(1, "output", None)]
    assert sorted(centroids[1:, 0].tolist()) == pytest.approx([B, C])


def test_successors_that_behave_alike_are_no_conflict():
    # D and E both reject and end every word: after minimisation they are one state, so the
    # cluster of B and C going to either is deterministic already
    points, symbols, offsets, outs = _data(["aa", "ba"], {"a": B, "aa": D, "b": C, "ba": E},
                                           {"a": 0, "aa": 0, "b": 0, "ba": 0})
    start = np.array([[A], [(B + C) / 2], [D], [E]])
    centroids, splits, status = refine_partition(points, np.array([A]), start, _trace(points, symbols, offsets, outs))
    assert splits == [] and status["deterministic"] and centroids.shape == (4, 1)


def test_on_split_sees_the_points_and_groups_of_each_split():
    points, symbols, offsets, outs = _mixed_successors()
    seen = []
    refine_partition(points, np.array([A]), np.array([[A], [(B + C) / 2], [D], [E]]), _trace(points, symbols, offsets, outs),
                     on_split=lambda pts, groups: seen.append((pts.copy(), groups.copy())))
    assert len(seen) == 1
    pts, groups = seen[0]
    assert sorted(set(pts[:, 0].tolist())) == [B, C] and set(groups.tolist()) == {0, 1}
    assert all(len(set(groups[pts[:, 0] == x].tolist())) == 1 for x in (B, C))


def test_behaviour_blocks_is_moores_partition_of_the_majority_automaton():
    # clusters 0..3 on one symbol: 0 -> 1, 1 -> 2, 2 -> 1, 3 -> 3 (majority successors); 0 accepts,
    # 1, 2 and 3 reject. 1, 2 and 3 reject forever, so no word tells them apart: one block; 0 is alone.
    counts = np.zeros((4, 1, 4), np.int64)
    counts[0, 0, 1], counts[1, 0, 2], counts[2, 0, 1], counts[3, 0, 3] = 5, 3, 4, 2
    counts[1, 0, 0] = 1  # a minority successor: only the majority counts
    outs = np.array([[0, 4], [3, 1], [5, 0], [2, 0]])
    block = behaviour_blocks(counts, outs)
    assert block[1] == block[2] == block[3] and block[0] != block[1]
    # an unobserved pair (-1) is a behaviour of its own: 3 without a successor differs from 1, 2
    counts[3] = 0
    block = behaviour_blocks(counts, outs)
    assert block[1] == block[2] and len({block[0], block[1], block[3]}) == 3
    # outputs alone: accepting clusters apart from rejecting ones
    assert behaviour_blocks(np.zeros((2, 1, 2), np.int64), np.array([[1, 0], [0, 1]])).tolist() == [0, 1]
