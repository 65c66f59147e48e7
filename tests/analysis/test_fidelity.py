"""fx.fidelity and evaluate_trace: the report assembled from the measures (each figure is checked
in tests/analysis/test_agreement.py, test_residual.py and test_report.py), the fitting-data flags,
specifications, search, and bad input.

Most tests use the hand-built case of conftest.py; a few run real nets: an exact LSTM for tomita4
(fsm_extract.nets.exact.exact_lstm) for the "no residual" and fitting-data cases.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import fsm_extract as fx
from fsm_extract.errors import ArgumentTypeError, FsmExtractError, ValidationError
from fsm_extract.analysis.fidelity import FidelityReport, evaluate_trace
from fsm_extract.nets.exact import exact_lstm

from .conftest import HIDDEN, OUTPUTS, WORDS, make_trace, parity_fsm


def test_hand_output_agreement(hand_report):
    r = hand_report
    assert isinstance(r, FidelityReport)
    assert r.n_words == 8 and r.n_prefixes == 24
    # disagreeing prefixes: steps 2, 7, 11, 12 -> 20 / 24
    assert r.prefix_agreement == pytest.approx(20 / 24)
    # disagreeing words (final output): w2, w4, w6 -> 5 / 8 (w0, the empty word, agrees)
    assert r.word_agreement == pytest.approx(5 / 8)


def test_hand_state_agreement_and_first_parting(hand_report):
    r = hand_report
    # the FSM state differs from the net's abstract state at steps 2, 4, 11 -> 21 / 24
    assert r.state_agreement == pytest.approx(21 / 24)
    assert r.initial_state_agrees is True
    # per word, within-word index of the first parting: w2 at 1, w3 at 1, w6 at 1, others never
    assert r.first_parting.tolist() == [-1, -1, 1, 1, -1, -1, 1, -1]


# ----------------------------------------------------------------------------- with a net
@pytest.fixture(scope="module")
def exact_setup():
    from fsm_extract.nets.exact import exact_lstm

    lang = fx.languages.tomita(4)
    net = exact_lstm(lang)
    train = fx.datasets.load("tomita4", split="train").subset(np.arange(300))
    # exact_lstm without distractors has 6 distinct hidden states (h0 and 5 state units)
    fsm = fx.extract(net, train, n_states=6)
    return lang, net, train, fsm


def test_fsm_equal_to_reference_agrees_with_exact_net(exact_setup):
    lang, net, train, fsm = exact_setup
    assert fsm.equivalent(lang)
    test = lang.sample(n=200, min_len=0, max_len=40, seed=7)
    r = fx.fidelity(net, fsm, test, reference=lang)
    assert r.prefix_agreement == 1.0 and r.word_agreement == 1.0 and r.state_agreement == 1.0
    assert r.determinism == 1.0
    assert r.reference == {"fsm_equivalent": True, "fsm_shortest_difference": None, "net_word_agreement": 1.0,
                           "net_prefix_agreement": 1.0, "net_shortest_difference": None}
    assert r.task == {"net_accuracy": 1.0, "fsm_accuracy": 1.0, "cost": 0.0}
    assert all(it.count == 0 for it in r.residual) and r.shortest_disagreements == ()
    assert "no residual" in r.headline
    assert r.n_words == 200 and r.n_prefixes == int(test.lengths.sum())
    # not the fitting set, and no fit_data: overlap unknown
    assert r.held_out is None and r.overlap is None
    assert any("fingerprint differs" in n for n in r.notes)
    assert r.max_fit_length == 20  # from the FSM's metadata (the longest fitting word)
    json.dumps(r.to_dict())


def test_report_on_the_fitting_data_is_flagged(exact_setup):
    lang, net, train, fsm = exact_setup
    r = fx.fidelity(net, fsm, train)
    assert r.held_out is False and r.overlap == 1.0
    assert any("fitted on" in n and "not held-out" in n for n in r.notes)
    assert "FITTING" in r.headline
    text = str(r)
    assert text.splitlines()[0] == r.headline
    assert "note: the evaluated words are exactly the words the FSM was fitted on" in text
    assert json.loads(json.dumps(r.to_dict()))["overlap_with_fit_data"] == 1.0


def test_fit_data_partial_and_no_overlap(exact_setup):
    lang, net, train, fsm = exact_setup
    fit_words = set(train.words)
    longer = [w for w in lang.sample(n=60, min_len=25, max_len=30, seed=3).words][:40]
    assert len(longer) == 40 and not fit_words & set(longer)  # longer than any training word
    data = list(train.words[:60]) + longer
    r = fx.fidelity(net, fsm, data, fit_data=train)
    # 60 of 100 evaluated words are fitting words
    assert r.overlap == pytest.approx(0.6)
    assert r.held_out is False
    assert "(60% of the words also in the fitting data)" in r.headline
    assert any(n.startswith("60.0% of the evaluated words are in the fitting data") for n in r.notes)
    assert r.max_fit_length == int(train.lengths.max())
    assert r.beyond_fit["words"] == 40  # the 40 long words
    assert r.task is None  # a plain list of words: no labels
    held = fx.fidelity(net, fsm, longer, fit_data=train)
    assert held.held_out is True and held.overlap == 0.0
    assert held.headline.startswith(f"{held.prefix_agreement:.1%} of held-out prefixes")
    assert held.notes == ()


def test_bad_inputs_raise_package_errors(exact_setup):
    lang, net, train, fsm = exact_setup
    words = ["01", "0010"]
    with pytest.raises(ValidationError, match="fsm.alphabet"):
        fx.fidelity(net, parity_fsm(), words)  # alphabet ("a", "b") vs the net's ("0", "1")
    with pytest.raises(ArgumentTypeError, match="fsm"):
        fx.fidelity(net, "not an fsm", words)
    with pytest.raises(ArgumentTypeError, match="model"):
        fx.fidelity("not a model", fsm, words)
    with pytest.raises(ValidationError, match="data"):
        fx.fidelity(net, fsm, [])
    with pytest.raises(ValidationError, match="reference"):
        fx.fidelity(net, fsm, words, reference=fx.languages.from_regex("a*", alphabet="ab"))
    with pytest.raises(ArgumentTypeError, match="reference"):
        fx.fidelity(net, fsm, words, reference=42)
    # evaluate_trace: a trace over another alphabet
    trace = make_trace(["ab"], [0.0, 1.0], [0.1, 0.9])
    with pytest.raises(ValidationError, match="alphabet"):
        evaluate_trace(fsm, trace)
    # an FSM without cluster centroids cannot be compared state by state
    plain = fx.ExtractedFSM(alphabet=("a", "b"), transitions=[[1, 0], [0, 1]], accepting=[False, True], initial=0)
    with pytest.raises(FsmExtractError):
        evaluate_trace(plain, trace)


# ----------------------------------------------------------------------------- known bugs
def test_evaluate_trace_checks_labels():
    trace = make_trace(WORDS, HIDDEN, OUTPUTS)
    with pytest.raises(ValidationError, match="labels"):
        evaluate_trace(parity_fsm(), trace, labels=np.array([True]))  # 8 words, 1 label
    with pytest.raises(ValidationError, match="labels"):
        evaluate_trace(parity_fsm(), trace, labels=np.ones(3, bool))


def test_fit_data_of_the_wrong_type(exact_setup):
    lang, net, train, fsm = exact_setup
    with pytest.raises(ArgumentTypeError, match="fit_data"):
        fx.fidelity(net, fsm, ["0101"], fit_data="0101")
    with pytest.raises(ArgumentTypeError, match="fit_data"):
        fx.fidelity(net, fsm, ["0101"], fit_data=5)


def test_data_errors_name_data(exact_setup):
    lang, net, train, fsm = exact_setup
    with pytest.raises(ArgumentTypeError, match=r"\bdata\b"):
        fx.fidelity(net, fsm, "0101")
    foreign = fx.languages.from_regex("a*b", alphabet="ab").sample(n=5, seed=0)
    with pytest.raises(ValidationError, match=r"\bdata\b"):
        fx.fidelity(net, fsm, foreign)


def test_auto_extraction_evaluated_on_its_own_data_is_flagged(exact_setup):
    lang, net, train, fsm = exact_setup
    auto = fx.extract(net, train, n_states="auto")
    r = fx.fidelity(net, auto, train)
    assert r.held_out is False


def test_fidelity_reports_what_search_finds(planted):
    lang, net, fsm = planted
    base_test = fx.languages.random_dfa(n_states=5, alphabet="01", seed=3).sample(n=300, min_len=0, max_len=30, seed=2)
    plain = fx.fidelity(net, fsm, base_test)
    assert plain.search is None and "search" not in plain.headline
    report = fx.fidelity(net, fsm, base_test, search=100_000)
    assert report.prefix_agreement == plain.prefix_agreement  # the sampled figures are unchanged
    found = report.search["disagreements"]
    assert found and report.search["steps_spent"] <= 100_000
    assert f"search found {len(found)} disagreement(s)" in report.headline
    assert "found by search" in str(report)
    assert json.loads(json.dumps(report.to_dict()))["search"]["budget"] == 100_000
    with pytest.raises(ValidationError, match="search=0"):
        fx.fidelity(net, fsm, base_test, search=0)


def test_specification_bad_input():
    lang = fx.languages.tomita(4)
    net = exact_lstm(lang)
    with pytest.raises(ArgumentTypeError, match=r"fx.languages.from_regex\('0\*', alphabet=...\)"):
        fx.fidelity(net, "0*", ["01"])
    with pytest.raises(ValidationError, match="alphabet"):
        fx.fidelity(net, fx.languages.from_regex("a*", alphabet="ab"), ["01"])
    with pytest.raises(ArgumentTypeError, match="fsm must be an ExtractedFSM, a Language or an automata-lib DFA"):
        fx.fidelity(net, 42, ["01"])
