"""The CLI's bad-input contract, case by case: one line on stderr naming the option, exit 2,
and no output left behind (an existing output is kept)."""

from __future__ import annotations

import os

import pytest

import fsm_extract as fx

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
