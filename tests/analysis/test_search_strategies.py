"""Tests of fsm_extract.analysis.search_strategies: the systematic, explore and random strategies
of the disagreement search, their budgets and their bounded memory."""

from __future__ import annotations


import pytest

import fsm_extract as fx


@pytest.fixture(scope="module")
def planted():
    from fsm_extract.nets.exact import exact_lstm, plant_trigger

    base = fx.languages.random_dfa(n_states=5, alphabet="01", seed=3)
    lang = plant_trigger(base, "011010011100")
    net = exact_lstm(lang, distractors=4, amplitude=0.1, seed=1)
    fsm = fx.extract(net, base.sample(n=2000, min_len=0, max_len=20, seed=0), n_states=16)
    return lang, net, fsm


def test_search_runs_in_chunks_and_keeps_few_candidates(planted, monkeypatch):
    """Memory is bounded by a chunk of words, whatever the budget: words are drawn, run and
    dropped a chunk at a time, and only the shortest candidates are kept for verification."""
    from fsm_extract.analysis import search_strategies as search
    from fsm_extract.analysis.search import search_disagreements

    lang, net, fsm = planted
    sizes = []
    real = fx.Net.outputs

    def spy(self, symbols, offsets, **kw):  # the outputs-only runs of the one net interface
        sizes.append(int(symbols.size))
        return real(self, symbols, offsets, **kw)

    monkeypatch.setattr(fx.Net, "outputs", spy)
    monkeypatch.setattr(search, "CHUNK_STEPS", 4000)
    monkeypatch.setattr(search, "MAX_CANDIDATES", 5)
    result = search_disagreements(net, fsm, budget=120_000, seed=0, max_len=40)
    assert result.steps_spent <= 120_000
    assert sizes and max(sizes) <= 4000
    assert sum(sizes) > 60_000  # the budget was spent, chunk by chunk
    assert result.by_strategy["random"]["words"] > 1000
    assert len(result.disagreements) + result.unverified <= 2 * 5 or result.unverified > 0
    assert all(lang.accepts(d.word) == d.net_accepts != d.fsm_accepts for d in result.disagreements)
