"""Tests of fsm_extract.analysis.agreement: the measures of a fidelity report (lengths, variance
explained, determinism, coverage, task accuracy, the reference check, concentration), on the
hand-built case of conftest.py and on SideBySide runs built directly."""

from __future__ import annotations

import json

import numpy as np
import pytest

import fsm_extract as fx
from fsm_extract.analysis import agreement
from fsm_extract.analysis.agreement import SideBySide, side_by_side
from fsm_extract.analysis.fidelity import evaluate_trace
from fsm_extract.analysis.residual import ResidualItem

from .conftest import HIDDEN, OUTPUTS, WORDS, entropy_bits, make_trace, parity_fsm


def test_hand_by_length_and_beyond_fit(hand_report):
    r = hand_report
    # words: lengths 0,1,2,2,3,2,3 in "0-9" (w2, w4, w6 disagree: 4/7); w7 (11) in "10-19" (agrees)
    # prefixes: prefix lengths 1..3 of w1..w6 (13, 4 disagree) and 1..9 of w7 (9) -> 22 in "0-9",
    # 18 agree; prefixes 10 and 11 of w7 in "10-19", both agree
    assert r.by_length == [
        {"lengths": "0-9", "words": 7, "word_agreement": pytest.approx(4 / 7),
         "prefixes": 22, "prefix_agreement": pytest.approx(18 / 22)},
        {"lengths": "10-19", "words": 1, "word_agreement": 1.0, "prefixes": 2, "prefix_agreement": 1.0},
    ]
    # beyond max_fit_length=2: words w4, w6 (disagree) and w7 (agrees) -> 1/3;
    # prefixes longer than 2: step 7 ("aab", disagrees), step 12 ("abb", disagrees), and
    # prefixes 3..11 of w7 (9, agree) -> 9 / 11
    assert r.max_fit_length == 2
    assert r.beyond_fit == {"words": 3, "word_agreement": pytest.approx(1 / 3),
                            "prefixes": 11, "prefix_agreement": pytest.approx(9 / 11)}


def test_hand_variance_explained(hand_report):
    # residuals to the FSM's own centroid (q0: 0.0, q1: 1.0), squared:
    #   0.01 (0.9|q1) + 0.01 (1.1|q1) + 0.81 (0.1|q1) + 0.01 (0.1|q0) + 0.64 (0.2|q1)
    #   + 0.01 (-0.1|q0) + 0.0025 (0.05|q0) + 1.0 (0.0|q1) = 2.4925
    # total: sum h^2 = 5.0925, sum h = 5.35 over 24 steps -> SST = 5.0925 - 5.35^2 / 24
    expected = 1 - 2.4925 / (5.0925 - 5.35**2 / 24)
    assert hand_report.variance_explained == pytest.approx(expected, rel=1e-5)
    assert hand_report.variance_explained == pytest.approx(0.36088, abs=1e-4)


def test_hand_determinism(hand_report):
    # the net's abstract transitions (previous abstract state, abstract(h0) = 0 at word starts):
    #   (0, a): -> 1 at steps 0, 1, 5, 10; -> 0 at step 4            mass 5, majority 4
    #   (0, b): -> 0 at steps 3, 7, 8, 9, 13..23; -> 1 at step 12     mass 16, majority 15
    #   (1, a): -> 0 at step 6                                        mass 1, majority 1
    #   (1, b): -> 0 at steps 2, 11                                   mass 2, majority 2
    # determinism = (4 + 15 + 1 + 2) / 24 = 22 / 24
    r = hand_report
    assert r.determinism == pytest.approx(22 / 24)
    rows = {(row["state"], row["symbol"]): row for row in r.determinism_table}
    assert set(rows) == {(0, "a"), (0, "b"), (1, "a"), (1, "b")}
    assert rows[0, "a"]["mass"] == 5
    assert rows[0, "a"]["majority_share"] == pytest.approx(0.8)
    assert rows[0, "a"]["entropy_bits"] == pytest.approx(entropy_bits(0.8, 0.2))  # 0.7219
    assert rows[0, "a"]["entropy_bits"] == pytest.approx(0.721928, abs=1e-6)
    assert rows[0, "b"]["mass"] == 16
    assert rows[0, "b"]["majority_share"] == pytest.approx(15 / 16)
    assert rows[0, "b"]["entropy_bits"] == pytest.approx(entropy_bits(15 / 16, 1 / 16))
    assert rows[1, "a"] == {"state": 1, "symbol": "a", "mass": 1, "majority_share": 1.0, "entropy_bits": 0.0}
    assert rows[1, "b"]["mass"] == 2 and rows[1, "b"]["majority_share"] == 1.0
    assert rows[1, "b"]["entropy_bits"] == 0.0


def test_hand_coverage(hand_report):
    # FSM transition used per step: (q0, a) at 0, 1, 4, 5, 10 (5); (q0, b) at 3, 7, 8, 9, 13..23
    # (15); (q1, a) at 6 (1); (q1, b) at 2, 11, 12 (3).  Observed: (q0, *) -> 20/24;
    # completed: (q1, b) -> 3/24; given: (q1, a) -> 1/24
    assert hand_report.coverage == {
        "observed": pytest.approx(20 / 24), "completed": pytest.approx(3 / 24), "given": pytest.approx(1 / 24),
        "transitions_used": 4, "n_transitions": 4,
    }
    assert hand_report.n_transitions == 4


def test_hand_task(hand_report):
    # net word answers: F T F T T F F F; labels F T F T F F T F -> net right on 6/8
    # FSM word answers: F T T T F F T F -> right on 7/8 (wrong on "ab", labelled False)
    t = hand_report.task
    assert t["net_accuracy"] == pytest.approx(6 / 8)
    assert t["fsm_accuracy"] == pytest.approx(7 / 8)
    assert t["cost"] == pytest.approx(6 / 8 - 7 / 8)


def test_hand_reference(hand_report):
    ref = hand_report.reference
    # FSM (odd a's) vs "ends with a": "", "a", "b" agree; length 2: "aa" (FSM rejects, ref accepts)
    # is the first in symbol order among the differing "aa", "ab"
    assert ref["fsm_equivalent"] is False
    assert ref["fsm_shortest_difference"] == "aa"
    # the reference's prefix answers (last symbol is a) vs the net's: they differ at step 6
    # ("aa": ref acc, net p 0.4) and step 7 ("aab": ref rej, net p 0.7) -> 22 / 24
    assert ref["net_prefix_agreement"] == pytest.approx(22 / 24)
    # words: only w4 "aab" differs (ref rejects, net 0.7) -> 7 / 8; the empty word agrees (both reject)
    assert ref["net_word_agreement"] == pytest.approx(7 / 8)
    assert ref["net_shortest_difference"] == "aa"


def test_concentration_when_places_hold_exactly_80_percent():
    # the hand trace plus one word "a" where the net stays in q1 (h 1.0) but rejects (p 0.1):
    # one more disagreement, charged to the output of q1.  Counts 3 (q1, b), 1 (output q0),
    # 1 (output q1): 80% of 5 = 4 is reached by the first two places, which hold exactly 4/5.
    trace = make_trace(WORDS + ["a"], HIDDEN + [1.0], OUTPUTS + [0.1])
    r = evaluate_trace(parity_fsm(), trace)
    assert [(it.state, it.symbol, it.kind, it.count) for it in r.residual] == [
        (1, "b", "transition", 3), (0, None, "output", 1), (1, None, "output", 1), (0, "a", "conflict", 0)]
    assert r.residual[2].witnesses == ("a",)
    assert r.prefix_agreement == pytest.approx(20 / 25)
    assert r.residual_concentration == {"share": pytest.approx(0.8), "places": 2, "transitions": 1}
    assert "80% of the residual is in 2 of 6 places" in r.headline


def test_dropped_cluster_and_initial_state_mismatch():
    # three clusters: at 0.0 (q0), 1.0 (q1) and 5.0 (dropped: -1).  h0 = 5.0 maps to the dropped
    # cluster, so the net's initial state is not the FSM's.
    fsm = parity_fsm(cluster_map=[0, 1, -1], cluster_centroids=[[0.0], [1.0], [5.0]])
    # words "a" [h 1.0 -> 1], "bb" [h 4.9 -> dropped, h 0.0 -> 0]
    trace = make_trace(["a", "bb"], [1.0, 4.9, 0.0], [0.9, 0.1, 0.1], h0=(5.0,))
    r = evaluate_trace(fsm, trace)
    assert r.initial_state_agrees is False
    # FSM states 1, 0, 0 vs net 1, -1, 0: step 1 differs -> 2/3
    assert r.state_agreement == pytest.approx(2 / 3)
    # net transitions (previous state at a word's first step: abstract(h0) = dropped):
    # step 0 (dropped, a) -> 1; step 1 (dropped, b) -> dropped; step 2 (dropped, b) -> 0.
    # Rows of the dropped state are listed with state None.
    rows = {(row["state"], row["symbol"]): row for row in r.determinism_table}
    assert set(rows) == {(None, "a"), (None, "b")}
    assert rows[None, "a"]["mass"] == 1 and rows[None, "a"]["majority_share"] == 1.0
    # (dropped, b): once to dropped, once to 0 -> majority 1/2, entropy 1 bit
    assert rows[None, "b"]["mass"] == 2
    assert rows[None, "b"]["majority_share"] == 0.5
    assert rows[None, "b"]["entropy_bits"] == pytest.approx(1.0)
    assert r.determinism == pytest.approx(2 / 3)
    json.dumps(r.to_dict())


def test_reference_column_order_and_fsm_reference():
    # the same "ends with a" reference as an ExtractedFSM over the alphabet in the other order
    # ("b", "a"): columns are matched by symbol, not by position
    ref = fx.ExtractedFSM(alphabet=("b", "a"), transitions=[[0, 1], [0, 1]], accepting=[False, True], initial=0)
    trace = make_trace(WORDS, HIDDEN, OUTPUTS)
    r = evaluate_trace(parity_fsm(), trace, reference=ref)
    assert r.reference["fsm_shortest_difference"] == "aa"
    assert r.reference["net_prefix_agreement"] == pytest.approx(22 / 24)
    # and the FSM against itself: equivalent, no shortest difference
    same = evaluate_trace(parity_fsm(), trace, reference=parity_fsm())
    assert same.reference["fsm_equivalent"] is True
    assert same.reference["fsm_shortest_difference"] is None
    # the net vs the FSM as reference: exactly the output agreement
    assert same.reference["net_prefix_agreement"] == pytest.approx(20 / 24)
    assert same.reference["net_word_agreement"] == pytest.approx(5 / 8)
    assert same.reference["net_shortest_difference"] == "ab"


def test_shortest_difference_on_the_empty_word():
    # a reference that accepts the empty word differs from the FSM (q0 rejects) on "" already
    ref = fx.ExtractedFSM(alphabet=("a", "b"), transitions=[[0, 0]], accepting=[True], initial=0)
    trace = make_trace(["a"], [1.0], [0.9])
    r = evaluate_trace(parity_fsm(), trace, reference=ref)
    assert r.reference["fsm_equivalent"] is False
    assert r.reference["fsm_shortest_difference"] == "ε"


# ----------------------------------------------------------------------------- the measures directly
def _hand_run():
    fsm, trace = parity_fsm(), make_trace(WORDS, HIDDEN, OUTPUTS)
    return fsm, trace, side_by_side(fsm, trace, trace.hidden, trace.h0)


def test_side_by_side_on_the_hand_case():
    fsm, trace, run = _hand_run()
    assert isinstance(run, SideBySide)
    # the FSM's states after each step (see conftest.py), the net's nearest clusters
    assert run.fsm_states.tolist() == [1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1] + [0] * 11
    assert run.net_states.tolist() == [1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1] + [0] * 11
    assert run.net_initial == 0
    assert np.flatnonzero(~run.agree_p).tolist() == [2, 7, 11, 12]
    assert run.net_word.tolist() == [0, 1, 0, 1, 1, 0, 0, 0] and run.fsm_word.tolist() == [0, 1, 1, 1, 0, 0, 1, 0]
    assert run.agree_w.tolist() == [True, True, False, True, False, True, False, True]
    assert run.starts.tolist() == [0, 1, 1, 3, 3, 5, 5, 5, 8, 8, 10, 10, 10] + [13] * 11


def test_measures_that_have_nothing_to_measure():
    fsm, trace, run = _hand_run()
    assert agreement.beyond_fit(trace, run, None) is None
    assert agreement.task_accuracy(run, None) is None
    assert agreement.variance_explained(parity_fsm(centroids=None), trace, run) is None
    assert agreement.concentration([]) == {"share": 0.0, "places": 0, "transitions": 0}
    # labels equal to the FSM's answers: the net misses words 2, 4 and 6
    assert agreement.task_accuracy(run, np.array([0, 1, 1, 1, 0, 0, 1, 0], bool)) == {
        "net_accuracy": 0.625, "fsm_accuracy": 1.0, "cost": -0.375}


def test_concentration_takes_the_fewest_places_holding_80_percent():
    items = [ResidualItem(0, "a", "transition", 0.5, 5, 0.1, False, ()), ResidualItem(1, None, "output", 0.3, 3, 0.0, False, ()),
             ResidualItem(1, "b", "transition", 0.1, 1, 0.1, False, ()), ResidualItem(0, "b", "transition", 0.1, 1, 0.1, False, ()),
             ResidualItem(1, "a", "conflict", 0.0, 0, 0.2, False, ())]
    # 80% of 10 is 8: the first two places hold exactly 8; one of them is a transition
    assert agreement.concentration(items) == {"share": 0.8, "places": 2, "transitions": 3}


def test_shortest_disagreements_are_distinct_shortest_first_and_capped():
    fsm, trace, run = _hand_run()
    assert agreement.shortest_disagreements(trace, run, fsm.alphabet) == ["ab", "aab", "abb"]
    assert agreement.shortest_disagreements(trace, run, fsm.alphabet, n=1) == ["ab"]


def test_by_length_buckets_words_and_prefixes_by_tens():
    words = ["a" * n for n in (0, 9, 10, 25)]
    trace = make_trace(words, [0.0] * 44, [0.1] * 44)
    run = side_by_side(parity_fsm(), trace, trace.hidden, trace.h0)
    rows = agreement.by_length(trace, run)
    # prefixes of length 1..9 of the words of 9, 10 and 25; 10 of the word of 10 and 10..19 of the
    # word of 25; 20..25 of the word of 25
    assert [(r["lengths"], r["words"], r["prefixes"]) for r in rows] == [("0-9", 2, 9 * 3), ("10-19", 1, 1 + 10),
                                                                        ("20-29", 1, 6)]
