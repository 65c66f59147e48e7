"""Costly but valid input: memory and time bounded by a chunk size, not by word length,
alphabet size or budget (issue 18)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import fsm_extract as fx
from fsm_extract.nets.models import RNNClassifier
from fsm_extract.nets.net import collect_trace_encoded
from fsm_extract.words import encode_words


def _peak_rss_mb(code: str, timeout: float = 300) -> tuple[dict, float]:
    """Run ``code`` in a fresh one-thread Python; it prints one JSON line. Returns it and the
    child's peak resident memory in MiB."""
    prog = textwrap.dedent(code) + textwrap.dedent("""
        import resource, json as _j
        print(_j.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **RESULT}))
    """)
    env = {"OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=timeout, env=env,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return res, res["rss_mb"]


# --- 1a: long words ---------------------------------------------------------------------------

def test_trace_of_a_long_word_is_chunked_and_equals_the_unchunked_trace(monkeypatch):
    """A word far longer than a chunk is run in pieces of time with the state carried over."""
    from fsm_extract.nets import forward as chunked

    torch.manual_seed(0)
    model = RNNClassifier("01", hidden_size=8)
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(["0", "1"], n)) for n in (3, 700, 1, 250)]
    symbols, offsets = encode_words(words, model.alphabet)
    full = {s: collect_trace_encoded(model, symbols, offsets, state=s) for s in ("h", "hc")}
    calls = []
    real = chunked._run_rnn

    def spy(model, x, st, *, per_step, state):
        calls.append(tuple(x.shape[:2]))
        return real(model, x, st, per_step=per_step, state=state)

    monkeypatch.setattr(chunked, "_run_rnn", spy)
    monkeypatch.setattr(chunked, "CHUNK_VALUES", 4096)  # a few dozen steps per torch call
    monkeypatch.setattr(chunked, "MAX_BATCH_STEPS", 600)  # the 700-word runs alone
    for s in ("h", "hc"):
        part = collect_trace_encoded(model, symbols, offsets, state=s)
        np.testing.assert_allclose(part.hidden, full[s].hidden, atol=1e-5)
        np.testing.assert_allclose(part.outputs, full[s].outputs, atol=1e-5)
    assert calls and max(b * t for b, t in calls) <= 4096 // 8
    assert all(b * t <= 700 for b, t in calls)


def test_check_words_respect_the_step_budget():
    from fsm_extract.extraction.refinement import check_words

    fsm = fx.ExtractedFSM(alphabet="01", transitions=np.array([[1, 0], [0, 1]]), accepting=[True, False], initial=0)
    rng = np.random.default_rng(0)
    words = check_words(fsm, probe_length=3, n_random=2000, min_len=10_001, max_len=20_000, rng=rng,
                        max_steps=100_000)
    assert sum(map(len, words)) <= 100_000 + 20_000
    assert any(len(w) > 10_000 for w in words)  # the check still runs words longer than any fitted


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


# --- 1b: large alphabets ----------------------------------------------------------------------

def _alphabet(k: int) -> list[str]:
    return [chr(0x41 + i) if i < 26 else chr(0x61 + i - 26) if i < 52 else chr(0x100 + i) for i in range(k)]


@pytest.fixture(scope="module")
def fifty():
    from fsm_extract.nets.exact import exact_lstm

    lang = fx.languages.random_dfa(n_states=5, alphabet=_alphabet(50), seed=0)
    return lang, exact_lstm(lang)


def test_feature_width_is_capped_and_recorded(fifty):
    from fsm_extract.abstraction.features import MAX_FEATURE_COLUMNS, FeatureMap

    lang, net = fifty
    trace = fx.collect_trace(net, lang.sample(n=20, max_len=6, seed=0), state="hc")
    fmap = FeatureMap.fit(trace, depth=2)
    assert 50 + 50**2 > MAX_FEATURE_COLUMNS
    assert (fmap.depth, fmap.requested_depth, fmap.symbols) == (1, 2, None)
    assert fmap.steps_per_state(50) == 50 and fmap.to_dict()["requested_depth"] == 2
    points = fmap.transform(net, trace.hidden[:7])
    assert points.shape == (7, fmap.hidden_columns + 50)
    small = FeatureMap.fit(trace, depth=2, max_columns=20, seed=3)  # the alphabet alone is too wide
    assert small.depth == 1 and len(small.symbols) == 20 and small.steps_per_state(50) == 20
    assert FeatureMap.fit(trace, depth=2, max_columns=20, seed=3).symbols == small.symbols  # seeded
    again = FeatureMap.from_dict(json.loads(json.dumps(small.to_dict())))
    assert again == small
    np.testing.assert_array_equal(again.transform(net, trace.hidden[:5]), small.transform(net, trace.hidden[:5]))
    assert small.transform(net, trace.hidden[:5]).shape == (5, small.hidden_columns + 20)
    # a two-symbol alphabet is not affected: every continuation up to depth 2
    tiny = FeatureMap.fit(fx.collect_trace(RNNClassifier("01", hidden_size=4), ["0110"], state="hc"), depth=2)
    assert (tiny.depth, tiny.requested_depth, tiny.symbols) == (2, None, None)
    assert "requested_depth" not in tiny.to_dict() and "symbols" not in tiny.to_dict()


def test_continuation_outputs_step_in_bounded_chunks(fifty, monkeypatch):
    from fsm_extract.abstraction import features as behaviour
    from fsm_extract.abstraction.features import FeatureMap

    lang, net = fifty
    trace = fx.collect_trace(net, lang.sample(n=50, max_len=6, seed=0), state="hc")
    fmap = FeatureMap.fit(trace, depth=2, max_columns=3000)  # every pair: 2,550 columns
    assert fmap.depth == 2
    ref = fmap.continuation_outputs(net, trace.hidden[:12])
    rows = []
    real = fx.Net.step

    def spy(self, states, ids, **kw):  # every single step goes through the one net interface
        rows.append(states.shape[0])
        return real(self, states, ids, **kw)

    monkeypatch.setattr(fx.Net, "step", spy)
    monkeypatch.setattr(behaviour, "CHUNK_VALUES", 2550 * trace.dim * 4)  # 4 states at a time
    out = fmap.continuation_outputs(net, trace.hidden[:12])
    np.testing.assert_allclose(out, ref, atol=1e-6)
    assert max(rows) <= 4 * 2500


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


@pytest.mark.slow
@pytest.mark.parametrize("k", [50, 100])
def test_refined_extraction_with_a_large_alphabet(k):
    res, rss = _peak_rss_mb(f"""
        import time, torch
        torch.set_num_threads(1)
        import fsm_extract as fx
        from fsm_extract.nets.exact import exact_lstm
        from tests.test_bounds import _alphabet
        lang = fx.languages.random_dfa(n_states=5, alphabet=_alphabet({k}), seed=0)
        net = exact_lstm(lang)
        t = time.perf_counter()
        fsm = fx.extract(net, lang.sample(n=500, max_len=10, seed=0), n_states=8, seed=0)
        RESULT = {{"equivalent": bool(fsm.equivalent(lang)), "seconds": time.perf_counter() - t,
                   "depth": fsm.metadata["features"]["depth"]}}
    """)
    assert res["equivalent"] and res["depth"] == 1
    assert rss < 1500, f"peak RSS {rss:.0f} MiB"


# --- 2: search budget --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def planted():
    from fsm_extract.nets.exact import exact_lstm, plant_trigger

    base = fx.languages.random_dfa(n_states=5, alphabet="01", seed=3)
    lang = plant_trigger(base, "011010011100")
    net = exact_lstm(lang, distractors=4, amplitude=0.1, seed=1)
    fsm = fx.extract(net, base.sample(n=2000, min_len=0, max_len=20, seed=0), n_states=16)
    return lang, net, fsm


def test_search_budget_is_capped_and_the_cap_can_be_raised(planted):
    from fsm_extract.errors import ArgumentTypeError, ValidationError
    from fsm_extract.analysis.search import MAX_BUDGET, search_disagreements

    _, net, fsm = planted
    assert MAX_BUDGET == 10**9
    with pytest.raises(ValidationError, match=r"budget=1000000001 must be <= 1000000000 \(max_budget"):
        search_disagreements(net, fsm, budget=10**9 + 1)
    with pytest.raises(ValidationError, match=r"budget=5000 must be <= 1000 \(max_budget"):
        search_disagreements(net, fsm, budget=5000, max_budget=1000)
    with pytest.raises(ArgumentTypeError, match="max_budget"):
        search_disagreements(net, fsm, budget=5000, max_budget=1e9)
    assert search_disagreements(net, fsm, budget=1000, max_budget=1000).steps_spent <= 1000
    with pytest.raises(ValidationError, match=r"search=1000000001 must be <= 1000000000"):
        fx.extract(net, ["0", "1"], search=10**9 + 1)
    with pytest.raises(ValidationError, match=r"search=1000000001 must be <= 1000000000"):
        fx.fidelity(net, fsm, ["0", "1"], search=10**9 + 1)


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


@pytest.mark.parametrize("value, rule", [("1000000000000000", "must be <= 1000000000"), ("-5", "must be >= 0"),
                                         ("1e15", "must be an integer"), ("2.5", "must be an integer")])
@pytest.mark.parametrize("command", ["extract", "fidelity"])
def test_cli_validates_the_search_budget_before_any_work(tmp_path, capsys, command, value, rule, monkeypatch):
    from fsm_extract.analysis import search
    from fsm_extract.cli import main

    monkeypatch.setattr(search, "search_disagreements", lambda *a, **k: pytest.fail("no search may start"))
    fsm = tmp_path / "fsm.json"
    fx.ExtractedFSM(alphabet="01", transitions=np.zeros((1, 2), int), accepting=[True], initial=0).save(fsm)
    argv = (["extract", "--language", "tomita4", "--out", str(tmp_path / "o.json")] if command == "extract"
            else ["fidelity", "--language", "tomita4", "--fsm", str(fsm)])
    try:
        rc = main(argv + ["--search", value])
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "--search" in err and rule in err
    assert not (tmp_path / "o.json").exists()


# --- 4: refine-only options, n_states="auto" -----------------------------------------------------

@pytest.mark.parametrize("option, value", [("features", "hidden"), ("depth", 3), ("threshold", 0.99),
                                           ("max_rounds", 2), ("search", 1000), ("search", True)])
def test_refine_only_options_are_refused_without_refinement(option, value):
    from fsm_extract.errors import ValidationError

    model = fx.datasets.bundled_model("tomita4")
    words = ["0101", "11", "000", "1", "0110"]
    with pytest.raises(ValidationError, match=rf"{option}={value!r} applies only to refined extraction.*refine=False"):
        fx.extract(model, words, n_states=3, refine=False, **{option: value})
    with pytest.raises(ValidationError, match=rf"{option}={value!r} applies only to refined extraction.*n_states='auto'"):
        fx.extract(model, words, n_states="auto", **{option: value})


def test_refine_only_options_at_their_defaults_are_accepted_without_refinement():
    model = fx.datasets.bundled_model("tomita4")
    fsm = fx.extract(model, ["0101", "11", "000", "1", "0110"], n_states=3, refine=False, features="both", depth=2,
                     threshold=0.999, max_rounds=5, search=False)
    assert fsm.metadata["method"] == "kmeans"
    fx.extract(model, ["0101", "11", "000", "1", "0110"], n_states=3, refine=False, search=0)


@pytest.mark.parametrize("n", range(1, 8))
def test_auto_finds_the_exact_automaton_of_an_exactly_built_net(n):
    from fsm_extract.nets.exact import exact_lstm

    lang = fx.languages.tomita(n)
    net = exact_lstm(lang)
    fsm = fx.extract(net, lang.sample(n=1000, max_len=20, seed=0), n_states="auto", seed=0)
    rec = fsm.metadata["auto"]
    assert rec["reached_target"], rec
    assert fsm.equivalent(lang)
