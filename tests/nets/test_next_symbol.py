"""train_next_symbol: a next-symbol net trained on a PDFA's words learns its distributions."""

import time

import numpy as np
import pytest
import torch

import fsm_extract as fx
from fsm_extract.analysis.distributions import bits_per_symbol, total_variation
from fsm_extract.errors import ArgumentTypeError, UnknownSymbolError, ValidationError
from fsm_extract.nets.next_symbol import prefix_targets, train_next_symbol

PDFA = fx.languages.random_pdfa(n_states=3, alphabet="ab", seed=0)


def prefix_probs(net, words):
    """The net's next-symbol distribution after every prefix of every word, the empty prefix
    first, stacked as ``PDFA.prefix_probs`` stacks them: (sum(len + 1), n_symbols + 1)."""
    trace = fx.collect_trace(net, words)
    rows = []
    for i in range(len(words)):
        rows.append(trace.h0_probs[None, :])
        rows.append(trace.probs[trace.offsets[i]:trace.offsets[i + 1]])
    return np.vstack(rows).astype(np.float64)


def next_targets(words, alphabet):
    """What follows every prefix: the next symbol's id, or len(alphabet) for end-of-word."""
    index = {s: i for i, s in enumerate(alphabet)}
    return np.array([t for w in words for t in [index[s] for s in w] + [len(alphabet)]])


@pytest.fixture(scope="module")
def trained():
    words = PDFA.sample(n=2000, seed=0)
    t0 = time.perf_counter()
    net = train_next_symbol(words, hidden_size=16, epochs=8, lr=0.02, seed=0, progress=False)
    return net, time.perf_counter() - t0


def test_learns_the_pdfa_next_symbol_distributions(trained):
    net, seconds = trained
    held_out = PDFA.sample(n=500, seed=1)  # not the training words' seed
    tv = total_variation(prefix_probs(net, held_out), np.vstack(PDFA.prefix_probs(held_out)))
    meta = net.metadata
    truth = -np.mean([PDFA.log_prob(w) for w in held_out]) / np.log(2) / np.mean([len(w) + 1 for w in held_out])
    print(f"\nnext-symbol LSTM-16 on random_pdfa(3): mean TV {tv.mean():.4f} (max {tv.max():.3f}) over "
          f"{tv.size} held-out prefixes, {meta['epochs_run']} epochs (best {meta['best_epoch']}), {seconds:.1f} s, "
          f"held-out bits/symbol {meta['validation_bits_per_symbol']:.4f} (the PDFA's own: {truth:.4f})")
    assert tv.mean() < 0.05
    assert net.output_kind == "next-symbol" and net.n_classes == 3 and net.alphabet == ("a", "b")
    assert net.hidden_size == 16 and net.cell == "lstm" and not net.training
    assert meta["watched"] == "held-out" and meta["held_out_words"] == 200 and meta["n_train_words"] == 1800
    assert 1 <= meta["best_epoch"] <= meta["epochs_run"] <= 8
    assert meta["extractability"] is None and meta["seed"] == 0 and meta["trained_on"] == "words"
    assert truth - 0.05 < meta["validation_bits_per_symbol"] < truth + 0.1


def test_validation_bits_per_symbol_is_the_cross_entropy_of_the_next_symbols():
    words = PDFA.sample(n=60, seed=5) + [""]
    again = train_next_symbol(PDFA.sample(n=30, seed=2), hidden_size=4, epochs=1, validation=words, progress=False)
    want = bits_per_symbol(prefix_probs(again, words), next_targets(words, "ab"))
    assert again.metadata["watched"] == "validation" and again.metadata["held_out_words"] == 0
    assert again.metadata["validation_bits_per_symbol"] == pytest.approx(want, rel=1e-5)


def test_trained_net_round_trips(trained, tmp_path):
    net, _ = trained
    loaded = fx.load_model(net.save(tmp_path / "ns.pt"))
    words = PDFA.sample(n=20, seed=3)
    assert loaded.output_kind == "next-symbol"
    np.testing.assert_allclose(prefix_probs(loaded, words), prefix_probs(net, words), atol=1e-6)
    assert loaded.metadata["validation_bits_per_symbol"] == net.metadata["validation_bits_per_symbol"]


def test_same_seed_same_weights():
    words = PDFA.sample(n=200, seed=4)
    kw = {"hidden_size": 8, "epochs": 2, "batch_size": 16, "progress": False}
    a, b, c = (train_next_symbol(words, seed=s, **kw) for s in (7, 7, 8))
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    assert a.metadata["validation_bits_per_symbol"] == b.metadata["validation_bits_per_symbol"]
    assert any(not torch.equal(sa[k], c.state_dict()[k]) for k in sa)


def test_prefix_targets():
    ids = np.array([[0, 1, 1], [1, 0, 0], [0, 0, 0]])
    targets, mask = prefix_targets(ids, np.array([3, 1, 0]), 2)
    assert targets.tolist() == [[0, 1, 1, 2], [1, 2, 2, 2], [2, 2, 2, 2]]
    assert mask.tolist() == [[True] * 4, [True, True, False, False], [True, False, False, False]]


# ----------------------------------------------------------------------------- inputs and options
def test_words_as_dataset_tuples_and_inferred_alphabet():
    data = fx.languages.tomita(3).sample(n=40, max_len=6, seed=0)
    net = train_next_symbol(data, hidden_size=4, epochs=1, progress=False)  # labels ignored
    assert net.alphabet == data.alphabet and net.metadata["trained_on"] == data.name
    words = [("go", "stop"), ("stop",), (), ("go", "go", "stop")]
    net = train_next_symbol(words, hidden_size=4, epochs=2, progress=False)
    assert net.alphabet == ("go", "stop") and net.n_classes == 3
    assert net.metadata["watched"] == "training" and net.metadata["held_out_words"] == 0  # under 20 words
    assert "train_bits_per_symbol" in net.metadata
    net = train_next_symbol(["b", "bb"], alphabet="cba", hidden_size=4, epochs=1, progress=False)
    assert net.alphabet == ("c", "b", "a") and net.n_classes == 4


def test_empty_words_only_with_an_alphabet():
    net = train_next_symbol(["", ""], alphabet="ab", hidden_size=4, epochs=3, lr=0.1, progress=False)
    probs = prefix_probs(net, [""])
    assert probs[0, 2] == probs[0].max()  # end-of-word is learnt as the likeliest


def test_early_stopping_off_and_max_seconds():
    words = PDFA.sample(n=100, seed=6)
    net = train_next_symbol(words, hidden_size=4, epochs=3, early_stopping=False, progress=False)
    meta = net.metadata
    assert meta["epochs_run"] == 3 and meta["stopped"] == "all 3 epochs run"
    assert meta["watched"] is None and meta["n_train_words"] == 100 and "train_bits_per_symbol" in meta
    net = train_next_symbol(words, hidden_size=4, epochs=10_000, max_seconds=0.05, progress=False)
    assert net.metadata["epochs_run"] < 10_000 and net.metadata["stopped"] == "max_seconds=0.05 reached"


def test_patience_stops_a_plateau():
    """A net that cannot move (a learning rate below float32 resolution) stops after `patience` epochs."""
    words = PDFA.sample(n=100, seed=6)
    net = train_next_symbol(words, hidden_size=4, lr=1e-12, epochs=500, early_stopping=fx.EarlyStopping(patience=3),
                            progress=False)
    meta = net.metadata
    assert meta["stopped"] == "held-out bits per symbol did not improve for 3 epochs"
    assert meta["epochs_run"] == meta["best_epoch"] + 3


def test_extractability_and_progress():
    words = PDFA.sample(n=100, seed=6)
    kw = {"hidden_size": 4, "epochs": 2, "progress": False}
    plain = train_next_symbol(words, **kw)
    zero = train_next_symbol(words, extractability=0.0, **kw)
    for k, v in plain.state_dict().items():
        assert torch.equal(v, zero.state_dict()[k]), k
    reg = train_next_symbol(words, extractability=0.1, hidden_size=4, epochs=2, progress=True)
    record = reg.metadata["extractability"]
    assert record["strength"] == 0.1 and len(record["terms"]) == reg.metadata["epochs_run"]
    assert np.isfinite(record["term"])


def test_horizon_windows_for_a_next_symbol_net():
    """``horizon`` works for next-symbol training: its tape is the training words (the CSR
    encoding of the padded words round-trips), and the long windows enter the term."""
    from fsm_extract.nets.next_symbol import _prefixes
    from fsm_extract.words import encode_words

    words = PDFA.sample(n=100, seed=6)
    alphabet = tuple(PDFA.alphabet)
    symbols, offsets = _prefixes(words, alphabet, "words").encoded()
    want_symbols, want_offsets = encode_words(words, alphabet, name="words")
    assert np.array_equal(symbols, want_symbols) and np.array_equal(offsets, want_offsets)
    kw = {"hidden_size": 4, "epochs": 2, "progress": False, "early_stopping": False, "seed": 0}
    terms = {}
    for horizon in (0.0, 3.0):
        net = train_next_symbol(words, extractability=fx.Extractability(strength=0.1, horizon=horizon), **kw)
        record = net.metadata["extractability"]
        assert record["horizon"] == horizon and all(np.isfinite(record["terms"]))
        terms[horizon] = record["terms"]
    assert terms[3.0] != terms[0.0]


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_other_cells(cell):
    net = train_next_symbol(PDFA.sample(n=40, seed=0), cell=cell, hidden_size=4, epochs=1, progress=False)
    assert net.cell == cell and net.output_kind == "next-symbol"


@pytest.mark.parametrize("kwargs,error,pattern", [
    ({"words": "abba"}, ArgumentTypeError, "words must be a sequence of words"),
    ({"words": {"ab", "ba"}}, ArgumentTypeError, "words must be an ordered sequence"),
    ({"words": 3}, ArgumentTypeError, "words must be a sequence of words"),
    ({"words": []}, ValidationError, "words must hold at least one word"),
    ({"words": [1, 2]}, ArgumentTypeError, r"words\[0\]=1 must be a string"),
    ({"words": ["", ""]}, ValidationError, "alphabet=None needs words that hold a symbol"),
    ({"words": ["abc"], "alphabet": "ab"}, UnknownSymbolError, "'c'"),
    ({"alphabet": "aa"}, ValidationError, "alphabet='aa' must have distinct symbols"),
    ({"cell": "lstmx"}, ValidationError, "cell='lstmx' must be one of"),
    ({"hidden_size": 0}, ValidationError, "hidden_size=0 must be >= 1"),
    ({"num_layers": 0}, ValidationError, "num_layers=0 must be >= 1"),
    ({"embedding_dim": 1.5}, ArgumentTypeError, "embedding_dim=1.5 must be an integer"),
    ({"epochs": 0}, ValidationError, "epochs=0 must be >= 1"),
    ({"lr": 0.0}, ValidationError, "lr=0.0 must be > 0"),
    ({"lr": "fast"}, ArgumentTypeError, "lr='fast' must be a number"),
    ({"batch_size": 0}, ValidationError, "batch_size=0 must be >= 1"),
    ({"seed": -1}, ValidationError, "seed=-1 must be >= 0"),
    ({"validation": "ab"}, ArgumentTypeError, "validation must be a sequence of words"),
    ({"validation": []}, ValidationError, "validation must hold at least one word"),
    ({"validation": ["abc"]}, UnknownSymbolError, r"validation\[0\]"),
    ({"max_seconds": 0}, ValidationError, "max_seconds=0.0 must be > 0"),
    ({"progress": "yes"}, ArgumentTypeError, "progress='yes' must be True or False"),
    ({"early_stopping": "yes"}, ArgumentTypeError, "early_stopping='yes' must be True or False"),
    ({"extractability": -1.0}, ValidationError, "-1"),
])
def test_bad_arguments(kwargs, error, pattern):
    kw = {"words": ["ab", "ba", "a"], "epochs": 1, "hidden_size": 4, "progress": False, **kwargs}
    with pytest.raises(error, match=pattern):
        train_next_symbol(kw.pop("words"), **kw)
