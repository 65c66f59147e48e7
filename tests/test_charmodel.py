"""The bundled character-class LSTM (scripts/make_charmodel.py): a next-symbol net trained on the
interpreter's own standard library, and the automaton extracted from it."""

import importlib.util
import json
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

import fsm_extract as fx

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "datasets" / "models"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("make_charmodel", ROOT / "scripts" / "make_charmodel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bundled():
    figures = json.loads((MODELS / "charclass_figures.json").read_text())
    return fx.load_model(MODELS / "charclass_lstm.pt"), fx.load_fsm(MODELS / "charclass_fsm.json"), figures


def test_classes_cover_printable_ascii_once(script):
    chars = [c for _, cs in script.CLASSES for c in cs]
    assert len(chars) == len(set(chars))
    assert set(chars) | {"\n"} == {chr(i) for i in range(32, 127)} | {"\t", "\n"}
    text = script.normalise("x = 'caf\u00e9'\r\n\tpass\n")
    assert text == "x = 'caf'\n pass\n"
    assert script.to_word(text)[:5] == ("a", "SP", "=", "SP", "'")


def test_chunks_are_whole_lines(script):
    text = "".join(f"line{i}\n" for i in range(20))
    spans = script.chunk_offsets(text, max_lines=8, max_symbols=30)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a == b for (_, a), (b, _) in pairwise(spans))
    assert all(text[a:b].endswith("\n") and b - a <= 30 for a, b in spans)


def test_lexical_contexts(script):
    text = 'x = "ab"  # c\n    """d"""\n'
    ctx = [script.CONTEXTS[i] for i in script.lexical_contexts(text)]
    assert ctx[0] == "line start" and ctx[text.index("a") + 1] == "string"
    assert ctx[text.index("#") + 2] == "comment"
    assert ctx[text.index("\n") + 3] == "indent"
    assert ctx[text.index("d") + 1] == "triple-quoted string"


def test_bundled_model_and_automaton(bundled, script):
    net, fsm, figures = bundled
    assert fsm.output_kind == "next-symbol"
    assert tuple(net.alphabet) == tuple(fsm.alphabet) == script.ALPHABET
    assert fsm.n_states == figures["extraction"]["n_states"]
    assert (MODELS / "charclass_lstm.pt").stat().st_size < 1_000_000
    probs = fsm.next_symbol_probs(script.to_word("def f(x):\n    "))
    assert probs.shape == (len(script.ALPHABET) + 1,) and np.isclose(probs.sum(), 1.0)


def test_fidelity_on_held_out_chunks_matches_the_recorded_figure(bundled, script):
    net, fsm, figures = bundled
    chunks = script.test_chunks()
    if not chunks:
        pytest.skip("the held-out standard-library files are missing")
    words = [c["word"] for c in chunks[::4]]
    ns = fx.fidelity(net, fsm, words).to_dict()["next_symbol"]
    assert abs(ns["argmax_agreement"] - figures["test"]["argmax_agreement"]) < 0.04
    assert ns["bits_per_symbol"]["net"] < figures["baselines"]["bigram_bits_per_symbol"]


def test_quick_run_smoke(script, tmp_path):  # about 5 s: a tiny net, 3 epochs, plain k-means
    assert script.main(["--quick", "--out", str(tmp_path), "--docs", str(tmp_path)]) == 0
    figures = json.loads((tmp_path / "charclass_figures.json").read_text())
    assert figures["quick"] and figures["files_used"]
    assert fx.load_fsm(tmp_path / "charclass_fsm.json").output_kind == "next-symbol"
    assert fx.load_model(tmp_path / "charclass_lstm.pt").metadata["epochs_run"] >= 1
