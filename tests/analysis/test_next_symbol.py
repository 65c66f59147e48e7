"""Tests of fsm_extract.analysis.next_symbol: next_symbol_measures on a Trace and a next-symbol
ExtractedFSM built by hand, every figure derived on paper below.

The FSM over ("a", "b") has two states; q0 initial. a -> q1, b -> q0 from either state:

    output_probs   a     b     $
    q0            0.50  0.25   0.25
    q1            0.25  0.25  0.50

Words "ab", "a", "" give 6 prefix positions (the empty prefix of each word, then each step):

    pos  word  prefix  len  state  net (a, b, $)        target  TV    argmax net/fsm
    0    0     ""      0    q0     0.50 0.30 0.20       a       0.05  a / a
    1    0     "a"     1    q1     0.20 0.30 0.50       b       0.05  $ / $
    2    0     "ab"    2    q0     0.20 0.60 0.20       $       0.35  b / a   (the only miss)
    3    1     ""      0    q0     0.50 0.30 0.20       a       0.05  a / a
    4    1     "a"     1    q1     0.20 0.30 0.50       $       0.05  $ / $
    5    2     ""      0    q0     0.50 0.30 0.20       $       0.05  a / a

The net's distribution after a prefix depends only on the prefix (``NET`` below): the empty
prefix of every word gets the same ``h0_probs``, and "a" the same distribution in both words.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fsm_extract.analysis.next_symbol import next_symbol_lines, next_symbol_measures
from fsm_extract.automata.automaton import ExtractedFSM
from fsm_extract.nets.trace import Trace
from fsm_extract.words import encode_words

L3 = math.log2(3)
STATE_PROBS = [[0.5, 0.25, 0.25], [0.25, 0.25, 0.5]]
NET = {"": [0.5, 0.3, 0.2], "a": [0.2, 0.3, 0.5], "ab": [0.2, 0.6, 0.2]}
WORDS = ["ab", "a", ""]


def make_fsm(probs=STATE_PROBS, table=((1, 0), (1, 0))) -> ExtractedFSM:
    return ExtractedFSM("ab", [list(r) for r in table], None, 0, output_kind="next-symbol",
                        classes=list(range(len(probs))), codebook=probs, output_probs=probs)


def make_trace(words, net) -> Trace:
    """A next-symbol Trace of ``words``: after each prefix the net gives ``net(prefix)`` (a
    distribution over a, b, $); hidden states are irrelevant here (zeros)."""
    symbols, offsets = encode_words(words, ("a", "b"))
    probs = [net(w[:i + 1]) for w in words for i in range(len(w))]
    return Trace(hidden=np.zeros((len(symbols), 1), np.float32), symbols=symbols, offsets=offsets,
                 h0=np.zeros(1, np.float32), outputs=None, h0_output=None, alphabet=("a", "b"),
                 probs=np.asarray(probs, np.float32).reshape(-1, 3), h0_probs=np.asarray(net(""), np.float32),
                 output_kind="next-symbol")


def fsm_states(fsm, trace) -> np.ndarray:
    """The FSM's state after each step of the trace."""
    out = []
    for i in range(trace.n_words):
        word = [trace.alphabet[a] for a in trace.symbols[trace.offsets[i]:trace.offsets[i + 1]]]
        out.extend(fsm.run(word)[1:].tolist())
    return np.asarray(out, np.int64)


def measures(words=WORDS, net=None, fsm=None, **kw):
    fsm = make_fsm() if fsm is None else fsm
    net = (lambda prefix: NET.get(prefix, STATE_PROBS[fsm.run(prefix)[-1]])) if net is None else net
    trace = make_trace(words, net)
    return next_symbol_measures(fsm, trace, fsm_states(fsm, trace), **kw)


@pytest.fixture(scope="module")
def ns():
    return measures()


def test_counts_every_prefix_position(ns):
    assert ns["n_positions"] == 6  # 3 steps + 3 empty prefixes


def test_total_variation_and_word_error_rate(ns):
    assert ns["total_variation"] == pytest.approx((0.05 + 0.05 + 0.35 + 0.05 + 0.05 + 0.05) / 6)
    assert ns["wer"] == pytest.approx(1 / 6)
    assert ns["argmax_agreement"] == pytest.approx(5 / 6)


def test_kl_divergence_in_bits(ns):
    def kl(p, q):
        return sum(x * math.log2(x / y) for x, y in zip(p, q) if x > 0)
    rows = [kl(NET[""], STATE_PROBS[0]), kl(NET["a"], STATE_PROBS[1]), kl(NET["ab"], STATE_PROBS[0]),
            kl(NET[""], STATE_PROBS[0]), kl(NET["a"], STATE_PROBS[1]), kl(NET[""], STATE_PROBS[0])]
    # by hand: KL(net "" || q0) = 0.3 log2(0.3/0.25) + 0.2 log2(0.2/0.25) = 0.014526...
    assert rows[0] == pytest.approx(0.3 * math.log2(1.2) + 0.2 * math.log2(0.8))
    assert ns["kl_divergence"] == pytest.approx(sum(rows) / 6)


def test_bits_per_symbol_of_what_came_next(ns):
    # targets a, b, $, a, $, $ (the last position of each word is followed by its end)
    net = [1.0, -math.log2(0.3), -math.log2(0.2), 1.0, 1.0, -math.log2(0.2)]
    fsm = [1.0, 2.0, 2.0, 1.0, 1.0, 2.0]
    b = ns["bits_per_symbol"]
    assert b["net"] == pytest.approx(sum(net) / 6)
    assert b["fsm"] == pytest.approx(sum(fsm) / 6) == 1.5
    assert b["price"] == pytest.approx(1.5 - sum(net) / 6)


def test_ndcg_at_5_is_cut_to_the_three_outcomes(ns):
    # q's ranking, judged by the net's probabilities; 1 where q ranks as the net does
    pos1 = (0.5 + 0.2 / L3 + 0.3 / 2) / (0.5 + 0.3 / L3 + 0.2 / 2)  # q1 ranks $, a, b; the net $, b, a
    pos2 = (0.2 + 0.6 / L3 + 0.2 / 2) / (0.6 + 0.2 / L3 + 0.2 / 2)  # q0 ranks a, b, $; the net b first
    assert ns["ndcg5"] == pytest.approx((1 + pos1 + pos2 + 1 + pos1 + 1) / 6)
    assert pos1 < 1 and pos2 < 1


def test_by_length_bins(ns):
    rows = ns["by_length"]
    assert [r["lengths"] for r in rows] == [[0, 0], [1, 4]]
    assert [r["n"] for r in rows] == [3, 3]
    assert rows[0]["total_variation"] == pytest.approx(0.05) and rows[0]["wer"] == 0.0
    assert rows[1]["total_variation"] == pytest.approx((0.05 + 0.35 + 0.05) / 3)
    assert rows[1]["wer"] == pytest.approx(1 / 3)
    assert rows[0]["bits_fsm"] == pytest.approx((1 + 1 + 2) / 3)  # targets a, a, $
    assert rows[1]["bits_fsm"] == pytest.approx((2 + 2 + 1) / 3)  # targets b, $, $


def test_long_prefixes_fall_in_the_open_last_bin():
    fsm = make_fsm()
    rows = measures(words=["a" * 85], fsm=fsm, net=lambda p: STATE_PROBS[fsm.run(p)[-1]])["by_length"]
    assert [r["lengths"] for r in rows] == [[0, 0], [1, 4], [5, 9], [10, 19], [20, 39], [40, 79], [80, None]]
    assert [r["n"] for r in rows] == [1, 4, 5, 10, 20, 40, 6]  # 86 positions
    assert all(r["total_variation"] == pytest.approx(0.0, abs=1e-6) for r in rows)


def test_the_last_position_of_a_word_is_followed_by_its_end():
    """One state with a, b and $ at 1/2, 1/8, 3/8: the bits name the target of each position."""
    one = make_fsm(probs=[[0.5, 0.125, 0.375]], table=((0, 0),))
    ns = measures(words=["a", "ba", ""], fsm=one, net=lambda prefix: [0.5, 0.125, 0.375])
    # positions: "" -> a, "a" -> $ | "" -> b, "b" -> a, "ba" -> $ | "" -> $
    end, a, b = -math.log2(0.375), 1.0, 3.0
    assert ns["bits_per_symbol"]["fsm"] == pytest.approx((a + end + b + a + end + end) / 6)
    assert ns["bits_per_symbol"]["net"] == pytest.approx(ns["bits_per_symbol"]["fsm"], rel=1e-6)
    by = {tuple(r["lengths"]): r for r in ns["by_length"]}
    assert by[(0, 0)]["bits_fsm"] == pytest.approx((a + b + end) / 3)
    assert by[(1, 4)]["bits_fsm"] == pytest.approx((end + a + end) / 3)
    assert ns["total_variation"] == pytest.approx(0.0, abs=1e-7) and ns["wer"] == 0.0 and ns["ndcg5"] == 1.0


def test_places_name_the_largest_difference_with_a_witness(ns):
    places = ns["places"]
    # total |net - fsm| per (state, next): q0: a 0.3, b 0.05 + 0.35 + 0.05 + 0.05 = 0.5, $ 0.2;
    # q1: a 0.05 + 0.05, b 0.05 + 0.05, $ 0 (left out); in all 1.0 + 0.2
    assert [(p["state"], p["next"]) for p in places[:3]] == [(0, "b"), (0, "a"), (0, "$")]
    assert {(p["state"], p["next"]) for p in places[3:]} == {(1, "a"), (1, "b")}  # 0.1 each, up to float32
    top = places[0]
    assert top["net_prob"] == pytest.approx((0.3 + 0.6 + 0.3 + 0.3) / 4)
    assert top["fsm_prob"] == 0.25 and top["positions"] == 4
    assert top["mean_abs_difference"] == pytest.approx(0.5 / 4)
    assert top["share_of_difference"] == pytest.approx(0.5 / 1.2)
    assert top["witness"] == "ab" and top["witness_net_prob"] == pytest.approx(0.6)
    assert places[2]["next"] == "$" and places[2]["witness"] == "ε"  # |diff| 0.05 at all of q0: the empty prefix
    assert len(measures(max_places=2)["places"]) == 2


def test_the_witness_is_the_shortest_of_the_worst_prefixes():
    # after "bbab" the net says what it says after "ab" (both in q0): the same worst difference, and
    # "bbab" comes first among the positions
    net = {"ab": NET["ab"], "bbab": NET["ab"]}
    fsm = make_fsm()
    ns = measures(words=["bbab", "ab"], fsm=fsm, net=lambda p: net.get(p, STATE_PROBS[fsm.run(p)[-1]]))
    top = ns["places"][0]
    assert (top["state"], top["next"]) == (0, "b") and top["witness"] == "ab"
    assert top["witness_net_prob"] == pytest.approx(0.6) and top["positions"] == 6


def test_identical_distributions_have_no_places():
    fsm = make_fsm()
    ns = measures(words=["abba", "b"], fsm=fsm, net=lambda p: STATE_PROBS[fsm.run(p)[-1]])
    assert ns["places"] == [] and ns["wer"] == 0.0 and ns["ndcg5"] == 1.0
    assert ns["kl_divergence"] == pytest.approx(0.0, abs=1e-6)
    assert ns["bits_per_symbol"]["price"] == pytest.approx(0.0, abs=1e-6)


def test_report_lines(ns):
    lines = next_symbol_lines(ns)
    text = "\n".join(lines)
    assert "argmax agreement 83.33% of 6 prefix positions" in text and "WER 16.67%" in text
    assert "mean total variation 0.1000" in text
    assert "q0 next 'b': net 0.375 vs fsm 0.250" in text and "witness 'ab'" in text
    assert len(next_symbol_lines(ns, max_places=1)) == len(lines) - 4
