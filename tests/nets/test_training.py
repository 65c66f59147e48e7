"""train_classifier."""

import time

import numpy as np
import pytest
import torch

import fsm_extract as fx
from fsm_extract.errors import ArgumentTypeError, UnknownSymbolError, ValidationError



def _accuracy(model, data, mask=None):
    words = data.words if mask is None else [w for w, m in zip(data.words, mask) if m]
    labels = data.labels if mask is None else data.labels[mask]
    return float((model.predict(words) == labels).mean())


@pytest.fixture(scope="module")
def tiny():
    """A small Tomita-4 training set (both classes)."""
    return fx.datasets.load("tomita4", split="train").subset(np.arange(120))


def test_default_run_learns_tomita4():
    train = fx.datasets.load("tomita4", split="train")
    validation = fx.datasets.load("tomita4", split="validation")
    test = fx.datasets.load("tomita4", split="test")
    model = fx.train_classifier(train, validation=validation, language=fx.languages.tomita(4), progress=False)
    assert isinstance(model, fx.RNNClassifier)
    assert not model.training  # returned in eval mode
    assert model.hidden_size == 32 and model.cell == "lstm" and model.alphabet == ("0", "1")
    assert _accuracy(model, test) >= 0.995
    meta = model.metadata
    assert meta["prefix_labels"] is True
    assert meta["validation_accuracy"] == pytest.approx(_accuracy(model, validation))
    assert meta["validation_accuracy"] >= 0.995
    assert meta["seed"] == 0 and meta["n_train_words"] == len(train)
    assert 1 <= meta["epochs_run"] <= 200
    assert meta["trained_on"] == "tomita4/train"


@pytest.mark.slow
@pytest.mark.parametrize("n", range(1, 8), ids=[f"tomita{n}" for n in range(1, 8)])
def test_all_tomita_grammars(n):
    name = f"tomita{n}"
    train = fx.datasets.load(name, split="train")
    validation = fx.datasets.load(name, split="validation")
    test = fx.datasets.load(name, split="test")
    t0 = time.perf_counter()
    model = fx.train_classifier(train, validation=validation, language=fx.languages.tomita(n), progress=False)
    seconds = time.perf_counter() - t0
    overall = _accuracy(model, test)
    long = test.lengths > 20
    assert long.any()
    long_acc = _accuracy(model, test, long)
    print(f"{name}: {seconds:.1f} s, {model.metadata['epochs_run']} epochs, test {overall:.4f}, "
          f"lengths>20 {long_acc:.4f} ({int(long.sum())} words)")
    assert overall >= 0.995
    assert long_acc >= 0.995
    assert seconds < 120


def test_same_seed_same_weights(tiny):
    kw = dict(hidden_size=8, epochs=2, batch_size=16, progress=False)
    a = fx.train_classifier(tiny, seed=7, **kw)
    b = fx.train_classifier(tiny, seed=7, **kw)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    c = fx.train_classifier(tiny, seed=8, **kw)
    assert any(not torch.equal(sa[k], c.state_dict()[k]) for k in sa)


def test_word_level_labels_only(tiny):
    data = fx.Dataset(tiny.words + ("",), np.append(tiny.labels, True), tiny.alphabet)  # an empty word too
    model = fx.train_classifier(data, hidden_size=8, epochs=3, progress=False, early_stopping=False)
    meta = model.metadata
    assert meta["prefix_labels"] is False
    assert meta["epochs_run"] == 3  # no validation, early_stopping=False: no early stop
    assert "train_accuracy" in meta and "validation_accuracy" not in meta
    assert 0.0 <= meta["train_accuracy"] <= 1.0
    assert meta["train_accuracy"] == pytest.approx(_accuracy(model, data))


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_other_cells(tiny, cell):
    model = fx.train_classifier(tiny, cell=cell, hidden_size=8, epochs=1, progress=False)
    assert model.cell == cell
    assert model.predict(["0101"]).shape == (1,)


def test_max_seconds_stops_early(tiny):
    model = fx.train_classifier(tiny, hidden_size=8, epochs=10_000, max_seconds=0.05, progress=False)
    assert model.metadata["epochs_run"] < 10_000


def test_trained_model_round_trips(tiny, tmp_path):
    model = fx.train_classifier(tiny, hidden_size=8, epochs=1, progress=False)
    loaded = fx.load_model(model.save(tmp_path / "m.pt"))
    np.testing.assert_array_equal(loaded.predict(tiny.words), model.predict(tiny.words))
    assert loaded.metadata["epochs_run"] == 1


# ----------------------------------------------------------------------------- bad input
def test_empty_dataset():
    with pytest.raises(ValidationError, match="dataset must hold at least one word"):
        fx.train_classifier(fx.Dataset((), [], "01"), progress=False)


@pytest.mark.parametrize("label", [True, False])
def test_one_class_dataset(label):
    data = fx.Dataset(("01", "1", "0"), [label] * 3, "01")
    with pytest.raises(ValidationError, match="both accepted and rejected"):
        fx.train_classifier(data, progress=False)


@pytest.mark.parametrize(
    "kwargs,error,pattern",
    [
        ({"lr": 0.0}, ValidationError, r"lr=0.0 must be > 0"),
        ({"lr": -0.1}, ValidationError, r"lr=-0.1"),
        ({"lr": float("nan")}, ValidationError, r"lr=nan"),
        ({"epochs": 0}, ValidationError, r"epochs=0 must be >= 1"),
        ({"epochs": 1.5}, ArgumentTypeError, r"epochs"),
        ({"batch_size": 0}, ValidationError, r"batch_size=0"),
        ({"seed": -1}, ValidationError, r"seed=-1"),
        ({"cell": "transformer"}, ValidationError, r"cell='transformer'"),
        ({"hidden_size": 0}, ValidationError, r"hidden_size=0"),
        ({"max_seconds": 0}, ValidationError, r"max_seconds=0"),
        ({"progress": "no"}, ArgumentTypeError, r"progress"),
        ({"language": "tomita4"}, ArgumentTypeError, r"language"),
        ({"validation": [("01", True)]}, ArgumentTypeError, r"validation"),
    ],
)
def test_bad_arguments(tiny, kwargs, error, pattern):
    kwargs.setdefault("progress", False)
    with pytest.raises(error, match=pattern):
        fx.train_classifier(tiny, **kwargs)


def test_labels_disagreeing_with_language():
    data = fx.Dataset(("1", "000", "11"), [True, True, False], "01")  # "000" and "11" are wrong
    with pytest.raises(ValidationError, match=r"word '000' is labelled True but the language says False \(2 such words\)"):
        fx.train_classifier(data, language=fx.languages.tomita(4), progress=False)


def test_empty_word_disagreeing_with_language():
    data = fx.Dataset(("", "1", "000"), [False, True, False], "01")  # tomita 4 accepts the empty word
    with pytest.raises(ValidationError, match=r"word '' is labelled False"):
        fx.train_classifier(data, language=fx.languages.tomita(4), progress=False)


def test_language_with_another_alphabet(tiny):
    lang = fx.languages.from_regex("a*b", alphabet="ab")
    with pytest.raises(ValidationError, match="language.alphabet"):
        fx.train_classifier(tiny, language=lang, progress=False)


@pytest.mark.parametrize("not_data", [["01", "1"], None, {"words": ["0"], "labels": [True]}])
def test_not_a_dataset(not_data):
    with pytest.raises(ArgumentTypeError, match="dataset must be an fsm_extract Dataset"):
        fx.train_classifier(not_data, progress=False)


def test_mismatched_validation_alphabet(tiny):
    validation = fx.Dataset(("ab", "b"), [True, False], "ab")
    with pytest.raises(ValidationError, match=r"validation.alphabet=\['a', 'b'\] must equal dataset.alphabet"):
        fx.train_classifier(tiny, validation=validation, progress=False)


def test_empty_validation(tiny):
    with pytest.raises(ValidationError, match="validation must hold at least one word"):
        fx.train_classifier(tiny, validation=fx.Dataset((), [], "01"), progress=False)


def test_unknown_symbol_in_dataset_is_caught_on_construction():
    with pytest.raises(UnknownSymbolError, match="'2'"):
        fx.Dataset(("012",), [True], "01")


# ----------------------------------------------------------------------------- early stopping
def test_default_holds_out_words_and_stops_early():
    """With no validation, a seeded 10% of the words is held out, and training stops well
    before the 200-epoch bound once they are all right (on (ab|ba)*, within a few epochs)."""
    lang = fx.languages.from_regex("(ab|ba)*", alphabet="ab")
    train = lang.sample(n=400, max_len=12, seed=0)
    t0 = time.perf_counter()
    model = fx.train_classifier(train, hidden_size=8, seed=0, progress=False)
    seconds = time.perf_counter() - t0
    meta = model.metadata
    assert meta["watched"] == "held-out" and meta["held_out_words"] == 40
    assert meta["n_train_words"] == 360  # 40 held out, not trained on
    assert meta["stopped"] in ("held-out accuracy reached 100%", "held-out accuracy did not improve for 10 epochs")
    assert meta["epochs_run"] < 60, meta
    assert "validation_accuracy" in meta
    print(f"(ab|ba)*: {meta['epochs_run']} epochs, {seconds:.1f} s, stopped: {meta['stopped']}")


def test_hold_out_is_seeded_and_keeps_both_classes(tiny):
    from fsm_extract.nets.training import hold_out

    a_train, a_val = hold_out(tiny, 0.1, seed=3)
    b_train, b_val = hold_out(tiny, 0.1, seed=3)
    c_train, c_val = hold_out(tiny, 0.1, seed=4)
    assert a_val.words == b_val.words and a_val.words != c_val.words
    assert len(a_val) == 12 and len(a_train) == 108
    assert sorted(a_train.words + a_val.words) == sorted(tiny.words)  # a split: every word once
    assert a_train.labels.any() and not a_train.labels.all()
    small = tiny.subset(np.arange(15))
    assert hold_out(small, 0.1, seed=0) == (small, None)  # too small: nothing held out


def test_patience_stops_a_plateau(tiny):
    """A net that cannot learn (lr tiny) stops after `patience` epochs without improvement."""
    model = fx.train_classifier(tiny, hidden_size=4, lr=1e-6, epochs=500, early_stopping=fx.EarlyStopping(patience=3),
                                seed=0, progress=False)
    meta = model.metadata
    assert meta["stopped"].endswith("did not improve for 3 epochs")
    assert meta["epochs_run"] == meta["best_epoch"] + 3


def test_a_regularised_run_keeps_the_later_weights_on_a_tie(tiny):
    """On a plateau (lr tiny: the watched accuracy never changes) plain training keeps the first
    epoch's weights; a regularised run keeps the last tied epoch's (its temperature annealed
    further), and patience still counts from the first."""
    kw = {"hidden_size": 4, "lr": 1e-6, "epochs": 500, "early_stopping": fx.EarlyStopping(patience=3), "seed": 0,
          "progress": False}
    plain = fx.train_classifier(tiny, **kw).metadata
    regularised = fx.train_classifier(tiny, extractability=0.1, **kw).metadata
    assert (plain["best_epoch"], plain["epochs_run"]) == (1, 4)
    assert (regularised["best_epoch"], regularised["epochs_run"]) == (4, 4)
    assert regularised["stopped"].endswith("did not improve for 3 epochs")


def test_early_stopping_waits_for_the_regulariser_to_anneal():
    """With early stopping, a perfect held-out score stops plain training at once but a
    regularised run only after ``anneal_epochs`` (its temperature then fully annealed), and the
    regulariser anneals over those epochs, not over all ``epochs``."""
    data = fx.languages.tomita(1).sample(n=200, max_len=8, seed=0)
    kw = {"hidden_size": 8, "epochs": 50, "seed": 0, "progress": False}
    plain = fx.train_classifier(data, **kw).metadata
    assert plain["stopped"] == "held-out accuracy reached 100%" and plain["epochs_run"] < 10
    net = fx.train_classifier(data, extractability=fx.Extractability(strength=0.1, anneal_epochs=10), **kw)
    meta = net.metadata
    assert meta["stopped"] == "held-out accuracy reached 100%" and meta["epochs_run"] == 10
    assert meta["best_epoch"] == 10 and meta["extractability"]["anneal_epochs"] == 10
    from fsm_extract.nets.training import optimiser

    for stopping, expected in ((fx.EarlyStopping(), 4), (None, 50)):
        reg, _ = optimiser(fx.RNNClassifier("01"), fx.Extractability(anneal_epochs=4), epochs=50, seed=0, lr=0.01,
                           stopping=stopping)
        assert reg.epochs == expected


def test_early_stopping_off_runs_every_epoch(tiny):
    model = fx.train_classifier(tiny, hidden_size=4, epochs=4, early_stopping=False, seed=0, progress=False)
    assert model.metadata["epochs_run"] == 4 and model.metadata["stopped"] == "all 4 epochs run"
    assert model.metadata["watched"] is None and model.metadata["n_train_words"] == len(tiny)


@pytest.mark.parametrize("kwargs,pattern", [
    ({"validation_fraction": 0.0}, "validation_fraction=0.0 must be > 0"),
    ({"validation_fraction": 0.9}, "validation_fraction=0.9 must be <= 0.5"),
    ({"patience": 0}, "patience=0 must be >= 1"),
])
def test_early_stopping_options_are_checked(tiny, kwargs, pattern):
    with pytest.raises(ValidationError, match=pattern):
        fx.EarlyStopping(**kwargs)
    with pytest.raises(ArgumentTypeError, match="early_stopping='yes' must be True or False"):
        fx.train_classifier(tiny, progress=False, early_stopping="yes")
