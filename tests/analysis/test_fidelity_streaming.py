"""fx.fidelity and fx.pareto on data past ``sample_steps``: agreement counted over every word chunk
by chunk, the figures that need the net's states on a seeded sample (plus the first disagreeing
words); and the CLI's --sample-steps/--engine/--scheduler/--device."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fsm_extract as fx
from fsm_extract.errors import ValidationError

from ..helpers import run_cli

MODEL = Path(__file__).resolve().parents[2] / "datasets" / "models" / "tomita4.pt"


def _words(n, seed):
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("01"), int(rng.integers(0, 40)))) for _ in range(n)]


WORDS = _words(3000, 1)


@pytest.fixture(scope="module")
def model():
    return fx.load_model(MODEL)


@pytest.fixture(scope="module")
def poor(model):
    """A 3-state plain automaton of tomita4's net: it parts from the net on about half the prefixes."""
    return fx.extract(model, _words(400, 2), refine=False, n_states=3)


@pytest.fixture(scope="module")
def in_memory(model, poor):
    return fx.fidelity(model, poor, WORDS)


def test_streamed_agreement_is_the_in_memory_agreement_over_every_word(model, poor, in_memory):
    streamed = fx.fidelity(model, poor, iter(WORDS), sample_steps=10_000)
    assert 0.2 < in_memory.prefix_agreement < 0.9  # a real residual, so the comparison can fail
    assert streamed.prefix_agreement == in_memory.prefix_agreement
    assert streamed.word_agreement == in_memory.word_agreement
    assert streamed.by_length == in_memory.by_length
    assert (streamed.n_words, streamed.n_prefixes) == (in_memory.n_words, in_memory.n_prefixes)
    assert streamed.headline.startswith(f"{in_memory.prefix_agreement:.1%} of prefixes")
    s = streamed.stream
    assert s["words"] == len(WORDS) and s["steps"] == sum(map(len, WORDS)) and s["engine"] == "local"
    assert s["sample_words"] < len(WORDS) and s["added_disagreeing_words"] == 256
    assert "streamed" in streamed.notes[-1] and streamed.to_dict()["stream"] == s
    assert in_memory.stream is None and in_memory.to_dict()["stream"] is None
    assert streamed.residual  # the sample holds the disagreeing words, so the residual is named


def test_streamed_fidelity_reads_a_jsonl_path_with_labels(model, poor, in_memory, tmp_path):
    labels = fx.languages.tomita(4).accepts_many(WORDS)
    path = tmp_path / "held.jsonl"
    path.write_text("".join(json.dumps({"word": w, "label": bool(y)}) + "\n" for w, y in zip(WORDS, labels)))
    streamed = fx.fidelity(model, poor, path, sample_steps=10_000)
    assert streamed.prefix_agreement == in_memory.prefix_agreement
    assert streamed.task is not None  # the labels travelled with the sample
    small = fx.fidelity(model, poor, path)  # under sample_steps: the in-memory report, from the file
    assert small.stream is None and small.prefix_agreement == in_memory.prefix_agreement


def test_a_fidelity_of_an_exact_automaton_stays_exact_when_streamed(model):
    fsm = fx.extract(model, _words(500, 3), refine=False)
    report = fx.fidelity(model, fsm, (w for w in WORDS), sample_steps=5_000)
    assert report.prefix_agreement == 1.0 and report.stream["added_disagreeing_words"] == 0
    assert "no residual" in report.headline


def test_streamed_fidelity_checks_its_options(model, poor):
    with pytest.raises(ValidationError, match="sample_steps"):
        fx.fidelity(model, poor, WORDS, sample_steps=0)
    with pytest.raises(ValidationError, match="engine"):
        fx.fidelity(model, poor, WORDS, engine="ray")
    with pytest.raises(ValidationError, match="scheduler"):
        fx.fidelity(model, poor, WORDS, scheduler="tcp://127.0.0.1:1")


def test_the_front_of_a_stream_is_fitted_on_a_sample_and_measured_on_the_rest(model):
    front = fx.pareto(model, (w for w in WORDS), sample_steps=20_000, max_states=8)
    assert f"fitted on a seeded sample of" in front.evaluated_on and f"of the {len(WORDS)} words" in front.evaluated_on
    held = int(front.evaluated_on.split()[0])
    assert 0 < held < len(WORDS) and "not fitted on" in front.evaluated_on  # every word but the sample
    again = fx.pareto(model, list(WORDS), sample_steps=20_000, max_states=8)
    assert [(p.n_states, p.agreement) for p in front.points] == [(p.n_states, p.agreement) for p in again.points]
    assert front.knee().n_states == 4 and front.knee().agreement == 1.0


def test_the_front_counts_a_streamed_validation_as_the_in_memory_one(model):
    fit, held = _words(600, 6), _words(2000, 7)
    labels = fx.languages.tomita(4).accepts_many(held)
    in_memory = fx.pareto(model, fit, validation=fx.Dataset(held, labels, "01"), max_states=6, n_states=6)
    streamed = fx.pareto(model, fit, validation=(w for w in held), max_states=6, n_states=6, sample_steps=5_000)
    labelled = fx.pareto(model, fit, validation=fx.Dataset(held, labels, "01"), max_states=6, n_states=6,
                         sample_steps=5_000)
    for front in (streamed, labelled):
        assert [(p.n_states, p.agreement, p.word_agreement, p.beyond_agreement) for p in front.candidates] == [
            (p.n_states, p.agreement, p.word_agreement, p.beyond_agreement) for p in in_memory.candidates]
    assert streamed.net_accuracy is None and labelled.net_accuracy == in_memory.net_accuracy
    assert [p.task_accuracy for p in labelled.candidates] == [p.task_accuracy for p in in_memory.candidates]
    assert any(p.agreement < 1.0 for p in in_memory.candidates)  # the comparison can fail


def test_extract_takes_a_validation_file(model, tmp_path):
    path = tmp_path / "val.txt"
    path.write_text("\n".join(_words(300, 4)) + "\n")
    fsm = fx.extract(model, _words(600, 5), validation=path, n_states=8, max_states=8)
    assert fsm.metadata["front"]["measured_on"] == "validation" and fsm.n_states == 4


def test_cli_streams_a_text_file_and_refuses_bad_scale_options(tmp_path, capsys):
    data = tmp_path / "words.txt"
    data.write_text("\n".join(WORDS) + "\n")
    out = tmp_path / "fsm.json"
    rc, _, err = run_cli(capsys, "extract", "--model", MODEL, "--data", data, "--no-refine", "--sample-steps", 10_000,
                         "--out", out)
    assert rc == 0, err
    fsm = fx.load_fsm(out)
    assert fsm.metadata["stream"]["words"] == len(WORDS) and fsm.n_states == 4
    rc, report, _ = run_cli(capsys, "fidelity", "--model", MODEL, "--fsm", out, "--data", data, "--sample-steps", 10_000)
    assert rc == 0 and "100.0% of prefixes" in report
    for bad, rule in ((["--device", "tpu"], "device"), (["--sample-steps", "0"], "sample_steps"),
                      (["--engine", "local", "--scheduler", "tcp://127.0.0.1:1"], "scheduler")):
        rc, _, err = run_cli(capsys, "extract", "--model", MODEL, "--data", data, "--out", tmp_path / "x.json", *bad)
        assert rc == 2 and rule in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "x.json").exists()


def test_the_fitting_corpus_is_recognised_by_its_fingerprint(model):
    fsm = fx.extract(model, iter(WORDS), refine=False, sample_steps=10_000)
    assert fsm.metadata["fit_digest"].startswith("multiset-blake2b:3000:")
    for data, sample_steps in ((list(reversed(WORDS)), None), (iter(WORDS), 10_000)):  # order does not matter
        report = fx.fidelity(model, fsm, data, sample_steps=sample_steps)
        assert report.held_out is False and report.overlap == 1.0, report.notes
        assert "FITTING" in report.headline
    other = fx.fidelity(model, fsm, WORDS[:-1], sample_steps=10_000)
    assert other.held_out is None and any("fingerprint differs" in n for n in other.notes)


def test_cli_pareto_streams_a_validation_file(tmp_path, capsys):
    fit, held = tmp_path / "fit.txt", tmp_path / "held.jsonl"
    fit.write_text("\n".join(_words(600, 8)) + "\n")
    held.write_text("".join(json.dumps({"word": w}) + "\n" for w in _words(1500, 9)))
    rc, _, err = run_cli(capsys, "pareto", "--model", MODEL, "--data", fit, "--validation", held, "--max-states", 6,
                         "--sample-steps", 5_000, "--json", tmp_path / "front.json")
    assert rc == 0, err
    front = json.loads((tmp_path / "front.json").read_text())
    assert front["evaluated_on"].startswith("1500 held-out words")


def test_the_large_corpus_example_runs_streamed():
    example = Path(__file__).resolve().parents[2] / "examples" / "large_corpus.py"
    done = subprocess.run([sys.executable, example, "--steps", "2e5", "--sample-steps", "40000"], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("4 states from 4,000 words (200,000 steps)"), lines
    assert lines[1].startswith("100.0% of prefixes") and any("streamed" in line for line in lines[2:]), lines
