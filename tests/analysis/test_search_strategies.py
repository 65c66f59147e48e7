"""Tests of fsm_extract.analysis.search_strategies: the systematic, explore and random strategies
of the disagreement search, their budgets and their bounded memory."""

from __future__ import annotations

import fsm_extract as fx
from fsm_extract.analysis.search import search_disagreements
from fsm_extract.nets.exact import exact_lstm

from ..conftest import TRIGGER


def test_explore_steps_states_instead_of_rerunning_words(planted):
    """Explore reaches the 12-symbol trigger with a small budget: each depth costs one step per
    kept word and symbol, not the whole word again."""
    _, net, fsm = planted
    result = search_disagreements(net, fsm, budget=40_000, seed=0)
    assert result.by_strategy["explore"]["found"] > 0
    assert any(TRIGGER in d.word for d in result.disagreements if d.strategy == "explore")


def test_explore_stops_when_every_reachable_state_is_seen():
    """On an exact net without distractors the states are discrete: once every reachable state
    has been seen, explore stops and the random words get the rest of the budget."""
    lang = fx.languages.tomita(4)
    net = exact_lstm(lang)
    fsm = fx.extract(net, lang.sample(n=500, max_len=15, seed=0), n_states=4)
    result = search_disagreements(net, fsm, budget=90_000, max_len=60, seed=0)
    explore = result.by_strategy["explore"]
    assert 0 < explore["steps"] < 2_000  # a handful of depths, far below its 30,000-step share
    assert result.by_strategy["random"]["steps"] > 50_000
    assert result.disagreements == ()


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
