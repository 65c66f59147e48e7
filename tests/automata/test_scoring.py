"""Tests of fsm_extract.automata.scoring: the Numba kernel against its NumPy reference on random
candidates and words (empty words, one state, several automata, several classes), hand-counted
examples, and the boundary checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_extract.automata.scoring import agreement_counts, agreement_counts_reference
from fsm_extract.errors import ValidationError

SETTINGS = settings(max_examples=200, deadline=None)


@st.composite
def problems(draw, *, max_candidates: int = 5, max_states: int = 6, max_symbols: int = 3, max_classes: int = 4):
    """Random candidates and words: (tables, outputs, initials, symbols, offsets, classes, h0_class).

    Word counts include 0 and lengths include 0 (empty words); one state and one class occur."""
    m = draw(st.integers(1, max_candidates))
    n = draw(st.integers(1, max_states))
    k = draw(st.integers(1, max_symbols))
    c = draw(st.integers(1, max_classes))
    lengths = draw(st.lists(st.integers(0, 8), min_size=0, max_size=10))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)
    steps = int(offsets[-1])
    tables = rng.integers(0, n, (m, n, k))
    outputs = rng.integers(0, c, (m, n))
    initials = rng.integers(0, n, m)
    symbols = rng.integers(0, k, steps)
    classes = rng.integers(0, c, steps)
    h0_class = int(rng.integers(0, c))
    return tables, outputs, initials, symbols, offsets, classes, h0_class


def _brute_force(tables, outputs, initials, symbols, offsets, classes, h0_class):
    """Counts by walking every word of every candidate in plain Python (a third opinion)."""
    prefix, words = [], []
    for c in range(len(tables)):
        p = w = 0
        for i in range(len(offsets) - 1):
            q = int(initials[c])
            same = int(outputs[c][q]) == h0_class
            for t in range(int(offsets[i]), int(offsets[i + 1])):
                q = int(tables[c][q][int(symbols[t])])
                same = int(outputs[c][q]) == int(classes[t])
                p += same
            w += same
        prefix.append(p)
        words.append(w)
    return np.array(prefix), np.array(words)


# --------------------------------------------------------------------------- properties
@SETTINGS
@given(problems())
def test_kernel_equals_reference_and_brute_force(problem):
    prefix, words = agreement_counts(*problem)
    ref_prefix, ref_words = agreement_counts_reference(*problem)
    assert prefix.dtype == np.int64 and words.dtype == np.int64
    np.testing.assert_array_equal(prefix, ref_prefix)
    np.testing.assert_array_equal(words, ref_words)
    bf_prefix, bf_words = _brute_force(*problem)
    np.testing.assert_array_equal(prefix, bf_prefix)
    np.testing.assert_array_equal(words, bf_words)


@SETTINGS
@given(problems())
def test_counts_are_bounded_by_steps_and_words(problem):
    _tables, _, initials, symbols, offsets, _, _ = problem
    prefix, words = agreement_counts(*problem)
    assert prefix.shape == words.shape == (len(initials),)
    assert ((0 <= prefix) & (prefix <= symbols.size)).all()
    assert ((0 <= words) & (words <= offsets.size - 1)).all()


@SETTINGS
@given(problems(max_candidates=4), st.integers(0, 2**32 - 1))
def test_candidates_are_scored_independently(problem, seed):
    """Scoring m candidates at once gives what scoring each alone does, in any order."""
    tables, outputs, initials, symbols, offsets, classes, h0 = problem
    prefix, words = agreement_counts(*problem)
    perm = np.random.default_rng(seed).permutation(len(initials))
    p2, w2 = agreement_counts(tables[perm], outputs[perm], initials[perm], symbols, offsets, classes, h0)
    np.testing.assert_array_equal(p2, prefix[perm])
    np.testing.assert_array_equal(w2, words[perm])
    for c in range(len(initials)):
        pc, wc = agreement_counts(tables[c : c + 1], outputs[c : c + 1], initials[c : c + 1], symbols, offsets,
                                  classes, h0)
        assert (int(pc[0]), int(wc[0])) == (int(prefix[c]), int(words[c]))


@SETTINGS
@given(problems())
def test_a_candidate_that_copies_the_net_agrees_everywhere(problem):
    """A candidate whose state is the last symbol's index and whose output per state equals the
    net's class whenever that symbol was read agrees on every prefix (classes as a function of
    the last symbol), and on the empty words exactly when its initial output is h0_class."""
    tables, _outputs, _initials, symbols, offsets, classes, h0 = problem
    k = tables.shape[2]
    per_symbol = np.arange(k) % 3  # net's class: a function of the last symbol
    classes = per_symbol[symbols]
    table = np.tile(np.arange(1, k + 1), (k + 1, 1))  # state 0 = start, state a + 1 = "last symbol a"
    out = np.concatenate([[h0], per_symbol])
    prefix, words = agreement_counts(table[None], out[None], [0], symbols, offsets, classes, h0)
    assert int(prefix[0]) == symbols.size
    assert int(words[0]) == offsets.size - 1


# --------------------------------------------------------------------------- hand-counted examples
def _csr(words):
    symbols = np.array([int(a) for w in words for a in w], np.int64)
    offsets = np.concatenate([[0], np.cumsum([len(w) for w in words])]).astype(np.int64)
    return symbols, offsets


def test_hand_counted_parity_against_constant_candidates():
    """Net: even number of 1s (class 1 = even). Candidates: the parity automaton, "always
    even" (one state) and "always odd"."""
    words = ["", "1", "11", "0", "101", "0110"]
    symbols, offsets = _csr(words)
    # prefixes: 1 -> odd; 1,11 -> odd, even; 0 -> even; 1,10,101 -> odd, odd, even;
    #           0,01,011,0110 -> even, odd, even, even
    classes = np.array([0, 0, 1, 1, 0, 0, 1, 1, 0, 1, 1])
    assert classes.size == symbols.size == 11
    tables = np.array([
        [[0, 1], [1, 0]],  # parity
        [[0, 0], [0, 0]],  # one state (padded with an unused state 1)
        [[0, 0], [0, 0]],
    ])
    outputs = np.array([[1, 0], [1, 1], [0, 0]])
    prefix, whole = agreement_counts(tables, outputs, [0, 0, 0], symbols, offsets, classes, 1)
    # parity: all 11 prefixes, all 6 words. always-even: the 6 prefixes of class 1; words whose
    # last class is 1: "", "11", "0", "101", "0110" -> 5. always-odd: 5 prefixes; words "1" -> 1
    # (the empty word's h0 class is 1, so it disagrees)
    np.testing.assert_array_equal(prefix, [11, 6, 5])
    np.testing.assert_array_equal(whole, [6, 5, 1])
    ref = agreement_counts_reference(tables, outputs, [0, 0, 0], symbols, offsets, classes, 1)
    np.testing.assert_array_equal(ref[0], [11, 6, 5])
    np.testing.assert_array_equal(ref[1], [6, 5, 1])


def test_hand_counted_three_classes_and_initial_state():
    """A Moore machine with 3 classes, started in a state other than 0."""
    # states 0 -> 1 -> 2 -> 0 on symbol 0; symbol 1 stays. outputs: state q has class q.
    table = np.array([[[1, 0], [2, 1], [0, 2]]])
    outputs = np.array([[0, 1, 2]])
    words = ["00", "1", "010", ""]
    symbols, offsets = _csr(words)
    # from state 2: "00" -> 0, 1; "1" -> 2; "010" -> 0, 0, 1; "" -> 2
    classes = np.array([0, 2, 2, 0, 0, 0])
    # agree: step1 (0=0) yes, step2 (1 vs 2) no | "1": 2 = 2 yes | "010": 0 yes, 0 yes, 1 vs 0 no
    prefix, whole = agreement_counts(table, outputs, [2], symbols, offsets, classes, 2)
    assert (int(prefix[0]), int(whole[0])) == (4, 2)  # words: "1" and "" (h0_class 2 = state 2's class)
    prefix, whole = agreement_counts(table, outputs, [2], symbols, offsets, classes, 0)
    assert (int(prefix[0]), int(whole[0])) == (4, 1)  # the empty word now disagrees


def test_only_empty_words_and_no_words():
    table = np.zeros((2, 1, 2), np.int64)
    outputs = np.array([[1], [0]])
    symbols = np.zeros(0, np.int64)
    prefix, whole = agreement_counts(table, outputs, [0, 0], symbols, [0, 0, 0, 0], symbols, 1)
    np.testing.assert_array_equal(prefix, [0, 0])
    np.testing.assert_array_equal(whole, [3, 0])
    prefix, whole = agreement_counts(table, outputs, [0, 0], symbols, [0], symbols, 1)
    np.testing.assert_array_equal(prefix, [0, 0])
    np.testing.assert_array_equal(whole, [0, 0])
    ref = agreement_counts_reference(table, outputs, [0, 0], symbols, [0], symbols, 1)
    np.testing.assert_array_equal(ref[0], [0, 0])
    np.testing.assert_array_equal(ref[1], [0, 0])


def test_long_word_counts_in_int64():
    """500,000 agreeing steps of one word: counted exactly."""
    n = 500_000
    symbols = np.zeros(n, np.int32)
    prefix, whole = agreement_counts(np.zeros((1, 1, 1)), [[3]], [0], symbols, [0, n], np.full(n, 3), 0)
    assert (int(prefix[0]), int(whole[0])) == (n, 1)


# --------------------------------------------------------------------------- boundary checks
def _valid():
    return (np.zeros((2, 3, 2), np.int64), np.zeros((2, 3), np.int64), np.zeros(2, np.int64),
            np.array([0, 1, 1]), np.array([0, 1, 3]), np.array([0, 0, 1]), 0)


@pytest.mark.parametrize("field, value, match", [
    (0, np.zeros((2, 3)), "tables"),                  # not 3-D
    (1, np.zeros((2, 4)), "outputs"),                 # outputs (m, n) disagrees with tables
    (2, np.zeros(3), "initials"),                     # one initial per candidate
    (0, np.full((2, 3, 2), 3), r"tables must hold states in \[0, 3\)"),
    (0, np.full((2, 3, 2), -1), "tables"),
    (2, np.array([0, 3]), r"initials must be states in \[0, 3\)"),
    (3, np.array([0, 2, 1]), r"symbols must be in \[0, 2\)"),
    (3, np.array([0, -1, 1]), "symbols"),
    (5, np.array([0, 1]), "classes must have one entry per step"),
    (4, np.array([0, 1, 2]), "offsets"),             # does not end at the number of steps
    (4, np.array([1, 1, 3]), "offsets"),             # does not start at 0
    (4, np.array([0, 2, 1, 3]), "offsets"),          # decreasing
    (4, np.zeros(0, np.int64), "offsets"),           # no entries at all
])
@pytest.mark.parametrize("fn", [agreement_counts, agreement_counts_reference])
def test_bad_arrays_are_refused(fn, field, value, match):
    args = list(_valid())
    args[field] = value
    with pytest.raises(ValidationError, match=match):
        fn(*args)


def test_valid_arguments_pass():
    prefix, whole = agreement_counts(*_valid())
    np.testing.assert_array_equal(prefix, [2, 2])  # all outputs 0: agree where the class is 0 (2 steps)
    np.testing.assert_array_equal(whole, [1, 1])  # word "0" ends in class 0, word "11" in class 1
