"""The row sums of a streamed pass (fsm_extract.automata.sums) against their NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_extract.automata.sums import sum_rows, sum_rows_reference
from fsm_extract.errors import ArgumentTypeError, ValidationError


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(0, 300), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_sum_rows_matches_its_reference_bit_for_bit(n_groups, n, d, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_groups, size=n)
    x = rng.normal(size=(n, d)).astype(rng.choice([np.float32, np.float64]))
    np.testing.assert_array_equal(sum_rows(labels, x, n_groups), sum_rows_reference(labels, x, n_groups))


def test_sum_rows_names_bad_arguments():
    with pytest.raises(ValidationError, match="labels has length 2 but x has 3 rows"):
        sum_rows([0, 1], np.zeros((3, 2)), 2)
    with pytest.raises(ValidationError, match="n_groups"):
        sum_rows([0, 5], np.zeros((2, 2)), 2)
    with pytest.raises(ArgumentTypeError, match="floating point"):
        sum_rows([0, 1], np.zeros((2, 2), dtype=int), 2)
