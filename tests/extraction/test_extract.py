"""fx.extract end to end on the bundled Tomita-4 LSTM.

The first half checks the public contract of the default call; the second half checks plain
clustering (``refine=False``, where extract has that option) in detail: one cluster per state
before minimisation, the counts of every fitted step, and how the options reach the stages.
"""

import inspect

import numpy as np
import pytest
import torch

import fsm_extract as fx
from fsm_extract.errors import ArgumentTypeError, UnknownSymbolError, ValidationError


# plain clustering of hidden states (no refinement), where extract offers the choice
PLAIN = {"refine": False} if "refine" in inspect.signature(fx.extract).parameters else {}


@pytest.fixture(scope="module")
def model():
    return fx.datasets.bundled_model("tomita4")


@pytest.fixture(scope="module")
def train():
    return fx.datasets.load("tomita4", split="train")


@pytest.fixture(scope="module")
def test_split():
    return fx.datasets.load("tomita4", split="test")


@pytest.fixture(scope="module")
def fsm(model, train):
    return fx.extract(model, train, n_states=16)


@pytest.fixture(scope="module")
def plain(model, train):
    return fx.extract(model, train, n_states=16, **PLAIN)


def _agreement(fsm, model, data):
    return float((fsm.predict(data.words) == model.predict(data.words)).mean())


# ----------------------------------------------------------------------------- the default call
def test_tomita4_gives_the_four_state_language(fsm):
    assert isinstance(fsm, fx.ExtractedFSM)
    assert fsm.n_states == 4
    assert fsm.equivalent(fx.languages.tomita(4))
    assert fsm.initial == 0  # minimised automata start at 0
    assert fsm.alphabet == ("0", "1")


def test_agrees_with_the_net_on_the_test_split(fsm, model, test_split):
    assert _agreement(fsm, model, test_split) >= 0.99
    # the net is right on these words, so the automaton is too
    assert float((fsm.predict(test_split.words) == test_split.labels).mean()) >= 0.99


def test_metadata(fsm, train):
    meta = fsm.metadata
    assert "kmeans" in meta["method"]
    assert isinstance(meta["n_clusters"], int) and meta["n_clusters"] >= fsm.n_states
    assert meta["seed"] == 0
    assert isinstance(meta["timing"]["seconds"], float) and meta["timing"]["seconds"] >= 0  # timing in one place
    assert "seconds" not in meta
    assert meta["n_fit_words"] + meta["front"]["held_out_words"] >= len(train)  # 20% held out to choose the size
    assert meta["max_fit_length"] >= int(train.lengths.max())
    # the metadata survives a save
    assert fx.ExtractedFSM.from_dict(fsm.to_dict()).metadata["seed"] == 0


@pytest.fixture(scope="module")
def small(train):
    """300 fitting words: enough for Tomita 4, and quick to extract from."""
    return train.subset(np.arange(300))


def test_deterministic_for_a_seed_list_or_dataset(model, small):
    words = list(small.words)
    a = fx.extract(model, words, n_states=8, seed=3)
    b = fx.extract(model, small, n_states=8, seed=3)  # a Dataset of the same words: labels are not used
    np.testing.assert_array_equal(a.transitions, b.transitions)
    np.testing.assert_array_equal(a.accepting, b.accepting)
    np.testing.assert_array_equal(a.transition_counts, b.transition_counts)
    np.testing.assert_array_equal(a.output_counts, b.output_counts)
    assert a.initial == b.initial
    assert a.metadata["seed"] == 3
    strip = lambda m: {k: v for k, v in m.items() if k != "timing"}  # noqa: E731
    assert strip(a.metadata) == strip(b.metadata)
    assert a.equivalent(fx.languages.tomita(4))


def test_gmm(model, small, test_split):
    fsm = fx.extract(model, small, n_states=16, method="gmm")
    assert "gmm" in fsm.metadata["method"]
    assert _agreement(fsm, model, test_split) >= 0.99


def test_state_hc(model, small, test_split):
    fsm = fx.extract(model, small, n_states=16, state="hc")
    assert fsm.metadata["state"] == "hc"
    assert _agreement(fsm, model, test_split) >= 0.99


def test_minimize_false_is_honoured_by_default(model, small):
    raw = fx.extract(model, small, n_states=8, minimize=False)
    assert "minimized_from" not in raw.metadata
    assert raw.n_states == raw.metadata["n_clusters"]


def test_state_hc_on_a_gru_is_refused_by_default():
    torch.manual_seed(0)
    gru = fx.RNNClassifier("01", cell="gru", hidden_size=8)
    with pytest.raises(ValidationError, match="state='hc'"):
        fx.extract(gru, ["0101", "11", "0", "1001"], n_states=2, state="hc")


def test_batch_size_is_validated_by_default(model):
    with pytest.raises(ValidationError, match="batch_size=0"):
        fx.extract(model, ["0101", "1100", "000"], n_states=2, batch_size=0)


# ----------------------------------------------------------------------------- plain clustering
def test_plain_tomita4(plain, model, test_split, train):
    assert plain.n_states == 4
    assert plain.equivalent(fx.languages.tomita(4))
    assert _agreement(plain, model, test_split) >= 0.99
    meta = plain.metadata
    assert meta["method"] == "kmeans" and meta["n_clusters"] == 16 and meta["state"] == "h"
    assert meta["minimized_from"] == 16
    assert meta["completion"] == "medoid-prefix"
    assert meta["n_fit_words"] == len(train)
    assert meta["n_fit_steps"] == int(train.lengths.sum())
    assert meta["max_fit_length"] == int(train.lengths.max())
    # every fitted step is counted once, or dropped with an unreachable state
    assert int(plain.transition_counts.sum()) + meta["dropped_counts"] == int(train.lengths.sum())


def test_plain_minimize_false_keeps_the_clusters(model, train, plain):
    raw = fx.extract(model, train, n_states=16, minimize=False, **PLAIN)
    assert raw.n_states == 16
    assert "minimized_from" not in raw.metadata
    assert raw.centroids.shape == (16, model.hidden_size)
    np.testing.assert_array_equal(raw.cluster_map, np.arange(16))
    assert int(raw.transition_counts.sum()) == raw.metadata["n_fit_steps"]
    # minimising it gives the automaton extract returns by default
    small = raw.minimize()
    assert small.n_states == plain.n_states <= raw.n_states
    np.testing.assert_array_equal(small.transitions, plain.transitions)
    np.testing.assert_array_equal(small.accepting, plain.accepting)
    assert raw.equivalent(plain)


def test_plain_deterministic_for_a_seed(model, train):
    words = train.words[:600]
    a = fx.extract(model, words, n_states=8, seed=3, minimize=False, **PLAIN)
    b = fx.extract(model, words, n_states=8, seed=3, minimize=False, **PLAIN)
    np.testing.assert_array_equal(a.transitions, b.transitions)
    np.testing.assert_array_equal(a.transition_counts, b.transition_counts)
    np.testing.assert_array_equal(a.centroids, b.centroids)


def test_plain_gmm_and_hc(model, train, test_split):
    g = fx.extract(model, train.words[:600], n_states=16, method="gmm", **PLAIN)
    assert g.metadata["method"] == "gmm"
    hc = fx.extract(model, train, n_states=16, state="hc", **PLAIN)
    assert hc.metadata["state"] == "hc" and hc.metadata["completion"] == "centroid"
    assert hc.centroids.shape == (hc.n_states, 2 * model.hidden_size)
    for f in (g, hc):
        assert _agreement(f, model, test_split) >= 0.99


def test_plain_small_untrained_model_and_max_fit_points():
    torch.manual_seed(0)
    m = fx.RNNClassifier("01", hidden_size=8)
    words = ["0110", "1", "000111", "10101", ""] * 5
    fsm = fx.extract(m, words, n_states=3, max_fit_points=10, minimize=False, **PLAIN)
    assert fsm.n_states == 3
    assert fsm.transitions.shape == (3, 2)
    assert fsm.metadata["n_fit_words"] == 25


def test_plain_state_hc_needs_an_lstm():
    torch.manual_seed(0)
    gru = fx.RNNClassifier("01", cell="gru", hidden_size=8)
    with pytest.raises(ValidationError, match="state='hc'"):
        fx.extract(gru, ["0101", "11"], n_states=2, state="hc", **PLAIN)


# ----------------------------------------------------------------------------- bad data and arguments
@pytest.mark.parametrize("options", [{}, PLAIN], ids=["default", "plain"])
@pytest.mark.parametrize("data", [["", ""], fx.Dataset(("", ""), [True, False], "01")], ids=["list", "dataset"])
def test_only_empty_words(model, data, options):
    with pytest.raises(ValidationError, match="non-empty word"):
        fx.extract(model, data, n_states=2, **options)


def test_empty_data(model):
    with pytest.raises(ValidationError, match="data"):
        fx.extract(model, fx.Dataset((), [], "01"), n_states=2)
    with pytest.raises(ValidationError):
        fx.extract(model, [], n_states=2)


def test_dataset_with_another_alphabet(model):
    data = fx.Dataset(("abba", "ab"), [True, False], "ab")
    with pytest.raises(ValidationError, match="alphabet"):
        fx.extract(model, data, n_states=2)


def test_words_with_unknown_symbols(model):
    with pytest.raises(UnknownSymbolError, match="'2'"):
        fx.extract(model, ["0101", "012"], n_states=2)


def test_not_a_model(train):
    with pytest.raises(ArgumentTypeError, match="model"):
        fx.extract(torch.nn.LSTM(2, 4), train, n_states=2)


@pytest.mark.parametrize("options", [{}, PLAIN], ids=["default", "plain"])
@pytest.mark.parametrize(
    "kwargs,error,pattern",
    [
        ({"n_states": 0}, ValidationError, r"n_states=0 must be >= 1"),
        ({"n_states": -2}, ValidationError, r"n_states=-2"),
        ({"n_states": 2.0}, ArgumentTypeError, r"n_states"),
        ({"n_states": "16"}, ArgumentTypeError, r"n_states"),
        ({"n_states": 10**7}, ValidationError, r"n_states=10000000 must be <= max_states=64"),
        ({"method": "dbscan"}, ValidationError, r"method='dbscan'"),
        ({"method": None}, ValidationError, r"method=None"),
        ({"state": "c"}, ValidationError, r"state='c'"),
        ({"seed": -1}, ValidationError, r"seed=-1"),
        ({"seed": 2**32}, ValidationError, r"seed=4294967296"),
        ({"seed": 1.5}, ArgumentTypeError, r"seed"),
        ({"minimize": "yes"}, ArgumentTypeError, r"minimize"),
        ({"max_fit_points": 0}, ValidationError, r"max_fit_points=0"),
    ],
)
def test_bad_arguments(model, kwargs, error, pattern, options):
    words = ["0101", "1100", "000"]
    with pytest.raises(error, match=pattern):
        fx.extract(model, words, **kwargs, **options)


def test_plain_bad_batch_size(model):
    with pytest.raises(ValidationError, match="batch_size=0"):
        fx.extract(model, ["0101", "1100", "000"], n_states=2, batch_size=0, **PLAIN)


@pytest.mark.parametrize("options", [{}, PLAIN], ids=["default", "plain"])
def test_n_states_above_distinct_states_warns_and_uses_them_all(options):
    from fsm_extract.nets.exact import exact_lstm

    lang = fx.languages.tomita(2)  # an exactly-built net has few distinct hidden states
    words = lang.sample(n=300, max_len=12, seed=0)
    with pytest.warns(fx.FewerClustersWarning, match=r"n_states=60 is more than the \d+ distinct hidden states"):
        fsm = fx.extract(exact_lstm(lang), words, n_states=60, **options)
    record = fsm.metadata["fewer_clusters"]
    assert record["requested"] == 60 and 1 <= record["used"] < 60
    assert fsm.equivalent(lang)


@pytest.mark.parametrize("option, value", [("features", "hidden"), ("depth", 3), ("threshold", 0.99),
                                           ("max_rounds", 2), ("search", 1000), ("search", True)])
def test_refine_only_options_are_refused_without_refinement(option, value):
    from fsm_extract.errors import ValidationError

    model = fx.datasets.bundled_model("tomita4")
    words = ["0101", "11", "000", "1", "0110"]
    with pytest.raises(ValidationError, match=rf"{option}={value!r} applies only to refined extraction.*refine=False"):
        fx.extract(model, words, n_states=3, refine=False, **{option: value})
    with pytest.raises(ValidationError, match=rf"{option}={value!r} applies only to refined extraction.*n_states='auto'"):
        fx.extract(model, words, n_states="auto", **{option: value})


def test_refine_only_options_at_their_defaults_are_accepted_without_refinement():
    model = fx.datasets.bundled_model("tomita4")
    fsm = fx.extract(model, ["0101", "11", "000", "1", "0110"], n_states=3, refine=False, features="both", depth=2,
                     threshold=0.999, max_rounds=5, search=False)
    assert fsm.metadata["method"] == "kmeans"
    fx.extract(model, ["0101", "11", "000", "1", "0110"], n_states=3, refine=False, search=0)
