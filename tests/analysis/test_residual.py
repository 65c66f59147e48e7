"""Tests of fsm_extract.analysis.residual: every disagreement charged to one transition or state
output (attribute_residual), search finds added (add_search_finds), and the shortest word on
which two DFAs differ (shortest_difference)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fsm_extract as fx
from fsm_extract.analysis.fidelity import evaluate_trace
from fsm_extract.analysis.residual import (ResidualItem, add_search_finds, attribute_residual, first_per_word,
                                           previous_per_step, shortest_difference)
from fsm_extract.analysis.search import Disagreement
from fsm_extract.words import encode_words

from .conftest import make_trace


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


def parity():
    """Odd number of a's over (a, b): q0 initial, rejecting."""
    return fx.ExtractedFSM(alphabet=("a", "b"), transitions=[[1, 0], [0, 1]], accepting=[False, True], initial=0)


def test_add_search_finds_merges_and_appends():
    fsm = parity()
    items = [ResidualItem(0, "a", "transition", 0.1, 3, 0.05, False, ("a",)),
             ResidualItem(1, "b", "conflict", 0.0, 0, 0.02, False, ("ab",))]
    finds = [
        Disagreement("ab", True, False, 1, 1, "b", "explore"),     # conflict (q1, b) now shows a disagreement
        Disagreement("bab", True, False, 1, 0, "a", "random"),      # joins the sampled (q0, a)
        Disagreement("abab", False, True, None, None, None, "random"),  # states never part: output of the end state
        Disagreement("bb", True, False, 0, 0, "b", "systematic"),  # a place only search saw
    ]
    out = add_search_finds(items, finds, transitions=fsm.transitions, initial=0, alphabet=fsm.alphabet,
                           completed=fsm.completed)
    got = {(it.state, it.symbol): (it.kind, it.count, it.found_by_search, it.search_witnesses) for it in out}
    assert got[(0, "a")] == ("transition", 3, 1, ("bab",))
    assert got[(1, "b")] == ("transition", 0, 1, ("ab",))
    assert got[(0, None)] == ("output", 0, 1, ("abab",))  # "abab" ends in q0
    assert got[(0, "b")] == ("transition", 0, 1, ("bb",))
    assert out[0].state == 0 and out[0].symbol == "a"  # sampled disagreements first
    assert "1 found by search, e.g. 'bab'" in out[0].describe()
    assert out[-1].to_dict()["found_by_search"] >= 1


# ----------------------------------------------------------------------------- the functions directly
def _attribute(fsm_states, net_states, disagree, words, *, initial=0, net_initial=0, n_states=2, completed=None):
    symbols, offsets = encode_words(words, ("a", "b"))
    return attribute_residual(
        fsm_states=np.array(fsm_states), net_states=np.array(net_states), disagree=np.array(disagree, bool),
        symbols=symbols, offsets=offsets, initial=initial, net_initial=net_initial, n_states=n_states,
        alphabet=("a", "b"), completed=np.zeros((n_states, 2), bool) if completed is None else completed,
        n_prefixes=len(fsm_states))


def test_attribute_residual_on_a_hand_case():
    # word "ab": FSM 0 -a-> 1 -b-> 1, net 0 -a-> 1 -b-> 0: they part at (1, "b"), and the answer
    # after "ab" differs -> the transition is charged.  word "ba": FSM 0 -b-> 0 -a-> 1, net the
    # same, but the answer after "ba" differs -> the output of state 1 is charged.  word "bb":
    # FSM 0, 0; net 1, 0: they part at (0, "b") without a disagreement -> a conflict.
    items, first = _attribute([1, 1, 0, 1, 0, 0], [1, 0, 0, 1, 1, 0], [0, 1, 0, 1, 0, 0], ["ab", "ba", "bb"],
                              completed=np.array([[False, False], [False, True]]))
    got = [(it.state, it.symbol, it.kind, it.count, it.witnesses, it.completed) for it in items]
    assert got == [(1, "b", "transition", 1, ("ab",), True), (1, None, "output", 1, ("ba",), False),
                   (0, "b", "conflict", 0, ("b",), False)]
    assert [it.share for it in items] == [pytest.approx(1 / 6), pytest.approx(1 / 6), 0.0]
    assert items[0].parting_share == pytest.approx(1 / 6) and items[2].parting_share == pytest.approx(1 / 6)
    assert first.tolist() == [1, -1, 0]
    assert "completed from the net" in items[0].describe() and "output of q1" in items[1].describe()


def test_a_net_that_starts_elsewhere_charges_the_first_transition():
    # the net's initial state maps to state 1, the FSM's is 0: every word starts parted, so a
    # disagreement on the first prefix is charged to (0, its symbol) and no parting "begins"
    items, first = _attribute([1], [0], [1], ["a"], net_initial=1)
    assert [(it.state, it.symbol, it.kind, it.count, it.parting_share) for it in items] == [(0, "a", "transition", 1, 0.0)]
    assert first.tolist() == [0]
    empty, first = _attribute([], [], [], ["", ""])
    assert empty == [] and first.tolist() == [-1, -1]


def test_previous_per_step_and_first_per_word():
    offsets = np.array([0, 3, 3, 5])  # words of 3, 0 and 2 steps
    values = np.array([10, 11, 12, 13, 14])
    assert previous_per_step(values, offsets, -1).tolist() == [-1, 10, 11, -1, 13]
    mask = np.array([False, True, True, False, False])
    assert first_per_word(mask, offsets).tolist() == [1, -1, -1]
    assert first_per_word(np.array([False, False, False, True, True]), offsets).tolist() == [-1, -1, 3]
    assert first_per_word(np.zeros(0, bool), np.array([0, 0])).tolist() == [-1]


def _brute_shortest(ta, fa, ia, tb, fb, ib, max_len):
    for length in range(max_len + 1):
        for word in itertools.product(range(ta.shape[1]), repeat=length):
            qa, qb = ia, ib
            for a in word:
                qa, qb = ta[qa, a], tb[qb, a]
            if bool(fa[qa]) != bool(fb[qb]):
                return list(word)
    return None


def _dfa(n, k):
    return st.tuples(
        st.lists(st.lists(st.integers(0, n - 1), min_size=k, max_size=k), min_size=n, max_size=n).map(np.array),
        st.lists(st.booleans(), min_size=n, max_size=n).map(np.array), st.integers(0, n - 1))


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 3).flatmap(lambda k: st.tuples(
    st.integers(1, 3).flatmap(lambda n: _dfa(n, k)), st.integers(1, 3).flatmap(lambda n: _dfa(n, k)))))
def test_shortest_difference_matches_brute_force(pair):
    (ta, fa, ia), (tb, fb, ib) = pair
    got = shortest_difference(ta, fa, ia, tb, fb, ib)
    # DFAs that differ, differ on a word shorter than the number of state pairs
    assert got == _brute_shortest(ta, fa, ia, tb, fb, ib, ta.shape[0] * tb.shape[0])
    assert shortest_difference(ta, fa, ia, ta, fa, ia) is None


def test_shortest_difference_is_the_first_in_symbol_order():
    parity = np.array([[1, 0], [0, 1]]), np.array([False, True])  # odd number of a's
    ends_b = np.array([[0, 1], [0, 1]]), np.array([False, True])  # ends in b
    assert shortest_difference(*parity, 0, *ends_b, 0) == [0]  # "a": parity accepts, ends-in-b rejects
    assert shortest_difference(*parity, 0, parity[0], ~parity[1], 0) == []  # the empty word already
