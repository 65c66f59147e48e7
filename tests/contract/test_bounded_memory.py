"""Costly but valid input in bounded memory and time (issue 18): a word of length 10,000, a
large alphabet and a large search budget, each run in a fresh one-thread Python whose peak
resident memory is measured (all slow)."""

from __future__ import annotations

import pytest

from ..helpers import _peak_rss_mb


@pytest.mark.slow
def test_refined_extraction_with_a_word_of_length_ten_thousand():
    res, rss = _peak_rss_mb("""
        import time, torch
        torch.set_num_threads(1)
        import fsm_extract as fx
        model = fx.datasets.bundled_model("tomita3")
        t = time.perf_counter()
        fsm = fx.extract(model, ["0101", "11", "0", "1100", "01" * 5000], n_states=8, seed=0)
        RESULT = {"states": fsm.n_states, "seconds": time.perf_counter() - t,
                  "rounds": len(fsm.metadata["refine"]["counterexample_rounds"])}
    """)
    assert res["states"] >= 1
    assert rss < 1500, f"peak RSS {rss:.0f} MiB"
    assert res["seconds"] < 120


@pytest.mark.slow
@pytest.mark.parametrize("k", [50, 100])
def test_refined_extraction_with_a_large_alphabet(k):
    res, rss = _peak_rss_mb(f"""
        import time, torch
        torch.set_num_threads(1)
        import fsm_extract as fx
        from fsm_extract.nets.exact import exact_lstm
        from tests.helpers import _alphabet
        lang = fx.languages.random_dfa(n_states=5, alphabet=_alphabet({k}), seed=0)
        net = exact_lstm(lang)
        t = time.perf_counter()
        fsm = fx.extract(net, lang.sample(n=500, max_len=10, seed=0), n_states=8, seed=0)
        RESULT = {{"equivalent": bool(fsm.equivalent(lang)), "seconds": time.perf_counter() - t,
                   "depth": fsm.metadata["features"]["depth"]}}
    """)
    assert res["equivalent"] and res["depth"] == 1
    assert rss < 1500, f"peak RSS {rss:.0f} MiB"


@pytest.mark.slow
def test_search_with_a_large_budget_runs_in_bounded_memory():
    res, rss = _peak_rss_mb("""
        import time, torch
        torch.set_num_threads(1)
        import fsm_extract as fx
        from fsm_extract.nets.exact import exact_lstm, plant_trigger
        from fsm_extract.analysis.search import search_disagreements
        base = fx.languages.random_dfa(n_states=5, alphabet="01", seed=3)
        net = exact_lstm(plant_trigger(base, "011010011100"), distractors=4, amplitude=0.1, seed=1)
        fsm = fx.extract(net, base.sample(n=2000, min_len=0, max_len=20, seed=0), n_states=16)
        t = time.perf_counter()
        r = search_disagreements(net, fsm, budget=10**7, seed=0)
        RESULT = {"found": len(r.disagreements), "spent": r.steps_spent, "seconds": time.perf_counter() - t}
    """, timeout=600)
    assert res["found"] > 0 and res["spent"] <= 10**7
    assert rss < 1000, f"peak RSS {rss:.0f} MiB"  # 3.7 GB before the search ran in chunks
