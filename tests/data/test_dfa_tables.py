"""Tests of fsm_extract.data.dfa_tables: integer transition tables (conversion, canonical form,
counting words per class, uniform sampling)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from automata.fa.dfa import DFA
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_extract.data.dfa_tables import (canonical_table, count_classes, dfa_of_table, exact_count, sample_words,
                                         table_of_dfa)
from fsm_extract.errors import ValidationError


def test_row_ids_partition_rows_like_numpy_unique(rng):
    from fsm_extract.data.dfa_tables import _row_ids

    for n, k, high in [(1, 1, 1), (50, 3, 4), (1000, 5, 3), (200, 2, 10**12)]:
        rows = rng.integers(0, high, (n, k))
        ours = _row_ids(rows)
        _, theirs = np.unique(rows, axis=0, return_inverse=True)
        pairs = set(zip(ours.tolist(), theirs.reshape(-1).tolist()))
        assert len(pairs) == len(set(ours.tolist())) == len(set(theirs.reshape(-1).tolist()))
        assert sorted(set(ours.tolist())) == list(range(len(pairs)))


def _tables(max_states=6, max_symbols=3):
    return st.integers(1, max_states).flatmap(lambda n: st.integers(1, max_symbols).flatmap(lambda k: st.tuples(
        st.lists(st.lists(st.integers(0, n - 1), min_size=k, max_size=k), min_size=n, max_size=n).map(
            lambda rows: np.array(rows, np.int64)),
        st.lists(st.booleans(), min_size=n, max_size=n).map(lambda a: np.array(a, bool)))))


def _brute_counts(table, accepting, max_len):
    """Words of each length from state 0 ending rejected (class 0) / accepted (class 1), by enumeration."""
    k = table.shape[1]
    out = np.zeros((2, max_len + 1), dtype=np.int64)
    for length in range(max_len + 1):
        for word in itertools.product(range(k), repeat=length):
            q = 0
            for a in word:
                q = table[q, a]
            out[int(accepting[q]), length] += 1
    return out


def _accepts(table, accepting, word, initial=0):
    q = initial
    for a in word:
        q = int(table[q, a])
    return bool(accepting[q])


@settings(max_examples=80, deadline=None)
@given(_tables())
def test_canonical_table_is_minimal_equivalent_and_bfs_numbered(case):
    table, accepting = case
    k = table.shape[1]
    alphabet = tuple("abc"[:k])
    canon, acc = canonical_table(table, accepting, 0, list(range(k)))
    assert canon.dtype == np.int64 and acc.dtype == bool
    for length in range(5):
        for word in itertools.product(range(k), repeat=length):
            assert _accepts(canon, acc, word) == _accepts(table, accepting, word)
    minimal = dfa_of_table(table, accepting, alphabet).minify()
    assert canon.shape[0] == len(minimal.states)
    seen = [0]  # breadth-first numbering: each new state appears in order
    for q in range(canon.shape[0]):
        for a in range(k):
            t = int(canon[q, a])
            if t not in seen:
                assert t == len(seen)
                seen.append(t)
    again, again_acc = canonical_table(canon, acc, 0, list(range(k)))  # idempotent
    np.testing.assert_array_equal(again, canon)
    np.testing.assert_array_equal(again_acc, acc)


@settings(max_examples=60, deadline=None)
@given(_tables(max_states=5, max_symbols=2))
def test_count_classes_matches_enumeration(case):
    table, accepting = case
    mant, expo = count_classes(table, accepting, 9)
    assert mant.shape == expo.shape == (2, 10, table.shape[0])
    brute = _brute_counts(table, accepting, 9)
    got = np.array([[exact_count(mant[c, r, 0], expo[c, r, 0]) for r in range(10)] for c in (0, 1)])
    np.testing.assert_array_equal(got, brute)


def test_count_classes_does_not_overflow_on_long_words():
    table = np.array([[0, 0]])  # one accepting state: every word of length r, 2**r of them
    mant, expo = count_classes(table, np.array([True]), 3000)
    assert exact_count(mant[1, 52, 0], expo[1, 52, 0]) == 2**52
    assert exact_count(mant[1, 3000, 0], expo[1, 3000, 0]) == 2**53  # capped, not inf
    assert mant[1, 3000, 0] * 2.0 ** (expo[1, 3000, 0] - 3001) == 0.5  # 2**3000 = 0.5 * 2**3001
    assert exact_count(mant[0, 10, 0], expo[0, 10, 0]) == 0


def test_table_of_dfa_completes_a_partial_dfa_with_a_trap_state():
    dfa = DFA(states={"s", "t"}, input_symbols={"a", "b"}, transitions={"s": {"a": "t"}, "t": {"a": "t", "b": "s"}},
              initial_state="s", final_states={"t"}, allow_partial=True)
    table, accepting = table_of_dfa(dfa, ("a", "b"))
    assert table.tolist() == [[1, 2], [1, 0], [2, 2]] and accepting.tolist() == [False, True, False]
    back = dfa_of_table(table, accepting, ("a", "b"))
    assert back.accepts_input("ab" + "a") and not back.accepts_input("b")
    with pytest.raises(ValidationError, match="must equal the alphabet"):
        table_of_dfa(dfa, ("a", "c"))


@pytest.mark.parametrize("seed", [0, 1])
def test_sample_words_are_labelled_by_the_table_and_seeded(seed):
    table = np.array([[1, 0], [2, 0], [3, 0], [3, 3]])  # tomita 4: no "000"
    accepting = np.array([True, True, True, False])
    words, labels = sample_words(table, accepting, ("0", "1"), n=200, min_len=2, max_len=9, seed=seed)
    assert len(words) == len(labels) == 200 and labels.dtype == bool
    assert all(2 <= len(w) <= 9 for w in words)
    assert [("000" not in w) for w in words] == labels.tolist()
    assert 60 <= labels.sum() <= 140  # balanced per length where both classes exist
    again = sample_words(table, accepting, ("0", "1"), n=200, min_len=2, max_len=9, seed=seed)
    assert again[0] == words and again[1].tolist() == labels.tolist()
