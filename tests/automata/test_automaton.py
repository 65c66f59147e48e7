"""Tests of fsm_extract.automata.automaton: ExtractedFSM and load_fsm."""

from __future__ import annotations

import dataclasses
import itertools
import json
import pickle

import numpy as np
import pytest
from automata.fa.dfa import DFA
from automata.fa.nfa import NFA
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_extract.automata.automaton import ExtractedFSM, load_fsm
from fsm_extract.errors import (
    ArgumentTypeError,
    DataFormatError,
    FsmExtractError,
    MissingFileError,
    UnknownSymbolError,
    ValidationError,
)


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture
def parity() -> ExtractedFSM:
    """Even number of 1s over {0, 1}, with state 2 a duplicate of state 0 (3 states, minimal 2)."""
    return ExtractedFSM("01", [[0, 1], [1, 2], [2, 1]], [True, False, True], 0)


def _evidence():
    counts = np.zeros((3, 2, 3), np.int64)
    counts[0, 0, 0] = 5
    counts[0, 1, 1] = 4
    counts[0, 1, 2] = 1  # minority: 0 -1-> 2
    counts[1, 0, 1] = 3
    counts[1, 1, 2] = 3
    counts[2, 1, 1] = 2  # (2, "0") never observed
    outputs = np.array([[0, 5], [4, 0], [1, 1]])
    return counts, outputs


@pytest.fixture
def observed() -> ExtractedFSM:
    return _observed()


def _observed() -> ExtractedFSM:
    counts, outputs = _evidence()
    return ExtractedFSM.from_counts(
        counts, outputs, initial=0, alphabet="01", completion=[[9, 9], [9, 9], [2, 9]],
        centroids=np.eye(3), cluster_map=[0, 1, 2, 1], metadata={"method": "kmeans", "seed": np.int64(0)},
    )


def all_words(alphabet, max_len):
    return ["".join(w) for n in range(max_len + 1) for w in itertools.product(alphabet, repeat=n)]


@st.composite
def random_fsms(draw, max_states=12, max_symbols=3, evidence=False):
    n = draw(st.integers(1, max_states))
    k = draw(st.integers(1, max_symbols))
    table = draw(st.lists(st.lists(st.integers(0, n - 1), min_size=k, max_size=k), min_size=n, max_size=n))
    accepting = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    initial = draw(st.integers(0, n - 1))
    kwargs = {}
    if evidence:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        counts = rng.integers(0, 4, (n, k, n)) * (rng.random((n, k, 1)) < 0.7)
        kwargs = dict(
            transition_counts=counts,
            output_counts=rng.integers(0, 5, (n, 2)),
            completed=(counts.sum(-1) == 0) & (rng.random((n, k)) < 0.5),
            centroids=rng.normal(size=(n, 3)),
            cluster_map=rng.integers(0, n, n + 2),
        )
    return ExtractedFSM("abc"[:k], table, accepting, initial, **kwargs)


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


# ----------------------------------------------------------------------------- minimize
def test_minimize_hand_built(parity, observed):
    m = parity.minimize()
    assert m.n_states == 2 and m.initial == 0 and m.metadata["minimized_from"] == 3
    np.testing.assert_array_equal(m.transitions, [[0, 1], [1, 0]])
    h = observed.minimize()  # states 1 and 2 both reject and loop among themselves
    np.testing.assert_array_equal(h.transitions, [[0, 1], [1, 1]])
    np.testing.assert_array_equal(h.transition_counts.sum(-1), [[5, 5], [3, 5]])
    np.testing.assert_allclose(h.confidence, [[1, 1], [1, 1]])  # 0 -1-> {1, 2} now all agree
    np.testing.assert_array_equal(h.output_counts, [[0, 5], [5, 1]])
    assert not h.completed.any()  # block {1, 2} was observed on "0" through state 1
    np.testing.assert_allclose(h.centroids, [[1, 0, 0], [0, 4 / 6, 2 / 6]])  # weights 4 and 2 outputs
    np.testing.assert_array_equal(h.cluster_map, [0, 1, 1, 1])
    assert h.metadata["undecided_outputs"] == [] and h.metadata["method"] == "kmeans"


def test_minimize_drops_unreachable_states_and_their_evidence():
    counts = np.zeros((3, 1, 3), int)
    counts[0, 0, 0] = 7
    counts[0, 0, 2] = 1  # into the unreachable state
    counts[2, 0, 2] = 3
    completed = np.array([[False], [True], [False]])
    fsm = ExtractedFSM("a", [[0], [1], [2]], [True, False, False], 0, counts, None, completed,
                       cluster_map=[2, 1, 0, 0])
    m = fsm.minimize()
    assert m.n_states == 1 and m.transition_counts.sum() == 7 and m.metadata["dropped_counts"] == 4
    np.testing.assert_array_equal(m.cluster_map, [-1, -1, 0, 0])
    np.testing.assert_array_equal(m.minimize().cluster_map, [-1, -1, 0, 0])


def test_minimize_marks_completed_blocks():
    completed = np.array([[True], [False]])
    fsm = ExtractedFSM("a", [[1], [1]], [False, False], 0, None, None, completed)
    m = fsm.minimize()
    assert m.n_states == 1 and m.completed.tolist() == [[True]]
    assert ExtractedFSM("a", [[1], [1]], [False, False], 0).minimize().completed.tolist() == [[False]]


@settings(max_examples=60, deadline=None)
@given(random_fsms())
def test_minimize_preserves_the_language_and_is_minimal(fsm):
    m = fsm.minimize()
    assert fsm.to_automata() == m.to_automata() and fsm.equivalent(m)
    words = all_words(fsm.alphabet, 6)
    np.testing.assert_array_equal(fsm.predict(words), m.predict(words))
    assert m.n_states == len(fsm.to_automata().minify().states)
    assert m.initial == 0
    m2 = m.minimize()
    for name in ("transitions", "accepting", "transition_counts", "output_counts", "completed"):
        np.testing.assert_array_equal(getattr(m2, name), getattr(m, name))


@settings(max_examples=60, deadline=None)
@given(random_fsms(evidence=True))
def test_minimize_merges_evidence(fsm):
    m = fsm.minimize()
    assert m.transition_counts.sum() + m.metadata["dropped_counts"] == fsm.transition_counts.sum()
    reachable = np.zeros(fsm.n_states, bool)
    frontier = [fsm.initial]
    while frontier:  # plain depth-first search
        q = frontier.pop()
        if not reachable[q]:
            reachable[q] = True
            frontier.extend(fsm.transitions[q].tolist())
    assert m.output_counts.sum() == fsm.output_counts[reachable].sum()
    if reachable.all():
        assert m.metadata["dropped_counts"] == 0
        np.testing.assert_array_equal(m.output_counts.sum(0), fsm.output_counts.sum(0))
    assert ((m.cluster_map >= 0) == reachable[fsm.cluster_map]).all()
    assert m.centroids.shape == (m.n_states, 3)
    sup = m.support
    assert np.nanmin(m.confidence, initial=1.0) >= 0 and (np.isnan(m.confidence) == (sup == 0)).all()


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


# ----------------------------------------------------------------------------- JSON
def _same(a: ExtractedFSM, b: ExtractedFSM) -> None:
    assert a.alphabet == b.alphabet and a.initial == b.initial and a.metadata == b.metadata
    for name in ("transitions", "accepting", "transition_counts", "output_counts", "completed",
                 "centroids", "cluster_map"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None and y is None) or (np.array_equal(x, y) and x.dtype == y.dtype)


def test_dict_round_trip(observed, parity):
    d = observed.to_dict()
    assert d["format"] == "fsm-extract/fsm" and d["version"] == 1
    assert d["completed"] == [[2, 0]] and [0, 1, 2, 1] in d["transition_counts"]
    _same(ExtractedFSM.from_dict(json.loads(json.dumps(d))), observed)
    d["metadata"]["undecided_outputs"].append(0)  # a copy: the FSM is unchanged
    assert observed.metadata["undecided_outputs"] == [2]
    assert parity.to_dict()["centroids"] is None
    _same(ExtractedFSM.from_dict(parity.to_dict()), parity)


@settings(max_examples=30, deadline=None)
@given(random_fsms(evidence=True))
def test_dict_round_trip_random(fsm):
    _same(ExtractedFSM.from_dict(json.loads(json.dumps(fsm.to_dict()))), fsm)


def test_save_and_load(observed, tmp_path):
    path = observed.save(tmp_path / "m.json")
    assert path == tmp_path / "m.json" and [p.name for p in tmp_path.iterdir()] == ["m.json"]
    _same(load_fsm(path), observed)
    _same(load_fsm(str(path)), observed)
    with pytest.raises(MissingFileError):
        load_fsm(tmp_path / "nope.json")
    with pytest.raises(MissingFileError):
        observed.save(tmp_path / "no_dir" / "m.json")


@pytest.mark.parametrize(
    "content, words",
    [
        (b"{not json", ["not valid JSON", "bad.json"]),
        (b"\xff\xfe\x00", ["UTF-8", "bad.json"]),
        (b"[1, 2]", ["JSON object"]),
        (b'{"format": "other"}', ["format='other'", "fsm-extract/fsm"]),
    ],
)
def test_load_corrupted_files(tmp_path, content, words):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(DataFormatError) as info:
        load_fsm(path)
    for w in words:
        assert w in str(info.value)


def _broken(d, **changes):
    return {**d, **changes}


@pytest.mark.parametrize(
    "changes, words",
    [
        (dict(version=2), ["found version 2", "reads only version 1", "newer"]),
        (dict(version=0), ["found version 0", "reads only version 1"]),
        (dict(version="1"), ["version='1'"]),
        (dict(transitions=[[0, 1], [1, 2], [2, 7]]), ["transitions[2, 1]=7", "[0, 3)"]),
        (dict(transitions=[[0, 1], [1], [2, 1]]), ["transitions", "ragged"]),
        (dict(transitions=[[0, 1], [1, 2.5], [2, 1]]), ["transitions[1][1]", "integer"]),
        (dict(transitions=[[0, 1], [1, True], [2, 1]]), ["transitions[1][1]", "integer"]),
        (dict(transitions="01"), ["transitions", "list"]),
        (dict(accepting=[1, 0, 0]), ["accepting[0]", "true or false"]),
        (dict(accepting=[True]), ["accepting", "shape"]),
        (dict(initial=3), ["initial=3"]),
        (dict(initial=None), ["initial", "integer"]),
        (dict(alphabet=["0", 1]), ["alphabet"]),
        (dict(alphabet=["0", "0"]), ["alphabet", "distinct"]),
        (dict(transition_counts=[[0, 0, 0, 5, 1]]), ["transition_counts", "[q, a, q2, count]"]),
        (dict(transition_counts=[[0, 2, 0, 5]]), ["transition_counts[0]", "a=2"]),
        (dict(transition_counts=[[0, 0, 0, 0]]), ["count=0", "positive"]),
        (dict(transition_counts=[[0, 0, 0, 1], [0, 0, 0, 2]]), ["at most once"]),
        (dict(transition_counts=[[0, 0, 0, 10**30]]), ["transition_counts", "out of range"]),
        (dict(completed=[[0, 0]]), ["completed[0, 0]", "never observed"]),
        (dict(completed=[[5, 0]]), ["completed[0]", "[q, a]"]),
        (dict(output_counts=[[0, -1], [0, 0], [0, 0]]), ["output_counts[0, 1]=-1"]),
        (dict(centroids=[[1.0], [2.0]]), ["centroids", "shape"]),
        (dict(centroids=[[1.0], ["x"], [2.0]]), ["centroids[1][0]", "number"]),
        (dict(cluster_map=[0, 9]), ["cluster_map[1]=9"]),
        (dict(metadata=[1]), ["metadata", "object"]),
        (dict(extra=1), ["unexpected ['extra']"]),
    ],
)
def test_from_dict_rejects_invalid_content(observed, changes, words):
    d = _broken(observed.to_dict(), **changes)
    with pytest.raises(DataFormatError) as info:
        ExtractedFSM.from_dict(d)
    for w in words:
        assert w in str(info.value)


def test_load_names_the_path_for_invalid_automata(observed, tmp_path):
    d = observed.to_dict()
    del d["completed"]
    (tmp_path / "x.json").write_text(json.dumps(d))
    with pytest.raises(DataFormatError, match=r"x\.json.*missing \['completed'\]"):
        load_fsm(tmp_path / "x.json")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 5) | st.floats(allow_nan=True) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(key=st.sampled_from(list(ExtractedFSM("a", [[0]], [True], 0).to_dict())), value=json_values)
def test_from_dict_only_raises_data_format_error(key, value):
    d = _observed().to_dict()
    d[key] = value
    try:
        ExtractedFSM.from_dict(d)
    except DataFormatError:
        pass
