"""fx.extract and fx.fidelity end to end on the two new output kinds: Moore machines (exactly
built and trained C-class nets) and next-symbol nets trained on a PDFA's words."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fsm_extract as fx
from fsm_extract.data.moore import random_moore

# an exact net has few distinct hidden states, fewer than extract's default n_states
pytestmark = pytest.mark.filterwarnings("ignore::fsm_extract.errors.FewerClustersWarning")


def reference(machine) -> fx.ExtractedFSM:
    return fx.ExtractedFSM(machine.alphabet, machine.transitions, None, machine.initial, output_kind="classes",
                           classes=machine.outputs)


def check_exact_moore(machine, seed):
    """Extraction from the exact net of ``machine`` finds the machine, and agrees with the net on every
    prefix of held-out words longer than any fitted one."""
    net = fx.networks.exact_moore(machine)
    fsm = fx.extract(net, machine.sample(n=300, max_len=12, seed=seed), seed=0)
    assert fsm.output_kind == "classes" and fsm.accepting is None
    assert fsm.equivalent(reference(machine)) and reference(machine).equivalent(fsm)
    assert fsm.n_states == machine.minimal_states()
    held_out = machine.sample(n=60, min_len=13, max_len=30, seed=seed + 1)
    np.testing.assert_array_equal(fsm.predict(held_out.words), machine.classify_many(held_out.words))
    report = fx.fidelity(net, fsm, held_out)
    assert report.output_kind == "classes" and report.next_symbol is None
    assert report.prefix_agreement == 1.0 and report.word_agreement == 1.0
    return net, fsm, report


# ----------------------------------------------------------------------------- (a) exact Moore nets
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_states=st.integers(2, 5), n_classes=st.integers(2, 3), seed=st.integers(0, 2**32 - 1))
def test_exact_moore_nets_give_back_their_machines(n_states, n_classes, seed):
    n_classes = min(n_classes, n_states)
    check_exact_moore(random_moore(n_states=n_states, n_classes=n_classes, alphabet="ab", seed=seed), seed=seed % 1000)


def test_exact_two_class_moore_net_gives_back_its_machine():
    check_exact_moore(random_moore(n_states=3, n_classes=2, alphabet="ab", seed=0), seed=0)


def test_moore_report_and_file(tmp_path):
    machine = random_moore(n_states=3, n_classes=3, alphabet="ab", seed=2)
    _, fsm, report = check_exact_moore(machine, seed=2)
    back = fx.load_fsm(fsm.save(tmp_path / "moore.json"))
    assert back.output_kind == "classes" and back.equivalent(fsm) and back.n_outputs == 3
    np.testing.assert_array_equal(back.classes, fsm.classes)
    text = str(report)
    assert "accept" not in text.lower()
    d = report.to_dict()
    assert d["output_kind"] == "classes"
    assert not {"total_variation", "kl_divergence", "bits_per_symbol", "ndcg5", "wer", "next_symbol"} & d.keys()
    json.dumps(d)


# ----------------------------------------------------------------------------- (b) a trained Moore net
@pytest.fixture(scope="module")
def trained_moore():
    machine = random_moore(n_states=4, n_classes=3, alphabet="ab", seed=0)
    data = machine.sample(n=400, max_len=12, seed=0)
    net = fx.train_classifier(data, language=machine, hidden_size=16, seed=0, progress=False)
    return machine, data, net


def test_trained_three_class_net_gives_a_moore_machine(trained_moore, tmp_path):
    machine, data, net = trained_moore
    assert net.output_kind == "classes" and net.n_classes == 3
    fsm = fx.extract(net, data, seed=0)
    assert fsm.output_kind == "classes" and fsm.accepting is None and fsm.n_outputs == 3
    assert fsm.codebook is None and set(fsm.classes.tolist()) <= {0, 1, 2}
    back = fx.load_fsm(fsm.save(tmp_path / "trained.json"))
    assert back.output_kind == "classes" and back.equivalent(fsm)
    assert back.to_dict(timing=False) == fsm.to_dict(timing=False)
    held_out = machine.sample(n=200, max_len=20, seed=1)
    np.testing.assert_array_equal(back.predict(held_out.words), fsm.predict(held_out.words))
    report = fx.fidelity(net, back, held_out)
    assert report.output_kind == "classes" and report.prefix_agreement > 0.95
    assert "accept" not in str(report).lower()


# ----------------------------------------------------------------------------- (c) next-symbol nets
PDFA = fx.languages.random_pdfa(n_states=3, alphabet="ab", seed=0)
MEASURES = ("total_variation", "kl_divergence", "bits_per_symbol", "ndcg5", "wer")


def check_next_symbol_fsm(fsm):
    assert fsm.output_kind == "next-symbol" and fsm.accepting is None and fsm.codebook is not None
    assert fsm.codebook.shape == (fsm.n_outputs, 3) and fsm.output_probs.shape == (fsm.n_states, 3)
    np.testing.assert_allclose(fsm.codebook.sum(1), 1.0, atol=1e-6)
    np.testing.assert_allclose(fsm.output_probs.sum(1), 1.0, atol=1e-6)
    assert ((0 <= fsm.classes) & (fsm.classes < fsm.n_outputs)).all()
    p = fsm.next_symbol_probs("ab")
    assert p.shape == (3,) and p.sum() == pytest.approx(1.0)
    assert fsm.predict(["ab"]).tolist() == [int(np.argmax(p))]


def check_next_symbol_report(report):
    d = report.to_dict()
    assert d["output_kind"] == "next-symbol" and report.output_kind == "next-symbol"
    assert set(MEASURES) <= d.keys() and set(MEASURES) <= d["next_symbol"].keys()
    assert {"net", "fsm"} <= d["bits_per_symbol"].keys()
    assert 0.0 <= d["total_variation"] <= 1.0 and d["kl_divergence"] >= 0.0
    assert 0.0 <= d["ndcg5"] <= 1.0 and 0.0 <= d["wer"] <= 1.0
    json.dumps(d)
    assert "bits per symbol" in str(report) and "accept" not in str(report).lower()
    return d


def test_a_small_next_symbol_net_gives_a_next_symbol_automaton(tmp_path):
    """A barely trained net, plain clustering: the kinds and files line up (no claim on quality)."""
    words = PDFA.sample(n=150, seed=0)
    net = fx.train_next_symbol(words, hidden_size=4, epochs=1, seed=0, progress=False)
    fsm = fx.extract(net, words, seed=0, n_states=4, refine=False)
    check_next_symbol_fsm(fsm)
    back = fx.load_fsm(fsm.save(tmp_path / "ns.json"))
    assert back.output_kind == "next-symbol" and back.equivalent(fsm)
    np.testing.assert_allclose(back.codebook, fsm.codebook)
    np.testing.assert_allclose(back.output_probs, fsm.output_probs)
    check_next_symbol_report(fx.fidelity(net, back, PDFA.sample(n=50, seed=1)))


def test_trained_next_symbol_net_gives_a_faithful_automaton():
    words = PDFA.sample(n=1500, seed=0)
    net = fx.train_next_symbol(words, hidden_size=16, epochs=5, seed=0, progress=False)
    assert net.output_kind == "next-symbol"
    fsm = fx.extract(net, words, seed=0)
    check_next_symbol_fsm(fsm)
    d = check_next_symbol_report(fx.fidelity(net, fsm, PDFA.sample(n=300, seed=1)))
    assert d["total_variation"] < 0.05
    assert d["bits_per_symbol"]["fsm"] - d["bits_per_symbol"]["net"] < 0.05
    # the automaton stands for the net (not the PDFA: a net trained 5 epochs is still off at the empty prefix)
    prefixes = ["", "a", "ab", "bba", "abab"]
    trace = fx.collect_trace(net, prefixes)
    for i, prefix in enumerate(prefixes):
        said = trace.h0_probs if not prefix else trace.probs[trace.offsets[i + 1] - 1]
        # a state's distribution is the mean over all its steps: single prefixes scatter around it
        assert 0.5 * np.abs(fsm.next_symbol_probs(prefix) - said).sum() < 0.1, prefix
