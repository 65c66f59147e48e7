"""Tests of fsm_extract.data.languages: the languages against plain-Python definitions, and the sampler."""

from __future__ import annotations

import itertools
import re
from collections import Counter, deque

import numpy as np
import pytest
from automata.fa.dfa import DFA
from automata.fa.nfa import NFA
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_extract import languages
from fsm_extract.data.datasets import Dataset
from fsm_extract.errors import ArgumentTypeError, UnknownSymbolError, ValidationError

# ---------------------------------------------------------------------------------------------
# Independent definitions, written straight from the literature.

TOMITA3_REJECT = r"((0|1)*0)*1(11)*(0(0|1)*1)*0(00)*(1(0|1)*)*"


def _runs(word):
    return [(ch, len(list(g))) for ch, g in itertools.groupby(word)]


def tomita3_by_runs(word):
    """Rejected iff an odd maximal 1-run is followed, anywhere later, by an odd maximal 0-run."""
    seen_odd_ones = False
    for ch, length in _runs(word):
        if ch == "1" and length % 2:
            seen_odd_ones = True
        elif ch == "0" and length % 2 and seen_odd_ones:
            return False
    return True


TOMITA = {
    1: lambda w: set(w) <= {"1"},
    2: lambda w: re.fullmatch("(10)*", w) is not None,
    3: lambda w: re.fullmatch(TOMITA3_REJECT, w) is None,
    4: lambda w: "000" not in w,
    5: lambda w: w.count("0") % 2 == 0 and w.count("1") % 2 == 0,
    6: lambda w: (w.count("0") - w.count("1")) % 3 == 0,
    7: lambda w: re.fullmatch("0*1*0*1*", w) is not None,
}
MINIMAL_SIZES = {1: 2, 2: 3, 3: 5, 4: 4, 5: 4, 6: 3, 7: 5}


def all_words(alphabet, max_len):
    return ["".join(p) for n in range(max_len + 1) for p in itertools.product(alphabet, repeat=n)]


WORDS12 = all_words("01", 12)


def dyck_ok(word, depth):
    level = 0
    for ch in word:
        level += 1 if ch == "(" else -1
        if level < 0 or level > depth:
            return False
    return level == 0


def check_canonical(lang):
    """States 0..n-1, initial 0, complete, minimal, numbered in BFS order over sorted symbols."""
    dfa = lang.dfa
    n = lang.n_states
    assert dfa.states == frozenset(range(n)) and dfa.initial_state == 0
    assert all(set(dfa.transitions[s]) == set(lang.alphabet) for s in range(n))
    assert len(dfa.minify().states) == n
    order, queue, seen = [0], deque([0]), {0}
    while queue:
        s = queue.popleft()
        for sym in sorted(lang.alphabet):
            t = dfa.transitions[s][sym]
            if t not in seen:
                seen.add(t)
                order.append(t)
                queue.append(t)
    assert order == list(range(n))
    table, accepting, initial = lang.transition_table()
    assert table.dtype == np.int64 and table.shape == (n, len(lang.alphabet)) and initial == 0
    assert accepting.dtype == np.bool_ and accepting.shape == (n,)
    for s in range(n):
        assert bool(accepting[s]) == (s in dfa.final_states)
        for a, sym in enumerate(lang.alphabet):
            assert table[s, a] == dfa.transitions[s][sym]


# ---------------------------------------------------------------------------------------------
# Tomita


def test_tomita3_definitions_agree():
    assert all(tomita3_by_runs(w) == TOMITA[3](w) for w in WORDS12)


@pytest.mark.parametrize("n", range(1, 8))
def test_tomita_matches_definition_on_all_words_up_to_12(n):
    lang = languages.tomita(n)
    expected = np.array([TOMITA[n](w) for w in WORDS12])
    np.testing.assert_array_equal(lang.accepts_many(WORDS12), expected)
    short = [w for w in WORDS12 if len(w) <= 8]
    assert [lang.accepts(w) for w in short] == [TOMITA[n](w) for w in short]
    assert [lang.dfa.accepts_input(w) for w in short] == [TOMITA[n](w) for w in short]


@pytest.mark.parametrize("n", range(1, 8))
def test_tomita_structure(n):
    lang = languages.tomita(n)
    assert lang.n_states == MINIMAL_SIZES[n]
    assert lang.alphabet == ("0", "1") and lang.name == f"tomita{n}"
    assert lang.accepts("") and lang.accepts([])
    check_canonical(lang)
    assert repr(lang) == f"Language('tomita{n}', alphabet='01', n_states={MINIMAL_SIZES[n]})"
    assert lang == languages.tomita(n) and hash(lang) == hash(languages.tomita(n))
    table, _, _ = lang.transition_table()
    with pytest.raises(ValueError):
        table[0, 0] = 1  # read-only


@pytest.mark.parametrize("bad", [0, 8, -1, 100])
def test_tomita_out_of_range(bad):
    with pytest.raises(ValidationError, match=rf"n={bad} must be an integer from 1 to 7") as info:
        languages.tomita(bad)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [True, 2.0, "3", None])
def test_tomita_wrong_type(bad):
    with pytest.raises(ArgumentTypeError, match=r"n=.* must be an integer") as info:
        languages.tomita(bad)
    assert isinstance(info.value, TypeError)


def test_tomita_numpy_int():
    assert languages.tomita(np.int64(4)) == languages.tomita(4)


def test_accepts_unknown_symbol():
    lang = languages.tomita(4)
    with pytest.raises(UnknownSymbolError, match=r"word='012'.*symbol '2' at position 2"):
        lang.accepts("012")
    with pytest.raises(UnknownSymbolError, match=r"words\[1\]='0a'.*'a' at position 1"):
        lang.accepts_many(["01", "0a"])
    with pytest.raises(ValueError):
        lang.accepts(["0", 1])


def test_accepts_sequences_and_empty_batch():
    lang = languages.tomita(1)
    assert lang.accepts(["1", "1"]) and not lang.accepts(("1", "0"))
    out = lang.accepts_many([])
    assert out.shape == (0,) and out.dtype == np.bool_
    np.testing.assert_array_equal(lang.accepts_many(["", "1", "10", ("1", "1")]), [True, True, False, True])


@settings(max_examples=50)
@given(st.lists(st.text(alphabet="01", max_size=40), max_size=30), st.integers(1, 7))
def test_accepts_many_matches_accepts(words, n):
    lang = languages.tomita(n)
    np.testing.assert_array_equal(lang.accepts_many(words), [lang.accepts(w) for w in words])


# ---------------------------------------------------------------------------------------------
# from_regex, from_dfa, Language construction


@pytest.mark.parametrize("pattern", ["(ab|b)*a", "a+b?", "(a|b)*abb", "", "a*", "(aa|bb)*(ab|ba)(aa|bb)*"])
def test_from_regex_matches_python_re(pattern):
    lang = languages.from_regex(pattern, alphabet="ab")
    words = all_words("ab", 8)
    np.testing.assert_array_equal(lang.accepts_many(words), [re.fullmatch(pattern, w) is not None for w in words])
    check_canonical(lang)
    assert lang.name == pattern or pattern == ""


def test_from_regex_equals_tomita():
    assert languages.from_regex("1*", alphabet="01") == languages.tomita(1)
    assert languages.from_regex("(10)*", alphabet="01") == languages.tomita(2)
    assert languages.from_regex("0*1*0*1*", alphabet="01") == languages.tomita(7)
    assert languages.from_regex("0*1*0*1*", alphabet="01") != languages.tomita(3)
    t3 = languages.from_regex(TOMITA3_REJECT, alphabet="01")
    complement = ~t3.dfa
    assert languages.from_dfa(complement) == languages.tomita(3)


def test_from_regex_quantifiers_and_classes():
    assert languages.from_regex("(0{2}|1)*", alphabet="01") == languages.from_regex("(00|1)*", alphabet="01")
    assert languages.from_regex("[01]*1", alphabet="01") == languages.from_regex("(0|1)*1", alphabet="01")
    with pytest.raises(ValidationError, match=r"pattern='\[0-9\]' uses symbols \['2', .*must be in the alphabet"):
        languages.from_regex("[0-9]", alphabet="01")


def test_from_regex_errors():
    with pytest.raises(ValidationError, match=r"pattern='\(' must be a valid regular expression"):
        languages.from_regex("(", alphabet="ab")
    with pytest.raises(ValidationError, match=r"pattern='ac' holds symbol 'c' at position 1"):
        languages.from_regex("ac", alphabet="ab")
    with pytest.raises(ValidationError, match=r"alphabet=.*regex operators"):
        languages.from_regex("()", alphabet="()")
    with pytest.raises(ArgumentTypeError, match="pattern=3 must be a str"):
        languages.from_regex(3, alphabet="ab")
    with pytest.raises(ValidationError):
        languages.from_regex("a|", alphabet="ab")


def test_from_dfa_partial_and_odd_state_names():
    dfa = DFA(
        states={"start", ("x", 1), "unreachable"},
        input_symbols={"b", "a"},
        transitions={"start": {"a": ("x", 1)}, ("x", 1): {"b": "start"}, "unreachable": {"a": "start"}},
        initial_state="start",
        final_states={"start", "unreachable"},
        allow_partial=True,
    )
    lang = languages.from_dfa(dfa, name="ab-star")
    assert lang.alphabet == ("a", "b") and lang.name == "ab-star"
    assert lang.n_states == 3  # start, after a, trap
    check_canonical(lang)
    words = all_words("ab", 8)
    assert [lang.accepts(w) for w in words] == [dfa.accepts_input(w) for w in words]
    assert lang == languages.from_regex("(ab)*", alphabet="ab")


def test_language_constructor_minimises():
    # 4 states, two pairs of equivalent ones: parity of the number of 1s
    t = {i: {"0": i, "1": (i + 1) % 4} for i in range(4)}
    dfa = DFA(states=set(t), input_symbols={"0", "1"}, transitions=t, initial_state=0, final_states={0, 2})
    lang = languages.Language("01", dfa, "even ones")
    assert lang.n_states == 2 and lang.alphabet == ("0", "1")
    check_canonical(lang)
    with pytest.raises(ValidationError, match=r"dfa.input_symbols=\['0', '1'\] must equal the alphabet \['a', 'b'\]"):
        languages.Language("ab", dfa)


@pytest.mark.parametrize("bad", [NFA.from_regex("ab", input_symbols={"a", "b"}), {"a": 1}, "ab*", None])
def test_from_dfa_rejects_non_dfa(bad):
    with pytest.raises(ArgumentTypeError, match="must be an automata-lib DFA") as info:
        languages.from_dfa(bad)
    assert isinstance(info.value, TypeError)


def test_from_dfa_rejects_non_string_symbols():
    dfa = DFA(states={0}, input_symbols={0, 1}, transitions={0: {0: 0, 1: 0}}, initial_state=0, final_states={0})
    with pytest.raises(ArgumentTypeError, match="must all be strings"):
        languages.from_dfa(dfa)


# ---------------------------------------------------------------------------------------------
# random_dfa, dyck


@pytest.mark.parametrize("n_states", [2, 3, 5, 8, 13, 40])
@pytest.mark.parametrize("alphabet", ["01", "abc"])
def test_random_dfa_is_minimal_and_reproducible(n_states, alphabet):
    lang = languages.random_dfa(n_states=n_states, alphabet=alphabet, seed=7)
    assert lang.n_states == n_states and lang.alphabet == tuple(alphabet)
    check_canonical(lang)
    _, accepting, _ = lang.transition_table()
    assert accepting.any() and not accepting.all()  # all states reachable: accepts and rejects words
    dfa = lang.dfa
    assert not dfa.isempty()
    complement = ~dfa
    assert not complement.isempty()
    assert languages.random_dfa(n_states=n_states, alphabet=alphabet, seed=7) == lang


def test_random_dfa_seeds_differ_and_unary():
    drawn = {languages.random_dfa(n_states=6, seed=s) for s in range(10)}
    assert len(drawn) > 5
    assert languages.random_dfa(n_states=4, alphabet="a", seed=3).n_states == 4


def test_random_dfa_errors():
    with pytest.raises(ValidationError, match="n_states=1 must be >= 2"):
        languages.random_dfa(n_states=1)
    with pytest.raises(ArgumentTypeError, match="n_states=True must be an integer"):
        languages.random_dfa(n_states=True)
    with pytest.raises(ValidationError, match="seed=-1 must be >= 0"):
        languages.random_dfa(n_states=3, seed=-1)


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_dyck(depth):
    lang = languages.dyck(depth=depth)
    assert lang.n_states == depth + 2 and lang.alphabet == ("(", ")")
    check_canonical(lang)
    words = all_words("()", 10)
    np.testing.assert_array_equal(lang.accepts_many(words), [dyck_ok(w, depth) for w in words])
    with pytest.raises(ValidationError, match="depth=0 must be >= 1"):
        languages.dyck(depth=0)


# ---------------------------------------------------------------------------------------------
# Sampling


def classes_by_length(lang, max_len):
    """{length: (n_rejected, n_accepted)} by brute force."""
    out = {}
    for length in range(max_len + 1):
        words = ["".join(p) for p in itertools.product(lang.alphabet, repeat=length)]
        acc = int(lang.accepts_many(words).sum())
        out[length] = (len(words) - acc, acc)
    return out


def check_sample(lang, data, n, min_len, max_len):
    assert isinstance(data, Dataset) and len(data) == n and data.alphabet == lang.alphabet
    assert data.lengths.min() >= min_len and data.lengths.max() <= max_len
    np.testing.assert_array_equal(data.labels, lang.accepts_many(data.words))
    classes = classes_by_length(lang, max_len)
    per = Counter(zip(data.lengths.tolist(), data.labels.tolist()))
    for length in range(min_len, max_len + 1):
        rej, acc = per[(length, False)], per[(length, True)]
        n_rej, n_acc = classes[length]
        if n_rej and n_acc:
            assert abs(acc - rej) <= 1, (length, acc, rej)
        else:
            assert (acc if n_rej else rej) == 0
        # a class repeats words only when it has fewer distinct words than it was given
        for label, available in ((False, n_rej), (True, n_acc)):
            got = [w for w, y in zip(data.words, data.labels) if len(w) == length and y == label]
            assert len(set(got)) == min(len(got), available)


@pytest.mark.parametrize("n", range(1, 8))
def test_sample_balanced_per_length(n):
    lang = languages.tomita(n)
    check_sample(lang, lang.sample(n=600, min_len=0, max_len=12, seed=n), 600, 0, 12)


def test_sample_spreads_evenly_over_lengths():
    data = languages.tomita(4).sample(n=1000, min_len=10, max_len=20, seed=1)
    counts = Counter(data.lengths.tolist())
    assert sorted(counts) == list(range(10, 21))
    assert max(counts.values()) - min(counts.values()) <= 1
    assert len(set(data.words)) == 1000


def test_sample_few_words_spread_over_many_lengths():
    data = languages.tomita(3).sample(n=10, min_len=0, max_len=1000, seed=0)
    assert sorted(data.lengths.tolist()) == list(range(100, 1001, 100))


def test_sample_caps_short_lengths_and_redistributes():
    lang = languages.tomita(6)
    data = lang.sample(n=300, min_len=0, max_len=8, seed=0)
    counts = Counter(data.lengths.tolist())
    assert [counts[length] for length in range(4)] == [1, 2, 4, 8]  # all the words there are
    assert sum(counts.values()) == 300 and min(counts[length] for length in range(6, 9)) >= 64
    check_sample(lang, data, 300, 0, 8)
    # length 3 has 2 accepted words (000, 111) for 4 accepted places: balance makes them repeat
    accepted3 = Counter(w for w, y in zip(data.words, data.labels) if y and len(w) == 3)
    assert set(accepted3) == {"000", "111"} and sum(accepted3.values()) == 4


def test_sample_repeats_only_when_forced():
    # only 1 + 2 + 4 = 7 words exist: every one appears, then repeats
    lang = languages.tomita(4)
    data = lang.sample(n=50, min_len=0, max_len=2, seed=0)
    check_sample(lang, data, 50, 0, 2)
    assert set(data.words) == set(all_words("01", 2))


def test_sample_deterministic_and_seed_dependent():
    lang = languages.tomita(3)
    a = lang.sample(n=300, max_len=15, seed=11)
    b = lang.sample(n=300, max_len=15, seed=11)
    c = lang.sample(n=300, max_len=15, seed=12)
    assert a.words == b.words and np.array_equal(a.labels, b.labels)
    assert a.words != c.words
    assert a.name == "tomita3"


def test_sample_is_uniform_inside_a_class():
    lang = languages.tomita(4)  # rejected words of length 10: 1024 - 504 = 520
    freq = Counter()
    for seed in range(60):
        data = lang.sample(n=40, min_len=10, max_len=10, seed=seed)
        freq.update(w for w, y in zip(data.words, data.labels) if not y)
    assert not any(TOMITA[4](w) for w in freq)
    observed = np.array([freq.get(w, 0) for w in all_words("01", 10) if len(w) == 10 and not TOMITA[4](w)])
    assert observed.size == 520
    expected = 60 * 20 / 520
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert chi2 < 700  # 519 degrees of freedom; a biased sampler lands in the thousands


def test_sample_long_words():
    lang = languages.tomita(1)
    data = lang.sample(n=6, min_len=9998, max_len=10_000, seed=0)
    assert sorted(data.lengths.tolist()) == [9998, 9998, 9999, 9999, 10_000, 10_000]
    assert data.labels.sum() == 3
    assert all(w == "1" * len(w) for w, y in zip(data.words, data.labels) if y)
    np.testing.assert_array_equal(data.labels, lang.accepts_many(data.words))


def test_sample_multichar_symbols():
    t = {"p": {"ab": "q", "cd": "p"}, "q": {"ab": "p", "cd": "q"}}
    dfa = DFA(states={"p", "q"}, input_symbols={"ab", "cd"}, transitions=t, initial_state="p", final_states={"p"})
    lang = languages.from_dfa(dfa)
    data = lang.sample(n=40, max_len=6, seed=0)
    assert data.alphabet == ("ab", "cd") and all(isinstance(w, tuple) for w in data.words)
    np.testing.assert_array_equal(data.labels, [w.count("ab") % 2 == 0 for w in data.words])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"n": 0}, ValidationError, "n=0 must be >= 1"),
        ({"n": 10, "min_len": 5, "max_len": 3}, ValidationError, "min_len=5 must be <= max_len=3"),
        ({"n": 10, "max_len": 10_001}, ValidationError, "max_len=10001 must be <= 10000"),
        ({"n": 10, "min_len": -1}, ValidationError, "min_len=-1 must be >= 0"),
        ({"n": 10, "seed": -1}, ValidationError, "seed=-1 must be >= 0"),
        ({"n": True}, ArgumentTypeError, "n=True must be an integer"),
        ({"n": 2.5}, ArgumentTypeError, "n=2.5 must be an integer"),
    ],
)
def test_sample_validation(kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        languages.tomita(2).sample(**kwargs)


@settings(max_examples=25)
@given(
    n_states=st.integers(2, 7),
    dfa_seed=st.integers(0, 1000),
    n=st.integers(1, 80),
    lengths=st.tuples(st.integers(0, 9), st.integers(0, 9)).map(sorted),
    seed=st.integers(0, 2**32 - 1),
)
def test_sample_properties_on_random_dfas(n_states, dfa_seed, n, lengths, seed):
    lang = languages.random_dfa(n_states=n_states, seed=dfa_seed)
    min_len, max_len = lengths
    data = lang.sample(n=n, min_len=min_len, max_len=max_len, seed=seed)
    check_sample(lang, data, n, min_len, max_len)
