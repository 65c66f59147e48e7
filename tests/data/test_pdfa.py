"""Tests of fsm_extract.data.pdfa: a hand-built PDFA against probabilities worked out on paper,
sampling against those probabilities, and the properties random_pdfa promises."""

from __future__ import annotations

import itertools
import math
from collections import Counter, deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fsm_extract as fx
from fsm_extract.data.pdfa import PDFA, random_pdfa
from fsm_extract.errors import ArgumentTypeError, UnknownSymbolError, ValidationError

# Two states over "ab". State 0: a -> 1 (0.5), b -> 0 (0.2), end 0.3.
#                       State 1: a -> 0 (0.1), b -> 1 (0.3), end 0.6.
TABLE = [[1, 0], [0, 1]]
PROBS = [[0.5, 0.2, 0.3], [0.1, 0.3, 0.6]]
BY_HAND = {  # the probability of each word of length <= 2, from the path
    "": 0.3,
    "a": 0.5 * 0.6,
    "b": 0.2 * 0.3,
    "aa": 0.5 * 0.1 * 0.3,
    "ab": 0.5 * 0.3 * 0.6,
    "ba": 0.2 * 0.5 * 0.6,
    "bb": 0.2 * 0.2 * 0.3,
}


@pytest.fixture
def two():
    return PDFA("ab", TABLE, PROBS)


def all_words(alphabet, max_len):
    return ["".join(w) for n in range(max_len + 1) for w in itertools.product(alphabet, repeat=n)]


def length_distribution(pdfa, max_len):
    """P(len = L) for L = 0..max_len by pushing the state distribution forward (no sampling)."""
    k = pdfa.n_symbols
    at = np.zeros(pdfa.n_states)
    at[pdfa.initial] = 1.0
    out = []
    for _ in range(max_len + 1):
        out.append(float(at @ pdfa.probs[:, k]))
        nxt = np.zeros_like(at)
        for a in range(k):
            np.add.at(nxt, pdfa.transitions[:, a], at * pdfa.probs[:, a])
        at = nxt
    return np.array(out)


def reachable(pdfa):
    seen, queue = {pdfa.initial}, deque([pdfa.initial])
    while queue:
        s = queue.popleft()
        for a in range(pdfa.n_symbols):
            t = int(pdfa.transitions[s, a])
            if pdfa.probs[s, a] > 0 and t not in seen:
                seen.add(t)
                queue.append(t)
    return seen


def moore_classes(pdfa):
    """Number of behaviourally distinct states (Moore refinement on rows and successors)."""
    _, cls = np.unique(pdfa.probs, axis=0, return_inverse=True)
    cls = cls.ravel()
    while True:
        keys = np.column_stack([cls, cls[pdfa.transitions]])
        _, new = np.unique(keys, axis=0, return_inverse=True)
        new = new.ravel()
        if new.max() == cls.max():
            return int(new.max()) + 1
        cls = new


# ---------------------------------------------------------------------------------------------
# The hand-built PDFA


def test_log_prob_matches_the_paths(two):
    for word, p in BY_HAND.items():
        assert two.log_prob(word) == pytest.approx(math.log(p), abs=1e-12), word
    assert two.log_prob(["a", "b"]) == pytest.approx(math.log(BY_HAND["ab"]))


def test_state_of_and_next_symbol_probs(two):
    assert [two.state_of(w) for w in ["", "a", "ab", "aa", "aab"]] == [0, 1, 1, 0, 0]
    np.testing.assert_array_equal(two.next_symbol_probs("a"), PROBS[1])
    np.testing.assert_array_equal(two.next_symbol_probs("aa"), PROBS[0])
    assert two.next_symbol_probs("").shape == (3,)


def test_prefix_probs_row_t_is_the_distribution_after_t_symbols(two):
    words = ["", "a", "abba", "bbbab"]
    out = two.prefix_probs(words)
    assert [o.shape for o in out] == [(1, 3), (2, 3), (5, 3), (6, 3)]
    for word, rows in zip(words, out):
        for t in range(len(word) + 1):
            np.testing.assert_array_equal(rows[t], two.next_symbol_probs(word[:t]))
    assert two.prefix_probs([]) == []


@given(st.lists(st.text("ab", max_size=12), max_size=8))
@settings(max_examples=60)
def test_prefix_states_agree_with_state_of(words):
    pdfa = random_pdfa(n_states=6, alphabet="ab", seed=1)
    states, offsets = pdfa.prefix_states(words)
    assert offsets[-1] == sum(len(w) + 1 for w in words) == states.size
    for i, w in enumerate(words):
        assert states[offsets[i]:offsets[i + 1]].tolist() == [pdfa.state_of(w[:t]) for t in range(len(w) + 1)]


def test_the_word_probabilities_sum_to_one(two):
    total = sum(math.exp(two.log_prob(w)) for w in all_words("ab", 14))
    assert total == pytest.approx(length_distribution(two, 14).sum(), abs=1e-12)
    assert 0.99 < length_distribution(two, 60).sum() <= 1 + 1e-12


def test_expected_length_matches_the_length_distribution(two):
    dist = length_distribution(two, 400)
    assert two.expected_length() == pytest.approx(float(np.arange(401) @ dist), rel=1e-9)


def test_sample_frequencies_match_log_prob(two):
    n = 40_000
    counts = Counter(two.sample(n=n, seed=7))
    for word, p in BY_HAND.items():
        sigma = math.sqrt(p * (1 - p) / n)
        assert abs(counts[word] / n - p) < 5 * sigma, (word, counts[word] / n, p)


def test_a_capped_sample_is_the_distribution_conditioned_on_the_length(two):
    n = 40_000
    words = two.sample(n=n, seed=3, max_len=1)
    assert max(map(len, words)) <= 1
    counts = Counter(words)
    mass = BY_HAND[""] + BY_HAND["a"] + BY_HAND["b"]
    for word in ["", "a", "b"]:
        p = BY_HAND[word] / mass
        assert abs(counts[word] / n - p) < 5 * math.sqrt(p * (1 - p) / n), word
    assert set(two.sample(n=50, seed=0, max_len=0)) == {""}


def test_sample_is_reproducible_and_represents_words_like_languages(two):
    assert two.sample(n=200, seed=4) == two.sample(n=200, seed=4)
    assert two.sample(n=200, seed=4) != two.sample(n=200, seed=5)
    assert all(isinstance(w, str) for w in two.sample(n=20))
    multi = PDFA(("go", "stop"), TABLE, PROBS)
    words = multi.sample(n=50, seed=0)
    assert all(isinstance(w, tuple) and set(w) <= {"go", "stop"} for w in words)
    assert multi.log_prob(("go",)) == pytest.approx(math.log(BY_HAND["a"]))


def test_arrays_are_read_only_copies_and_rows_are_rescaled():
    probs = np.array([[0.5, 0.2, 0.3 + 5e-7], [0.1, 0.3, 0.6]])
    pdfa = PDFA("ab", np.array(TABLE), probs)
    probs[0, 0] = 0.9
    assert pdfa.probs[0, 0] != 0.9 and pdfa.probs.sum(axis=1) == pytest.approx([1, 1], abs=1e-15)
    with pytest.raises(ValueError):
        pdfa.probs[0, 0] = 0.1
    with pytest.raises(ValueError):
        pdfa.transitions[0, 0] = 0
    assert pdfa.transitions.dtype == np.int64 and pdfa.probs.dtype == np.float64


def test_equality_and_repr(two):
    assert two == PDFA("ab", TABLE, PROBS) and hash(two) == hash(PDFA("ab", TABLE, PROBS))
    assert two != PDFA("ab", TABLE, PROBS, initial=1)
    assert "n_states=2" in repr(two)


def test_a_zero_probability_prefix_still_has_a_state():
    pdfa = PDFA("ab", TABLE, [[0.7, 0.0, 0.3], [0.1, 0.3, 0.6]])
    assert pdfa.log_prob("b") == -math.inf
    np.testing.assert_array_equal(pdfa.next_symbol_probs("b"), [0.7, 0.0, 0.3])
    assert "b" not in set(pdfa.sample(n=2000, seed=0))


# ---------------------------------------------------------------------------------------------
# Construction and argument checks


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"transitions": [[0, 0]]}, ValidationError, "probs must have shape"),
        ({"transitions": [[1, 0, 0], [0, 1, 1]]}, ValidationError, "transitions must have shape"),
        ({"transitions": [[2, 0], [0, 1]]}, ValidationError, r"transitions\[0, 0\]=2"),
        ({"transitions": [[-1, 0], [0, 1]]}, ValidationError, r"transitions\[0, 0\]=-1"),
        ({"transitions": [[1.0, 0.0], [0.0, 1.0]]}, ArgumentTypeError, "transitions must hold integer"),
        ({"probs": [[0.5, 0.2, 0.3], [0.1, 0.3]]}, (ValidationError, ArgumentTypeError), "probs"),
        ({"probs": [[0.6, -0.1, 0.5], [0.1, 0.3, 0.6]]}, ValidationError, r"probs\[0, 1\]=-0.1 must be >= 0"),
        ({"probs": [[0.5, 0.2, 0.2], [0.1, 0.3, 0.6]]}, ValidationError, r"probs\[0\] must sum to 1"),
        ({"probs": [[0.5, 0.2, np.nan], [0.1, 0.3, 0.6]]}, ValidationError, "probs must be finite"),
        ({"probs": [[0.5, 0.2], [0.1, 0.3]]}, ValidationError, r"probs must have shape .* \(2, 3\)"),
        ({"initial": 2}, ValidationError, "initial=2 must be <= 1"),
        ({"initial": "0"}, ArgumentTypeError, "initial"),
        ({"alphabet": "aa"}, ValidationError, "alphabet"),
        ({"alphabet": "abc"}, ValidationError, "transitions must have shape"),
        ({"name": 3}, ArgumentTypeError, "name=3"),
    ],
)
def test_bad_construction_is_refused_naming_the_argument(kwargs, error, match):
    args = {"alphabet": "ab", "transitions": TABLE, "probs": PROBS, **kwargs}
    with pytest.raises(error, match=match):
        PDFA(**args)


def test_a_reachable_state_that_cannot_end_is_refused():
    # state 1 loops on itself forever: "a..." would never end
    with pytest.raises(ValidationError, match="state 1 is reached with positive probability but can never end"):
        PDFA("ab", [[1, 0], [1, 1]], [[0.5, 0.2, 0.3], [0.6, 0.4, 0.0]])
    # the same state behind a zero-probability symbol is harmless
    pdfa = PDFA("ab", [[1, 0], [1, 1]], [[0.0, 0.7, 0.3], [0.6, 0.4, 0.0]])
    assert pdfa.log_prob("bb") == pytest.approx(math.log(0.7 * 0.7 * 0.3))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n": 0}, ValidationError, "n=0 must be >= 1"),
        ({"n": "5"}, ArgumentTypeError, "n="),
        ({"n": 5, "seed": -1}, ValidationError, "seed=-1"),
        ({"n": 5, "max_len": -1}, ValidationError, "max_len=-1"),
        ({"n": 5, "max_len": 10_001}, ValidationError, "max_len=10001"),
        ({"n": 5, "max_len": 2.0}, ArgumentTypeError, "max_len"),
    ],
)
def test_bad_sample_arguments_are_refused(two, kwargs, error, match):
    with pytest.raises(error, match=match):
        two.sample(**kwargs)


def test_a_cap_no_word_fits_is_refused():
    pdfa = PDFA("ab", [[1, 1], [1, 1]], [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # only "a" has probability
    assert pdfa.sample(n=3, max_len=1) == ["a"] * 3
    with pytest.raises(ValidationError, match="max_len=0: no word"):
        pdfa.sample(n=3, max_len=0)


def test_unknown_symbols_name_the_position(two):
    with pytest.raises(UnknownSymbolError, match="position 1"):
        two.log_prob("ac")
    with pytest.raises(UnknownSymbolError):
        two.prefix_probs(["ab", "c"])


# ---------------------------------------------------------------------------------------------
# random_pdfa


def test_the_public_name_works():
    pdfa = fx.languages.random_pdfa(n_states=5, alphabet="abc", seed=0)
    assert isinstance(pdfa, fx.languages.PDFA) and pdfa.n_states == 5 and pdfa.alphabet == ("a", "b", "c")
    assert {"PDFA", "random_pdfa"} <= set(fx.languages.__all__)


def test_random_pdfa_is_reproducible_and_seeded():
    assert random_pdfa(n_states=7, seed=11) == random_pdfa(n_states=7, seed=11)
    assert random_pdfa(n_states=7, seed=11) != random_pdfa(n_states=7, seed=12)


CASES = [(1, "ab", 0), (2, "ab", 0), (5, "abc", 0), (6, "ab", 12), (8, "ab", 3), (12, "abcd", 5), (20, "ab", 1),
         (40, "ab", 2), (200, "abc", 9)]


@pytest.mark.parametrize("n_states, alphabet, seed", CASES)
def test_random_pdfa_is_a_reachable_minimal_distribution(n_states, alphabet, seed):
    pdfa = random_pdfa(n_states=n_states, alphabet=alphabet, seed=seed)
    assert pdfa.n_states == n_states and pdfa.initial == 0
    assert pdfa.probs.shape == (n_states, len(alphabet) + 1)
    np.testing.assert_allclose(pdfa.probs.sum(axis=1), 1.0, atol=1e-12)
    assert (pdfa.probs > 0).all()
    assert reachable(pdfa) == set(range(n_states))
    assert moore_classes(pdfa) == n_states


def assert_told_apart(pdfa):
    """Brute force: for every two states some word of length <= n_states leads to next-symbol
    distributions at total variation >= 0.2."""
    words = all_words("ab", pdfa.n_states)
    for s, t in itertools.combinations(range(pdfa.n_states), 2):
        best = 0.0
        for w in words:
            ps, pt = s, t
            for a in (0 if ch == "a" else 1 for ch in w):
                ps, pt = pdfa.transitions[ps, a], pdfa.transitions[pt, a]
            best = max(best, 0.5 * np.abs(pdfa.probs[ps] - pdfa.probs[pt]).sum())
        assert best >= 0.2 - 1e-9, (s, t, best)


@given(st.integers(1, 6), st.integers(0, 2**32 - 1))
@settings(max_examples=25)
def test_every_two_states_differ_by_tv_02_after_some_word(n_states, seed):
    assert_told_apart(random_pdfa(n_states=n_states, alphabet="ab", seed=seed))


def test_states_not_told_apart_at_first_are_redrawn():
    # seed 12: the first draw of 6 states over "ab" has a pair closer than 0.2 after every word
    assert_told_apart(random_pdfa(n_states=6, alphabet="ab", seed=12))


def test_few_states_differ_directly():
    pdfa = random_pdfa(n_states=4, alphabet="abcd", seed=0)
    for s, t in itertools.combinations(range(4), 2):
        assert 0.5 * np.abs(pdfa.probs[s] - pdfa.probs[t]).sum() >= 0.2


@pytest.mark.parametrize("end_prob", [0.1, 0.25])
def test_the_expected_length_is_set_by_end_prob(end_prob):
    pdfa = random_pdfa(n_states=10, alphabet="abc", seed=4, end_prob=end_prob)
    np.testing.assert_allclose(pdfa.probs[:, -1], end_prob, rtol=1e-15)
    expected = (1 - end_prob) / end_prob
    assert pdfa.expected_length() == pytest.approx(expected, rel=1e-9)
    lengths = np.array([len(w) for w in pdfa.sample(n=20_000, seed=1)])
    assert abs(lengths.mean() - expected) < 5 * lengths.std() / math.sqrt(lengths.size)


def test_random_pdfa_default_length_is_moderate():
    assert 8 <= random_pdfa(n_states=5, seed=0).expected_length() <= 15


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_states": 0}, ValidationError, "n_states=0 must be >= 1"),
        ({"n_states": 1001}, ValidationError, "n_states=1001 must be <= 1000"),
        ({"n_states": 2.5}, ArgumentTypeError, "n_states"),
        ({"n_states": 3, "alphabet": ""}, ValidationError, "alphabet"),
        ({"n_states": 3, "alphabet": 7}, ArgumentTypeError, "alphabet"),
        ({"n_states": 3, "alphabet": "a"}, ValidationError, "alphabet=.* at least two symbols"),
        ({"n_states": 3, "seed": -1}, ValidationError, "seed=-1"),
        ({"n_states": 3, "seed": 2**32}, ValidationError, "seed="),
        ({"n_states": 3, "end_prob": 0.0}, ValidationError, "end_prob=0.0 must be >= 0.001"),
        ({"n_states": 3, "end_prob": 0.9}, ValidationError, "end_prob=0.9 must be <= 0.5"),
        ({"n_states": 3, "end_prob": float("nan")}, ValidationError, "end_prob"),
        ({"n_states": 3, "end_prob": "0.1"}, ArgumentTypeError, "end_prob"),
    ],
)
def test_bad_random_pdfa_arguments_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        random_pdfa(**kwargs)


def test_one_symbol_and_one_state_is_allowed():
    pdfa = random_pdfa(n_states=1, alphabet="a", seed=0)
    np.testing.assert_allclose(pdfa.probs, [[0.9, 0.1]], rtol=1e-15)
