"""Tests of fsm_extract.analysis.report: FidelityReport (to_dict, the printed summary) and its
headline."""

from __future__ import annotations

import json

import pytest

import fsm_extract as fx
from fsm_extract.analysis.report import FidelityReport, headline
from fsm_extract.analysis.fidelity import evaluate_trace
from fsm_extract.nets.exact import exact_lstm

from .conftest import HIDDEN, OUTPUTS, WORDS, make_trace, parity_fsm


def test_hand_headline_and_summary(hand_report):
    r = hand_report
    # 20/24 = 83.33% of prefixes; variance 0.3609 -> 36%; at least 80% of the residual (here all
    # of it, 4/4) is in 2 of 2*2 + 2 = 6 places
    assert r.headline.startswith("83.3% of held-out prefixes, 36% of hidden variance; ")
    assert "100% of the residual is in 2 of 6 places (4 transitions, 2 state outputs)" in r.headline
    text = str(r)
    assert text.splitlines()[0] == r.headline
    assert text == r.summary()
    assert "q1 --b-->" in text and "output of q0" in text


def test_hand_to_dict_holds_every_figure(hand_report):
    r = hand_report
    d = r.to_dict()
    back = json.loads(json.dumps(d))  # JSON-serialisable, and survives a round trip
    assert back["headline"] == r.headline
    assert back["n_words"] == 8 and back["n_prefixes"] == 24
    assert back["held_out"] is True and back["overlap_with_fit_data"] is None
    assert back["word_agreement"] == pytest.approx(5 / 8)
    assert back["prefix_agreement"] == pytest.approx(20 / 24)
    assert back["by_length"][1] == {"lengths": "10-19", "words": 1, "word_agreement": 1.0, "prefixes": 2, "prefix_agreement": 1.0}
    assert back["beyond_fit"]["prefixes"] == 11 and back["max_fit_length"] == 2
    assert back["state_agreement"] == pytest.approx(21 / 24)
    assert back["initial_state_agrees"] is True
    assert back["first_parting"] == [-1, -1, 1, 1, -1, -1, 1, -1]
    assert back["variance_explained"] == pytest.approx(r.variance_explained)
    assert back["determinism"] == pytest.approx(22 / 24)
    assert len(back["determinism_table"]) == 4
    assert back["coverage"]["given"] == pytest.approx(1 / 24)
    assert back["task"]["fsm_accuracy"] == pytest.approx(7 / 8)
    assert back["reference"]["fsm_shortest_difference"] == "aa"
    assert [(i["state"], i["symbol"], i["kind"], i["count"]) for i in back["residual"]] == [
        (1, "b", "transition", 3), (0, None, "output", 1), (0, "a", "conflict", 0)]
    assert back["residual"][0]["witnesses"] == ["ab", "abb"]
    assert back["shortest_disagreements"] == ["ab", "aab", "abb"]
    assert back["residual_concentration"] == {"share": 1.0, "places": 2, "transitions": 1}
    assert back["n_transitions"] == 4
    assert back["notes"] == []
    expected_keys = {f for f in FidelityReport.__dataclass_fields__} - {"overlap", "next_symbol"} | {"overlap_with_fit_data"}
    assert set(back) == expected_keys  # an acceptor's report has no next-symbol keys
    assert back["output_kind"] == "accept"


def test_headline_variants():
    trace = make_trace(WORDS, HIDDEN, OUTPUTS)
    fsm = parity_fsm()
    fitting = evaluate_trace(fsm, trace, held_out=False, overlap=1.0)
    assert fitting.headline.startswith("83.3% of prefixes of the FITTING data")
    part = evaluate_trace(fsm, trace, held_out=False, overlap=0.25)
    assert part.headline.startswith("83.3% of prefixes (25% of the words also in the fitting data)")
    unknown = evaluate_trace(fsm, trace)
    assert unknown.headline.startswith("83.3% of prefixes,")
    assert unknown.held_out is None and unknown.task is None and unknown.reference is None
    assert unknown.beyond_fit is None
    json.dumps(unknown.to_dict())
    assert str(unknown).splitlines()[0] == unknown.headline


def test_no_residual_headline_and_empty_residual():
    # the net follows the FSM exactly: outputs are the FSM's answers, hidden states its centroids
    words = ["", "a", "ab", "ba", "bab"]
    # FSM states: a:1 | a:1 b:1 | b:0 a:1 | b:0 a:1 b:1
    states = [1, 1, 1, 0, 1, 0, 1, 1]
    trace = make_trace(words, [float(q) for q in states], [0.9 if q else 0.1 for q in states])
    r = evaluate_trace(parity_fsm(), trace, held_out=True)
    assert r.prefix_agreement == 1.0 and r.word_agreement == 1.0 and r.state_agreement == 1.0
    assert r.variance_explained == 1.0  # every h is exactly its state's centroid
    assert r.residual == () and r.shortest_disagreements == ()
    assert r.residual_concentration == {"share": 0.0, "places": 0, "transitions": 0}
    assert r.headline == "100.0% of held-out prefixes, 100% of hidden variance; no residual: FSM and net agree on every sampled prefix"
    assert r.first_parting.tolist() == [-1] * 5


def test_headline_when_search_finds_nothing():
    lang = fx.languages.tomita(2)
    net = exact_lstm(lang)
    r = fx.fidelity(net, lang, lang.sample(n=200, max_len=12, seed=0), search=3000)
    assert r.headline.endswith("no residual: FSM and net agree on every sampled prefix; "
                               f"search found no disagreement in {r.search['steps_spent']} net steps")


# ----------------------------------------------------------------------------- the report and headline directly
class _Search:
    """What headline() reads of a search result."""

    def __init__(self, words, steps=1234):
        self.disagreements = tuple(type("D", (), {"word": w})() for w in words)
        self.steps_spent = steps


def test_summary_lines(hand_report):
    lines = hand_report.summary().splitlines()
    assert lines[0] == hand_report.headline and lines[1] == ""
    assert lines[2] == "evaluated on 8 words, 24 prefixes of held-out data"
    assert lines[3] == "output agreement   words 62.50%   prefixes 83.33%"
    assert lines[4].startswith("  beyond the longest fitting word (2): words 33.33% (3), prefixes 81.82% (11)")
    assert lines[5] == "  by length:  0-9: 57.14%  10-19: 100.00%"
    assert "coverage           83.33% of steps use transitions observed when fitting, 12.50% completed" in lines[9]
    assert any(l.startswith("task accuracy      net 75.00%   FSM 87.50%   cost of replacing the net by the FSM -12.50%")
               for l in lines)
    assert any(l.startswith("reference          FSM equivalent: no (shortest difference: 'aa')") for l in lines)
    assert lines[-1] == "shortest disagreeing words: 'ab', 'aab', 'abb'"
    short = hand_report.summary(max_items=1).splitlines()
    assert "  ... 2 more in report.residual" in short
    assert "residual (3 places; shares of all prefixes):" in short


def test_to_dict_is_json_serialisable_without_nan(hand_report):
    d = hand_report.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text)["first_parting"] == hand_report.first_parting.tolist()
    assert isinstance(d["residual"][0], dict) and d["search"] is None and d["aligned"] is None


@pytest.mark.parametrize("held_out, overlap, start", [
    (True, None, "90.0% of held-out prefixes"),
    (False, 1.0, "90.0% of prefixes of the FITTING data"),
    (False, 0.25, "90.0% of prefixes (25% of the words also in the fitting data)"),
    (None, None, "90.0% of prefixes"),
])
def test_headline_names_what_data_it_is_about(held_out, overlap, start):
    head = headline(0.9, 0.5, held_out=held_out, overlap=overlap, empty_disagrees=False, residual=None, search=None)
    assert head.startswith(start + ", 50% of hidden variance; ")
    assert head.endswith("no residual: FSM and net agree on every sampled prefix")


def test_headline_never_claims_agreement_when_search_found_something():
    head = headline(1.0, None, held_out=True, overlap=None, empty_disagrees=False, residual=None,
                    search=_Search(["0110", "011010"]))
    assert "agree on every" not in head and "hidden variance" not in head
    assert head.endswith("; no disagreement on the sampled prefixes; but search found 2 disagreement(s) in 1234 net "
                         "steps (shortest '0110'; see the residual)")
    with_residual = headline(0.8, None, held_out=True, overlap=None, empty_disagrees=False, residual=(0.9, 2, 3, 2),
                             search=_Search(["0"], 10))
    assert "90% of the residual is in 2 of 9 places (6 transitions, 3 state outputs)" in with_residual
    assert "; search found 1 disagreement(s) in 10 net steps" in with_residual and "but" not in with_residual
    empty = headline(0.95, None, held_out=None, overlap=None, empty_disagrees=True, residual=None, search=_Search([], 5))
    assert "the only disagreement is on the empty word" in empty
    assert empty.endswith("; search found no disagreement in 5 net steps")
