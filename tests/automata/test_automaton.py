"""Tests of fsm_extract.automata.automaton: ExtractedFSM and load_fsm."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest
from automata.fa.dfa import DFA
from automata.fa.nfa import NFA
from hypothesis import given, settings

from fsm_extract.automata.automaton import ExtractedFSM
from fsm_extract.errors import ArgumentTypeError, FsmExtractError, UnknownSymbolError, ValidationError

from .conftest import _evidence, all_words, random_fsms


# ----------------------------------------------------------------------------- construction
def test_fields_are_normalised_copied_and_read_only(observed):
    src = [[0, 1], [1, 0]]
    fsm = ExtractedFSM(["x", "y"], src, np.array([1, 0]), np.int64(1), metadata={"t": (1, 2)})
    src[0][0] = 1
    assert fsm.alphabet == ("x", "y") and fsm.initial == 1 and type(fsm.initial) is int
    assert fsm.transitions.dtype == np.int64 and fsm.transitions[0, 0] == 0
    assert fsm.accepting.dtype == bool and fsm.completed.dtype == bool and not fsm.completed.any()
    assert fsm.transition_counts.shape == (2, 2, 2) and fsm.output_counts.shape == (2, 2)
    assert fsm.metadata == {"t": [1, 2]}
    for arr in (fsm.transitions, fsm.accepting, fsm.transition_counts, fsm.output_counts, fsm.completed,
                observed.centroids, observed.cluster_map, observed.support, observed.confidence):
        with pytest.raises(ValueError):
            arr.flat[0] = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        fsm.initial = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        fsm.metadata["t"] = 3  # type: ignore[index]
    assert fsm != ExtractedFSM(["x", "y"], [[0, 1], [1, 0]], [1, 0], 1)  # identity equality


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(transitions=[[0, 1], [5, 0]]), ValidationError, ["transitions[1, 0]=5", "[0, 2)"]),
        (dict(transitions=[[0, 1, 0], [1, 0, 0]]), ValidationError, ["transitions", "shape", "(2, 3)"]),
        (dict(transitions=[[0.5, 1], [1, 0]]), ArgumentTypeError, ["transitions", "integers"]),
        (dict(transitions=np.zeros((0, 2), int), accepting=[]), ValidationError, ["at least one state"]),
        (dict(accepting=[True]), ValidationError, ["accepting", "(2,)"]),
        (dict(accepting=["yes", "no"]), ArgumentTypeError, ["accepting", "booleans"]),
        (dict(initial=2), ValidationError, ["initial=2", "<= 1"]),
        (dict(initial=True), ArgumentTypeError, ["initial"]),
        (dict(transition_counts=-np.ones((2, 2, 2), int)), ValidationError, ["transition_counts[0, 0, 0]=-1", ">= 0"]),
        (dict(output_counts=[[1, 2, 3], [0, 0, 0]]), ValidationError, ["output_counts", "(2, 2)"]),
        (dict(completed=[[True, False], [False, False]], transition_counts=np.ones((2, 2, 2), int)),
         ValidationError, ["completed[0, 0]", "never observed", "sums to 2"]),
        (dict(centroids=[[0.0, np.nan], [1.0, 1.0]]), ValidationError, ["centroids", "finite"]),
        (dict(centroids=[[0.0], [1.0], [2.0]]), ValidationError, ["centroids", "shape"]),
        (dict(cluster_map=[0, 1, 2]), ValidationError, ["cluster_map[2]=2", "[-1, 2)"]),
        (dict(metadata={"x": object()}), ValidationError, ["metadata", "JSON"]),
        (dict(metadata={"x": float("nan")}), ValidationError, ["metadata"]),
        (dict(metadata={1: "a"}), ArgumentTypeError, ["metadata keys"]),
        (dict(metadata=[1]), ArgumentTypeError, ["metadata"]),
        (dict(alphabet="00"), ValidationError, ["alphabet", "distinct"]),
    ],
)
def test_validation_errors_name_argument_rule_and_value(kwargs, error, words):
    base = dict(alphabet="01", transitions=[[0, 1], [1, 0]], accepting=[True, False], initial=0)
    with pytest.raises(error) as info:
        ExtractedFSM(**{**base, **kwargs})
    for w in words:
        assert w in str(info.value)
    assert isinstance(info.value, FsmExtractError)


def test_derived_properties(observed):
    assert observed.n_states == 3 and observed.n_symbols == 2
    np.testing.assert_array_equal(observed.support, [[5, 5], [3, 3], [0, 2]])
    np.testing.assert_allclose(observed.confidence, [[1, 0.8], [1, 1], [np.nan, 1]])
    np.testing.assert_allclose(observed.output_confidence, [1, 1, 0.5])
    empty = ExtractedFSM("a", [[0]], [False], 0)
    assert np.isnan(empty.confidence).all() and np.isnan(empty.output_confidence).all()


def test_repr_and_pickle(observed):
    r = repr(observed)
    assert r.startswith("ExtractedFSM(n_states=3") and "alphabet='01'" in r and "completed=1" in r
    clone = pickle.loads(pickle.dumps(observed))
    assert clone.to_dict() == observed.to_dict() and not clone.transitions.flags.writeable


# ----------------------------------------------------------------------------- from_counts
def test_from_counts_majority_completion_and_outputs(observed):
    np.testing.assert_array_equal(observed.transitions, [[0, 1], [1, 2], [2, 1]])  # 2 on "0" completed
    np.testing.assert_array_equal(observed.completed, [[False, False], [False, False], [True, False]])
    np.testing.assert_array_equal(observed.accepting, [True, False, False])  # state 2: a 1-1 tie rejects
    assert observed.metadata == {"method": "kmeans", "seed": 0, "undecided_outputs": [2]}


def test_from_counts_ties_take_the_smallest_state_and_no_outputs_reject():
    counts = np.zeros((3, 1, 3), int)
    counts[0, 0, [1, 2]] = 4
    counts[1, 0, [0, 2]] = 1
    counts[2, 0, 2] = 1
    fsm = ExtractedFSM.from_counts(counts, np.zeros((3, 2), int), initial=0, alphabet="a")
    np.testing.assert_array_equal(fsm.transitions[:, 0], [1, 0, 2])
    assert not fsm.accepting.any() and fsm.metadata["undecided_outputs"] == [0, 1, 2]
    assert not fsm.completed.any()  # every pair observed: completion not needed


def test_from_counts_refuses_a_silent_default_for_unobserved_pairs():
    counts, outputs = _evidence()
    with pytest.raises(ValidationError) as info:
        ExtractedFSM.from_counts(counts, outputs, initial=0, alphabet="01")
    msg = str(info.value)
    assert "(2, '0')" in msg and "completed from the net" in msg and "not by a silent default" in msg
    with pytest.raises(ValidationError, match=r"completion\[2, 0\]=3 must be a state in \[0, 3\)"):
        ExtractedFSM.from_counts(counts, outputs, initial=0, alphabet="01", completion=np.full((3, 2), 3))
    with pytest.raises(ValidationError, match="transition_counts"):
        ExtractedFSM.from_counts(np.zeros((3, 2, 2), int), outputs, initial=0, alphabet="01")


# ----------------------------------------------------------------------------- running
def test_run_accepts_predict(parity):
    np.testing.assert_array_equal(parity.run("0110"), [0, 0, 1, 2, 2])
    assert parity.run("").tolist() == [0] and parity.run("").dtype == np.int64
    words = all_words("01", 6)
    expected = [w.count("1") % 2 == 0 for w in words]
    assert [parity.accepts(w) for w in words] == expected
    np.testing.assert_array_equal(parity.predict(words), expected)
    np.testing.assert_array_equal(parity.predict(reversed(words)), expected[::-1])  # any iterable
    assert parity.predict([]).shape == (0,) and parity.predict([]).dtype == bool
    assert parity.final_states(["", "1", "11"]).tolist() == [0, 1, 2]


def test_unknown_symbols_raise(parity):
    for call in (parity.accepts, parity.run, lambda w: parity.predict(["01", w])):
        with pytest.raises(UnknownSymbolError, match="'2'"):
            call("012")


def test_multi_character_symbols():
    fsm = ExtractedFSM(["push", "pop"], [[1, 0], [1, 0]], [False, True], 0)
    assert fsm.accepts(["pop", "push"]) and not fsm.accepts(("push", "pop"))
    np.testing.assert_array_equal(fsm.predict([["push"], [], ["push", "pop"]]), [True, False, False])
    assert fsm.to_automata().accepts_input(["pop", "push"])


# ----------------------------------------------------------------------------- automata-lib
def test_from_automata_completes_partial_dfas_and_numbers_states_bfs():
    dfa = DFA.from_nfa(NFA.from_regex("(ab|b)*a", input_symbols={"a", "b"}))  # partial
    fsm = ExtractedFSM.from_automata(dfa)
    assert fsm.alphabet == ("a", "b") and fsm.initial == 0 and fsm.n_states == 3  # + trap
    assert fsm.equivalent(dfa) and not fsm.completed.any() and fsm.transition_counts.sum() == 0
    for w in all_words("ab", 6):
        assert fsm.accepts(w) == dfa.accepts_input(w)
    wide = ExtractedFSM.from_automata(dfa, alphabet="abc")
    assert wide.alphabet == ("a", "b", "c") and not wide.accepts("ac") and wide.accepts("ba")
    with pytest.raises(ValidationError, match=r"missing \['b'\]"):
        ExtractedFSM.from_automata(dfa, alphabet="a")
    with pytest.raises(ArgumentTypeError, match="DFA"):
        ExtractedFSM.from_automata("not a dfa")  # type: ignore[arg-type]


def test_from_automata_drops_unreachable_and_orders_bfs():
    dfa = DFA(states={"s", "x", "y", "dead"}, input_symbols={"0", "1"}, initial_state="s",
              transitions={"s": {"0": "y", "1": "x"}, "x": {"0": "x", "1": "s"}, "y": {"0": "s", "1": "y"},
                           "dead": {"0": "dead", "1": "dead"}}, final_states={"x"})
    fsm = ExtractedFSM.from_automata(dfa)
    np.testing.assert_array_equal(fsm.transitions, [[1, 2], [0, 1], [2, 0]])
    assert fsm.accepting.tolist() == [False, False, True]


@settings(max_examples=40, deadline=None)
@given(random_fsms())
def test_to_automata_round_trip(fsm):
    dfa = fsm.to_automata()
    assert dfa.states == set(range(fsm.n_states)) and dfa.initial_state == fsm.initial
    back = ExtractedFSM.from_automata(dfa, alphabet=fsm.alphabet)
    assert back.equivalent(fsm)
    m = fsm.minimize()  # minimal and BFS-numbered: the round trip is exact
    again = ExtractedFSM.from_automata(m.to_automata(), alphabet=m.alphabet)
    np.testing.assert_array_equal(again.transitions, m.transitions)
    np.testing.assert_array_equal(again.accepting, m.accepting)


def test_equivalent(parity):
    class Lang:
        dfa = parity.minimize().to_automata()

    assert parity.equivalent(Lang()) and parity.equivalent(Lang.dfa)
    odd = ExtractedFSM("01", [[0, 1], [1, 0]], [False, True], 0)
    assert not parity.equivalent(odd)
    assert parity.equivalent(ExtractedFSM("10", [[1, 0], [0, 1]], [True, False], 0))  # same set
    with pytest.raises(ValidationError, match="alphabet"):
        parity.equivalent(ExtractedFSM("012", [[0, 0, 0]], [True], 0))
    with pytest.raises(ArgumentTypeError):
        parity.equivalent(42)
