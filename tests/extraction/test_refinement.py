"""Tests of fsm_extract.extraction.refinement: the counterexample loop of refined extraction (its
probe and check words, within their budgets; search-found counterexamples)."""

from __future__ import annotations

import numpy as np
import pytest

import fsm_extract as fx
from fsm_extract.errors import ValidationError
from fsm_extract.nets.exact import exact_lstm

from ..helpers import _alphabet


def test_check_words_respect_the_step_budget():
    from fsm_extract.extraction.refinement import check_words

    fsm = fx.ExtractedFSM(alphabet="01", transitions=np.array([[1, 0], [0, 1]]), accepting=[True, False], initial=0)
    rng = np.random.default_rng(0)
    words = check_words(fsm, probe_length=3, n_random=2000, min_len=10_001, max_len=20_000, rng=rng,
                        max_steps=100_000)
    assert sum(map(len, words)) <= 100_000 + 20_000
    assert any(len(w) > 10_000 for w in words)  # the check still runs words longer than any fitted


def test_probe_words_are_capped_and_sampled_with_the_seed():
    from fsm_extract.automata.automaton import access_words
    from fsm_extract.extraction.refinement import probe_words

    k = 50
    fsm = fx.ExtractedFSM(alphabet=_alphabet(k), transitions=np.array([[(q + a) % 5 for a in range(k)] for q in range(5)]),
                          accepting=[True, False, True, False, True], initial=0)
    words = probe_words(fsm, probe_length=3, max_words=2000, rng=np.random.default_rng(0))
    assert len(words) == 2000  # not 5 x 127,551
    acc = [tuple(a) for a in access_words(fsm)]
    assert all(any(tuple(w[: len(a)]) == a for a in acc) for w in words)
    assert max(map(len, words)) == max(map(len, acc)) + 3
    again = probe_words(fsm, probe_length=3, max_words=2000, rng=np.random.default_rng(0))
    assert again == words
    two = fx.ExtractedFSM(alphabet="01", transitions=np.array([[1, 0], [0, 1]]), accepting=[True, False], initial=0)
    full = probe_words(two, probe_length=3, max_words=2000, rng=np.random.default_rng(0))
    assert len(full) == 2 * 15 - 1  # small alphabets: the full set, as before


def test_extract_with_search_recovers_the_planted_language(planted):
    lang, net, _ = planted
    data = fx.languages.random_dfa(n_states=5, alphabet="01", seed=3).sample(n=1000, max_len=20, seed=0)
    fsm = fx.extract(net, data, n_states=16, search=100_000)
    assert fsm.equivalent(lang)
    refine = fsm.metadata["refine"]
    assert refine["check_passed"] and refine["check"]["search"] == 100_000
    assert any("search_steps" in r for r in refine["counterexample_rounds"])
    assert all(r.get("search_steps", 0) <= 100_000 for r in refine["counterexample_rounds"])
    with pytest.raises(ValidationError, match="search=-1 must be >= 0"):
        fx.extract(net, data, search=-1)


def test_extract_keeps_the_initial_state_apart():
    """Regression, found with these networks: with fewer clusters than distinct hidden states,
    the refined extraction used to leave h0 (the DFA's accepting initial state) in the rejecting
    state's cluster: an output split counted h0 once (below ``min_mass``), though it is visited
    once per word, so the impurity of mass n_words was never split."""
    lang = fx.languages.random_dfa(n_states=2, alphabet="abc", seed=583238)
    model = exact_lstm(lang, distractors=4, amplitude=0.1, seed=583238)
    fsm = fx.extract(model, lang.sample(n=2000, min_len=0, max_len=14, seed=0), n_states=2, seed=0)
    assert fsm.accepts("") == lang.accepts("")
    assert fsm.equivalent(lang)
