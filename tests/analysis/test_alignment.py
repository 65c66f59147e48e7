"""Checking a net against a specification: alignment (fsm_extract.analysis.alignment), fx.fidelity with a
Language / DFA / centre-less FSM, search finds in the residual, and the CLI's --spec / --dfa."""

from __future__ import annotations

import numpy as np
import pytest

import fsm_extract as fx
from fsm_extract.analysis.alignment import align_to_net, needs_alignment
from fsm_extract.nets.exact import exact_lstm
from fsm_extract.nets.trace import Trace
from fsm_extract.words import encode_words


def test_align_centres_are_mean_net_states_per_specification_state():
    # a third state q2 that no word reaches: no centre of its own
    spec = fx.ExtractedFSM(alphabet=("a", "b"), transitions=[[1, 0], [0, 1], [2, 2]],
                           accepting=[False, True, False], initial=0)
    words = ["a", "ab", "b"]
    symbols, offsets = encode_words(words, ("a", "b"))
    # spec states after each step: a->1 | a->1 b->1 | b->0
    hidden = np.array([[1.0, 0.0], [3.0, 0.0], [5.0, 2.0], [0.5, 0.5]], np.float32)
    trace = Trace(hidden=hidden, symbols=symbols, offsets=offsets, h0=np.array([-1.0, 1.0], np.float32),
                  outputs=np.array([0.9, 0.9, 0.9, 0.1], np.float32), h0_output=0.1, alphabet=("a", "b"))
    assert needs_alignment(spec)
    aligned = align_to_net(spec, trace)
    assert not needs_alignment(aligned)
    # q0: h0 once per word (3 words) and the step after "b": (3 * (-1, 1) + (0.5, 0.5)) / 4
    np.testing.assert_allclose(aligned.centroids[0], [(-3 + 0.5) / 4, (3 + 0.5) / 4])
    np.testing.assert_allclose(aligned.centroids[1], [3.0, 2 / 3])  # mean of (1,0), (3,0), (5,2)
    np.testing.assert_allclose(aligned.centroids[2], [-1.0, 1.0])  # unvisited: h0's vector
    assert aligned.cluster_map.tolist() == [0, 1]  # q2 is not in the abstraction
    np.testing.assert_allclose(aligned.cluster_centroids, aligned.centroids[:2])
    assert aligned.metadata["aligned"]["unvisited_states"] == [2]
    assert aligned.metadata["state"] == "h"
    np.testing.assert_array_equal(aligned.transitions, spec.transitions)  # the automaton itself is unchanged
    # every net state maps to a visited state
    assert set(aligned.abstract(hidden).tolist()) <= {0, 1}


def test_fidelity_accepts_language_dfa_and_centreless_fsm_alike():
    lang = fx.languages.tomita(4)
    net = exact_lstm(lang)
    data = lang.sample(n=300, max_len=20, seed=1)
    reports = [fx.fidelity(net, spec, data) for spec in (lang, lang.dfa, fx.ExtractedFSM.from_automata(lang.dfa))]
    for r in reports:
        assert r.prefix_agreement == 1.0 and r.state_agreement == 1.0 and r.residual == ()
        assert any("a specification: each of its" in n for n in r.notes) and r.aligned["unvisited_states"] == []
        assert "no residual: FSM and net agree on every sampled prefix" in r.headline
    assert reports[0].to_dict() == reports[1].to_dict() == reports[2].to_dict()


def test_the_residual_names_the_specification_state_the_net_leaves():
    """The net is Tomita 4 (no "000"); the specification allows "000" but not "0000". After
    "000" the net is in its rejecting sink while the specification is in its accepting
    "three zeros" state q3. With centres as mean net states, q3's centre is the net's sink (that
    is where the net is whenever the specification is in q3), so the residual lands on q3: its
    output ("000", the shortest witness, is accepted by the specification and rejected by the
    net) and its transition on "1", after which the specification returns to "no zero" and
    the net stays in its sink. Nothing is charged anywhere else."""
    net = exact_lstm(fx.languages.tomita(4))
    spec = fx.languages.from_regex("(1|01|001|0001)*(()|0|00|000)", alphabet="01")  # no "0000"
    data = fx.languages.tomita(4).sample(n=2000, max_len=16, seed=0)
    r = fx.fidelity(net, spec, data)
    q3 = int(fx.ExtractedFSM.from_automata(spec.dfa, alphabet=("0", "1")).run("000")[-1])
    charged = [it for it in r.residual if it.count]
    assert {(it.state, it.symbol, it.kind) for it in charged} == {(q3, None, "output"), (q3, "1", "transition")}
    assert sum(it.share for it in charged) == pytest.approx(1.0 - r.prefix_agreement)
    output = next(it for it in charged if it.kind == "output")
    assert output.witnesses[0] == "000" and r.shortest_disagreements[0] == "000"
    assert next(it for it in charged if it.kind == "transition").witnesses[0] == "0001"


def test_bundled_tomita7_against_its_specification_shows_where_it_deviates():
    """The bundled Tomita 7 net agrees with 0*1*0*1* on every sampled test word, but not on some
    long words a search finds: the report must say so (not "agree on every prefix") and charge
    each find to the specification's transition where the net leaves it."""
    model = fx.datasets.bundled_model("tomita7")
    lang = fx.languages.tomita(7)
    test = fx.datasets.load("tomita7", split="test")
    r = fx.fidelity(model, lang, test, search=60_000, seed=0)
    assert r.prefix_agreement == 1.0
    found = r.search["disagreements"]
    assert found, "the search should find the net's deviations on long words"
    assert "agree on every" not in r.headline
    assert "no disagreement on the sampled prefixes; but search found" in r.headline
    for d in found:  # every find is real: the net and the specification differ on it
        assert bool(model.predict([d["word"]])[0]) != lang.accepts(d["word"])
    searched = [it for it in r.residual if it.found_by_search]
    assert sum(it.found_by_search for it in searched) == len(found)
    assert all(it.kind in ("transition", "output") and it.search_witnesses for it in searched)
    spec_fsm = fx.ExtractedFSM.from_automata(lang.dfa, alphabet=("0", "1"))
    for it in searched:
        if it.symbol is not None:  # the witness passes through the charged transition
            w = it.search_witnesses[0]
            path = spec_fsm.run(w)
            assert any(path[i] == it.state and w[i] == it.symbol for i in range(len(w)))
    assert "found by search, e.g." in str(r)
