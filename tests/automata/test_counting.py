"""Tests of fsm_extract.automata.counting: kernels against their NumPy references, hand-computed
examples, counter overflow, and the boundary checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_extract.automata.counting import (
    count_outputs,
    count_outputs_reference,
    count_transitions,
    count_transitions_reference,
    run_transitions,
    run_transitions_reference,
)
from fsm_extract.errors import ArgumentTypeError, FsmExtractError, ValidationError

SETTINGS = settings(max_examples=150, deadline=None)


@st.composite
def traces(draw, *, max_states: int = 6, max_symbols: int = 4):
    """A random CSR trace: (labels, symbols, offsets, n_states, n_symbols, initial_label).

    Word counts include 0, lengths include 0 (empty words)."""
    n_states = draw(st.integers(1, max_states))
    n_symbols = draw(st.integers(1, max_symbols))
    lengths = draw(st.lists(st.integers(0, 9), min_size=0, max_size=8))
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)
    n = int(offsets[-1])
    labels = np.array(draw(st.lists(st.integers(0, n_states - 1), min_size=n, max_size=n)), dtype=np.int32)
    symbols = np.array(draw(st.lists(st.integers(0, n_symbols - 1), min_size=n, max_size=n)), dtype=np.int32)
    initial = draw(st.integers(0, n_states - 1))
    return labels, symbols, offsets, n_states, n_symbols, initial


# --------------------------------------------------------------------------- properties


@SETTINGS
@given(traces())
def test_count_transitions_matches_reference(trace):
    labels, symbols, offsets, n_states, n_symbols, initial = trace
    got = count_transitions(labels, symbols, offsets, initial, n_states, n_symbols)
    want = count_transitions_reference(labels, symbols, offsets, initial, n_states, n_symbols)
    assert got.dtype == np.int64 and got.shape == (n_states, n_symbols, n_states)
    np.testing.assert_array_equal(got, want)
    assert got.sum() == len(labels)
    # Out of a state p, the moves are exactly the steps whose previous state is p.
    word_starts = np.diff(offsets) > 0
    assert got[initial].sum() >= word_starts.sum()


@SETTINGS
@given(traces(), st.data())
def test_count_outputs_matches_reference(trace, data):
    labels, _, offsets, n_states, _, initial = trace
    n_classes = data.draw(st.integers(1, 4))
    outputs = np.array(data.draw(st.lists(st.integers(0, n_classes - 1), min_size=len(labels), max_size=len(labels))))
    initial_output = data.draw(st.integers(-1, n_classes - 1))
    got = count_outputs(labels, outputs, initial, offsets, n_states, n_classes, initial_output=initial_output)
    want = count_outputs_reference(labels, outputs, initial, offsets, n_states, n_classes, initial_output=initial_output)
    assert got.dtype == np.int64 and got.shape == (n_states, n_classes)
    np.testing.assert_array_equal(got, want)
    n_words = len(offsets) - 1
    assert got.sum() == len(labels) + (n_words if initial_output >= 0 else 0)


@SETTINGS
@given(traces(), st.data())
def test_run_transitions_matches_reference(trace, data):
    _, symbols, offsets, n_states, n_symbols, initial = trace
    cells = n_states * n_symbols
    table = np.array(data.draw(st.lists(st.integers(-1, n_states - 1), min_size=cells, max_size=cells)))
    table = table.reshape(n_states, n_symbols)
    got = run_transitions(table, symbols, offsets, initial)
    want = run_transitions_reference(table, symbols, offsets, initial)
    assert got.dtype == np.int32 and got.shape == symbols.shape
    np.testing.assert_array_equal(got, want)


@SETTINGS
@given(traces(), st.data())
def test_counting_the_run_of_a_complete_table_gives_a_deterministic_table(trace, data):
    """Labels produced by a complete table: each (state, symbol) row has one target."""
    _, symbols, offsets, n_states, n_symbols, initial = trace
    cells = n_states * n_symbols
    table = np.array(data.draw(st.lists(st.integers(0, n_states - 1), min_size=cells, max_size=cells)))
    table = table.reshape(n_states, n_symbols)
    labels = run_transitions(table, symbols, offsets, initial)
    counts = count_transitions(labels, symbols, offsets, initial, n_states, n_symbols)
    assert ((counts > 0).sum(axis=2) <= 1).all()
    seen = counts.sum(axis=2) > 0
    np.testing.assert_array_equal(counts.argmax(axis=2)[seen], table[seen])


# --------------------------------------------------------------------------- examples


def test_hand_computed_example():
    # word 0: 0 -a-> 1 -b-> 0 -a-> 1 ; word 1: empty ; word 2: 0 -b-> 2 -b-> 2
    labels = [1, 0, 1, 2, 2]
    symbols = [0, 1, 0, 1, 1]
    offsets = [0, 3, 3, 5]
    want = np.zeros((3, 2, 3), dtype=np.int64)
    want[0, 0, 1] = 2
    want[1, 1, 0] = 1
    want[0, 1, 2] = 1
    want[2, 1, 2] = 1
    np.testing.assert_array_equal(count_transitions(labels, symbols, offsets, 0, 3, 2), want)

    outputs = [1, 1, 0, 0, 1]
    np.testing.assert_array_equal(
        count_outputs(labels, outputs, 0, offsets, 3, 2), [[0, 1], [1, 1], [1, 1]]
    )
    # with the empty prefix's output: one more count per word (3 words, the empty one included)
    np.testing.assert_array_equal(
        count_outputs(labels, outputs, 0, offsets, 3, 2, initial_output=1), [[0, 4], [1, 1], [1, 1]]
    )

    table = [[1, -1], [0, 2], [2, 2]]  # 0 has no b-transition
    np.testing.assert_array_equal(run_transitions(table, symbols, offsets, 0), [1, 2, 2, -1, -1])
    np.testing.assert_array_equal(run_transitions(table, [0, 0, 1, 1], [0, 4], 1), [0, 1, 2, 2])


def test_zero_words():
    empty = np.zeros(0, dtype=np.int32)
    offsets = np.zeros(1, dtype=np.int64)
    got = count_transitions(empty, empty, offsets, 1, 3, 2)
    assert got.shape == (3, 2, 3) and not got.any()
    got = count_outputs(empty, empty, 1, offsets, 3, 2, initial_output=0)
    assert got.shape == (3, 2) and not got.any()
    got = run_transitions([[0, 1], [1, 0]], empty, offsets, 0)
    assert got.shape == (0,) and got.dtype == np.int32
    # plain empty lists are accepted too (np.asarray([]) is float64)
    assert not count_transitions([], [], [0], 0, 1, 1).any()


def test_only_empty_words():
    empty = np.zeros(0, dtype=np.int32)
    offsets = np.zeros(4, dtype=np.int64)
    assert not count_transitions(empty, empty, offsets, 0, 2, 2).any()
    np.testing.assert_array_equal(count_outputs(empty, empty, 1, offsets, 2, 2, initial_output=0), [[0, 0], [3, 0]])


def test_single_state_single_word():
    n = 7
    zeros = np.zeros(n, dtype=np.int32)
    got = count_transitions(zeros, zeros, [0, n], 0, 1, 1)
    np.testing.assert_array_equal(got, [[[n]]])
    np.testing.assert_array_equal(run_transitions([[0]], zeros, [0, n], 0), zeros)


@pytest.mark.parametrize("n", [65535, 65536, 65537, 2 * 65536 + 3])
def test_counts_past_the_uint16_accumulator(n):
    """The kernel accumulates in uint16 and carries into int64: counts at and past 2**16."""
    labels = np.zeros(n, dtype=np.int32)
    symbols = np.zeros(n, dtype=np.int32)
    labels[::3] = 1  # two cells grow past 2**16 at different times
    offsets = np.array([0, n // 2, n], dtype=np.int64)
    got = count_transitions(labels, symbols, offsets, 0, 2, 1)
    np.testing.assert_array_equal(got, count_transitions_reference(labels, symbols, offsets, 0, 2, 1))
    assert got.sum() == n


def test_accepts_other_integer_dtypes_and_strided_arrays():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, size=200)  # int64
    symbols = rng.integers(0, 3, size=400).astype(np.uint8)[::2]  # non-contiguous
    offsets = np.array([0, 50, 50, 120, 200], dtype=np.int32)
    want = count_transitions_reference(labels.astype(np.int32), symbols.astype(np.int32), offsets, 2, 5, 3)
    np.testing.assert_array_equal(count_transitions(labels, symbols, offsets, 2, 5, 3), want)
    np.testing.assert_array_equal(count_transitions(list(labels), list(symbols), list(offsets), np.int64(2), 5, 3), want)
    big_endian = labels.astype(">i8")
    np.testing.assert_array_equal(count_transitions(big_endian, symbols, offsets, 2, 5, 3), want)


def test_inputs_are_not_modified():
    labels = np.array([1, 0, 1], dtype=np.int32)
    symbols = np.array([0, 1, 0], dtype=np.int32)
    offsets = np.array([0, 3], dtype=np.int64)
    table = np.array([[1, -1], [0, 1]], dtype=np.int32)
    copies = [a.copy() for a in (labels, symbols, offsets, table)]
    count_transitions(labels, symbols, offsets, 0, 2, 2)
    count_outputs(labels, symbols, 0, offsets, 2, 2, initial_output=0)
    run_transitions(table, symbols, offsets, 0)
    for a, c in zip((labels, symbols, offsets, table), copies):
        np.testing.assert_array_equal(a, c)


# --------------------------------------------------------------------------- validation

L, S, O = [1, 0, 1], [0, 1, 0], [0, 3]


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (([0, 9, 1], S, O, 0, 8, 2), ValidationError, r"labels\[1\]=9 must be < n_states=8"),
        (([0, -1, 1], S, O, 0, 2, 2), ValidationError, r"labels\[1\]=-1 must be >= 0"),
        ((L, [0, 1, 2], O, 0, 2, 2), ValidationError, r"symbols\[2\]=2 must be < n_symbols=2"),
        ((L, [0, 1], O, 0, 2, 2), ValidationError, r"symbols has length 2 but labels has length 3"),
        (([[1, 0, 1]], S, O, 0, 2, 2), ValidationError, r"labels must have 1 dimension\(s\), got shape \(1, 3\)"),
        ((L, S, [1, 3], 0, 2, 2), ValidationError, r"offsets\[0\]=1 must be 0"),
        ((L, S, [0, 2], 0, 2, 2), ValidationError, r"offsets\[-1\]=2 must equal n_steps=3"),
        ((L, S, [0, 2, 1, 3], 0, 2, 2), ValidationError, r"offsets must be non-decreasing, but offsets\[1\]=2 > offsets\[2\]=1"),
        ((L, S, [], 0, 2, 2), ValidationError, r"offsets must have length n_words \+ 1 >= 1"),
        ((L, S, O, 2, 2, 2), ValidationError, r"initial_label=2 must be < n_states=2"),
        ((L, S, O, -1, 2, 2), ValidationError, r"initial_label=-1 must be >= 0"),
        ((L, S, O, 0, 0, 2), ValidationError, r"n_states=0 must be >= 1"),
        ((L, S, O, 0, 2, 0), ValidationError, r"n_symbols=0 must be >= 1"),
        (([1.0, 0.0, 1.0], S, O, 0, 2, 2), ArgumentTypeError, r"labels must hold integers, got dtype float64"),
        ((L, [True, False, True], O, 0, 2, 2), ArgumentTypeError, r"symbols must hold integers, got dtype bool"),
        ((L, S, O, 0.0, 2, 2), ArgumentTypeError, r"initial_label=0.0 must be an integer"),
        ((L, S, O, 0, "2", 2), ArgumentTypeError, r"n_states='2' must be an integer"),
    ],
)
def test_count_transitions_validation(args, error, message):
    for fn in (count_transitions, count_transitions_reference):
        with pytest.raises(error, match=message):
            fn(*args)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((L, [0, 3, 1], 0, O, 2, 3), {}, ValidationError, r"outputs\[1\]=3 must be < n_classes=3"),
        ((L, [0, 1], 0, O, 2, 3), {}, ValidationError, r"outputs has length 2 but labels has length 3"),
        ((L, [0, 1, 1], 0, O, 2, 3), {"initial_output": 3}, ValidationError, r"initial_output=3 must be < n_classes=3"),
        ((L, [0, 1, 1], 0, O, 2, 3), {"initial_output": -2}, ValidationError, r"initial_output=-2 must be >= -1"),
        ((L, [0, 1, 1], 0, O, 2, 0), {}, ValidationError, r"n_classes=0 must be >= 1"),
        ((L, [0, 1, 1], 5, O, 2, 3), {}, ValidationError, r"initial_label=5 must be < n_states=2"),
    ],
)
def test_count_outputs_validation(args, kwargs, error, message):
    for fn in (count_outputs, count_outputs_reference):
        with pytest.raises(error, match=message):
            fn(*args, **kwargs)


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (([[0, 2], [1, 0]], S, O, 0), ValidationError, r"table\[0, 1\]=2 must be < n_states=2"),
        (([[0, -2], [1, 0]], S, O, 0), ValidationError, r"table\[0, 1\]=-2 must be >= -1"),
        (([0, 1], S, O, 0), ValidationError, r"table must have 2 dimension\(s\), got shape \(2,\)"),
        ((np.zeros((0, 2), np.int32), [], [0], 0), ValidationError, r"table must have shape \(n_states, n_symbols\) with both >= 1"),
        (([[0, 1], [1, 0]], [0, 2, 0], O, 0), ValidationError, r"symbols\[1\]=2 must be < n_symbols \(table.shape\[1\]\)=2"),
        (([[0, 1], [1, 0]], S, O, 2), ValidationError, r"initial=2 must be < n_states \(table.shape\[0\]\)=2"),
        (([[0, 1], [1, 0]], S, [0, 2], 0), ValidationError, r"offsets\[-1\]=2 must equal n_steps=3, the length of symbols"),
        (([[0.5, 1], [1, 0]], S, O, 0), ArgumentTypeError, r"table must hold integers"),
    ],
)
def test_run_transitions_validation(args, error, message):
    for fn in (run_transitions, run_transitions_reference):
        with pytest.raises(error, match=message):
            fn(*args)


def test_errors_are_package_errors_and_builtins():
    with pytest.raises(FsmExtractError):
        count_transitions([5], [0], [0, 1], 0, 2, 1)
    with pytest.raises(ValueError):
        count_transitions([5], [0], [0, 1], 0, 2, 1)
    with pytest.raises(TypeError):
        count_transitions(["a"], [0], [0, 1], 0, 2, 1)


def test_count_array_size_is_bounded():
    with pytest.raises(ValidationError, match=r"n_states=100000 and n_symbols=4 need a count array"):
        count_transitions([0], [0], [0, 1], 0, 100_000, 4)


def test_read_only_and_writeable_inputs_share_one_compiled_signature():
    from fsm_extract.automata import counting

    labels = np.array([1, 0, 1], dtype=np.int32)
    symbols = np.array([0, 1, 0], dtype=np.int32)
    offsets = np.array([0, 3], dtype=np.int64)
    want = count_transitions(labels, symbols, offsets, 0, 2, 2)
    for a in (labels, symbols, offsets):
        a.flags.writeable = False
    np.testing.assert_array_equal(count_transitions(labels, symbols, offsets, 0, 2, 2), want)
    count_outputs(labels, symbols, 0, offsets, 2, 2)
    run_transitions(np.array([[0, 1], [1, 0]]), symbols, offsets, 0)
    for kernel in (counting._count_transitions_kernel, counting._count_outputs_kernel, counting._run_transitions_kernel):
        assert len(kernel.signatures) == 1, kernel.signatures

