"""The CLI's bad-input contract, case by case: one line on stderr naming the option, exit 2,
and no output left behind (an existing output is kept)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import fsm_extract as fx
from fsm_extract.cli import main

from ..helpers import _expanded_checkpoint, _random_fsm, _run_capped
from .conftest import WORDS, _leftovers, _run_cli


def test_fidelity_of_an_fsm_without_centroids_is_a_specification_check(ctx):
    report = fx.fidelity(ctx.model, ctx.fsm_dfa, WORDS)  # used to raise "centroids"; now aligned (issue 11)
    assert report.aligned is not None and 0.0 <= report.prefix_agreement <= 1.0


def test_cli_fidelity_of_an_fsm_without_centroids_is_a_specification_check(ctx, capsys):
    """An FSM built from a DFA has no centroids: it used to be refused; it is checked against
    the net as a specification (issue 11)."""
    argv = ["fidelity", "--fsm", f"{ctx.files.dir}/fsm_dfa.json", "--model", f"{ctx.files.dir}/m.pt",
            "--data", f"{ctx.files.dir}/d.jsonl"]
    rc, out, err = _run_cli(capsys, argv)
    assert rc == 0, err
    assert "a specification: each of its" in out


@pytest.mark.parametrize("argv, needle", [
    (["extract", "--model", "{IN}/missing.pt", "--data", "{IN}/d.jsonl", "--out", "{OUT}/e.json"], "path="),
    (["extract", "--model", "{IN}/m.pt", "--data", "{IN}/d.jsonl", "--out", "{OUT}/e.json", "--states", "0"],
     "n_states=0"),
    (["extract", "--model", "{IN}/m.pt", "--data", "{IN}/ab.jsonl", "--out", "{OUT}/e.json"], "alphabet"),
    (["extract", "--model", "{IN}/m.pt", "--data", "{IN}/d.jsonl", "--out", "{OUT}/e.txt"], "--out="),
    (["train", "--data", "{IN}/d.jsonl", "--out", "{OUT}/t.pt", "--lr", "nan", "--quiet"], "lr=nan"),
    (["train", "--data", "{IN}/one_class.jsonl", "--out", "{OUT}/t.pt", "--quiet"], "dataset"),
    (["train", "--data", "{IN}/d.jsonl", "--out", "{OUT}/t.pt", "--hidden-size", "0", "--quiet"], "hidden_size=0"),
    (["render", "{IN}/m.pt", "--out", "{OUT}/r.svg"], "must be UTF-8 JSON"),
    (["render", "{IN}/fsm.json", "--out", "{OUT}/r.svg", "--min-confidence", "2"], "min_confidence=2"),
    (["fidelity", "--fsm", "{IN}/foreign.json", "--model", "{IN}/m.pt", "--data", "{IN}/d.jsonl"], "format="),
    (["sweep", "--model", "{IN}/m.pt", "--fit-data", "{IN}/d.jsonl", "--test-data", "{IN}/d.jsonl",
      "--states", "3:2"], "--states="),
    (["demo", "--language", "tomita9"], "--language="),
    (["extract", "--model", "{IN}/m.pt", "--data", "{IN}/d.jsonl", "--out", "{OUT}/e.json", "--bogus"],
     "unrecognized arguments"),
    (["train", "--data", "{IN}/d.jsonl", "--out", "{OUT}/t.pt", "--epochs", "x"], "invalid int value"),
])
def test_cli_bad_input_one_line(ctx, capsys, tmp_path, argv, needle):
    argv = [a.replace("{IN}", str(ctx.files.dir)).replace("{OUT}", str(tmp_path)) for a in argv]
    rc, out, err = _run_cli(capsys, argv)
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("fsm-extract"), err
    assert needle in err, err
    assert sorted(os.listdir(tmp_path)) == []


def test_cli_failure_keeps_an_existing_output(ctx, capsys, tmp_path):
    out = tmp_path / "e.json"
    out.write_text("OLD")
    rc, _, err = _run_cli(capsys, ["extract", "--model", str(ctx.files.model), "--data", str(ctx.files.data),
                                   "--states", "1000", "--out", str(out)])
    assert rc == 2 and "n_states=1000" in err
    assert out.read_text() == "OLD" and _leftovers(tmp_path) == []


@pytest.mark.parametrize("argv", [["sweep", "--language", ""], ["extract", "--language", "", "--out", "{OUT}/e.json"],
                                  ["train", "--language", "", "--out", "{OUT}/t.pt"],
                                  ["fidelity", "--language", "", "--fsm", "{IN}/fsm.json"]],
                         ids=["sweep", "extract", "train", "fidelity"])
def test_cli_empty_language_is_named(ctx, capsys, tmp_path, argv):
    argv = [a.replace("{IN}", str(ctx.files.dir)).replace("{OUT}", str(tmp_path)) for a in argv]
    rc, _, err = _run_cli(capsys, argv)
    assert rc == 2 and err.count("\n") == 1
    assert "--language=''" in err, err


def test_cli_sweep_states_overflow(ctx, capsys):
    rc, _, err = _run_cli(capsys, ["sweep", "--model", str(ctx.files.model), "--fit-data", str(ctx.files.data),
                                   "--test-data", str(ctx.files.data), "--states", "1:100000000000000000000"])
    assert rc == 2 and err.count("\n") == 1


def test_cli_demo_out_below_a_file(ctx, capsys, monkeypatch):
    # keep it fast: the bundled model and splits are swapped for the tiny ones
    monkeypatch.setattr(fx.datasets, "bundled_model", lambda name: ctx.model)
    monkeypatch.setattr(fx.datasets, "load", lambda name, split="train": ctx.ds)
    rc, _, err = _run_cli(capsys, ["demo", "--states", "3", "--out", str(ctx.files.afile / "sub")])
    assert rc == 2 and err.count("\n") == 1 and "--out" in err


def test_cli_out_name_too_long(ctx, capsys, tmp_path):
    out = tmp_path / ("a" * 300 + ".json")
    rc, _, err = _run_cli(capsys, ["extract", "--model", str(ctx.files.model), "--data", str(ctx.files.data),
                                   "--states", "2", "--out", str(out)])
    assert rc == 2 and err.count("\n") == 1


def test_cli_prints_one_line_for_a_huge_checkpoint(tmp_path):
    path = _expanded_checkpoint(tmp_path / "huge.pt", hidden=65536, layers=1)
    data = fx.Dataset(["01", "1"], [True, False], "01").to_jsonl(tmp_path / "d.jsonl")
    proc, _ = _run_capped(f"""
        import sys
        from fsm_extract.cli import main
        sys.exit(main(["extract", "--model", {str(path)!r}, "--data", {str(data)!r}, "--out", {str(tmp_path / 'o.json')!r}]))
    """)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1 and "max_parameters" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o.json").exists()


def test_cli_render_of_a_large_fsm_is_one_line(tmp_path, capsys):
    from fsm_extract.cli import main

    path = _random_fsm(300).save(tmp_path / "big.json")
    assert path.stat().st_size < 12_000
    t0 = time.perf_counter()
    assert main(["render", str(path), "--out", str(tmp_path / "big.svg"), "--view", "diagram"]) == 2
    assert time.perf_counter() - t0 < 10
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "max_states=100" in err and "--max-states" in err
    assert not (tmp_path / "big.svg").exists()
    assert main(["render", str(path), "--out", str(tmp_path / "big.dot")]) == 0
    t0 = time.perf_counter()  # by default (view auto), more than 80 nodes are drawn as the transition table
    assert main(["render", str(path), "--out", str(tmp_path / "big.svg")]) == 0
    assert time.perf_counter() - t0 < 10 and "q299" in (tmp_path / "big.svg").read_text()


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


@pytest.mark.parametrize("extra,needle", [
    (["--spec", "0*2"], "symbol '2'"),
    (["--spec", "(0"], "pattern='(0' must be a valid regular expression"),
    (["--dfa", "missing.json"], "must be an existing file"),
    (["--dfa", "{bad}"], "must hold a JSON object with exactly the keys"),
])
def test_cli_spec_bad_input_one_line(t4_exact, tmp_path, capsys, monkeypatch, extra, needle):
    model, data = t4_exact
    monkeypatch.chdir(tmp_path)
    if extra[-1] == "{bad}":
        (tmp_path / "bad.json").write_text('{"states": []}')
        extra = ["--dfa", "bad.json"]
    assert main(["fidelity", "--model", str(model), "--data", str(data), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err
