"""A small fuzz of ``languages.from_regex``: a ValidationError naming ``pattern=``, or a Language;
costly patterns are refused or built in well under 10 s."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fsm_extract as fx

from .conftest import _settings


def _is_universal(pattern: str) -> bool:
    """Whether automata-lib's DFA of ``pattern`` accepts in every reachable state (the known
    canonical_table bug, test_from_regex_universal_language)."""
    from automata.fa.dfa import DFA
    from automata.fa.nfa import NFA

    try:
        dfa = DFA.from_nfa(NFA.from_regex(pattern, input_symbols={"0", "1"}))
    except Exception:
        return False
    reach, todo = {dfa.initial_state}, [dfa.initial_state]
    while todo:
        for t in dfa.transitions.get(todo.pop(), {}).values():
            if t not in reach:
                reach.add(t)
                todo.append(t)
    complete = all(set(dfa.transitions.get(q, {})) == {"0", "1"} for q in reach)
    return complete and reach <= set(dfa.final_states)


def test_fuzz_from_regex():
    seen = []

    @_settings(300)
    @given(st.text(alphabet=list("01*|()?&+.[]{},^-\\2a "), max_size=7))
    def run(pattern):
        try:
            lang = fx.languages.from_regex(pattern, alphabet="01")
        except fx.ValidationError as exc:
            assert "pattern=" in str(exc)
        except IndexError:
            assert _is_universal(pattern)  # the known bug, nothing else
        else:
            assert isinstance(lang, fx.Language)
        seen.append(1)

    run()
    assert len(seen) >= 300


def test_fuzz_costly_regex():
    """Well-formed patterns that ask for much (counted repetitions, exponential DFAs, closure-heavy
    NFAs) are refused or built, each in well under 10 s."""
    seen = []
    base = st.sampled_from(["0", "01", "(0|1)", "0?", "(0?1?)", ".", "(0|1)*1", "[01]"])

    @_settings(40)
    @given(st.lists(st.tuples(base, st.integers(0, 10**7), st.booleans()), min_size=1, max_size=3))
    def run(parts):
        pattern = "".join(f"({b}){{{n}}}" if counted else f"{b}(0|1){{{n % 40}}}" for b, n, counted in parts)
        t0 = time.perf_counter()
        try:
            lang = fx.languages.from_regex(pattern, alphabet="01")
        except fx.ValidationError as exc:
            assert "pattern=" in str(exc) and "max_states" in str(exc)
        else:
            assert isinstance(lang, fx.Language)
        assert time.perf_counter() - t0 < 10
        seen.append(1)

    run()
    assert len(seen) >= 40


@pytest.mark.parametrize("pattern", ["(0|1)*", ".*"])
def test_from_regex_universal_language(pattern):
    lang = fx.languages.from_regex(pattern, alphabet="01")
    assert lang.n_states == 1 and lang.accepts("0110")
