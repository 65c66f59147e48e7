"""Tests of fsm_extract.extraction.front and fx.pareto: every figure of a front recomputed
(fx.fidelity and plain predictions on the held-out words), the front and its knee on a
hand-built set of automata, the held-out split, table / to_dict / plot, determinism and the
argument checks."""

from __future__ import annotations

import itertools
import json
import os
import re

import numpy as np
import pytest

import fsm_extract as fx
from fsm_extract.abstraction.merging import Words
from fsm_extract.automata.automaton import ExtractedFSM
from fsm_extract.errors import (
    ArgumentTypeError,
    FsmExtractError,
    MissingFileError,
    UnknownSymbolError,
    ValidationError,
    WriteError,
)
from fsm_extract.extraction.front import (
    FrontPoint,
    ParetoFront,
    knee_tolerance,
    measure_words,
)
from fsm_extract.extraction.pareto import HELD_OUT, MIN_SPLIT_WORDS, held_out_split
from fsm_extract.nets.net import as_net

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
T4 = fx.languages.tomita(4)


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def t7_front(t7_model, t7_train):
    """The default call: 20% of the 2000 training words held out (seed 0)."""
    return fx.pareto(t7_model, t7_train)


@pytest.fixture(scope="module")
def t7_small():
    """500 fitting words (lengths <= 20) and 600 labelled validation words (lengths up to 60)."""
    train = fx.datasets.load("tomita7", split="train").subset(np.arange(500))
    test = fx.datasets.load("tomita7", split="test").subset(np.arange(600))
    return train, test


@pytest.fixture(scope="module")
def t7_val_front(t7_model, t7_small):
    train, test = t7_small
    return fx.pareto(t7_model, train, validation=test, seed=4)


@pytest.fixture(scope="module")
def exact_net():
    return fx.networks.exact_lstm(T4, distractors=4, amplitude=1.0, noise=0.2, seed=1)


@pytest.fixture(scope="module")
def exact_words():
    return list(T4.sample(n=300, min_len=0, max_len=12, seed=0).words)


@pytest.fixture(scope="module")
def exact_front(exact_net, exact_words):
    return fx.pareto(exact_net, exact_words, seed=2)


def _check_points(front, model, held, labels=None, max_fit_length=None):
    """Every figure of every candidate, recomputed from predictions and fx.fidelity."""
    net_says = np.asarray(model.predict(held), bool)
    for p in front.candidates:
        assert isinstance(p, FrontPoint) and p.fsm.n_states == p.n_states
        report = fx.fidelity(model, p.fsm, held)
        assert p.agreement == pytest.approx(report.prefix_agreement, abs=1e-12)
        fsm_says = np.asarray(p.fsm.predict(held), bool)
        assert p.word_agreement == pytest.approx(float((fsm_says == net_says).mean()), abs=1e-12)
        if labels is None:
            assert p.task_accuracy is None
        else:
            assert p.task_accuracy == pytest.approx(float((fsm_says == labels.astype(bool)).mean()), abs=1e-12)
        long = np.array([len(w) > max_fit_length for w in held]) if max_fit_length is not None else np.zeros(0, bool)
        if long.any():
            assert p.beyond_agreement == pytest.approx(float((fsm_says[long] == net_says[long]).mean()), abs=1e-12)
        else:
            assert p.beyond_agreement is None
    if labels is None:
        assert front.net_accuracy is None
    else:
        assert front.net_accuracy == pytest.approx(float((net_says == labels.astype(bool)).mean()), abs=1e-12)


def _check_front_shape(front):
    sizes = [p.n_states for p in front.candidates]
    assert sizes == sorted(sizes)
    points = list(front.points)
    assert [p.n_states for p in points] == sorted({p.n_states for p in points})  # strictly increasing
    assert all(b.agreement > a.agreement for a, b in itertools.pairwise(points))
    assert all(any(p is c for c in front.candidates) for p in points)
    # the front is exactly the candidates no smaller-or-equal one matches
    expected, best = [], -1.0
    for c in sorted(front.candidates, key=lambda c: (c.n_states, -c.agreement)):
        if c.agreement > best:
            expected.append(c)
            best = c.agreement
    assert [(p.n_states, p.agreement) for p in points] == [(p.n_states, p.agreement) for p in expected]


# --------------------------------------------------------------------------- fx.pareto on the bundled Tomita 7 net
def test_t7_front_shape(t7_front):
    _check_front_shape(t7_front)
    assert t7_front.points[-1].agreement == 1.0  # the bundled net is Tomita 7 on these words
    assert t7_front.points[-1].fsm.equivalent(fx.languages.tomita(7))


def test_t7_front_figures_on_the_held_out_words(t7_front, t7_model, t7_train):
    words = list(t7_train.words)
    fit, held, labels = held_out_split(words, t7_train.labels, 0)
    assert len(held) == 400 and t7_front.evaluated_on == "400 held-out words"
    _check_points(t7_front, t7_model, held, labels, max_fit_length=max(len(w) for w in fit))


def test_t7_validation_words_are_the_held_out_set(t7_val_front, t7_model, t7_small):
    train, test = t7_small
    assert t7_val_front.evaluated_on == "600 held-out words"
    _check_front_shape(t7_val_front)
    # fitted on all 500 training words (lengths <= 20): the validation words above 20 are "beyond"
    max_fit = int(train.lengths.max())
    assert max_fit <= 20 and int(test.lengths.max()) > max_fit
    _check_points(t7_val_front, t7_model, list(test.words), test.labels, max_fit_length=max_fit)
    assert all(p.beyond_agreement is not None for p in t7_val_front.candidates)


def test_t7_same_seed_same_front(t7_model, t7_small, t7_val_front):
    train, test = t7_small
    again = fx.pareto(t7_model, train, validation=test, seed=4)
    assert again.to_dict() == t7_val_front.to_dict()
    for a, b in zip(again.candidates, t7_val_front.candidates):
        np.testing.assert_array_equal(a.fsm.transitions, b.fsm.transitions)
        np.testing.assert_array_equal(a.fsm.accepting, b.fsm.accepting)
        np.testing.assert_array_equal(a.fsm.transition_counts, b.fsm.transition_counts)


# --------------------------------------------------------------------------- fx.pareto on an exact net
def test_exact_front(exact_front, exact_net, exact_words):
    _check_front_shape(exact_front)
    fit, held, _ = held_out_split(exact_words, None, 2)
    assert exact_front.evaluated_on == f"{len(held)} held-out words" and len(held) == 60
    _check_points(exact_front, exact_net, held, None, max_fit_length=max(len(w) for w in fit))
    top = exact_front.points[-1]
    assert top.agreement == 1.0 and top.fsm.equivalent(T4) and top.n_states == 4
    assert exact_front.knee() is top
    assert exact_front.points[0].n_states == 1


def test_exact_same_seed_same_front_other_seed_other_split(exact_net, exact_words, exact_front):
    again = fx.pareto(exact_net, exact_words, seed=2)
    assert again.to_dict() == exact_front.to_dict()
    for a, b in zip(again.candidates, exact_front.candidates):
        np.testing.assert_array_equal(a.fsm.transitions, b.fsm.transitions)
        np.testing.assert_array_equal(a.fsm.transition_counts, b.fsm.transition_counts)
    other = fx.pareto(exact_net, exact_words, seed=3)
    fit, held, _ = held_out_split(exact_words, None, 3)
    _check_points(other, exact_net, held, None, max_fit_length=max(len(w) for w in fit))


def test_exact_validation_list(exact_net, exact_words):
    val = list(T4.sample(n=80, min_len=15, max_len=25, seed=9).words)
    front = fx.pareto(exact_net, exact_words, validation=val)
    assert front.evaluated_on == "80 held-out words"
    _check_points(front, exact_net, val, None, max_fit_length=max(len(w) for w in exact_words))
    assert all(p.beyond_agreement == p.word_agreement for p in front.candidates)  # every word is beyond


# --------------------------------------------------------------------------- held-out split and measure_words
def test_held_out_split():
    words = [f"w{i}" for i in range(103)]
    labels = np.arange(103)
    fit, held, held_labels = held_out_split(words, labels, 7)
    assert len(held) == round(HELD_OUT * 103) == 21 and len(fit) == 82
    assert sorted(fit + held) == sorted(words) and not set(fit) & set(held)
    assert fit == sorted(fit, key=words.index) and held == sorted(held, key=words.index)  # order kept
    np.testing.assert_array_equal(held_labels, [words.index(w) for w in held])
    assert held_out_split(words, labels, 7)[1] == held  # seeded
    assert held_out_split(words, labels, 8)[1] != held
    assert held_out_split(words, None, 7)[2] is None


def test_held_out_split_of_few_words_measures_on_all():
    words = ["0", "1", "01"][: MIN_SPLIT_WORDS - 1]
    fit, held, labels = held_out_split(words, None, 0)
    assert fit == held == words and labels is None
    fit, held, _ = held_out_split(["0"] * MIN_SPLIT_WORDS, None, 0)
    assert (len(fit), len(held)) == (MIN_SPLIT_WORDS - 2, 2)


def test_measure_words_is_the_nets_class_after_every_prefix(exact_net, exact_words):
    words = exact_words[:50] + [""]
    w = measure_words(as_net(exact_net), words)
    assert w.n_words == 51 and w.n_steps == sum(len(x) for x in words)
    expected = [int(T4.accepts(x[: t + 1])) for x in words for t in range(len(x))]
    np.testing.assert_array_equal(w.classes, expected)
    assert w.h0_class == int(T4.accepts("")) == 1
    np.testing.assert_array_equal(np.diff(w.offsets), [len(x) for x in words])


# --------------------------------------------------------------------------- a hand-built front
def _no_zero_run(k: int) -> ExtractedFSM:
    """Words without a run of k zeros: states count the trailing zeros (0..k-1), then a sink."""
    table = [[i + 1, 0] for i in range(k)] + [[k, k]]
    return ExtractedFSM("01", table, [True] * k + [False], 0)


ALL_ACCEPT = ExtractedFSM("01", [[0, 0]], [True], 0)
HAND_WORDS = [format(i, f"0{n}b") if n else "" for n in range(9) for i in range(2**n)]  # all words to length 8


def _language_words(words):
    symbols = np.array([int(a) for w in words for a in w], np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(w) for w in words])]).astype(np.int64)
    classes = np.array([int(T4.accepts(w[: t + 1])) for w in words for t in range(len(w))], np.int32)
    return Words(symbols=symbols, offsets=offsets, classes=classes, h0_class=int(T4.accepts("")))


def _hand_agreement(fsm):
    prefixes = [w[: t + 1] for w in HAND_WORDS for t in range(len(w))]
    return float(np.mean([fsm.accepts(p) == T4.accepts(p) for p in prefixes]))


@pytest.fixture(scope="module")
def hand():
    """Candidates of 1, 2, 3, 4 (Tomita 4 itself), 5 and 6 states, measured on every word up to
    length 8 against Tomita 4, labels of "no run of 4 zeros", fitted up to length 5."""
    fsms = [_no_zero_run(k) for k in (5, 2, 1, 3, 4)] + [ALL_ACCEPT]
    labels = np.array([_no_zero_run(4).accepts(w) for w in HAND_WORDS], np.int64)
    front = ParetoFront.of(fsms, _language_words(HAND_WORDS), labels=labels, max_fit_length=5, evaluated_on="hand")
    return fsms, labels, front


def test_hand_front_figures(hand):
    _fsms, labels, front = hand
    assert [p.n_states for p in front.candidates] == [1, 2, 3, 4, 5, 6]
    truth = np.array([T4.accepts(w) for w in HAND_WORDS])
    long = np.array([len(w) > 5 for w in HAND_WORDS])
    for p in front.candidates:
        assert p.agreement == pytest.approx(_hand_agreement(p.fsm), abs=1e-12)
        said = p.fsm.predict(HAND_WORDS)
        assert p.word_agreement == pytest.approx(float((said == truth).mean()), abs=1e-12)
        assert p.beyond_agreement == pytest.approx(float((said[long] == truth[long]).mean()), abs=1e-12)
        assert p.task_accuracy == pytest.approx(float((said == labels.astype(bool)).mean()), abs=1e-12)
    assert front.net_accuracy == pytest.approx(float((truth == labels.astype(bool)).mean()))
    assert front.candidates[3].agreement == 1.0  # Tomita 4 itself
    _check_front_shape(front)
    # 5 and 6 states (no run of 4 / 5 zeros) are less faithful than the 4-state language
    assert front.points[-1].n_states == 4 and all(p.n_states <= 4 for p in front.points)


def test_hand_front_at(hand):
    _, _, front = hand
    by_size = {p.n_states: p for p in front.points}
    for n in range(1, 10):
        expected = by_size[max(s for s in by_size if s <= n)]
        assert front.at(n) is expected
    assert front.at(4).agreement == 1.0


def test_at_below_the_smallest_point_raises():
    front = ParetoFront.of([_no_zero_run(2), _no_zero_run(3)], _language_words(HAND_WORDS))
    assert front.points[0].n_states == 3
    with pytest.raises(ValidationError, match=r"n_states=2 must be >= 3"):
        front.at(2)
    with pytest.raises(ValidationError, match="n_states=0"):
        front.at(0)


def test_at_with_a_non_integer_names_n_states(hand):
    with pytest.raises(ArgumentTypeError, match="n_states"):
        hand[2].at("3")


def test_hand_front_best(hand):
    _, _, front = hand
    points = list(front.points)
    for target in (0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 1.0):
        reached = [p for p in points if p.agreement >= target]
        assert front.best(target) is reached[0]  # the smallest reaching it
    assert front.best(points[1].agreement) is points[1]  # reaching means >=
    assert front.best() is next(p for p in points if p.agreement >= 0.99)  # default target 0.99


def test_best_falls_back_to_the_most_faithful():
    fsms = [ALL_ACCEPT, _no_zero_run(2), _no_zero_run(5)]  # none is Tomita 4
    front = ParetoFront.of(fsms, _language_words(HAND_WORDS))
    top = max(front.points, key=lambda p: p.agreement)
    assert top.agreement < 0.999
    assert front.best(0.999) is top and front.best(1.0) is top


@pytest.mark.parametrize("bad, error", [(1.5, ValidationError), (-0.1, ValidationError), ("high", ArgumentTypeError),
                                        (float("nan"), ValidationError)])
def test_best_and_knee_check_their_argument(hand, bad, error):
    with pytest.raises(error, match="target"):
        hand[2].best(bad)
    with pytest.raises(error, match="tolerance"):
        hand[2].knee(bad)


def test_knee_tolerance():
    assert knee_tolerance(1.0) == 0.001
    assert knee_tolerance(0.9995) == 0.001
    assert knee_tolerance(0.96) == pytest.approx(0.02)
    assert knee_tolerance(0.5) == pytest.approx(0.25)


def test_hand_front_knee(hand):
    _, _, front = hand
    points = list(front.points)
    top = max(p.agreement for p in points)
    tol = max(0.001, 0.5 * (1 - top))
    assert front.knee() is next(p for p in points if p.agreement >= top - tol)
    assert front.knee() is points[-1]  # top is 1.0: the knee must explain everything too
    assert front.knee(tolerance=1.0) is points[0]
    assert front.knee(tolerance=0.0) is points[-1]
    for p in points:
        # a tolerance exactly reaching a point's agreement lands on it (or a smaller point)
        assert front.knee(tolerance=top - p.agreement).n_states <= p.n_states


def test_knee_with_an_imperfect_best():
    """Best 1 - r: the knee is the smallest point within max(0.001, r / 2) of it."""
    fsms = [ALL_ACCEPT, _no_zero_run(1), _no_zero_run(2), _no_zero_run(5)]
    front = ParetoFront.of(fsms, _language_words(HAND_WORDS))
    agreements = {p.n_states: _hand_agreement(p.fsm) for p in front.candidates}
    top = max(agreements.values())
    assert top < 1.0
    expected = min(n for n, a in agreements.items() if a >= top - max(0.001, (1 - top) / 2) - 1e-12)
    assert front.knee().n_states == expected


# --------------------------------------------------------------------------- table, to_dict, plot
def _table_sizes(table):
    return [int(m.group(1)) for m in re.finditer(r"^\| (\d+)(?: \(knee\))? \|", table, re.MULTILINE)]


def test_table(hand, t7_front):
    for front in (hand[2], t7_front):
        table = front.table()
        assert isinstance(table, str) and str(front) == table
        assert _table_sizes(table) == [p.n_states for p in front.points]
        assert table.count("(knee)") == 1
        assert re.search(rf"^\| {front.knee().n_states} \(knee\) \|", table, re.MULTILINE)
        for p in front.points:
            assert f"{p.agreement:.2%}" in table
    assert "task accuracy" in hand[2].table()


def test_table_without_labels(exact_front):
    table = exact_front.table()
    assert "task accuracy" not in table
    assert _table_sizes(table) == [p.n_states for p in exact_front.points]


def test_to_dict_is_json(hand, t7_front, t7_val_front, exact_front):
    for front in (hand[2], t7_front, t7_val_front, exact_front):
        d = json.loads(json.dumps(front.to_dict()))
        assert d["knee"] == front.knee().n_states and d["choice"] == front.choice().n_states
        assert d["checked"] == front.checked
        assert d["evaluated_on"] == front.evaluated_on
        assert [p["n_states"] for p in d["points"]] == [p.n_states for p in front.points]
        assert [p["n_states"] for p in d["candidates"]] == [p.n_states for p in front.candidates]
        for got, p in zip(d["candidates"], front.candidates):
            assert got == {"n_states": p.n_states, "agreement": p.agreement, "word_agreement": p.word_agreement,
                           "beyond_agreement": p.beyond_agreement, "task_accuracy": p.task_accuracy,
                           "found_agreement": p.found_agreement}
        assert d["net_accuracy"] == front.net_accuracy


def test_plot_writes_a_png(hand, tmp_path):
    out = hand[2].plot(tmp_path / "front.png")
    assert out == tmp_path / "front.png"
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert os.listdir(tmp_path) == ["front.png"]  # no temporary file left
    svg = hand[2].plot(tmp_path / "front.svg", title="a title")
    assert b"<svg" in svg.read_bytes()[:2000]


def test_plot_replaces_atomically(hand, tmp_path, monkeypatch):
    import matplotlib.figure

    path = tmp_path / "front.png"
    path.write_bytes(b"old")

    def broken(self, fname, *args, **kwargs):
        with open(fname, "wb") as f:
            f.write(b"\x89PNG half")
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        hand[2].plot(path)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["front.png"]

    def full(self, fname, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full)
    with pytest.raises(WriteError, match="front.png"):
        hand[2].plot(path)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["front.png"]


def test_plot_refuses_bad_paths_before_drawing(hand, tmp_path):
    with pytest.raises(ValidationError, match="path="):
        hand[2].plot(tmp_path / "front.txt")
    with pytest.raises(MissingFileError, match="path="):
        hand[2].plot(tmp_path / "missing" / "front.png")
    with pytest.raises(ArgumentTypeError, match="path="):
        hand[2].plot(42)
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- argument checks of fx.pareto
BAD = [
    ({"max_states": 0}, ValidationError, "max_states=0"),
    ({"max_states": "8"}, ArgumentTypeError, "max_states"),
    ({"max_states": 4.0}, ArgumentTypeError, "max_states"),
    ({"seed": -1}, ValidationError, "seed=-1"),
    ({"seed": 2**32}, ValidationError, "seed="),
    ({"seed": 1.5}, ArgumentTypeError, "seed"),
    ({"n_states": 0}, ValidationError, "n_states=0"),
    ({"n_states": 65}, ValidationError, "n_states=65"),  # above max_states=64
    ({"validation": 42}, ArgumentTypeError, "validation"),
    ({"validation": "0101"}, ArgumentTypeError, "validation"),
    ({"validation": {"01", "10"}}, ArgumentTypeError, "validation"),
    ({"validation": ["012"]}, UnknownSymbolError, "validation"),
    ({"validation": fx.datasets.Dataset(("ab",), np.array([1]), ("a", "b"))}, ValidationError, "validation.alphabet"),
    ({"refine": "yes"}, ArgumentTypeError, "refine"),
]


@pytest.mark.parametrize("kwargs, error, match", BAD, ids=[next(iter(b[0])) + "=" + repr(next(iter(b[0].values())))[:12]
                                                         for b in BAD])
def test_bad_arguments(exact_net, exact_words, kwargs, error, match):
    with pytest.raises(error, match=re.escape(match)):
        fx.pareto(exact_net, exact_words, **kwargs)


@pytest.mark.parametrize("data, error", [({"01", "10"}, ArgumentTypeError), ([], ValidationError),
                                         (["", ""], ValidationError), (7, ArgumentTypeError)])
def test_bad_data(exact_net, data, error):
    with pytest.raises(error, match="data"):
        fx.pareto(exact_net, data)


def test_bad_model(exact_words):
    with pytest.raises(ArgumentTypeError, match="model"):
        fx.pareto("tomita7", exact_words)


@pytest.mark.parametrize("validation", [[], ["", ""]], ids=["no-words", "only-empty-words"])
def test_validation_without_prefixes_is_refused(exact_net, exact_words, validation):
    with pytest.raises(ValidationError, match="validation"):
        fx.pareto(exact_net, exact_words, validation=validation)


def test_errors_are_package_errors():
    assert issubclass(ValidationError, FsmExtractError) and issubclass(ValidationError, ValueError)


def test_a_front_on_too_few_words_says_it_is_not_held_out():
    net = fx.networks.exact_lstm(T4)
    words = ["0101", "11", "000", "1", "0110", "00100"]  # below MIN_SPLIT_WORDS: measured on the fitting words
    front = fx.pareto(net, words)
    assert front.evaluated_on == "6 words: the fitting words (too few to hold out)"
    assert "| prefix agreement (not held out) |" in front.table() and "held-out" not in front.table()
    # an explicit tolerance is the rule: choice() is then the knee at that tolerance
    assert front.choice(1.0).n_states == front.points[0].n_states == front.knee(1.0).n_states
