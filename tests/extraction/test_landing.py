"""fx.extract lands on the knee of the front by default: the bundled Tomita nets give their
languages from any starting number of clusters, and ``metadata["front"]`` records the choice
(recomputed here from the held-out words)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

import fsm_extract as fx
from fsm_extract.errors import ValidationError
from fsm_extract.extraction.pareto import held_out_split

T4 = fx.languages.tomita(4)


@pytest.fixture(scope="module", params=[4, 8, 16, 32], ids=lambda k: f"k={k}")
def landed(request, t7_model, t7_train):
    return request.param, fx.extract(t7_model, t7_train, n_states=request.param)


def _check_record(fsm, record, *, held_out_words, measured_on):
    assert set(record) >= {"chosen", "fine_states", "held_out_words", "measured_on", "tolerance", "points"}
    json.dumps(record)
    assert record["chosen"] == fsm.n_states
    assert record["held_out_words"] == held_out_words
    assert record["measured_on"] == measured_on
    points = record["points"]
    sizes = [p[0] for p in points]
    agreements = [p[1] for p in points]
    assert sizes == sorted(set(sizes)) and all(b > a for a, b in itertools.pairwise(agreements))
    assert all(0.0 <= a <= 1.0 for p in points for a in p[1:])
    best = max(agreements)
    assert record["tolerance"] == pytest.approx(max(0.001, 0.5 * (1.0 - best)), abs=2e-6)
    # the knee: the smallest point within the tolerance of the best
    assert record["chosen"] == min(n for n, a in zip(sizes, agreements) if a >= best - record["tolerance"] - 1e-6)
    assert sizes[-1] <= record["fine_states"]
    return dict(zip(sizes, agreements))


def test_tomita7_lands_on_its_language(landed):
    k, fsm = landed
    assert fsm.equivalent(fx.languages.tomita(7)), k
    assert fsm.n_states == 5


def test_tomita7_front_record(landed, t7_model, t7_train):
    _k, fsm = landed
    record = fsm.metadata["front"]
    by_size = _check_record(fsm, record, held_out_words=400, measured_on="held out from data")
    # the recorded agreement of the chosen size is its held-out prefix agreement with the net
    _, held, _ = held_out_split(list(t7_train.words), None, 0)
    report = fx.fidelity(t7_model, fsm, held)
    assert by_size[fsm.n_states] == pytest.approx(report.prefix_agreement, abs=1e-6)
    assert by_size[fsm.n_states] == 1.0
    assert fsm.metadata["seed"] == 0 and fsm.metadata["n_fit_words"] >= 1600
    assert fx.ExtractedFSM.from_dict(fsm.to_dict()).metadata["front"] == record  # survives a save


def test_tomita7_agrees_on_the_test_split(landed, t7_model):
    _, fsm = landed
    test = fx.datasets.load("tomita7", split="test")
    assert float((fsm.predict(test.words) == t7_model.predict(test.words)).mean()) == 1.0


# --------------------------------------------------------------------------- options of the landing, on an exact net
@pytest.fixture(scope="module")
def exact_net():
    return fx.networks.exact_lstm(T4, distractors=4, amplitude=1.0, noise=0.2, seed=1)


@pytest.fixture(scope="module")
def words():
    return list(T4.sample(n=300, min_len=0, max_len=12, seed=0).words)


def test_exact_net_default(exact_net, words):
    fsm = fx.extract(exact_net, words, n_states=8)
    assert fsm.equivalent(T4)
    record = fsm.metadata["front"]
    by_size = _check_record(fsm, record, held_out_words=60, measured_on="held out from data")
    assert by_size[4] == 1.0
    again = fx.extract(exact_net, words, n_states=8)
    assert again.metadata["front"] == record
    np.testing.assert_array_equal(again.transitions, fsm.transitions)


def test_validation_words_choose_and_all_data_fits(exact_net, words):
    val = list(T4.sample(n=50, min_len=13, max_len=20, seed=5).words)
    fsm = fx.extract(exact_net, words, n_states=8, validation=val)
    record = fsm.metadata["front"]
    by_size = _check_record(fsm, record, held_out_words=50, measured_on="validation")
    assert by_size[fsm.n_states] == pytest.approx(fx.fidelity(exact_net, fsm, val).prefix_agreement, abs=1e-6)
    assert fsm.metadata["n_fit_words"] >= len(words)  # nothing held out of data


def test_validation_dataset(exact_net, words):
    val = T4.sample(n=40, min_len=0, max_len=12, seed=6)
    fsm = fx.extract(exact_net, words, n_states=8, validation=val)
    _check_record(fsm, fsm.metadata["front"], held_out_words=40, measured_on="validation")
    assert fsm.equivalent(T4)


def test_few_words_are_measured_on_themselves(exact_net):
    few = ["0001", "1", "010", "1100", "00", "111", "0"]
    fsm = fx.extract(exact_net, few, n_states=4)
    _check_record(fsm, fsm.metadata["front"], held_out_words=len(few),
                  measured_on="the fitting words (too few to hold out)")


def test_tolerance_one_takes_the_smallest_point(exact_net, words):
    fsm = fx.extract(exact_net, words, n_states=8, refine=fx.Refinement(tolerance=1.0))
    record = fsm.metadata["front"]
    assert record["tolerance"] == 1.0
    assert record["chosen"] == record["points"][0][0] == fsm.n_states == 1


def test_merge_false_returns_the_fine_automaton(exact_net, words):
    fsm = fx.extract(exact_net, words, n_states=8, refine=fx.Refinement(merge=False))
    assert "front" not in fsm.metadata
    assert fsm.equivalent(T4) and fsm.metadata["n_fit_words"] >= len(words)


@pytest.mark.parametrize("validation", [[], [""]], ids=["no-words", "only-empty-words"])
def test_validation_without_prefixes_is_refused(exact_net, words, validation):
    with pytest.raises(ValidationError, match="validation"):
        fx.extract(exact_net, words, n_states=8, validation=validation)


# --------------------------------------------------------------------------- the other Tomita nets
@pytest.mark.parametrize("k", [4, 16])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_bundled_tomita_lands_on_its_language(n, k):
    model = fx.datasets.bundled_model(f"tomita{n}")
    train = fx.datasets.load(f"tomita{n}", split="train")
    fsm = fx.extract(model, train, n_states=k)
    assert fsm.equivalent(fx.languages.tomita(n))
    _check_record(fsm, fsm.metadata["front"], held_out_words=round(0.2 * len(train)), measured_on="held out from data")
