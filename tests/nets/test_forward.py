"""Tests of fsm_extract.nets.forward: running a net over encoded words in batches and chunks of
time (the same states as one unchunked run, or as stepping an LSTMCell), in the net's own dtype."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import fsm_extract as fx
from fsm_extract.nets import forward
from fsm_extract.nets.models import RNNClassifier
from fsm_extract.nets.net import collect_trace, collect_trace_encoded
from fsm_extract.words import encode_words

from ..conftest import random_words
from ..helpers import CountingEmbedding
from .conftest import _Net, _adapter


def _stepwise_lstm(model, word):
    """Reference: recompute the states of one word with nn.LSTMCell, one symbol at a time."""
    rnn = model.rnn
    cells = []
    for layer in range(rnn.num_layers):
        c = nn.LSTMCell(rnn.input_size if layer == 0 else rnn.hidden_size, rnn.hidden_size)
        c.weight_ih.data = getattr(rnn, f"weight_ih_l{layer}").data.clone()
        c.weight_hh.data = getattr(rnn, f"weight_hh_l{layer}").data.clone()
        c.bias_ih.data = getattr(rnn, f"bias_ih_l{layer}").data.clone()
        c.bias_hh.data = getattr(rnn, f"bias_hh_l{layer}").data.clone()
        cells.append(c)
    H = rnn.hidden_size
    hs = [torch.zeros(1, H) for _ in cells]
    cs = [torch.zeros(1, H) for _ in cells]
    rows, outs = [], []
    with torch.no_grad():
        for sym in word:
            x = model.embedding(torch.tensor([model.alphabet.index(sym)]))
            for i, cell in enumerate(cells):
                hs[i], cs[i] = cell(x, (hs[i], cs[i]))
                x = hs[i]
            rows.append(torch.cat(hs + cs, dim=1)[0].numpy())
            outs.append(float(torch.sigmoid(model.head(hs[-1]))[0, 0]))
    return np.array(rows).reshape(len(word), -1), np.array(outs)


@pytest.mark.parametrize("layers", [1, 2])
def test_batched_trace_equals_stepwise_lstmcell(layers, rng):
    torch.manual_seed(7)
    model = RNNClassifier("01", hidden_size=16, num_layers=layers)
    words = random_words(rng, 40, max_len=25) + ["", "1"]
    tr_h = collect_trace(model, words, batch_size=7, state="h")
    tr_hc = collect_trace(model, words, batch_size=7, state="hc")
    d = layers * 16
    assert tr_h.dim == d and tr_hc.dim == 2 * d
    for i, w in enumerate(words):
        s, e = tr_h.offsets[i], tr_h.offsets[i + 1]
        assert e - s == len(w)
        if not w:
            continue
        ref, ref_out = _stepwise_lstm(model, w)
        np.testing.assert_allclose(tr_hc.hidden[s:e], ref, atol=1e-5)
        np.testing.assert_allclose(tr_h.hidden[s:e], ref[:, :d], atol=1e-5)
        np.testing.assert_allclose(tr_h.outputs[s:e], ref_out, atol=1e-5)
        assert (tr_h.symbols[s:e] == [int(c) for c in w]).all()


WORDS = ["", "0", "1", "0110", "111", "1010101", "00", "01", "10"] * 4


@pytest.mark.parametrize("cell, layers", [(torch.nn.LSTM, 1), (torch.nn.LSTM, 2), (torch.nn.GRU, 1)])
def test_float64_model_matches_its_float32_copy(cell, layers):
    """Issue 18, 8: float64 weights failed on every call with a torch dtype error."""
    torch.manual_seed(0)
    net32 = _Net(cell, layers)
    net64 = __import__("copy").deepcopy(net32).double()
    a32, a64 = _adapter(net32), _adapter(net64)
    for state in (["h", "hc"] if cell is torch.nn.LSTM else ["h"]):
        t32, t64 = fx.collect_trace(a32, WORDS, state=state), fx.collect_trace(a64, WORDS, state=state)
        assert t64.hidden.dtype == np.float32 and t64.outputs.dtype == np.float32
        np.testing.assert_allclose(t64.hidden, t32.hidden, atol=1e-5)
        np.testing.assert_allclose(t64.outputs, t32.outputs, atol=1e-5)
        assert abs(t64.h0_output - t32.h0_output) < 1e-6
    np.testing.assert_allclose(a64.predict_proba(WORDS), a32.predict_proba(WORDS), atol=1e-5)
    fsm = fx.extract(a64, WORDS, n_states=3, seed=0)
    report = fx.fidelity(a64, fsm, WORDS)
    assert fsm.n_states >= 1 and 0 <= report.to_dict()["prefix_agreement"] <= 1


def test_float64_step_from_and_a_float32_embedding():
    """step_from takes float32 states and runs them in the model's dtype; an embedding giving
    float32 (one-hot) inputs to a float64 net is cast to the net's dtype."""
    from fsm_extract.nets.net import step_from

    torch.manual_seed(0)
    net = _Net().double()
    adapter = _adapter(net, embedding=lambda ids: torch.nn.functional.one_hot(ids, 2).float() @ torch.ones(2, 3))
    states = np.random.default_rng(0).normal(size=(5, 12)).astype(np.float32)
    nxt, out = step_from(adapter, states, np.array([0, 1, 0, 1, 1]), state="hc")
    assert nxt.dtype == np.float32 and out.dtype == np.float32 and np.isfinite(nxt).all()
    assert fx.collect_trace(adapter, WORDS).n_steps > 0


def test_bfloat16_model_extracts_and_measures():
    torch.manual_seed(0)
    net = _Net().to(torch.bfloat16)
    adapter = _adapter(net)
    trace = fx.collect_trace(adapter, WORDS, state="hc")
    assert trace.hidden.dtype == np.float32 and np.isfinite(trace.hidden).all()
    ref = fx.collect_trace(_adapter(__import__("copy").deepcopy(net).float()), WORDS, state="hc")
    np.testing.assert_allclose(trace.hidden, ref.hidden, atol=0.1)  # bfloat16 keeps 8 bits of mantissa
    fsm = fx.extract(adapter, WORDS, n_states=3, seed=0)
    fx.fidelity(adapter, fsm, WORDS)


def test_trace_of_a_long_word_is_chunked_and_equals_the_unchunked_trace(monkeypatch):
    """A word far longer than a chunk is run in pieces of time with the state carried over."""
    from fsm_extract.nets import forward as chunked

    torch.manual_seed(0)
    model = RNNClassifier("01", hidden_size=8)
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(["0", "1"], n)) for n in (3, 700, 1, 250)]
    symbols, offsets = encode_words(words, model.alphabet)
    full = {s: collect_trace_encoded(model, symbols, offsets, state=s) for s in ("h", "hc")}
    calls = []
    real = chunked._run_rnn

    def spy(model, x, st, *, per_step, state):
        calls.append(tuple(x.shape[:2]))
        return real(model, x, st, per_step=per_step, state=state)

    monkeypatch.setattr(chunked, "_run_rnn", spy)
    monkeypatch.setattr(chunked, "CHUNK_VALUES", 4096)  # a few dozen steps per torch call
    monkeypatch.setattr(chunked, "MAX_BATCH_STEPS", 600)  # the 700-word runs alone
    for s in ("h", "hc"):
        part = collect_trace_encoded(model, symbols, offsets, state=s)
        np.testing.assert_allclose(part.hidden, full[s].hidden, atol=1e-5)
        np.testing.assert_allclose(part.outputs, full[s].outputs, atol=1e-5)
    assert calls and max(b * t for b, t in calls) <= 4096 // 8
    assert all(b * t <= 700 for b, t in calls)


# ----------------------------------------------------------------------------- batches and padding
@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=60), st.integers(1, 9), st.integers(1, 120))
def test_batches_hold_each_nonempty_word_once_sorted_and_capped(lengths, batch_size, max_steps):
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    parts = forward.batches(offsets, batch_size, max_steps)
    flat = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    assert sorted(flat.tolist()) == [i for i, n in enumerate(lengths) if n > 0]
    assert [lengths[i] for i in flat] == sorted(lengths[i] for i in flat)  # by length, shortest first
    for idx in parts:
        assert 1 <= idx.size <= batch_size
        assert idx.size == 1 or idx.size * max(lengths[i] for i in idx) <= max_steps
    expected = sum(idx.size * max(lengths[i] for i in idx) for idx in forward.batches(offsets, batch_size))
    assert forward.padded_steps(offsets, batch_size) == expected


@pytest.mark.parametrize("batch_size", [1, 3, 512])
def test_padded_steps_is_exactly_what_a_run_computes(batch_size, rng):
    torch.manual_seed(0)
    net = _Net()
    counter = CountingEmbedding(net.emb)
    adapter = _adapter(net, embedding=counter)
    words = random_words(rng, 25, max_len=12) + ["", ""]
    symbols, offsets = encode_words(words, adapter.alphabet)
    counter.steps = 0
    forward.net_outputs(adapter, symbols, offsets, batch_size=batch_size)
    assert counter.steps == forward.padded_steps(offsets, batch_size) >= symbols.size
    if batch_size == 1:
        assert counter.steps == symbols.size  # one word per batch: no padding at all


@pytest.mark.parametrize("state", ["h", "hc"])
def test_a_run_in_small_chunks_equals_one_unchunked_run(state, rng, monkeypatch):
    torch.manual_seed(1)
    model = RNNClassifier("01", hidden_size=6, num_layers=2)
    words = random_words(rng, 30, max_len=40)
    symbols, offsets = encode_words(words, model.alphabet)
    whole = collect_trace_encoded(model, symbols, offsets, state=state)
    probs, first = forward.net_outputs(model, symbols, offsets, state=state)
    np.testing.assert_allclose(probs, whole.probs, atol=1e-6)  # outputs only: the trace's probabilities
    np.testing.assert_allclose(first, whole.h0_probs, atol=1e-6)
    monkeypatch.setattr(forward, "CHUNK_VALUES", 200)  # a few steps of time per torch call
    monkeypatch.setattr(forward, "MAX_BATCH_STEPS", 50)  # a few words per batch
    pieces = collect_trace_encoded(model, symbols, offsets, state=state)
    np.testing.assert_allclose(pieces.hidden, whole.hidden, atol=1e-5)
    np.testing.assert_allclose(pieces.probs, whole.probs, atol=1e-5)
    np.testing.assert_allclose(forward.net_outputs(model, symbols, offsets, state=state)[0], whole.probs, atol=1e-5)


@pytest.mark.parametrize("cell, layers", [("lstm", 2), ("gru", 3), ("rnn", 1)])
def test_layout_and_unlayout_are_inverse(cell, layers):
    model = RNNClassifier("01", cell=cell, hidden_size=4, num_layers=layers)
    kind = "hc" if cell == "lstm" else "h"
    dim = forward.state_dim(model, kind)
    assert dim == (2 if cell == "lstm" else 1) * layers * 4
    assert forward.state_dim(model, "h") == layers * 4
    vectors = torch.randn(5, dim)
    state = forward.unlayout(vectors, model)
    torch.testing.assert_close(forward.layout(state, cell, kind), vectors)
    if cell == "lstm":
        assert state[0].shape == state[1].shape == (layers, 5, 4)
        torch.testing.assert_close(forward.layout(state, cell, "h"), vectors[:, : layers * 4])
