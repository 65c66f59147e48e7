"""Tests of fsm_extract.data._regex: the NFA-size estimate and the bounded subset construction
behind ``languages.from_regex`` (its stated limits: ``max_states``, NFA and work per state)."""

from __future__ import annotations

import time

import pytest

import fsm_extract as fx
from fsm_extract.errors import ValidationError


@pytest.mark.parametrize("pattern, needle", [
    ("a{1000000}", "NFA of 2,000,001 states"),            # issue 18, 5: past 60 s at 3.7 GB
    ("(a{1000}){1000}", "NFA of 2,001,001 states"),
    ("(a|b)*a(a|b){20}", "DFA of more than max_states=4000"),  # 2**21 DFA states from 90 NFA states
    ("(a?){3000}", "visiting more than 800,000 NFA states"),  # automata-lib's closures: minutes, GBs
])
def test_costly_regex_is_refused_fast(pattern, needle):
    t0 = time.perf_counter()
    with pytest.raises(ValidationError) as info:
        fx.languages.from_regex(pattern, alphabet="ab")
    assert time.perf_counter() - t0 < 10
    msg = str(info.value)
    assert needle in msg and f"pattern={pattern!r}" in msg and "max_states" in msg


def test_regex_limit_can_be_raised_by_keyword():
    with pytest.raises(ValidationError, match=r"NFA of 81 states.*4 x max_states=20"):
        fx.languages.from_regex("a{40}", alphabet="ab", max_states=20)
    with pytest.raises(ValidationError, match=r"DFA of more than max_states=30"):
        fx.languages.from_regex("a{40}", alphabet="ab", max_states=30)
    lang = fx.languages.from_regex("a{40}", alphabet="ab", max_states=41)
    assert lang.n_states == 42 and lang.accepts("a" * 40) and not lang.accepts("a" * 39)
    big = fx.languages.from_regex("(a|b)*a(a|b){9}", alphabet="ab")  # 1,024 DFA states
    assert big.n_states == 1024
    with pytest.raises(ValidationError, match="max_states=0 must be >= 1"):
        fx.languages.from_regex("a", alphabet="ab", max_states=0)


def test_regex_of_the_largest_allowed_size_is_built_in_seconds():
    """A 4,000-state chain: the subset construction and the minimisation (Moore refinement,
    quadratic on a chain, now with faster row ids) stay within a few seconds."""
    t0 = time.perf_counter()
    lang = fx.languages.from_regex("(ab){1999}", alphabet="ab")
    assert lang.n_states == 4000 and lang.accepts("ab" * 1999) and not lang.accepts("ab" * 1998)
    assert time.perf_counter() - t0 < 10


_REGEX_PIECES = ["a", "b", ".", "()", "[ab]", "(a|b)", "a*", "b+", "a?", "(ab)*", "a{2}", "b{1,3}", "(a|bb){0,2}",
                 "(a&.)", "(ab|b)*a", "(a^b)"]


def test_estimate_and_subset_construction_agree_with_automata_lib():
    """The bounded construction accepts the same language as automata-lib's DFA.from_nfa, and
    the estimate is exactly the NFA's size (an upper bound where '&' is involved)."""
    from automata.fa.dfa import DFA
    from automata.fa.nfa import NFA
    from hypothesis import given, settings, strategies as st

    from fsm_extract.data._regex import estimate_nfa_states

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.sampled_from(_REGEX_PIECES), min_size=1, max_size=4), st.sampled_from(["", "|", "*", "{2,}"]))
    def run(pieces, op):
        pattern = ("(" + "".join(pieces) + ")" + op) if op in ("*", "{2,}") else op.join(pieces) if op else "".join(pieces)
        nfa = NFA.from_regex(pattern, input_symbols={"a", "b"})
        estimate = estimate_nfa_states(pattern, "ab")
        assert estimate >= len(nfa.states) and ("&" in pattern or estimate == len(nfa.states))
        ours = fx.languages.from_regex(pattern, alphabet="ab")
        assert ours == fx.Language("ab", DFA.from_nfa(nfa))

    run()


def test_regex_dfa_is_the_partial_subset_construction():
    from automata.fa.nfa import NFA

    from fsm_extract.data._regex import estimate_nfa_states, regex_dfa

    nfa = NFA.from_regex("ab*", input_symbols={"a", "b"})
    assert estimate_nfa_states("ab*", "ab") == len(nfa.states)
    dfa = regex_dfa("ab*", nfa, ("a", "b"), max_states=10)
    # breadth-first subsets, not minimised (minimising is from_regex's next step), no trap state
    assert dfa.initial_state == 0 and dfa.final_states == {1, 2}
    assert dict(dfa.transitions) == {0: {"a": 1}, 1: {"b": 2}, 2: {"b": 2}}
    assert dfa.accepts_input("abbb") and not dfa.accepts_input("ba") and not dfa.accepts_input("")
    with pytest.raises(ValidationError, match=r"pattern='ab\*' needs a DFA of more than max_states=1 states"):
        regex_dfa("ab*", nfa, ("a", "b"), max_states=1)


def test_estimate_counts_repetitions_without_building_them():
    from fsm_extract.data._regex import estimate_nfa_states

    t0 = time.perf_counter()
    assert estimate_nfa_states("a{1000000}", "ab") == 2_000_001  # as the refusal message says
    assert estimate_nfa_states("(a{1000}){1000}", "ab") == 2_001_001
    assert time.perf_counter() - t0 < 1
