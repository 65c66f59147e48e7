"""The fsm-extract command line, run in-process (plus one run of the installed console script)."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import fsm_extract as fx
from fsm_extract.cli import main

from .helpers import run_cli


run = run_cli


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps({"word": w, "label": y}) + "\n" for w, y in rows), encoding="utf-8")
    return path


TINY = [("0101", True), ("000", False), ("1", True), ("1000", False), ("", True), ("110", True), ("0001", False)]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Shared inputs: a tiny dataset, a small untrained model, a saved automaton."""
    d = tmp_path_factory.mktemp("inputs")
    data = _write_jsonl(d / "d.jsonl", TINY * 3)
    torch.manual_seed(0)
    model_path = fx.RNNClassifier("01", hidden_size=8).save(d / "m.pt")
    fsm_path = fx.ExtractedFSM.from_automata(fx.languages.tomita(4).dfa, alphabet="01").save(d / "fsm.json")
    return {"data": data, "model": model_path, "fsm": fsm_path, "dir": d}


def _no_leftovers(directory):
    return [p.name for p in Path(directory).iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


# ----------------------------------------------------------------------------- commands that work
def test_train_on_a_jsonl_file(capsys, tmp_path, files):
    out = tmp_path / "m.pt"
    rc, stdout, err = run(capsys, "train", "--data", files["data"], "--out", out, "--epochs", 2, "--quiet",
                          "--hidden-size", 8)
    assert rc == 0, err
    assert err == ""  # --quiet: no progress bar
    assert "trained lstm (8 units)" in stdout and "2 epochs" in stdout
    assert "held-out (2 words) accuracy" in stdout  # 21 words: a seeded 10% is held out for early stopping
    model = fx.load_model(out)
    assert model.hidden_size == 8 and model.alphabet == ("0", "1")
    assert model.metadata["epochs_run"] == 2 and model.metadata["prefix_labels"] is False
    assert _no_leftovers(tmp_path) == []


def test_train_with_validation_file(capsys, tmp_path, files):
    out = tmp_path / "g.pt"
    rc, stdout, err = run(capsys, "train", "--data", files["data"], "--validation", files["data"], "--out", out,
                          "--epochs", 1, "--cell", "gru", "--hidden-size", 4, "--quiet")
    assert rc == 0, err
    assert "validation accuracy" in stdout
    assert fx.load_model(out).cell == "gru"


def test_train_on_a_language(capsys, tmp_path):
    out = tmp_path / "t4.pt"
    rc, stdout, err = run(capsys, "train", "--language", "tomita4", "--out", out, "--quiet")
    assert rc == 0, err
    assert "validation accuracy 1.0000" in stdout
    model = fx.load_model(out)
    assert model.metadata["prefix_labels"] is True
    test = fx.datasets.load("tomita4", split="test")
    assert float((model.predict(test.words) == test.labels).mean()) >= 0.995


def test_extract_then_render(capsys, tmp_path):
    fsm_path = tmp_path / "fsm.json"
    rc, stdout, err = run(capsys, "extract", "--language", "tomita4", "--states", 16, "--out", fsm_path)
    assert rc == 0, err
    assert err == ""  # no progress bar when stderr is not a terminal
    assert re.match(r"4 states \(\d+ clusters", stdout), stdout
    assert stdout.rstrip().endswith(f"saved {fsm_path}")
    fsm = fx.load_fsm(fsm_path)
    assert fsm.n_states == 4 and fsm.equivalent(fx.languages.tomita(4))
    assert fsm.metadata["seed"] == 0

    rc, stdout, err = run(capsys, "render", fsm_path, "--out", tmp_path / "fsm.svg")
    assert rc == 0, err
    assert stdout.strip() == f"wrote {tmp_path / 'fsm.svg'}"
    assert "<svg" in (tmp_path / "fsm.svg").read_text()

    rc, _, err = run(capsys, "render", fsm_path, "--out", tmp_path / "fsm.dot", "--hide-sink", "--show-support")
    assert rc == 0, err
    dot = (tmp_path / "fsm.dot").read_text()
    assert dot.lstrip().startswith("digraph") and "->" in dot
    assert dot == fsm.to_dot(hide_sink=True, show_support=True)

    rc, _, err = run(capsys, "render", fsm_path, "--out", tmp_path / "fsm.png")
    assert rc == 0, err
    assert (tmp_path / "fsm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _no_leftovers(tmp_path) == []


def test_extract_with_model_and_data(capsys, tmp_path, files):
    out = tmp_path / "fsm.json"
    rc, stdout, err = run(capsys, "extract", "--model", files["model"], "--data", files["data"], "--states", 4,
                          "--seed", 1, "--out", out)
    assert rc == 0, err
    assert re.match(r"\d+ states \(\d+ clusters", stdout), stdout
    fsm = fx.load_fsm(out)
    assert fsm.metadata["seed"] == 1
    assert fsm.metadata["n_fit_words"] + fsm.metadata["front"]["held_out_words"] >= len(TINY) * 3


def test_extract_gmm_hc(capsys, tmp_path, files):
    out = tmp_path / "fsm.json"
    rc, _, err = run(capsys, "extract", "--model", files["model"], "--data", files["data"], "--states", 3,
                     "--method", "gmm", "--state", "hc", "--out", out)
    assert rc == 0, err
    meta = fx.load_fsm(out).metadata
    assert "gmm" in meta["method"] and meta["state"] == "hc"


def test_demo(capsys, tmp_path):
    out_dir = tmp_path / "demo"
    rc, stdout, err = run(capsys, "demo", "--out", out_dir)
    assert rc == 0, err
    assert "extracted automaton: 4 states from " in stdout
    assert "fidelity on the test split: " in stdout
    agree = float(stdout.split("fidelity on the test split: ")[1].split("%")[0])
    assert agree >= 99.0
    assert "last counterexample check: 0 disagreements" in stdout
    assert "language-equivalent to the reference tomita4 DFA (4 states): yes" in stdout
    assert fx.load_fsm(out_dir / "fsm.json").n_states == 4
    assert "<svg" in (out_dir / "fsm.svg").read_text()
    assert err == ""  # no progress bar when stderr is not a terminal


def test_version_and_help(capsys):
    rc, out, _ = run(capsys, "--version")
    assert rc == 0 and out.strip() == f"fsm-extract {fx.__version__}"
    rc, out, _ = run(capsys, "extract", "--help")
    assert rc == 0 and "--states" in out


def test_console_script_help():
    exe = Path(sys.executable).with_name("fsm-extract")
    exe = str(exe) if exe.exists() else shutil.which("fsm-extract")
    if exe is None:
        pytest.skip("the fsm-extract console script is not installed")
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for command in ("train", "extract", "render", "demo"):
        assert command in proc.stdout
    assert proc.stderr == ""


# ----------------------------------------------------------------------------- bad input
def _garbage_model(d):
    p = d / "bad.pt"
    p.write_bytes(b"\x00\x01garbage, not a checkpoint\xff" * 10)
    return p


def _malformed_jsonl(d):
    p = d / "bad.jsonl"
    p.write_text('{"word": "01", "label": true}\n{"word": "1", "label": false}\n{"word": "0", "label": tru\n')
    return p


def _unknown_symbol_jsonl(d):
    return _write_jsonl(d / "sym.jsonl", [("0101", True), ("0121", False)])


def _one_class_jsonl(d):
    return _write_jsonl(d / "one.jsonl", [("0101", True), ("01", True)])


def _corrupted_json(d):
    p = d / "broken.json"
    p.write_text('{"format": "fsm-extract/fsm", "version": 1, "alphabet": ["0", ')
    return p


def _wrong_version_json(d, files):
    data = json.loads(files["fsm"].read_text())
    data["version"] = 99
    p = d / "v99.json"
    p.write_text(json.dumps(data))
    return p


# Each case: (id, function (dir, files) -> (argv, out path), pattern the error line must contain)
BAD = [
    ("unknown-language-extract", lambda d, f: (["extract", "--language", "tomita9", "--out", d / "o.json"], d / "o.json"), "tomita9"),
    ("unknown-language-train", lambda d, f: (["train", "--language", "tomita9", "--out", d / "o.pt", "--quiet"], d / "o.pt"), "tomita9"),
    ("unknown-language-demo", lambda d, f: (["demo", "--language", "tomita9", "--out", d / "demo"], d / "demo"), "tomita9"),
    ("missing-model", lambda d, f: (["extract", "--model", d / "nope.pt", "--data", f["data"], "--out", d / "o.json"], d / "o.json"), "nope.pt"),
    ("corrupted-model", lambda d, f: (["extract", "--model", _garbage_model(d), "--data", f["data"], "--out", d / "o.json"], d / "o.json"), "checkpoint"),
    ("malformed-jsonl-extract", lambda d, f: (["extract", "--model", f["model"], "--data", _malformed_jsonl(d), "--out", d / "o.json"], d / "o.json"), "bad.jsonl:3"),
    ("malformed-jsonl-train", lambda d, f: (["train", "--data", _malformed_jsonl(d), "--out", d / "o.pt", "--quiet"], d / "o.pt"), "bad.jsonl:3"),
    ("missing-jsonl", lambda d, f: (["train", "--data", d / "none.jsonl", "--out", d / "o.pt", "--quiet"], d / "o.pt"), "none.jsonl"),
    ("unknown-symbol", lambda d, f: (["extract", "--model", f["model"], "--data", _unknown_symbol_jsonl(d), "--out", d / "o.json"], d / "o.json"), "'2'"),
    ("one-class-train", lambda d, f: (["train", "--data", _one_class_jsonl(d), "--out", d / "o.pt", "--quiet"], d / "o.pt"), "both accepted and rejected"),
    ("states-0", lambda d, f: (["extract", "--language", "tomita4", "--states", "0", "--out", d / "o.json"], d / "o.json"), "n_states=0 must be >= 1"),
    ("states-above-max-states", lambda d, f: (["extract", "--language", "tomita4", "--states", "100000", "--out", d / "o.json"], d / "o.json"), "n_states=100000 must be <= max_states=64"),
    ("demo-states-above-max-states", lambda d, f: (["demo", "--states", "100000", "--out", d / "demo"], d / "demo"), "n_states=100000 must be <= max_states=64"),
    ("states-negative", lambda d, f: (["extract", "--model", f["model"], "--data", f["data"], "--states", "-3", "--out", d / "o.json"], d / "o.json"), "n_states=-3"),
    ("seed-negative", lambda d, f: (["extract", "--model", f["model"], "--data", f["data"], "--seed", "-1", "--out", d / "o.json"], d / "o.json"), "seed=-1"),
    ("epochs-0", lambda d, f: (["train", "--data", f["data"], "--epochs", "0", "--out", d / "o.pt", "--quiet"], d / "o.pt"), "epochs=0"),
    ("lr-0", lambda d, f: (["train", "--data", f["data"], "--lr", "0", "--out", d / "o.pt", "--quiet"], d / "o.pt"), "lr=0.0"),
    ("render-bmp", lambda d, f: (["render", f["fsm"], "--out", d / "fsm.bmp"], d / "fsm.bmp"), ".bmp"),
    ("render-corrupted-json", lambda d, f: (["render", _corrupted_json(d), "--out", d / "fsm.svg"], d / "fsm.svg"), "not valid JSON"),
    ("render-wrong-version", lambda d, f: (["render", _wrong_version_json(d, f), "--out", d / "fsm.svg"], d / "fsm.svg"), "version=99"),
    ("render-missing-fsm", lambda d, f: (["render", d / "nothing.json", "--out", d / "fsm.svg"], d / "fsm.svg"), "nothing.json"),
    ("render-model-as-fsm", lambda d, f: (["render", f["model"], "--out", d / "fsm.svg"], d / "fsm.svg"), "UTF-8"),
    ("extract-out-missing-dir", lambda d, f: (["extract", "--model", f["model"], "--data", f["data"], "--out", d / "no" / "o.json"], d / "no" / "o.json"), "does not exist"),
    ("train-out-missing-dir", lambda d, f: (["train", "--data", f["data"], "--out", d / "no" / "o.pt", "--quiet"], d / "no" / "o.pt"), "does not exist"),
    ("render-out-missing-dir", lambda d, f: (["render", f["fsm"], "--out", d / "no" / "fsm.svg"], d / "no" / "fsm.svg"), "does not exist"),
    ("extract-out-not-json", lambda d, f: (["extract", "--model", f["model"], "--data", f["data"], "--out", d / "o.txt"], d / "o.txt"), ".json"),
    ("model-without-data", lambda d, f: (["extract", "--model", f["model"], "--out", d / "o.json"], d / "o.json"), "--data is required"),
    ("demo-states-0", lambda d, f: (["demo", "--states", "0", "--out", d / "demo"], d / "demo"), "n_states=0"),
    ("train-hidden-size-0", lambda d, f: (["train", "--data", f["data"], "--hidden-size", "0", "--out", d / "o.pt", "--quiet"], d / "o.pt"), "hidden_size=0"),
    ("train-missing-validation", lambda d, f: (["train", "--data", f["data"], "--validation", d / "v.jsonl", "--out", d / "o.pt", "--quiet"], d / "o.pt"), "v.jsonl"),
    ("train-out-is-dir", lambda d, f: (["train", "--data", f["data"], "--out", d, "--quiet"], None), "directory"),
    ("render-min-confidence", lambda d, f: (["render", f["fsm"], "--out", d / "fsm.svg", "--min-confidence", "2"], d / "fsm.svg"), "min_confidence=2.0"),
    # argparse errors
    ("no-command", lambda d, f: ([], None), "required"),
    ("unknown-command", lambda d, f: (["frobnicate"], None), "invalid choice"),
    ("extract-no-source", lambda d, f: (["extract", "--out", d / "o.json"], d / "o.json"), "one of the arguments --model --language is required"),
    ("extract-no-out", lambda d, f: (["extract", "--language", "tomita4"], None), "--out"),
    ("extract-both-sources", lambda d, f: (["extract", "--language", "tomita4", "--model", f["model"], "--out", d / "o.json"], d / "o.json"), "not allowed with"),
    ("render-no-args", lambda d, f: (["render"], None), "required"),
    ("train-no-out", lambda d, f: (["train", "--language", "tomita4"], None), "--out"),
    ("states-not-int", lambda d, f: (["extract", "--language", "tomita4", "--states", "many", "--out", d / "o.json"], d / "o.json"), "many"),
    ("bad-method", lambda d, f: (["extract", "--language", "tomita4", "--method", "dbscan", "--out", d / "o.json"], d / "o.json"), "invalid choice"),
    ("unknown-option", lambda d, f: (["train", "--language", "tomita4", "--out", d / "o.pt", "--frob"], d / "o.pt"), "unrecognized arguments"),
]


def _check_failure(rc, out, err, pattern, out_path, directory):
    assert rc == 2, (rc, out, err)
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("fsm-extract"), lines[0]
    assert "error:" in lines[0]
    assert pattern in lines[0], lines[0]
    assert out == ""
    if out_path is not None:
        assert not Path(out_path).exists()
    assert _no_leftovers(directory) == []


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_one_line_exit_2(capsys, tmp_path, files, case):
    _, make, pattern = case
    argv, out_path = make(tmp_path, files)
    rc, out, err = run(capsys, *argv)
    _check_failure(rc, out, err, pattern, out_path, tmp_path)


def test_failed_train_leaves_existing_output_alone(capsys, tmp_path, files):
    out = tmp_path / "keep.pt"
    out.write_bytes(b"previous")
    rc, _, err = run(capsys, "train", "--data", _one_class_jsonl(tmp_path), "--out", out, "--quiet")
    assert rc == 2 and len(err.splitlines()) == 1
    assert out.read_bytes() == b"previous"
    assert _no_leftovers(tmp_path) == []


def test_demo_out_is_a_file(capsys, tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    rc, out, err = run(capsys, "demo", "--out", f)
    assert rc == 2 and len(err.splitlines()) == 1 and "must be a folder" in err
    assert f.read_text() == "x"


def test_extract_with_search_records_it(capsys, tmp_path):
    out = tmp_path / "t4.json"
    rc, stdout, _ = run(capsys, "extract", "--language", "tomita4", "--search", 20000, "--out", out)
    assert rc == 0 and "saved" in stdout
    fsm = fx.load_fsm(out)
    rounds = fsm.metadata["refine"]["counterexample_rounds"]
    assert fsm.metadata["refine"]["check"]["search"] == 20000
    assert rounds[-1]["disagreements"] == 0 and rounds[-1]["search_steps"] <= 20000


@pytest.mark.parametrize("argv, message", [
    (["--search", "-3"], "--search=-3 must be >= 0"),
    (["--search", "5", "--no-refine"], "--search=5 needs refinement"),
    (["--search", "5", "--states", "auto"], "--search=5 needs refinement"),
])
def test_extract_search_bad_input(capsys, tmp_path, argv, message):
    out = tmp_path / "fsm.json"
    rc, _, err = run(capsys, "extract", "--language", "tomita4", *argv, "--out", out)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("argv", [
    ["extract", "--model", "{model}", "--data", "{data}", "--states", "40", "--no-refine"],
    ["extract", "--model", "{model}", "--data", "{data}", "--states", "40"],
])
def test_more_clusters_than_distinct_states_warns_in_one_line_and_works(capsys, tmp_path, files, argv):
    """Defaults and large --states work: every distinct hidden state becomes a cluster, the
    warning is one line on stderr, and the automaton is written (it used to be an error)."""
    out = tmp_path / "o.json"
    argv = [a.format(model=files["model"], data=files["data"]) for a in argv] + ["--out", str(out)]
    rc, stdout, err = run(capsys, *argv)
    assert rc == 0, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fsm-extract extract: warning: n_states="), err
    assert "distinct hidden states" in lines[0] and "Traceback" not in err
    fsm = fx.load_fsm(out)
    assert fsm.metadata["fewer_clusters"]["used"] < fsm.metadata["fewer_clusters"]["requested"]


def test_cli_spec_and_dfa(t4_exact, tmp_path, capsys):
    model, data = t4_exact
    assert main(["fidelity", "--model", str(model), "--data", str(data), "--spec", "(1|01|001)*(()|0|00)"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("100.0% of prefixes") and "its states were aligned to the net on these words" in out
    dfa = {"states": ["e", "o"], "input_symbols": ["0", "1"], "initial_state": "e", "final_states": ["e"],
           "transitions": {"e": {"0": "e", "1": "o"}, "o": {"0": "o", "1": "e"}}}
    (tmp_path / "parity.json").write_text(json.dumps(dfa))
    report = tmp_path / "r.json"
    assert main(["fidelity", "--model", str(model), "--data", str(data), "--dfa", str(tmp_path / "parity.json"),
                 "--json", str(report)]) == 0
    saved = json.loads(report.read_text())
    assert saved["prefix_agreement"] < 1.0 and saved["residual"]


def test_cli_warns_in_one_line_when_there_are_fewer_states_than_clusters(t4_exact, tmp_path, capsys):
    model, data = t4_exact
    assert main(["extract", "--model", str(model), "--data", str(data), "--out", str(tmp_path / "f.json")]) == 0
    err = capsys.readouterr().err
    assert err.startswith("fsm-extract extract: warning: n_states=16 is more than the") and err.count("\n") == 1
    fsm = fx.load_fsm(tmp_path / "f.json")
    assert fsm.equivalent(fx.languages.tomita(4)) and fsm.metadata["fewer_clusters"]["requested"] == 16


# ----------------------------------------------------------------------------- pareto
def test_pareto_prints_the_front_and_writes_its_files(capsys, tmp_path, files):
    plot, js, out = tmp_path / "front.png", tmp_path / "front.json", tmp_path / "knee.json"
    rc, stdout, err = run(capsys, "pareto", "--model", files["model"], "--data", files["data"], "--max-states", 8,
                          "--plot", plot, "--json", js, "--out", out)
    assert rc == 0, err
    front = json.loads(js.read_text())
    sizes = [p["n_states"] for p in front["points"]]
    assert sizes == sorted(sizes) and max(sizes) <= 8
    for n in sizes:
        assert re.search(rf"^\| {n}( \(knee\))? \|", stdout, re.M)
    assert f"knee: {front['knee']} states" in stdout
    assert f"what `fsm-extract extract` returns: {front['choice']} states" in stdout
    assert fx.load_fsm(out).n_states == front["choice"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _no_leftovers(tmp_path) == []


def test_pareto_at_saves_that_size(capsys, tmp_path, files):
    out = tmp_path / "one.json"
    rc, stdout, err = run(capsys, "pareto", "--model", files["model"], "--data", files["data"], "--max-states", 8,
                          "--at", 1, "--out", out)
    assert rc == 0, err
    assert fx.load_fsm(out).n_states == 1 and "saved the 1-state automaton" in stdout


@pytest.mark.parametrize("argv, needle", [
    (("--target", "1.5"), "--target=1.5 must be a share in [0, 1]"),
    (("--max-states", "0"), "--max-states=0 must be >= 1"),
    (("--at", "0", "--out", "x.json"), "--at=0 must be >= 1"),
    (("--at", "3"), "--at=3 needs --out"),
    (("--plot", "front.gif"), "--plot"),
])
def test_pareto_refuses_bad_options_in_one_line(capsys, tmp_path, files, argv, needle):
    rc, stdout, err = run(capsys, "pareto", "--model", files["model"], "--data", files["data"], *argv)
    assert rc == 2 and stdout == ""
    assert err.count("\n") == 1 and needle in err, err


def test_cli_moore_machine_and_next_symbol_model_end_to_end(capsys, tmp_path):
    from fsm_extract.data.moore import random_moore

    machine = random_moore(n_states=3, n_classes=3, seed=0)
    machine.sample(n=300, max_len=10, seed=0).to_jsonl(tmp_path / "c.jsonl")
    rc, out, err = run(capsys, "train", "--data", tmp_path / "c.jsonl", "--out", tmp_path / "c.pt", "--hidden-size", 8,
                       "--epochs", 3, "--quiet")
    assert rc == 0, err
    rc, out, err = run(capsys, "extract", "--model", tmp_path / "c.pt", "--data", tmp_path / "c.jsonl",
                       "--out", tmp_path / "c.json")
    assert rc == 0, err
    assert fx.load_fsm(tmp_path / "c.json").output_kind == "classes"
    assert run(capsys, "render", tmp_path / "c.json", "--out", tmp_path / "c.dot")[0] == 0
    assert "class " in (tmp_path / "c.dot").read_text() and "doublecircle" not in (tmp_path / "c.dot").read_text()

    pdfa = fx.languages.random_pdfa(n_states=2, alphabet="ab", seed=0)
    (tmp_path / "w.txt").write_text("\n".join(w for w in pdfa.sample(n=300, seed=0) if w) + "\n", encoding="utf-8")
    rc, out, err = run(capsys, "train", "--next-symbol", "--data", tmp_path / "w.txt", "--out", tmp_path / "n.pt",
                       "--hidden-size", 8, "--epochs", 2, "--quiet")
    assert rc == 0, err
    assert "bits per symbol" in out
    (tmp_path / "w.jsonl").write_text("".join(json.dumps({"word": w, "label": False}) + "\n"
                                              for w in pdfa.sample(n=200, seed=1)), encoding="utf-8")
    rc, out, err = run(capsys, "extract", "--model", tmp_path / "n.pt", "--data", tmp_path / "w.jsonl",
                       "--out", tmp_path / "n.json")
    assert rc == 0, err
    rc, out, err = run(capsys, "fidelity", "--model", tmp_path / "n.pt", "--fsm", tmp_path / "n.json",
                       "--data", tmp_path / "w.jsonl")
    assert rc == 0, err
    assert "bits per symbol" in out and "KL(net||fsm)" in out and "NDCG@5" in out
    rc, out, err = run(capsys, "train", "--next-symbol", "--data", tmp_path / "missing.txt", "--out", tmp_path / "x.pt")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "missing.txt" in err
