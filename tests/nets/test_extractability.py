"""train_classifier(extractability=...): the regulariser of fsm_extract.nets.extractability."""

import re

import numpy as np
import pytest
import torch

import fsm_extract as fx
from fsm_extract.errors import ArgumentTypeError, ValidationError
from fsm_extract.nets import extractability as _extractability
from fsm_extract.nets.extractability import Regularizer
from fsm_extract.nets.step_states import LinearScan as _LinearScan
from fsm_extract.nets.step_states import captured as _captured
from fsm_extract.nets.step_states import layer_states as _layers
from fsm_extract.nets.parts import padded

from ..helpers import run_cli


@pytest.fixture(scope="module")
def tiny():
    """120 Tomita-4 training words (both classes)."""
    return fx.datasets.load("tomita4", split="train").subset(np.arange(120))


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ----------------------------------------------------------------------------- options
@pytest.mark.parametrize("kwargs,error,pattern", [
    ({"strength": -0.1}, ValidationError, r"strength=-0.1 must be >= 0.0"),
    ({"strength": float("nan")}, ValidationError, r"strength=nan must be finite"),
    ({"strength": 1000.0}, ValidationError, r"strength=1000.0 must be <= 100.0"),
    ({"strength": "0.1"}, ArgumentTypeError, r"strength='0.1' must be a number"),
    ({"method": "dropout"}, ValidationError, r"method='dropout' must be one of 'centroids', 'noise', 'ternary'"),
    ({"n_centroids": 1}, ValidationError, r"n_centroids=1 must be >= 2"),
    ({"n_centroids": 2.5}, ArgumentTypeError, r"n_centroids=2.5 must be an integer"),
    ({"temperature": 0.1}, ArgumentTypeError, r"temperature=0.1 must be a pair"),
    ({"temperature": (0.0, 0.0)}, ValidationError, r"temperature\[0\]=0.0 must be > 0"),
    ({"temperature": (0.01, 0.1)}, ValidationError, r"temperature=\(0.01, 0.1\) must anneal"),
    ({"separation": -1}, ValidationError, r"separation=-1.0 must be >= 0"),
    ({"noise": 0}, ValidationError, r"noise=0.0 must be > 0"),
    ({"horizon": 0.5}, ValidationError, r"horizon=0.5 must be 0 \(off\) or >= 1"),
    ({"horizon": -1}, ValidationError, r"horizon=-1.0 must be >= 0"),
    ({"horizon": 1000}, ValidationError, r"horizon=1000.0 must be <= 100"),
    ({"horizon": "3"}, ArgumentTypeError, r"horizon='3' must be a number"),
    ({"horizon_words": 0}, ValidationError, r"horizon_words=0 must be >= 1"),
    ({"horizon_words": 2.0}, ArgumentTypeError, r"horizon_words=2.0 must be an integer"),
    ({"horizon_every": 0}, ValidationError, r"horizon_every=0 must be >= 1"),
    ({"horizon_every": 2000}, ValidationError, r"horizon_every=2000 must be <= 1024"),
    ({"anneal_epochs": 0}, ValidationError, r"anneal_epochs=0 must be >= 1"),
    ({"anneal_epochs": 2.5}, ArgumentTypeError, r"anneal_epochs=2.5 must be an integer"),
    ({"every": 0}, ValidationError, r"every=0 must be >= 1"),
    ({"every": 1.5}, ArgumentTypeError, r"every=1.5 must be an integer"),
])
def test_bad_options(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        fx.Extractability(**kwargs)


@pytest.mark.parametrize("value,error,pattern", [
    (-0.5, ValidationError, r"extractability=-0.5 must be >= 0.0"),
    (float("inf"), ValidationError, r"extractability=inf must be finite"),
    ("0.1", ArgumentTypeError, r"extractability='0.1' must be a number \(the strength\) or an fx.Extractability"),
    (True, ArgumentTypeError, r"extractability=True must be a number"),
    (None, ArgumentTypeError, r"extractability=None must be a number"),
])
def test_bad_extractability_argument(tiny, value, error, pattern):
    with pytest.raises(error, match=pattern):
        fx.train_classifier(tiny, extractability=value, progress=False)


def test_options_are_frozen_and_recorded():
    opts = fx.Extractability(strength=np.float32(0.25), method="ternary", temperature=[0.5, 0.05])
    assert opts.strength == 0.25 and type(opts.strength) is float and opts.temperature == (0.5, 0.05)
    with pytest.raises(AttributeError):
        opts.strength = 1.0
    assert opts.to_dict() == {"strength": 0.25, "method": "ternary", "n_centroids": 16, "temperature": [0.5, 0.05],
                              "separation": 0.1, "consistency": 0.0, "noise": 0.1, "horizon": opts.horizon, "horizon_words": 16,
                              "horizon_every": 4, "anneal_epochs": 10, "every": 1}
    assert fx.Extractability().method == "centroids"


# ----------------------------------------------------------------------------- training
def test_strength_zero_trains_exactly_as_without(tiny):
    """extractability=0 (a number or an Extractability) takes the plain path: the same weights
    to the bit as the default, and no regulariser recorded."""
    kw = dict(hidden_size=8, epochs=3, batch_size=16, seed=3, progress=False)
    plain = fx.train_classifier(tiny, **kw)
    for off in (0.0, 0, fx.Extractability(strength=0.0, method="noise")):
        net = fx.train_classifier(tiny, extractability=off, **kw)
        assert _same_weights(plain, net)
        assert net.metadata["extractability"] is None
    assert not _same_weights(plain, fx.train_classifier(tiny, extractability=0.1, **kw))


@pytest.fixture(scope="module")
def t4():
    lang = fx.languages.tomita(4)
    return lang, lang.sample(n=400, max_len=12, seed=0)


def test_term_decreases_and_is_recorded(t4):
    """The default method's term (mean distance to the soft-assigned centroid, plus the
    centroids' separation hinge) falls as training runs (not at every epoch: the net's states
    move as it learns the task)."""
    lang, data = t4
    opts = fx.Extractability(strength=0.3)
    net = fx.train_classifier(data, language=lang, hidden_size=8, epochs=6, seed=0, early_stopping=False,
                              progress=False, extractability=opts)
    record = net.metadata["extractability"]
    terms = record["terms"]
    assert len(terms) == 6 and all(np.isfinite(terms))
    assert terms[-1] < 0.6 * terms[0] and max(terms[1:]) < terms[0], terms
    assert record["term"] == terms[-1]
    assert {k: v for k, v in record.items() if k not in ("term", "terms")} == opts.to_dict()


def _term(net, data, opts):
    """A method's term on every step of ``data`` for a trained net (no training)."""
    symbols, offsets = data.encode()
    ids, lengths = padded(symbols, offsets, np.arange(len(data)))
    valid = torch.from_numpy(np.arange(ids.shape[1])[None, :] < lengths[:, None])
    reg = Regularizer(net, opts, epochs=1, seed=0)
    with torch.no_grad():
        return float(reg.logits(net, torch.from_numpy(ids), valid)[1])


@pytest.mark.parametrize("method", ["noise", "ternary"])
def test_term_is_lower_than_without_the_regulariser(t4, method):
    """The noise and ternary terms start near their minimum (an untrained net's states are
    near 0, where they are quantised and steps contract) and rise as the task spreads the
    states out; what the regulariser does is keep them lower than plain training does."""
    lang, data = t4
    opts = fx.Extractability(strength=1.0, method=method)
    kw = dict(language=lang, hidden_size=8, epochs=6, seed=0, early_stopping=False, progress=False)
    plain = fx.train_classifier(data, **kw)
    regularised = fx.train_classifier(data, extractability=opts, **kw)
    reg_term, plain_term = _term(regularised, data, opts), _term(plain, data, opts)
    print(method, reg_term, plain_term)
    assert reg_term < 0.9 * plain_term


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_regularised_net_is_an_ordinary_classifier(tiny, tmp_path, cell):
    """Two layers, word-level labels (no language), an empty word: still a plain RNNClassifier
    with exactly the usual weights; it saves, loads and extracts; same seed, same weights."""
    data = fx.Dataset(tiny.words + ("",), np.append(tiny.labels, True), tiny.alphabet)
    kw = dict(cell=cell, hidden_size=6, num_layers=2, epochs=2, seed=1, progress=False, extractability=0.3)
    net = fx.train_classifier(data, **kw)
    assert type(net) is fx.RNNClassifier and type(net.rnn).__name__ == {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}[cell]
    assert net.state_dict().keys() == fx.RNNClassifier("01", cell=cell, hidden_size=6, num_layers=2).state_dict().keys()
    assert _same_weights(net, fx.train_classifier(data, **kw))
    loaded = fx.load_model(net.save(tmp_path / "m.pt"))
    np.testing.assert_array_equal(loaded.predict(data.words), net.predict(data.words))
    assert loaded.metadata["extractability"]["method"] == "centroids"
    fsm = fx.extract(loaded, data.words, refine=False, n_states=4)
    assert 1 <= fsm.n_states <= 4
    assert 0.0 <= fx.fidelity(loaded, fsm, data).prefix_agreement <= 1.0


def test_batches_of_one_word(tiny):
    """A batch of one word (batch_size=1, or the last batch of an epoch): the cell scan must
    not write into its input (a one-row transpose is already contiguous)."""
    net = fx.train_classifier(tiny.subset(np.arange(40)), hidden_size=4, epochs=1, batch_size=1, seed=0, progress=False,
                              extractability=0.1)
    assert np.isfinite(net.metadata["extractability"]["term"])


def test_progress_bar_shows_the_term(tiny, capsys):
    fx.train_classifier(tiny, hidden_size=4, epochs=2, progress=True, extractability=0.2)
    assert "reg=" in capsys.readouterr().err
    fx.train_classifier(tiny, hidden_size=4, epochs=2, progress=True)
    assert "reg=" not in capsys.readouterr().err


def test_regularised_net_is_explained_better():
    """A random 8-state DFA, an 8-unit LSTM trained 4 epochs (as in the imperfect-nets
    benchmark): the unregularised net's default extraction needs 16 states and agrees with it
    on ~97.8% of held-out prefixes to length 60; with extractability=0.3 the net is also more
    accurate, and its automaton is smaller and agrees more (8 states, ~98.5%). Seeds 1 and 2
    agree more as well (+1.0 and +0.4 points)."""
    lang = fx.languages.random_dfa(n_states=8, alphabet="ab", seed=3)
    train = lang.sample(n=2000, max_len=20, seed=0)
    test = lang.sample(n=1000, max_len=60, seed=1001)
    out = {}
    for strength in (0.0, 0.3):
        net = fx.train_classifier(train, hidden_size=8, epochs=4, seed=0, language=lang, early_stopping=False,
                                  progress=False, extractability=strength)
        fsm = fx.extract(net, train.words)
        accuracy = float((net.predict(test.words) == test.labels).mean())
        out[strength] = (fx.fidelity(net, fsm, test).prefix_agreement, fsm.n_states, accuracy)
    (plain_agree, plain_states, plain_acc), (reg_agree, reg_states, reg_acc) = out[0.0], out[0.3]
    print(f"plain: {plain_agree:.4f} agreement, {plain_states} states, accuracy {plain_acc:.4f}; "
          f"regularised: {reg_agree:.4f}, {reg_states} states, accuracy {reg_acc:.4f}")
    assert reg_agree >= plain_agree + 0.003
    assert reg_states <= plain_states
    assert reg_acc >= plain_acc


# ----------------------------------------------------------------------------- horizon
def test_long_words_are_seeded_concatenations_of_training_words(tiny):
    """``horizon``'s unlabelled words: ``horizon_words`` rows of ``horizon`` x the longest
    training word, every row a concatenation of training words (cut at the end), the same
    rows for the same seed."""
    data = fx.Dataset(("", "0", "11", "010"), np.array([True, False, True, False]), ("0", "1"))
    net = fx.RNNClassifier("01", hidden_size=4)
    opts = fx.Extractability(horizon=2.5, horizon_words=3)

    def rows(seed):
        return Regularizer(net, opts, epochs=1, seed=seed, words=data.encode()).long_words()

    first = rows(0)
    assert first.shape == (3, 8) and first.dtype == torch.long  # round(2.5 * 3) symbols
    for row in first.tolist():  # whole nonempty training words, the last one possibly cut
        assert re.fullmatch(r"(0|11|010)*(1|01)?", "".join(map(str, row))), row
    assert torch.equal(first, rows(0)) and not all(torch.equal(rows(0), rows(s)) for s in (1, 2, 3))
    assert Regularizer(net, opts, epochs=1, seed=0).pool is None  # no words: horizon off
    assert Regularizer(net, fx.Extractability(), epochs=1, seed=0, words=data.encode()).pool is None


def test_horizon_term_covers_the_long_words(t4):
    """With ``horizon``, the term is the mean over the labelled steps and the long words' steps:
    it differs from the labelled batch's term alone, and a net trained with it has states
    nearer its centroids on words three times longer than any it was trained on."""
    lang, data = t4
    kw = {"language": lang, "hidden_size": 8, "epochs": 4, "seed": 0, "early_stopping": False, "progress": False}
    long_test = lang.sample(n=200, min_len=30, max_len=36, seed=5)
    terms = {}
    for horizon in (0.0, 3.0):
        opts = fx.Extractability(strength=0.3, horizon=horizon, temperature=(0.001, 0.001))
        net = fx.train_classifier(data, extractability=opts, **kw)
        assert net.metadata["extractability"]["horizon"] == horizon
        terms[horizon] = _term(net, long_test, fx.Extractability(temperature=(0.001, 0.001)))
    print(terms)
    assert terms[3.0] < terms[0.0]


def test_every_skips_batches_and_windows_follow_the_term(tiny, monkeypatch):
    """``every=3``: the term on batches 0, 3, 6, ... only (None on the others, whose logits are
    the plain net's); with ``horizon`` the windows go with every ``horizon_every``-th batch that
    carries the term (``horizon_every=2``: 0 and 6, not 2 and 4)."""
    torch.manual_seed(0)
    net = fx.RNNClassifier(tiny.alphabet, hidden_size=4)
    reg = Regularizer(net, fx.Extractability(every=3, horizon=2, horizon_every=2), epochs=1, seed=0,
                      words=tiny.encode())
    windows = []
    window = reg.window
    monkeypatch.setattr(reg, "window", lambda model, steps: windows.append(reg.batches - 1) or window(model, steps))
    ids = torch.randint(0, len(tiny.alphabet), (4, 5))
    valid = torch.ones(4, 5, dtype=torch.bool)
    with_term = []
    for batch in range(8):
        logits, term = reg.logits(net, ids, valid)
        if term is None:
            torch.testing.assert_close(logits, net(ids))
        else:
            with_term.append(batch)
    assert with_term == [0, 3, 6] and windows == [0, 6]
    kw = {"hidden_size": 4, "epochs": 2, "seed": 0, "early_stopping": False, "progress": False}
    trained = fx.train_classifier(tiny, extractability=fx.Extractability(every=2), **kw)
    record = trained.metadata["extractability"]
    assert record["every"] == 2 and len(record["terms"]) == 2 and all(np.isfinite(record["terms"]))


# ----------------------------------------------------------------------------- the recomputed states
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_recomputed_states_match_the_net(cell):
    """Every layer's last h (and an LSTM's c), as the regulariser recomputes them from the
    top layer's outputs, equal what the fused nn.LSTM/GRU/RNN returns."""
    torch.manual_seed(0)
    net = fx.RNNClassifier("01", cell=cell, hidden_size=6, num_layers=3)
    ids = torch.randint(0, 2, (5, 41))  # more than one chunk of steps
    with _captured(net.rnn) as seen:
        net(ids)
    layers = _layers(net.rnn, *seen[-1])
    with torch.no_grad():
        _, state = net.rnn(net.embedding(ids))
    h_n = state[0] if cell == "lstm" else state
    for i, layer in enumerate(layers):
        torch.testing.assert_close(layer.h[:, -1], h_n[i], atol=1e-6, rtol=0)
        if cell == "lstm":
            torch.testing.assert_close(layer.c[:, -1], state[1][i], atol=1e-5, rtol=1e-5)
        else:
            assert layer.c is None


@pytest.mark.parametrize("numba", [True, False])
def test_recomputed_cells_in_torch_and_numba(monkeypatch, numba):
    """The cell scan in Numba (CPU) and in torch (what a GPU or half precision takes) both give
    the fused LSTM's cells, from zeros and from a given state."""
    from fsm_extract.nets import step_states

    monkeypatch.setattr(step_states, "numba_scan", lambda gates: numba)
    torch.manual_seed(3)
    net = fx.RNNClassifier("01", hidden_size=5, num_layers=2)
    ids = torch.randint(0, 2, (4, 9))
    for initial in (None, (torch.randn(2, 4, 5) * 0.5, torch.randn(2, 4, 5))):
        with _captured(net.rnn) as seen:
            net(ids, initial)
        layers = _layers(net.rnn, *seen[-1], initial=initial)
        with torch.no_grad():
            _, (_, c_n) = net.rnn(net.embedding(ids), initial)
        for i, layer in enumerate(layers):
            torch.testing.assert_close(layer.c[:, -1], c_n[i], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_recomputed_states_from_a_given_state(cell):
    """Rows that start from a given state (the horizon's windows): every layer's recomputed
    h (and c) equal the fused net's from that state, and each layer's state before its first
    step is the one given."""
    torch.manual_seed(1)
    net = fx.RNNClassifier("01", cell=cell, hidden_size=5, num_layers=2)
    ids = torch.randint(0, 2, (4, 9))
    h0 = torch.randn(2, 4, 5) * 0.5
    initial = (h0, torch.randn(2, 4, 5)) if cell == "lstm" else h0
    with _captured(net.rnn) as seen:
        net(ids, initial)
    layers = _layers(net.rnn, *seen[-1], initial=initial)
    with torch.no_grad():
        _, state = net.rnn(net.embedding(ids), initial)
    h_n = state[0] if cell == "lstm" else state
    for i, layer in enumerate(layers):
        torch.testing.assert_close(layer.h[:, -1], h_n[i], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(layer.h_prev()[:, 0], h0[i])
        if cell == "lstm":
            torch.testing.assert_close(layer.c[:, -1], state[1][i], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(layer.c_prev()[:, 0], initial[1][i])


def test_recomputed_cells_have_the_gradient_of_the_fused_net():
    """The cells recomputed from the top layer's outputs (gates from x and the previous h, then
    the scan) give the weights the gradient an unrolled LSTM gives them."""
    torch.manual_seed(2)
    rnn = torch.nn.LSTM(3, 4, batch_first=True).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    h0, c0 = torch.randn(1, 2, 4, dtype=torch.float64), torch.randn(1, 2, 4, dtype=torch.float64)
    top = rnn(x, (h0, c0))[0].detach()
    got = torch.autograd.grad(_layers(rnn, x, top, initial=(h0, c0))[0].c.sum(), rnn.weight_hh_l0)[0]
    h, c, cells = h0[0], c0[0], []
    for t in range(5):  # unrolled, with the true h fed back as the recompute does
        h_new, c = torch.lstm_cell(x[:, t], (h, c), rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
        cells.append(c)
        h = top[:, t]
    want = torch.autograd.grad(torch.stack(cells, 1).sum(), rnn.weight_hh_l0)[0]
    torch.testing.assert_close(got, want)


def test_window_continues_a_long_word():
    """``horizon``'s window: ``horizon_words`` rows of the batch's steps, cut from long words
    after ``start`` symbols run without gradients; from the state they left the net gives
    what it gives on the whole long word; the windows lie between the longest training word
    and ``horizon`` x it; the labelled rows' logits are those of the net alone."""
    data = fx.languages.tomita(4).sample(n=50, max_len=6, seed=0)
    net = fx.RNNClassifier("01", hidden_size=4)
    reg = Regularizer(net, fx.Extractability(horizon=4, horizon_words=3), epochs=1, seed=0, words=data.encode())
    assert reg.max_len == 6 and reg.long_len == 24
    ends = set()
    for _ in range(20):
        before = reg.rng.bit_generator.state
        ids, state = reg.window(net, 5)
        assert ids.shape == (3, 5) and state[0].shape == (1, 3, 4)
        reg.rng.bit_generator.state = before  # the same draw again: the start, then the long words
        start = int(reg.rng.integers(6, 24 - 5 + 1))
        whole = reg.long_words(start + 5)
        assert torch.equal(whole[:, start:], ids)
        with torch.no_grad():
            torch.testing.assert_close(net(ids, state), net(whole)[:, start:], atol=1e-5, rtol=1e-5)
        ends.add(start + 5)
    assert min(ends) >= 11 and max(ends) <= 24 and len(ends) > 3
    batch = torch.randint(0, 2, (7, 5))
    logits, term = reg.logits(net, batch, torch.ones(7, 5, dtype=torch.bool))
    with torch.no_grad():
        torch.testing.assert_close(logits, net(batch))
    assert term.ndim == 0 and term.requires_grad


def test_linear_scan_gradient():
    f = torch.rand(3, 7, 4, dtype=torch.float64, requires_grad=True)
    u = torch.randn(3, 7, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_LinearScan.apply, (f, u))
    c = _LinearScan.apply(f, u)
    torch.testing.assert_close(c[:, 2], f[:, 2] * (f[:, 1] * u[:, 0] + u[:, 1]) + u[:, 2])
    one_f, one_u = f[:1].detach().requires_grad_(), u[:1].detach().requires_grad_()  # one row: u must not be written to
    assert torch.autograd.gradcheck(_LinearScan.apply, (one_f, one_u))
    kept = one_u.detach().clone()
    _LinearScan.apply(one_f, one_u * 1.0).sum().backward()
    torch.testing.assert_close(one_u.detach(), kept)


def test_cell_scan_gradient_and_the_torch_path():
    """The Numba cell scan: its backward is the gradient (of the gates' pre-activations and of
    the starting cells), and it gives the cells the torch operations give."""
    from fsm_extract.nets.step_states import CellScan

    pre = torch.randn(3, 6, 12, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(CellScan.apply, (pre, c0))
    i, f, g = pre.detach().chunk(3, dim=-1)
    f, u = torch.sigmoid(f), torch.sigmoid(i) * torch.tanh(g)
    u[:, 0] += f[:, 0] * c0.detach()
    torch.testing.assert_close(CellScan.apply(pre, c0), _LinearScan.apply(f, u))


def test_soft_pull_gradient_and_value():
    """The centroids' pull: the weighted expected squared distance under the softmax, and its
    hand-written backward is the gradient (by the states and by the centroids)."""
    from fsm_extract.nets.extractability import SoftPull

    torch.manual_seed(0)
    states = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    cents = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    weights = torch.tensor([0.2, 0.0, 0.1, 0.3, 0.0, 0.25, 0.15], dtype=torch.float64)
    for temperature in (0.5, 0.05):
        assert torch.autograd.gradcheck(lambda s, c: SoftPull.apply(s, weights, c, temperature), (states, cents))
    d = torch.cdist(states, cents).square() / 5
    expected = ((torch.softmax(-d / 0.5, dim=1) * d).sum(1) * weights).sum()
    torch.testing.assert_close(SoftPull.apply(states, weights, cents, 0.5), expected)


def _reference_term(x, h0, c0, valid, cents, temperature, separation, consistency, hs, params):
    """The fused LSTM term computed one step at a time with torch's LSTM cell (a reference that
    shares no code with the node): the mean pull over the valid steps' full states, the
    separation, and the consistency's mean error of the steps from the soft centroids."""
    layers, (_, steps, width) = len(hs), hs[0].shape
    per = len(params) // layers
    cells, inp = [], x
    for ell in range(layers):
        w = params[per * ell:per * (ell + 1)]
        h, c, out = h0[ell], c0[ell], []
        for t in range(steps):
            c = torch.lstm_cell(inp[:, t], (h, c), *w)[1]
            h = hs[ell][:, t]  # the net's own h (the node recomputes only the cells)
            out.append(c)
        cells.append(torch.stack(out, 1))
        inp = hs[ell]
    states = torch.cat([p for ell in range(layers) for p in (hs[ell], cells[ell])], -1)  # (n, steps, 2LH)
    dim = states.shape[-1]
    d = (states[:, :, None, :] - cents).square().sum(-1) / dim
    p = torch.softmax(-d / temperature, -1)
    term = ((p * d).sum(-1) * valid).sum() / valid.sum()
    gap = torch.pdist(cents).square() / dim
    term = term + torch.relu(separation - gap).mean()
    pairs = valid[:, 1:] & valid[:, :-1]
    if consistency and pairs.any():
        q = p @ cents
        error, inp = 0.0, x
        for ell in range(layers):
            w = params[per * ell:per * (ell + 1)]
            qh, qc = q[:, :-1, 2 * ell * width:(2 * ell + 1) * width], q[:, :-1, (2 * ell + 1) * width:(2 * ell + 2) * width]
            h2, c2 = torch.lstm_cell(inp[:, 1:].reshape(-1, inp.shape[-1]), (qh.reshape(-1, width), qc.reshape(-1, width)), *w)
            err = (h2 - hs[ell][:, 1:].reshape(-1, width)).square().sum(1) + (c2 - cells[ell][:, 1:].reshape(-1, width)).square().sum(1)
            error = error + (err / width * pairs.reshape(-1)).sum() / pairs.sum()
            inp = hs[ell]
        term = term + consistency * error / layers
    return term


@pytest.mark.parametrize("consistency", [0.0, 1.5])
@pytest.mark.parametrize(("layers", "bias"), [(1, True), (2, True), (2, False)])
def test_lstm_term_gradient_and_value(layers, bias, consistency):
    """The fused LSTM term (gates, cell scan, pull, separation and the consistency's step in one
    node): its value is a step-by-step torch reference's, and its hand-written backward is the
    gradient by every input (gradcheck, float64), from given starting states, with invalid steps."""
    from fsm_extract.nets.lstm_term import LstmTerm

    torch.manual_seed(0)
    n, steps, width, emb, k = 3, 4, 3, 2, 5

    def leaf(*shape, scale=1.0):
        return (scale * torch.randn(*shape, dtype=torch.float64)).requires_grad_()

    x = leaf(n, steps, emb)
    hs = [torch.tanh(leaf(n, steps, width)).detach().requires_grad_() for _ in range(layers)]
    params = [w for ell in range(layers)
              for w in [leaf(4 * width, emb if ell == 0 else width, scale=0.5), leaf(4 * width, width, scale=0.5)]
              + ([leaf(4 * width, scale=0.3), leaf(4 * width, scale=0.3)] if bias else [])]
    h0, c0 = leaf(layers, n, width, scale=0.5), leaf(layers, n, width, scale=0.5)
    cents = leaf(k, 2 * layers * width, scale=0.7)
    valid = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 1], [1, 0, 0, 0]], dtype=torch.bool)
    temperature, separation = 0.5, 3.0

    def term(x, h0, c0, cents, *rest):
        return LstmTerm.apply(x, h0, c0, valid, cents, temperature, separation, consistency, layers, *rest)

    inputs = (x, h0, c0, cents, *hs, *params)
    assert torch.autograd.gradcheck(term, inputs)
    expected = _reference_term(x, h0, c0, valid, cents, temperature, separation, consistency, hs, params)
    torch.testing.assert_close(term(*inputs), expected)
    zero = torch.zeros(layers, n, width, dtype=torch.float64)  # None: the zero state
    torch.testing.assert_close(LstmTerm.apply(x, None, None, valid, cents, temperature, separation, consistency, layers,
                                              *hs, *params),
                               _reference_term(x, zero, zero, valid, cents, temperature, separation, consistency, hs, params))


@pytest.mark.parametrize("consistency", [0.0, 1.0])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_regularizer_lstm_term_is_the_unfused_one(num_layers, consistency, monkeypatch):
    """The regulariser's LSTM term on the CPU (one fused node) equals the torch operations' term
    on the same states (every layer's h and c), and so do its gradients by the net's weights and
    the centroids, windows from a given state included."""
    torch.manual_seed(0)
    net = fx.RNNClassifier("ab", hidden_size=5, num_layers=num_layers)
    data = fx.Dataset(["ab", "abba", "b", "aab"], [1, 0, 1, 0], "ab")
    reg = Regularizer(net, fx.Extractability(temperature=(0.05, 0.05), horizon=3, horizon_words=2, consistency=consistency),
                      epochs=1, seed=0, words=data.encode())
    ids = torch.randint(0, 2, (4, 6))
    valid = torch.rand(4, 6) < 0.7
    for batch in range(2):  # the first batch carries windows (from a state), the second does not
        with_windows = (reg.batches % reg.options.horizon_every) == 0
        before = reg.rng.bit_generator.state
        params = [*net.parameters(), reg.centroids]
        _, fused_term = reg.logits(net, ids, valid)
        fused_grads = torch.autograd.grad(fused_term, params, allow_unused=True)
        reg.rng.bit_generator.state, reg.batches = before, reg.batches - 1
        with monkeypatch.context() as patch:
            patch.setattr(_extractability, "numba_scan", lambda t: False)
            _, plain_term = reg.logits(net, ids, valid)
        plain_grads = torch.autograd.grad(plain_term, params, allow_unused=True)
        torch.testing.assert_close(fused_term, plain_term, atol=1e-6, rtol=1e-5)
        for fused, plain in zip(fused_grads, plain_grads):
            assert (fused is None) == (plain is None)
            if fused is not None:
                torch.testing.assert_close(fused, plain, atol=1e-5, rtol=1e-4)
        assert with_windows == (batch == 0)


# ----------------------------------------------------------------------------- command line
_run = run_cli


@pytest.fixture(scope="module")
def jsonl(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "d.jsonl"
    fx.languages.tomita(4).sample(n=60, max_len=8, seed=0).to_jsonl(path)
    return path


def test_cli_flag(capsys, tmp_path, jsonl):
    out = tmp_path / "m.pt"
    rc, stdout, err = _run(capsys, "train", "--data", jsonl, "--out", out, "--epochs", 2, "--hidden-size", 4,
                           "--quiet", "--extractability", 0.2, "--extractability-method", "ternary")
    assert rc == 0, err
    assert "extractability 0.2 (ternary), last term" in stdout
    record = fx.load_model(out).metadata["extractability"]
    assert record["strength"] == 0.2 and record["method"] == "ternary" and len(record["terms"]) == 2


def test_cli_consistency_flag(capsys, tmp_path, jsonl):
    out = tmp_path / "m.pt"
    rc, stdout, err = _run(capsys, "train", "--data", jsonl, "--out", out, "--epochs", 2, "--hidden-size", 4,
                           "--quiet", "--extractability", 0.1, "--extractability-consistency", 1)
    assert rc == 0, err
    assert "extractability 0.1 (centroids, consistency 1), last term" in stdout
    record = fx.load_model(out).metadata["extractability"]
    assert record["consistency"] == 1.0 and record["method"] == "centroids"


def test_cli_every_and_horizon_flags(capsys, tmp_path, jsonl):
    out = tmp_path / "m.pt"
    rc, stdout, err = _run(capsys, "train", "--data", jsonl, "--out", out, "--epochs", 2, "--hidden-size", 4,
                           "--quiet", "--extractability", 0.1, "--extractability-every", 2, "--extractability-horizon", 3)
    assert rc == 0, err
    assert "extractability 0.1 (centroids, horizon 3, every 2 batches), last term" in stdout
    record = fx.load_model(out).metadata["extractability"]
    assert record["every"] == 2 and record["horizon"] == 3.0


@pytest.mark.parametrize("args,pattern", [
    (["--extractability", "nan"], "extractability=nan must be finite"),
    (["--extractability", "-1"], "extractability=-1.0 must be >= 0.0"),
    (["--extractability", "x"], "argument --extractability: invalid float value: 'x'"),
    (["--extractability", "0.1", "--extractability-method", "dropout"], "argument --extractability-method: invalid choice"),
    (["--extractability-method", "noise"], "--extractability-method='noise' needs --extractability > 0"),
    (["--extractability-consistency", "1"], "--extractability-consistency=1 needs --extractability > 0"),
    (["--extractability", "0.1", "--extractability-consistency", "-1"], "--extractability-consistency=-1.0 must be >= 0.0"),
    (["--extractability", "0.1", "--extractability-consistency", "inf"], "--extractability-consistency=inf must be finite"),
    (["--extractability-every", "2"], "--extractability-every=2 needs --extractability > 0"),
    (["--extractability-horizon", "3"], "--extractability-horizon=3 needs --extractability > 0"),
    (["--extractability", "0.1", "--extractability-horizon", "0.5"], "--extractability-horizon=0.5 must be 0 (off) or >= 1"),
    (["--extractability", "0.1", "--extractability-horizon", "-1"], "--extractability-horizon=-1.0 must be >= 0.0"),
    (["--extractability", "0.1", "--extractability-every", "0"], "--extractability-every=0 must be >= 1"),
    (["--extractability", "0.1", "--extractability-every", "x"], "argument --extractability-every: invalid int value: 'x'"),
])
def test_cli_bad_values(capsys, tmp_path, jsonl, args, pattern):
    out = tmp_path / "m.pt"
    rc, _, err = _run(capsys, "train", "--data", jsonl, "--out", out, "--epochs", 1, "--quiet", *args)
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("fsm-extract train: error: ") and pattern in err, err
    assert not out.exists()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_consistency_is_the_step_from_the_soft_centroid(cell):
    """``consistency``'s part of the term, computed by hand one step at a time: each step after
    a word's first is run again from the previous state's soft-assigned centroid, and the mean
    squared difference (per coordinate; an LSTM's h and c) from the state the net reached is
    averaged over those steps (steps outside ``valid`` count nothing)."""
    torch.manual_seed(0)
    net = fx.RNNClassifier("ab", cell=cell, hidden_size=5).double()
    opts = fx.Extractability(temperature=(0.05, 0.05), consistency=2.5)
    reg = Regularizer(net, opts, epochs=1, seed=0)
    reg.centroids.data = reg.centroids.data.double()
    ids = torch.tensor([[0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1]])
    valid = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.bool)
    with torch.no_grad():
        _, with_it = reg.logits(net, ids, valid)
        reg.consistency = 0.0  # the pull alone
        _, without = reg.logits(net, ids, valid)
        w = [p.detach() for p in net.rnn.parameters()]
        cents = reg.centroids.detach()
        errors = []
        for b in range(ids.shape[0]):
            h = torch.zeros(1, 5, dtype=torch.float64)
            c = torch.zeros(1, 5, dtype=torch.float64)
            states = []
            for t in range(int(valid[b].sum())):
                x = net.embedding(ids[b, t : t + 1])
                if cell == "lstm":
                    h, c = torch.lstm_cell(x, (h, c), *w)
                    states.append(torch.cat([h, c], dim=1))
                else:
                    h = torch.gru_cell(x, h, *w)
                    states.append(h)
            for t in range(1, len(states)):
                prev = states[t - 1]
                p = torch.softmax(-((prev - cents) ** 2).mean(1) / 0.05, dim=0)
                q = (p[:, None] * cents).sum(0, keepdim=True)
                x = net.embedding(ids[b, t : t + 1])
                if cell == "lstm":
                    h2, c2 = torch.lstm_cell(x, (q[:, :5], q[:, 5:]), *w)
                    errors.append(((torch.cat([h2, c2], 1) - states[t])[:, :5] ** 2).mean()
                                  + ((torch.cat([h2, c2], 1) - states[t])[:, 5:] ** 2).mean())
                else:
                    errors.append(((torch.gru_cell(x, q, *w) - states[t]) ** 2).mean())
    expected = 2.5 * torch.stack(errors).mean()  # the term before the strength: consistency times the mean
    assert float(with_it - without) > 0.0
    torch.testing.assert_close(with_it - without, expected)


@pytest.mark.parametrize("bias", [True, False])
def test_step_error_gradient_and_value(bias):
    """The consistency's LSTM step in one node: the value is ``torch.lstm_cell``'s step and the
    weighted mean squared error, and its backward is the gradient by every input."""
    from fsm_extract.nets.cell_pull import StepError

    torch.manual_seed(1)
    n, e, width = 7, 3, 4
    args = [torch.randn(*shape, dtype=torch.float64, requires_grad=True)
            for shape in ((n, e), (n, width), (n, width), (n, width), (n, width))]
    weights = torch.rand(n, dtype=torch.float64)
    w_ih = torch.randn(4 * width, e, dtype=torch.float64, requires_grad=True)
    w_hh = torch.randn(4 * width, width, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4 * width, dtype=torch.float64, requires_grad=True) if bias else None

    def error(x, qh, qc, h, c, w_ih, w_hh, *rest):
        return StepError.apply(x, qh, qc, h, c, weights, w_ih, w_hh, rest[0] if rest else None)

    inputs = (*args, w_ih, w_hh, *([b] if bias else []))
    assert torch.autograd.gradcheck(error, inputs)
    x, qh, qc, h, c = args
    h2, c2 = torch.lstm_cell(x, (qh, qc), w_ih, w_hh, b, None if b is None else torch.zeros_like(b))
    expected = (((h2 - h) ** 2).mean(1) + ((c2 - c) ** 2).mean(1)) @ weights
    torch.testing.assert_close(error(*inputs), expected)
