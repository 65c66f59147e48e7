"""Automata that several files of tests/automata share."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import strategies as st

from fsm_extract.automata.automaton import ExtractedFSM


@pytest.fixture
def parity() -> ExtractedFSM:
    """Even number of 1s over {0, 1}, with state 2 a duplicate of state 0 (3 states, minimal 2)."""
    return ExtractedFSM("01", [[0, 1], [1, 2], [2, 1]], [True, False, True], 0)


def _evidence():
    counts = np.zeros((3, 2, 3), np.int64)
    counts[0, 0, 0] = 5
    counts[0, 1, 1] = 4
    counts[0, 1, 2] = 1  # minority: 0 -1-> 2
    counts[1, 0, 1] = 3
    counts[1, 1, 2] = 3
    counts[2, 1, 1] = 2  # (2, "0") never observed
    outputs = np.array([[0, 5], [4, 0], [1, 1]])
    return counts, outputs


@pytest.fixture
def observed() -> ExtractedFSM:
    return _observed()


def _observed() -> ExtractedFSM:
    counts, outputs = _evidence()
    return ExtractedFSM.from_counts(
        counts, outputs, initial=0, alphabet="01", completion=[[9, 9], [9, 9], [2, 9]],
        centroids=np.eye(3), cluster_map=[0, 1, 2, 1], metadata={"method": "kmeans", "seed": np.int64(0)},
    )


def all_words(alphabet, max_len):
    return ["".join(w) for n in range(max_len + 1) for w in itertools.product(alphabet, repeat=n)]


@st.composite
def random_fsms(draw, max_states=12, max_symbols=3, evidence=False):
    n = draw(st.integers(1, max_states))
    k = draw(st.integers(1, max_symbols))
    table = draw(st.lists(st.lists(st.integers(0, n - 1), min_size=k, max_size=k), min_size=n, max_size=n))
    accepting = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    initial = draw(st.integers(0, n - 1))
    kwargs = {}
    if evidence:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        counts = rng.integers(0, 4, (n, k, n)) * (rng.random((n, k, 1)) < 0.7)
        kwargs = dict(
            transition_counts=counts,
            output_counts=rng.integers(0, 5, (n, 2)),
            completed=(counts.sum(-1) == 0) & (rng.random((n, k)) < 0.5),
            centroids=rng.normal(size=(n, 3)),
            cluster_map=rng.integers(0, n, n + 2),
        )
    return ExtractedFSM("abc"[:k], table, accepting, initial, **kwargs)
