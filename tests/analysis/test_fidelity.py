"""fx.fidelity / evaluate_trace: every figure of the report checked against a hand computation.

Most tests build an ExtractedFSM and a Trace by hand (1-D hidden states near cluster centroids),
so that each number can be derived on paper; the comments derive them. A few run real nets:
an exact LSTM for tomita4 (fsm_extract.nets.exact.exact_lstm) for the "no residual" and fitting-
data cases.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fsm_extract as fx
from fsm_extract.errors import ArgumentTypeError, FsmExtractError, ValidationError
from fsm_extract.analysis.fidelity import FidelityReport, evaluate_trace
from fsm_extract.nets.trace import Trace
from fsm_extract.words import encode_words



# ----------------------------------------------------------------------------- helpers
def make_trace(words, hidden, outputs, *, h0=(0.0,), h0_output=0.2, alphabet=("a", "b")):
    """A Trace of ``words`` with the given per-step hidden vectors (or scalars) and outputs."""
    symbols, offsets = encode_words(words, tuple(alphabet))
    hidden = np.asarray(hidden, dtype=np.float32)
    if hidden.ndim == 1:
        hidden = hidden[:, None]
    return Trace(hidden=hidden, symbols=symbols, offsets=offsets, h0=np.asarray(h0, np.float32),
                 outputs=np.asarray(outputs, np.float32), h0_output=h0_output, alphabet=tuple(alphabet))


def entropy_bits(*p):
    return -sum(x * math.log2(x) for x in p if x > 0)


# ----------------------------------------------------------------------------- the hand-built case
# FSM over ("a", "b"): "odd number of a's".  q0 initial, rejecting; q1 accepting.
#   q0 -a-> q1, q0 -b-> q0, q1 -a-> q0, q1 -b-> q1
# Evidence: (q0, a) and (q0, b) were observed when fitting; (q1, b) was completed from the net;
# (q1, a) is neither (given).  One cluster per state, 1-D centroids 0.0 (q0) and 1.0 (q1).
#
# Words (global step index in brackets), with per step: symbol, FSM state before -> after,
# hidden h, the net's abstract state (nearest centroid), net probability, FSM output:
#   w0 ""            empty: FSM rejects (q0), net h0_output 0.2 rejects              agree
#   w1 "a"    [0]    a  q0->q1  h 0.9  net 1  p 0.8 acc | FSM acc                       agree
#   w2 "ab"   [1]    a  q0->q1  h 1.1  net 1  p 0.7 acc | acc                           agree
#             [2]    b  q1->q1  h 0.1  net 0  p 0.3 rej | acc   PARTING at (q1, b)      DISAGREE
#   w3 "ba"   [3]    b  q0->q0  h 0.1  net 0  p 0.1 rej | rej                           agree
#             [4]    a  q0->q1  h 0.2  net 0  p 0.9 acc | acc   PARTING at (q0, a)      agree
#   w4 "aab"  [5]    a  q0->q1  h 1.0  net 1  p 0.6 acc | acc                           agree
#             [6]    a  q1->q0  h 0.0  net 0  p 0.4 rej | rej                           agree
#             [7]    b  q0->q0  h 0.0  net 0  p 0.7 acc | rej   (states agree)          DISAGREE
#   w5 "bb"   [8]    b  q0->q0  h -0.1 net 0  p 0.2 rej | rej                           agree
#             [9]    b  q0->q0  h 0.05 net 0  p 0.1 rej | rej                           agree
#   w6 "abb"  [10]   a  q0->q1  h 1.0  net 1  p 0.9 acc | acc                           agree
#             [11]   b  q1->q1  h 0.0  net 0  p 0.2 rej | acc   PARTING at (q1, b)      DISAGREE
#             [12]   b  q1->q1  h 1.0  net 1  p 0.3 rej | acc   (states agree again)    DISAGREE
#   w7 "b"*11 [13..23] b q0->q0 h 0.0  net 0  p 0.1 rej | rej                           agree x 11
# h0 = 0.0 -> abstract state 0 = FSM initial.  24 steps (prefixes), 8 words.
WORDS = ["", "a", "ab", "ba", "aab", "bb", "abb", "b" * 11]
HIDDEN = [0.9, 1.1, 0.1, 0.1, 0.2, 1.0, 0.0, 0.0, -0.1, 0.05, 1.0, 0.0, 1.0] + [0.0] * 11
OUTPUTS = [0.8, 0.7, 0.3, 0.1, 0.9, 0.6, 0.4, 0.7, 0.2, 0.1, 0.9, 0.2, 0.3] + [0.1] * 11
# task labels: the FSM's own answers (odd number of a's) except w2 "ab", labelled False
LABELS = np.array([False, True, False, True, False, False, True, False])


def parity_fsm(**extra):
    counts = np.zeros((2, 2, 2), np.int64)
    counts[0, 0, 1] = 7  # (q0, a) observed 7 times, all to q1
    counts[0, 1, 0] = 9  # (q0, b) observed 9 times, all to q0
    kwargs = dict(
        alphabet=("a", "b"),
        transitions=[[1, 0], [0, 1]],
        accepting=[False, True],
        initial=0,
        transition_counts=counts,
        completed=[[False, False], [False, True]],  # (q1, b) completed; (q1, a) given
        centroids=[[0.0], [1.0]],
        cluster_map=[0, 1],
        cluster_centroids=[[0.0], [1.0]],
        metadata={"state": "h"},
    )
    kwargs.update(extra)
    return fx.ExtractedFSM(**kwargs)


def ends_with_a():
    """Reference: words ending in "a".  r0 (initial, rejecting) -a-> r1 (accepting) -b-> r0."""
    from automata.fa.dfa import DFA

    return DFA(states={"r0", "r1"}, input_symbols={"a", "b"},
               transitions={"r0": {"a": "r1", "b": "r0"}, "r1": {"a": "r1", "b": "r0"}},
               initial_state="r0", final_states={"r1"})


@pytest.fixture(scope="module")
def hand_report():
    trace = make_trace(WORDS, HIDDEN, OUTPUTS)
    return evaluate_trace(parity_fsm(), trace, labels=LABELS, reference=ends_with_a(),
                          held_out=True, max_fit_length=2)


def test_hand_output_agreement(hand_report):
    r = hand_report
    assert isinstance(r, FidelityReport)
    assert r.n_words == 8 and r.n_prefixes == 24
    # disagreeing prefixes: steps 2, 7, 11, 12 -> 20 / 24
    assert r.prefix_agreement == pytest.approx(20 / 24)
    # disagreeing words (final output): w2, w4, w6 -> 5 / 8 (w0, the empty word, agrees)
    assert r.word_agreement == pytest.approx(5 / 8)


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


def test_hand_state_agreement_and_first_parting(hand_report):
    r = hand_report
    # the FSM state differs from the net's abstract state at steps 2, 4, 11 -> 21 / 24
    assert r.state_agreement == pytest.approx(21 / 24)
    assert r.initial_state_agrees is True
    # per word, within-word index of the first parting: w2 at 1, w3 at 1, w6 at 1, others never
    assert r.first_parting.tolist() == [-1, -1, 1, 1, -1, -1, 1, -1]


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


def test_hand_residual(hand_report):
    r = hand_report
    # step 2 (w2 parts at step 2): (q1, b); step 11 (w6 parts at 11): (q1, b); step 12: w6 parted
    # at 11 <= 12, so (q1, b) again -> count 3, share 3/24.  Step 7: w4 never parts -> the
    # output of q0 (the FSM state after step 7), count 1, share 1/24.
    # Partings begin at (q1, b) (steps 2, 11: parting_share 2/24) and (q0, a) (step 4, 1/24):
    # (q0, a) changes no answer -> a conflict with share 0.
    items = [it.to_dict() for it in r.residual]
    assert items == [
        {"state": 1, "symbol": "b", "kind": "transition", "share": pytest.approx(3 / 24), "count": 3,
         "parting_share": pytest.approx(2 / 24), "completed": True, "witnesses": ["ab", "abb"], "found_by_search": 0, "search_witnesses": []},
        {"state": 0, "symbol": None, "kind": "output", "share": pytest.approx(1 / 24), "count": 1,
         "parting_share": 0.0, "completed": False, "witnesses": ["aab"], "found_by_search": 0, "search_witnesses": []},
        {"state": 0, "symbol": "a", "kind": "conflict", "share": 0.0, "count": 0,
         "parting_share": pytest.approx(1 / 24), "completed": False, "witnesses": ["ba"], "found_by_search": 0, "search_witnesses": []},
    ]
    assert sum(it.share for it in r.residual) == pytest.approx(1 - r.prefix_agreement)
    # disagreeing prefixes by length, then data order: "ab" (step 2), "ab" (11), "aab" (7), "abb" (12)
    assert r.shortest_disagreements == ("ab", "aab", "abb")
    # counts 3, 1 of 4: 80% (3.2) needs both places, which hold 4/4 of it; 1 transition among them
    assert r.residual_concentration == {"share": 1.0, "places": 2, "transitions": 1}


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
    expected_keys = {f for f in FidelityReport.__dataclass_fields__} - {"overlap"} | {"overlap_with_fit_data"}
    assert set(back) == expected_keys


# ----------------------------------------------------------------------------- other hand cases
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


# ----------------------------------------------------------------------------- one wrong transition
def _all_words(alphabet, max_len):
    return ["".join(w) for n in range(max_len + 1) for w in itertools.product(alphabet, repeat=n)]


def test_one_wrong_transition_is_the_whole_residual():
    # reference: tomita4 (no "000"): states 0 (no trailing 0), 1 (one), 2 (two), 3 (trap).
    lang = fx.languages.tomita(4)
    table, accepting, init = lang.transition_table()
    assert table.tolist() == [[1, 0], [2, 0], [3, 0], [3, 3]]
    # the FSM: the reference with ONE transition redirected, (1, "1") -> 1 instead of 0
    wrong = table.copy()
    wrong[1, 1] = 1
    eye = np.eye(4)
    fsm = fx.ExtractedFSM(alphabet=("0", "1"), transitions=wrong, accepting=accepting, initial=0,
                          centroids=eye, cluster_map=np.arange(4), cluster_centroids=eye)
    # the "net": follows the reference; its hidden state is the reference state's centroid
    words = _all_words("01", 8)
    hidden, outputs = [], []
    for w in words:
        q = init
        for c in w:
            q = int(table[q, int(c)])
            hidden.append(eye[q])
            outputs.append(0.9 if accepting[q] else 0.1)
    trace = make_trace(words, np.array(hidden).reshape(-1, 4), outputs, h0=eye[0], h0_output=0.9, alphabet=("0", "1"))
    r = evaluate_trace(fsm, trace, reference=lang, held_out=True)

    # expected: run both machines over every prefix in plain Python
    n_prefixes = n_broken = 0
    for w in words:
        qf = qr = 0
        for c in w:
            qf, qr = int(wrong[qf, int(c)]), int(table[qr, int(c)])
            n_prefixes += 1
            n_broken += bool(accepting[qf]) != bool(accepting[qr])
    assert n_prefixes == r.n_prefixes == sum(n * 2**n for n in range(9))
    assert n_broken > 0
    top = r.residual[0]
    assert (top.state, top.symbol, top.kind) == (1, "1", "transition")
    assert top.count == n_broken
    assert top.share == pytest.approx(n_broken / n_prefixes)
    assert top.share == pytest.approx(1 - r.prefix_agreement)
    assert all(it.count == 0 for it in r.residual[1:])  # every disagreement is charged there
    # shortest witness: "01" takes the wrong transition, "0100" is the first prefix it changes
    assert top.witnesses[0] == "0100"
    assert r.shortest_disagreements[0] == "0100"
    assert r.reference["fsm_shortest_difference"] == "0100"
    assert r.reference["net_prefix_agreement"] == 1.0
    assert r.residual_concentration["places"] == 1


# ----------------------------------------------------------------------------- a plain reference
def _reference_figures(fsm, trace):
    """The definitions, implemented step by step in plain Python."""
    cent, cmap = fsm.cluster_centroids, fsm.cluster_map

    def abstract(h):
        return int(cmap[int(np.argmin(((cent - np.asarray(h, np.float64)) ** 2).sum(1)))])

    net_init = abstract(trace.h0)
    agree = state_same = 0
    counts: dict = {}
    parting: dict = {}
    first_parting = []
    for w in range(trace.n_words):
        q, qn = fsm.initial, net_init
        parted_before = q != qn
        first = None
        for t in range(trace.offsets[w], trace.offsets[w + 1]):
            a = int(trace.symbols[t])
            prev = q
            q = int(fsm.transitions[q, a])
            qn = abstract(trace.hidden[t])
            parted = q != qn
            state_same += not parted
            if parted and first is None:
                first = (t - trace.offsets[w], (prev, a))
            if parted and not parted_before:
                parting[(prev, a)] = parting.get((prev, a), 0) + 1
            parted_before = parted
            if bool(fsm.accepting[q]) == bool(trace.outputs[t] > 0.5):
                agree += 1
            else:
                key = ("t", first[1]) if first is not None else ("o", q)
                counts[key] = counts.get(key, 0) + 1
        first_parting.append(-1 if first is None else first[0])
    return agree, state_same, counts, parting, first_parting


@settings(max_examples=40)
@given(seed=st.integers(0, 2**31 - 1), n_states=st.integers(1, 4), n_words=st.integers(1, 12))
def test_matches_plain_reference_on_random_traces(seed, n_states, n_words):
    rng = np.random.default_rng(seed)
    k = 2
    n_clusters = n_states + 1
    cluster_map = np.concatenate([np.arange(n_states), rng.integers(-1, n_states, 1)])
    centroids = rng.normal(size=(n_clusters, 2))
    fsm = fx.ExtractedFSM(alphabet=("a", "b"), transitions=rng.integers(0, n_states, (n_states, k)),
                          accepting=rng.random(n_states) < 0.5, initial=int(rng.integers(n_states)),
                          centroids=rng.normal(size=(n_states, 2)), cluster_map=cluster_map,
                          cluster_centroids=centroids)
    words = ["".join(rng.choice(["a", "b"], rng.integers(0, 7))) for _ in range(n_words)]
    n_steps = sum(map(len, words))
    trace = make_trace(words, rng.normal(size=(n_steps, 2)), rng.random(n_steps),
                       h0=rng.normal(size=2), h0_output=float(rng.random()))
    r = evaluate_trace(fsm, trace)
    agree, same, counts, parting, first_parting = _reference_figures(fsm, trace)
    denom = max(n_steps, 1)
    assert r.prefix_agreement == pytest.approx(agree / denom if n_steps else 1.0)
    assert r.state_agreement == pytest.approx(same / denom if n_steps else 1.0)
    assert r.first_parting.tolist() == first_parting
    got = {("t", (it.state, fsm.alphabet.index(it.symbol))) if it.symbol is not None else ("o", it.state): it.count
           for it in r.residual if it.count}
    assert got == counts
    got_parting = {(it.state, fsm.alphabet.index(it.symbol)): round(it.parting_share * denom)
                   for it in r.residual if it.symbol is not None and it.parting_share > 0}
    assert got_parting == parting
    assert all(it.kind == "conflict" for it in r.residual if it.count == 0)
    assert sum(it.share for it in r.residual) == pytest.approx(1 - r.prefix_agreement)
    json.dumps(r.to_dict())


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
