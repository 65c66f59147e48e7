"""Tests of fsm_extract.abstraction.build: a trace and a fitted abstraction -> counts -> an
automaton whose state centroids are the mean hidden states the net visited there.

The trace is built by hand: over ("a", "b"), the net tracks the parity of a's; its 1-D hidden
state is near 0.0 (even) or 1.0 (odd). The abstraction is a stub with three centres, 0.0, 1.0 and
0.3: the even states near 0.3 fall in a cluster of their own that behaves exactly like the one
at 0.0, so minimising merges them.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fsm_extract.abstraction.build import ClusterTotals, build_fsm, fewer_clusters_record, row_sums, state_centroids
from fsm_extract.automata.automaton import ExtractedFSM
from fsm_extract.automata.nearest import nearest_centroid
from fsm_extract.nets.trace import Trace
from fsm_extract.words import encode_words


WORDS = ["".join(w) for n in range(5) for w in itertools.product("ab", repeat=n)]  # every word up to 4
ALPHABET = ("a", "b")


class _Stub:
    """A fitted abstraction: nearest of fixed centres (what build_fsm reads of one)."""

    def __init__(self, centres, n_states=None):
        self.centroids_ = np.asarray(centres, np.float64)
        self.n_states_ = len(centres)
        self.n_states = n_states or len(centres)
        self.initial_label_ = int(self.predict(np.zeros((1, 1)))[0])

    def predict(self, hidden):
        return nearest_centroid(np.asarray(hidden), self.centroids_)


def _trace():
    symbols, offsets = encode_words(WORDS, ALPHABET)
    hidden, outputs = [], []
    rng = np.random.default_rng(0)
    for w in WORDS:
        odd = 0
        for i, c in enumerate(w):
            odd ^= c == "a"
            jitter = 0.3 if (not odd and i % 2 == 1) else float(rng.uniform(-0.05, 0.05))  # some evens near 0.3
            hidden.append([float(odd) + (0.0 if odd else jitter)])
            outputs.append(0.9 if odd else 0.1)
    return Trace(hidden=np.array(hidden, np.float32), symbols=symbols, offsets=offsets, h0=np.zeros(1, np.float32),
                 outputs=np.array(outputs, np.float32), h0_output=0.1, alphabet=ALPHABET, cell="rnn")


def _expected_counts(labels, trace, init, k):
    counts = np.zeros((k, 2, k), np.int64)
    outs = np.zeros((k, 2), np.int64)
    for w in range(trace.n_words):
        prev = init
        outs[init, trace.h0_class] += 1
        for t in range(trace.offsets[w], trace.offsets[w + 1]):
            counts[prev, trace.symbols[t], labels[t]] += 1
            outs[labels[t], trace.classes[t]] += 1
            prev = labels[t]
    return counts, outs


def test_build_without_minimising_counts_every_step_per_cluster():
    trace = _trace()
    stub = _Stub([[0.0], [1.0], [0.3]])
    labels = stub.predict(trace.hidden)
    assert set(labels.tolist()) == {0, 1, 2}  # the case needs all three clusters
    fsm = build_fsm(None, trace, stub, minimize=False)  # every pair observed: the net is never run
    counts, outs = _expected_counts(labels, trace, stub.initial_label_, 3)
    np.testing.assert_array_equal(fsm.transition_counts, counts)
    assert fsm.transition_counts.sum() == trace.n_steps
    assert fsm.n_states == 3 and fsm.initial == 0 and fsm.metadata["completion"] == "centroid"
    np.testing.assert_array_equal(fsm.output_counts, outs)
    np.testing.assert_array_equal(fsm.cluster_map, [0, 1, 2])
    np.testing.assert_array_equal(fsm.cluster_centroids, stub.centroids_)
    assert not fsm.completed.any()


def test_build_minimises_and_centres_each_state_on_its_visited_hidden_states():
    trace = _trace()
    stub = _Stub([[0.0], [1.0], [0.3]])
    fsm = build_fsm(None, trace, stub, metadata={"method": "stub"})
    assert fsm.n_states == 2 and fsm.metadata["minimized_from"] == 3 and fsm.metadata["method"] == "stub"
    for w in WORDS:
        assert fsm.accepts(w) == (w.count("a") % 2 == 1)
    assert fsm.cluster_map[0] == fsm.cluster_map[2] != fsm.cluster_map[1]  # 0.0 and 0.3 merged
    assert fsm.transition_counts.sum() == trace.n_steps
    state = fsm.cluster_map[stub.predict(trace.hidden)]
    for q in range(2):
        np.testing.assert_allclose(fsm.centroids[q], trace.hidden[state == q].astype(np.float64).mean(0))
    np.testing.assert_array_equal(fsm.cluster_centroids, stub.centroids_)  # the abstraction is kept as it is


def test_state_centroids_keep_the_centre_of_a_state_no_step_visits():
    trace = _trace()
    stub = _Stub([[0.0], [1.0], [0.3], [9.0]])  # the cluster at 9.0 holds no step
    labels = stub.predict(trace.hidden)
    base = ExtractedFSM(ALPHABET, [[1, 0], [0, 1], [1, 2], [3, 3]], [False, True, False, False], 0,
                        centroids=[[-1.0], [-1.0], [-1.0], [9.0]], cluster_map=[0, 1, 2, 3])
    out = state_centroids(base, ClusterTotals.of_trace(trace, labels, 0, 4))
    assert out.centroids[3, 0] == 9.0  # unvisited: unchanged
    for q in range(3):
        assert out.centroids[q, 0] == pytest.approx(float(trace.hidden[labels == q].mean()))


def test_fewer_clusters_are_recorded():
    assert fewer_clusters_record(16, 16) == {} and fewer_clusters_record(4, 9) == {}
    rec = fewer_clusters_record(16, 5)
    assert rec["n_clusters"] == 5 and rec["fewer_clusters"]["requested"] == 16 and rec["fewer_clusters"]["used"] == 5
    trace = _trace()
    fsm = build_fsm(None, trace, _Stub([[0.0], [1.0], [0.3]], n_states=8), minimize=False)
    assert fsm.metadata["fewer_clusters"] == {"requested": 8, "used": 3,
                                              "reason": "fewer distinct hidden states than requested clusters"}


def test_row_sums_equal_add_at_bit_for_bit():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5000, 7)).astype(np.float32)
    labels = rng.integers(0, 6, size=5000)
    ref = np.zeros((6, 7))
    np.add.at(ref, labels, x.astype(np.float64))
    np.testing.assert_array_equal(row_sums(labels, x, 6), ref)


def test_totals_of_two_halves_add_up_to_the_whole():
    trace = _trace()
    stub = _Stub([[0.0], [1.0], [0.3]])
    labels = stub.predict(trace.hidden)
    whole = ClusterTotals.of_trace(trace, labels, 0, 3)
    cut = int(trace.offsets[trace.n_words // 2])
    halves = []
    for lo, hi in ((0, trace.n_words // 2), (trace.n_words // 2, trace.n_words)):
        a, b = int(trace.offsets[lo]), int(trace.offsets[hi])
        part = Trace(hidden=trace.hidden[a:b], symbols=trace.symbols[a:b], offsets=trace.offsets[lo:hi + 1] - a,
                     h0=trace.h0, outputs=trace.outputs[a:b], h0_output=trace.h0_output, alphabet=trace.alphabet)
        halves.append(ClusterTotals.of_trace(part, labels[a:b], 0, 3))
    assert cut > 0
    total = halves[0] + halves[1]
    for name in ("transitions", "outputs", "sizes", "n_words", "n_steps"):
        np.testing.assert_array_equal(getattr(total, name), getattr(whole, name))
    np.testing.assert_allclose(total.hidden_sums, whole.hidden_sums)
