"""fx.sweep and n_states="auto" on the bundled Tomita-4 LSTM (small subsets, to stay fast)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import fsm_extract as fx
from fsm_extract.errors import ArgumentTypeError, FsmExtractError, ValidationError
from fsm_extract.extraction.sweep import AUTO_GRID, SweepResult


ROW_KEYS = {"k", "n_states", "prefix_agreement", "word_agreement", "state_agreement",
            "variance_explained", "determinism", "equivalent", "seconds"}


KS = [4, 8, 16]


@pytest.fixture(scope="module")
def model():
    return fx.datasets.bundled_model("tomita4")


@pytest.fixture(scope="module")
def fit_data():
    return fx.datasets.load("tomita4", split="train").subset(np.arange(600))


@pytest.fixture(scope="module")
def test_data():
    return fx.datasets.load("tomita4", split="validation").subset(np.arange(200))


@pytest.fixture(scope="module")
def result(model, fit_data, test_data):
    return fx.sweep(model, fit_data, test_data, KS, reference=fx.languages.tomita(4), progress=False)


def test_rows_have_the_documented_keys(result, test_data):
    assert isinstance(result, SweepResult)
    assert [r["k"] for r in result.rows] == KS
    for r in result.rows:
        assert set(r) == ROW_KEYS
        assert 1 <= r["n_states"] <= r["k"]  # minimised
        for key in ("prefix_agreement", "word_agreement", "state_agreement", "determinism"):
            assert 0.0 <= r[key] <= 1.0
        assert r["variance_explained"] <= 1.0
        assert isinstance(r["equivalent"], bool)
        assert r["seconds"] >= 0
    assert result.evaluated_on == f"{len(test_data)} held-out words"
    np.testing.assert_array_equal(result.column("k"), KS)
    # with enough clusters the LSTM's automaton is tomita4 itself
    assert result.rows[-1]["equivalent"] is True and result.rows[-1]["prefix_agreement"] == 1.0


def test_row_matches_extract_and_fidelity(result, model, fit_data, test_data):
    # a sweep row is what fx.extract at that k (plain clustering, as the sweep does), measured by
    # fx.fidelity on the test data, gives
    fsm = fx.extract(model, fit_data, n_states=8, refine=False)
    rep = fx.fidelity(model, fsm, test_data)
    row = result.rows[KS.index(8)]
    assert row["n_states"] == fsm.n_states
    assert row["prefix_agreement"] == pytest.approx(rep.prefix_agreement)
    assert row["word_agreement"] == pytest.approx(rep.word_agreement)
    assert row["state_agreement"] == pytest.approx(rep.state_agreement)
    assert row["variance_explained"] == pytest.approx(rep.variance_explained)
    assert row["determinism"] == pytest.approx(rep.determinism)


def test_best_picks_the_smallest_k_reaching_target(result):
    for target in (0.5, 0.9, 0.999):
        hits = [r["k"] for r in result.rows if r["prefix_agreement"] >= target]
        assert hits, target
        assert result.best(target)["k"] == min(hits)
    # nobody reaches 1.01: the most faithful row
    assert result.best(1.01)["prefix_agreement"] == max(r["prefix_agreement"] for r in result.rows)


def test_best_on_hand_built_rows():
    def row(k, p):
        return {"k": k, "n_states": k, "prefix_agreement": p, "word_agreement": p, "state_agreement": p,
                "variance_explained": 0.5, "determinism": 1.0, "equivalent": None, "seconds": 0.0}

    res = SweepResult(rows=(row(2, 0.9), row(4, 0.9995), row(8, 0.97), row(16, 1.0), row(32, 1.0)), evaluated_on="x")
    assert res.best()["k"] == 4  # default target 0.999: 4 is the smallest k reaching it
    assert res.best(0.9999)["k"] == 16
    assert res.best(0.95)["k"] == 4
    assert res.best(0.8)["k"] == 2
    # nobody reaches the target: the most faithful, the smallest k among ties
    assert res.best(1.5)["k"] == 16
    table = res.table()
    assert table.splitlines()[0].startswith("| k | FSM states | prefix agreement")
    assert table.splitlines()[3] == "| 4 | 4 | 99.95% | 99.95% | 99.95% | 50.00% | 100.00% |  |"
    assert str(res) == table


def test_table_has_a_row_per_k(result):
    lines = result.table().splitlines()
    assert lines[0].startswith("| k |") and set(lines[1]) <= set("|-")
    assert len(lines) == 2 + len(KS)
    for line, r in zip(lines[2:], result.rows):
        assert line.startswith(f"| {r['k']} | {r['n_states']} | {r['prefix_agreement']:.2%} |")
        assert line.endswith("| yes |" if r["equivalent"] else "| no |")


def test_plot_writes_a_png(result, tmp_path):
    path = result.plot(tmp_path / "sweep.png")
    assert path == tmp_path / "sweep.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.png"]  # atomic: no temporary left
    with pytest.raises(ValidationError, match="path"):
        result.plot(tmp_path / "sweep.txt")
    with pytest.raises(FsmExtractError, match="path"):
        result.plot(tmp_path / "missing" / "sweep.png")


def test_to_dict_is_json(result):
    d = json.loads(json.dumps(result.to_dict()))
    assert d["evaluated_on"] == result.evaluated_on
    assert [r["k"] for r in d["rows"]] == KS
    assert d["rows"] == [dict(r) for r in result.rows]


def test_auto_picks_the_smallest_k_reaching_target(model, fit_data, test_data):
    fsm = fx.extract(model, fit_data, n_states="auto", validation=test_data)
    rec = fsm.metadata["auto"]
    assert rec["target"] == 0.999
    assert rec["reached_target"] is True
    assert rec["validation_prefix_agreement"] >= 0.999
    assert fsm.metadata["n_clusters"] == rec["chosen"]
    tried = [k for k, _ in rec["tried"]]
    assert tried == list(AUTO_GRID[: len(tried)])  # the grid, in order, stopping at the first hit
    assert rec["tried"][-1] == [rec["chosen"], rec["validation_prefix_agreement"]]
    assert all(agree < 0.999 for _, agree in rec["tried"][:-1])
    # the recorded agreement is the automaton's agreement on the validation words
    assert fx.fidelity(model, fsm, test_data).prefix_agreement == pytest.approx(rec["validation_prefix_agreement"])
    # with validation= given, the whole of data is fitted
    assert fsm.metadata["n_fit_words"] == len(fit_data)
    json.dumps(fsm.to_dict())


@pytest.fixture(scope="module")
def tiny(fit_data, test_data):
    return fit_data.subset(np.arange(20)), test_data.subset(np.arange(10))


def test_bad_ranges_raise_package_errors(model, tiny):
    fit, test = tiny
    with pytest.raises(ValidationError, match="n_states"):
        fx.sweep(model, fit, test, [], progress=False)
    with pytest.raises(ValidationError, match="n_states.*distinct hidden states"):
        fx.sweep(model, fit, test, [10**6], progress=False)
    with pytest.raises(ArgumentTypeError, match="n_states"):
        fx.sweep(model, fit, test, 5, progress=False)
    with pytest.raises(ValidationError, match="n_states"):
        fx.sweep(model, fit, test, [0, 2], progress=False)


@pytest.mark.parametrize("bad", [["x"], [2.7]])
def test_non_integer_k_raises(model, tiny, bad):
    fit, test = tiny
    with pytest.raises(FsmExtractError, match="n_states"):
        fx.sweep(model, fit, test, bad, progress=False)


@pytest.mark.parametrize("n", range(1, 8))
def test_auto_finds_the_exact_automaton_of_an_exactly_built_net(n):
    from fsm_extract.nets.exact import exact_lstm

    lang = fx.languages.tomita(n)
    net = exact_lstm(lang)
    fsm = fx.extract(net, lang.sample(n=1000, max_len=20, seed=0), n_states="auto", seed=0)
    rec = fsm.metadata["auto"]
    assert rec["reached_target"], rec
    assert fsm.equivalent(lang)
