"""Tests of the output kinds of ExtractedFSM ("classes": Moore machines, "next-symbol"):
construction and validation, JSON, from_counts, minimisation with merged output
distributions, equivalence, prediction and diagrams."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_extract.automata.automaton import ExtractedFSM, load_fsm
from fsm_extract.automata.behaviour import merged_probs
from fsm_extract.automata.minimize import quotient_fsm
from fsm_extract.data.moore import MooreMachine, random_moore
from fsm_extract.errors import DataFormatError, ValidationError

from .conftest import all_words

TABLE = [[1, 0], [0, 1]]  # parity of a's over "ab"
CODEBOOK = [[0.6, 0.3, 0.1], [0.1, 0.2, 0.7]]
PROBS = [[0.53, 0.3, 0.17], [0.1, 0.25, 0.65]]


def moore(classes=(0, 2), **kw) -> ExtractedFSM:
    return ExtractedFSM("ab", TABLE, None, 0, output_kind="classes", classes=list(classes), **kw)


def next_symbol(**kw) -> ExtractedFSM:
    fields = {"classes": [0, 1], "codebook": CODEBOOK, "output_probs": PROBS, **kw}
    return ExtractedFSM("ab", TABLE, None, 0, output_kind="next-symbol", **fields)


# ----------------------------------------------------------------------------- construction
def test_a_moore_machine_has_classes_and_no_accepting_states():
    m = moore(output_counts=np.array([[4, 0, 1], [0, 0, 3]]))
    assert m.output_kind == "classes" and m.accepting is None and m.codebook is None
    assert m.classes.tolist() == [0, 2] and m.state_outputs.tolist() == [0, 2] and m.n_outputs == 3
    assert not m.classes.flags.writeable
    assert "output_kind='classes'" in repr(m) and "classes=[0, 2]" in repr(m)
    assert moore().n_outputs == 3  # without evidence: the largest class + 1


def test_a_next_symbol_automaton_carries_distributions_and_a_codebook():
    m = next_symbol()
    assert m.output_kind == "next-symbol" and m.accepting is None and m.n_outputs == 2
    np.testing.assert_array_equal(m.codebook, CODEBOOK)
    np.testing.assert_array_equal(m.output_probs, PROBS)
    assert m.output_counts.shape == (2, 2)  # one column per codebook row


def test_an_acceptor_keeps_its_classes_as_accepting_flags():
    m = ExtractedFSM("ab", TABLE, [True, False], 0)
    assert m.output_kind == "accept" and m.classes.tolist() == [1, 0] and m.n_outputs == 2


@pytest.mark.parametrize("build,pattern", [
    (lambda: ExtractedFSM("ab", TABLE, [True, False], 0, output_kind="classes", classes=[0, 1]),
     r"accepting must be None for output_kind='classes'"),
    (lambda: ExtractedFSM("ab", TABLE, [True, False], 0, output_kind="next-symbol", classes=[0, 1],
                          codebook=CODEBOOK, output_probs=PROBS),
     r"accepting must be None for output_kind='next-symbol'"),
    (lambda: ExtractedFSM("ab", TABLE, None, 0, output_kind="classes"),
     r"classes=None, but output_kind='classes' needs the class of each state"),
    (lambda: ExtractedFSM("ab", TABLE, None, 0, output_kind="next-symbol", codebook=CODEBOOK, output_probs=PROBS),
     r"classes=None, but output_kind='next-symbol'"),
    (lambda: moore(codebook=CODEBOOK), r"codebook must be None unless output_kind='next-symbol'"),
    (lambda: ExtractedFSM("ab", TABLE, [True, False], 0, codebook=CODEBOOK),
     r"codebook must be None unless output_kind='next-symbol'"),
    (lambda: next_symbol(codebook=None), r"output_kind='next-symbol' needs codebook="),
    (lambda: next_symbol(output_probs=None), r"needs codebook=.* and output_probs="),
    (lambda: next_symbol(output_probs=[[0.5, 0.6, 0.0], [0.1, 0.2, 0.7]]),
     r"output_probs must hold probability distributions"),
    (lambda: next_symbol(output_probs=[[-0.5, 1.5, 0.0], [0.1, 0.2, 0.7]]),
     r"output_probs must hold probability distributions"),
    (lambda: next_symbol(output_probs=[[0.5, 0.5], [0.3, 0.7]]), r"output_probs must have shape \(2, 3\)"),
    (lambda: next_symbol(codebook=[[0.5, 0.6, 0.0]], classes=[0, 0]), r"codebook must hold probability distributions"),
    (lambda: next_symbol(codebook=[[0.5, 0.5]], classes=[0, 0]), r"codebook must have shape \(any, 3\)"),
    (lambda: moore(output_probs=[[0.5, 0.6, 0.0], [0.0, 0.0, 1.0]]), r"output_probs must hold probability distributions"),
    (lambda: moore(classes=[0, 2], output_counts=np.array([[1, 0], [0, 1]])), r"classes\[1\]=2 must be in \[0, 2\)"),
    (lambda: moore(classes=[0, -1]), r"classes\[1\]=-1 must be >= 0"),
    (lambda: next_symbol(classes=[0, 2]), r"classes\[1\]=2 must be in \[0, 2\)"),  # the codebook has 2 rows
    (lambda: moore(classes=[0, 1, 1]), r"classes must have shape \(2,\)"),
    (lambda: ExtractedFSM("ab", TABLE, None, 0, output_kind="moore", classes=[0, 1]),
     r"output_kind='moore' must be one of \['accept', 'classes', 'next-symbol'\]"),
])
def test_invalid_output_fields_are_named(build, pattern):
    with pytest.raises(ValidationError, match=pattern):
        build()


def test_output_counts_as_a_list_are_accepted_for_a_moore_machine():
    m = moore(classes=[0, 1], output_counts=[[1, 0], [0, 1]])
    assert m.output_counts.tolist() == [[1, 0], [0, 1]] and m.n_outputs == 2
    with pytest.raises(ValidationError, match=r"classes\[1\]=2 must be in \[0, 2\)"):
        moore(classes=[0, 2], output_counts=[[1, 0], [0, 1]])


def test_one_dimensional_output_probs_are_refused_by_name():
    with pytest.raises(ValidationError, match="output_probs must have shape"):
        moore(classes=[0, 1], output_probs=[0.5, 0.5])


def test_remade_keeps_kind_and_codebook():
    m = next_symbol()
    r = m.remade([[0, 0]], [1], 0, output_probs=[[0.2, 0.2, 0.6]])
    assert r.output_kind == "next-symbol" and r.accepting is None and r.classes.tolist() == [1]
    np.testing.assert_array_equal(r.codebook, CODEBOOK)
    c = moore().remade([[0, 0]], [2], 0)
    assert c.output_kind == "classes" and c.classes.tolist() == [2] and c.codebook is None


# ----------------------------------------------------------------------------- JSON
def test_json_round_trip_keeps_a_moore_machine(tmp_path):
    m = moore(output_counts=np.array([[4, 0, 1], [0, 0, 3]]), output_probs=[[0.8, 0.1, 0.1], [0.0, 0.2, 0.8]])
    back = load_fsm(m.save(tmp_path / "moore.json"))
    assert back.output_kind == "classes" and back.accepting is None and back.codebook is None
    np.testing.assert_array_equal(back.classes, [0, 2])
    np.testing.assert_array_equal(back.output_counts, m.output_counts)
    np.testing.assert_allclose(back.output_probs, m.output_probs)
    d = m.to_dict()
    assert d["output_kind"] == "classes" and d["classes"] == [0, 2] and d["accepting"] is None
    assert "codebook" not in d
    assert back.to_dict() == d


def test_json_round_trip_keeps_a_next_symbol_automaton(tmp_path):
    m = next_symbol(output_counts=np.array([[7, 1], [0, 5]]))
    back = load_fsm(m.save(tmp_path / "ns.json"))
    assert back.output_kind == "next-symbol" and back.accepting is None
    np.testing.assert_array_equal(back.classes, [0, 1])
    np.testing.assert_allclose(back.output_probs, PROBS)
    np.testing.assert_allclose(back.codebook, CODEBOOK)
    np.testing.assert_allclose(back.next_symbol_probs("a"), PROBS[1])
    assert back.to_dict() == m.to_dict()


def test_an_acceptor_file_has_none_of_the_new_keys(tmp_path):
    m = ExtractedFSM("ab", TABLE, [True, False], 0)
    d = m.to_dict()
    assert not {"classes", "output_probs", "codebook"} & d.keys()
    assert d["output_kind"] == "accept" and d["accepting"] == [True, False]
    back = load_fsm(m.save(tmp_path / "acc.json"))
    assert back.output_kind == "accept" and back.accepting.tolist() == [True, False]


def test_a_file_missing_the_classes_of_a_moore_machine_is_a_format_error():
    d = moore().to_dict()
    d.pop("classes")
    with pytest.raises(DataFormatError, match="classes=None, but output_kind='classes'"):
        ExtractedFSM.from_dict(d)


# ----------------------------------------------------------------------------- from_counts
def _cycle_counts(n=3):
    counts = np.zeros((n, 2, n), np.int64)
    for q in range(n):
        for a in range(2):
            counts[q, a, (q + a) % n] = 2
    return counts


def test_from_counts_takes_the_most_frequent_class_and_lists_ties():
    outputs = np.array([[0, 3, 3], [1, 0, 4], [2, 2, 2], [0, 0, 0], [0, 5, 1]])
    m = ExtractedFSM.from_counts(_cycle_counts(5), outputs, initial=0, alphabet="ab", output_kind="classes")
    assert m.output_kind == "classes" and m.accepting is None and m.n_outputs == 3
    assert m.classes.tolist() == [1, 2, 0, 0, 1]  # ties and no outputs: the smallest tied class
    assert m.metadata["undecided_outputs"] == [0, 2, 3]
    np.testing.assert_array_equal(m.output_counts, outputs)


def test_from_counts_of_a_next_symbol_automaton_needs_its_codebook():
    outputs = np.array([[1, 4], [3, 0], [2, 2]])
    probs = [[0.2, 0.2, 0.6], [0.6, 0.3, 0.1], [0.3, 0.3, 0.4]]
    m = ExtractedFSM.from_counts(_cycle_counts(), outputs, initial=0, alphabet="ab", output_kind="next-symbol",
                                 output_probs=probs, codebook=CODEBOOK)
    assert m.classes.tolist() == [1, 0, 0] and m.metadata["undecided_outputs"] == [2]
    with pytest.raises(ValidationError, match="needs codebook="):
        ExtractedFSM.from_counts(_cycle_counts(), outputs, initial=0, alphabet="ab", output_kind="next-symbol",
                                 output_probs=probs)


# ----------------------------------------------------------------------------- minimisation
def redundant_mod3() -> ExtractedFSM:
    """Counting a's mod 3 (class = count), b keeps the count, written with 6 states (q and q + 3 alike)
    and a 7th unreachable one; outputs counted unevenly so merged distributions are weighted."""
    table = [[(q + 1) % 6, (q + 3) % 6] for q in range(6)] + [[0, 0]]
    classes = [q % 3 for q in range(6)] + [2]
    outputs = np.zeros((7, 3), np.int64)
    totals = [3, 2, 0, 1, 2, 0, 9]
    for q, t in enumerate(totals):
        outputs[q, classes[q]] = t
    probs = np.array([[0.9, 0.1, 0.0], [0.1, 0.8, 0.1], [0.0, 0.2, 0.8],
                      [0.5, 0.5, 0.0], [0.1, 0.6, 0.3], [0.0, 0.4, 0.6], [0.0, 0.0, 1.0]])
    return ExtractedFSM("ab", table, None, 0, output_kind="classes", classes=classes, output_counts=outputs,
                        output_probs=probs)


def test_minimize_gives_the_minimal_moore_machine():
    fsm = redundant_mod3()
    m = fsm.minimize()
    assert m.output_kind == "classes" and m.accepting is None and m.n_states == 3 and m.initial == 0
    np.testing.assert_array_equal(m.transitions, [[1, 0], [2, 1], [0, 2]])
    np.testing.assert_array_equal(m.classes, [0, 1, 2])
    np.testing.assert_array_equal(m.output_counts, [[4, 0, 0], [0, 4, 0], [0, 0, 0]])  # state 6 dropped
    assert m.metadata["minimized_from"] == 7
    assert fsm.equivalent(m) and m.equivalent(fsm)
    words = all_words("ab", 6)
    np.testing.assert_array_equal(m.predict(words), fsm.predict(words))
    assert [m.classify(w) for w in ("", "a", "aa", "aaa", "abab")] == [0, 1, 2, 0, 2]


def test_minimize_merges_output_probs_weighted_by_output_counts():
    m = redundant_mod3().minimize()
    want = [
        (3 * np.array([0.9, 0.1, 0.0]) + 1 * np.array([0.5, 0.5, 0.0])) / 4,  # states 0 and 3
        (2 * np.array([0.1, 0.8, 0.1]) + 2 * np.array([0.1, 0.6, 0.3])) / 4,  # states 1 and 4
        (np.array([0.0, 0.2, 0.8]) + np.array([0.0, 0.4, 0.6])) / 2,  # 2 and 5 saw no outputs: equal weights
    ]
    np.testing.assert_allclose(m.output_probs, want)
    np.testing.assert_allclose(m.output_probs, [[0.8, 0.2, 0.0], [0.1, 0.7, 0.2], [0.0, 0.3, 0.7]])


def test_merged_probs_directly():
    probs = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    out = merged_probs(probs, np.array([1, 3, 0]), np.array([0, 0, 1]), 2)
    np.testing.assert_allclose(out, [[0.25, 0.75], [0.5, 0.5]])
    assert merged_probs(None, np.array([1]), np.array([0]), 1) is None


def test_quotient_of_a_next_symbol_automaton_weights_its_distributions():
    probs = [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7]]
    fsm = ExtractedFSM("ab", [[1, 2], [0, 2], [2, 2]], None, 0, output_kind="next-symbol", classes=[0, 0, 1],
                       codebook=CODEBOOK, output_probs=probs, output_counts=np.array([[3, 0], [1, 0], [0, 2]]))
    q = quotient_fsm(fsm, np.array([0, 0, 1]))
    assert q.output_kind == "next-symbol" and q.n_states == 2 and q.classes.tolist() == [0, 1]
    np.testing.assert_allclose(q.output_probs, [[0.5, 0.35, 0.15], [0.1, 0.2, 0.7]])  # (3 p0 + p1) / 4
    np.testing.assert_allclose(q.codebook, CODEBOOK)


def test_equivalence_of_moore_machines():
    m = moore(classes=[0, 2])
    assert m.equivalent(moore(classes=[0, 2]))
    assert not m.equivalent(moore(classes=[0, 1]))
    assert not m.equivalent(moore(classes=[2, 0]))
    swapped = ExtractedFSM("ba", [[0, 1], [1, 0]], None, 0, output_kind="classes", classes=[0, 2])
    assert m.equivalent(swapped)  # the alphabets' order differs, the behaviour does not
    with pytest.raises(ValidationError, match="cannot compare a 'classes' automaton"):
        m.equivalent(ExtractedFSM("ab", TABLE, [True, False], 0))


def test_equivalence_of_next_symbol_automata_with_the_same_codebook():
    assert next_symbol().equivalent(next_symbol())
    assert not next_symbol().equivalent(next_symbol(classes=[1, 0]))


def test_next_symbol_automata_with_different_codebooks_are_not_equivalent():
    flipped = [[0.1, 0.1, 0.8], [0.9, 0.05, 0.05]]
    other = next_symbol(codebook=flipped, output_probs=flipped)
    assert next_symbol().predict(["", "a"]).tolist() != other.predict(["", "a"]).tolist()
    try:
        same = next_symbol().equivalent(other)
    except ValidationError:  # refusing to compare different codebooks would be a fix too
        same = False
    assert not same


def test_acceptor_only_methods_point_to_classify_and_predict():
    for m in (moore(), next_symbol()):
        with pytest.raises(ValidationError, match=r"accepts\(\) needs an acceptor.*use classify\(word\) or predict\(words\)"):
            m.accepts("a")
        with pytest.raises(ValidationError, match=r"to_automata\(\) needs an acceptor.*output_kind is '"):
            m.to_automata()
    with pytest.raises(ValidationError, match=r"next_symbol_probs\(\) needs output_kind='next-symbol', got 'classes'"):
        moore().next_symbol_probs("a")


def test_predict_of_each_kind():
    words = ["", "a", "ab", "aa", "bab"]
    acceptor = ExtractedFSM("ab", TABLE, [True, False], 0).predict(words)
    assert acceptor.dtype == bool and acceptor.tolist() == [True, False, False, True, False]
    classes = moore().predict(words)
    assert classes.dtype == np.int64 and classes.tolist() == [0, 2, 2, 0, 2]
    ns = next_symbol()
    assert ns.predict(words).tolist() == [0, 2, 2, 0, 2]  # argmax of PROBS[state]: "a" or end-of-word
    assert [ns.classify(w) for w in words] == [0, 1, 1, 0, 1]  # the codebook class of the state
    np.testing.assert_allclose(ns.next_symbol_probs("ab"), PROBS[1])
    assert ns.next_symbol_probs("ab").sum() == pytest.approx(1.0)


# ----------------------------------------------------------------------------- hypothesis
@st.composite
def redundant_moore(draw):
    """(minimal MooreMachine, a redundant copy of it): each added state duplicates an original one
    (its class and transitions), and transitions into the original are redirected into the copy at
    random, the initial state too, so the copy is reachable and behaves the same."""
    n = draw(st.integers(1, 6))
    n_classes = draw(st.integers(2, max(2, n)))
    k = draw(st.integers(1, 3))
    base = random_moore(n_states=n, n_classes=n_classes, alphabet="abc"[:k], seed=draw(st.integers(0, 2**32 - 1)))
    table, outputs = base.transitions.tolist(), base.outputs.tolist()
    copies = draw(st.lists(st.integers(0, n - 1), max_size=6))
    for s in copies:
        table.append(list(table[s]))
        outputs.append(outputs[s])
    twin = {}  # original -> its copies
    for j, s in enumerate(copies):
        twin.setdefault(s, []).append(n + j)
    for q, a in itertools.product(range(len(table)), range(k)):
        t = table[q][a]
        if t in twin:
            table[q][a] = draw(st.sampled_from([t] + twin[t]))
    initial = draw(st.sampled_from([base.initial] + twin.get(base.initial, [])))
    return base, MooreMachine(base.alphabet, table, outputs, initial, base.n_classes)


@settings(max_examples=60, deadline=None)
@given(redundant_moore())
def test_minimize_of_a_redundant_moore_machine_is_the_minimal_one(machines):
    base, machine = machines
    fsm = ExtractedFSM(machine.alphabet, machine.transitions, None, machine.initial, output_kind="classes",
                       classes=machine.outputs)
    m = fsm.minimize()
    assert m.n_states == machine.minimal_states() == base.n_states
    assert m.equivalent(fsm) and fsm.equivalent(m)
    reference = ExtractedFSM(base.alphabet, base.transitions, None, base.initial, output_kind="classes",
                             classes=base.outputs)
    assert m.equivalent(reference)
    words = all_words("".join(machine.alphabet), 5)
    np.testing.assert_array_equal(fsm.predict(words), machine.classify_many(words))
    np.testing.assert_array_equal(m.predict(words), machine.classify_many(words))
    assert m.minimize().n_states == m.n_states


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(0, 2**32 - 1))
def test_changing_one_reachable_class_breaks_equivalence(n, seed):
    """Equivalence is not vacuous: a minimal machine with one state's class changed differs."""
    base = random_moore(n_states=n, n_classes=2, alphabet="ab", seed=seed)
    fsm = ExtractedFSM("ab", base.transitions, None, base.initial, output_kind="classes", classes=base.outputs)
    q = seed % n
    flipped = base.outputs.copy()
    flipped[q] = 1 - flipped[q]
    other = ExtractedFSM("ab", base.transitions, None, base.initial, output_kind="classes", classes=flipped)
    assert not fsm.equivalent(other)


# ----------------------------------------------------------------------------- diagrams
def test_to_dot_labels_each_state_with_its_class():
    sink = ExtractedFSM("ab", [[1, 0], [1, 1]], None, 0, output_kind="classes", classes=[2, 0])
    dot = sink.to_dot(hide_sink=True)
    assert 'q0 [label="q0\\nclass 2" shape=circle]' in dot
    assert 'q1 [label="q1\\nclass 0" shape=circle]' in dot  # a Moore machine's trap state is not hidden
    assert "doublecircle" not in dot and "hidden" not in dot
    assert "q0 -> q1" in dot


def test_to_dot_labels_next_symbol_states_with_their_top_symbols():
    probs = [[0.53, 0.3, 0.17], [0.002, 0.298, 0.7]]
    dot = next_symbol(output_probs=probs).to_dot()
    assert 'q0 [label="q0\\na:0.53 b:0.30 $:0.17" shape=circle]' in dot
    assert 'q1 [label="q1\\n$:0.70 b:0.30" shape=circle]' in dot  # under 0.005 is left out
    assert "doublecircle" not in dot and "class" not in dot


def test_render_dot_file_of_a_moore_machine(tmp_path):
    path = moore(classes=[1, 0]).render(tmp_path / "moore.dot")
    text = path.read_text()
    assert "class 1" in text and "class 0" in text and "doublecircle" not in text


def test_an_acceptor_diagram_is_unchanged():
    dot = ExtractedFSM("ab", [[1, 0], [1, 1]], [True, False], 0).to_dot(hide_sink=True)
    assert "doublecircle" in dot and "class" not in dot and "q1 [" not in dot
