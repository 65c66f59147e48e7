"""Tests of fsm_extract.nets.net: the one Net interface (trace, outputs, step, the step counter),
as_net, collect_trace and step_from."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import fsm_extract as fx
from fsm_extract.errors import ArgumentTypeError, UnknownSymbolError, ValidationError
from fsm_extract.nets.forward import padded_steps
from fsm_extract.nets.models import RecurrentAdapter, RNNClassifier
from fsm_extract.nets.net import Net, as_net, collect_trace, collect_trace_encoded, step_from
from fsm_extract.words import encode_words

from ..conftest import random_words


def test_trace_bad_inputs():
    model = RNNClassifier("01", hidden_size=4)
    with pytest.raises(UnknownSymbolError, match="'2'"):
        collect_trace(model, ["0120"])
    ds = fx.Dataset(["ab"], [True], "ab")
    with pytest.raises(ValidationError, match="alphabet"):
        collect_trace(model, ds)
    with pytest.raises(ValidationError, match="state='hc' needs an LSTM"):
        collect_trace(RNNClassifier("01", cell="gru", hidden_size=4), ["01"], state="hc")
    with pytest.raises(ArgumentTypeError):
        collect_trace(model, "0101")
    with pytest.raises(ValidationError, match="batch_size=0"):
        collect_trace(model, ["01"], batch_size=0)


def test_step_from_matches_trace(rng):
    torch.manual_seed(5)
    for cell, state in (("lstm", "hc"), ("gru", "h"), ("rnn", "h")):
        model = RNNClassifier("01", cell=cell, hidden_size=8, num_layers=2)
        tr = collect_trace(model, random_words(rng, 20), state=state)
        nxt, out = step_from(model, tr.previous_hidden(), tr.symbols, state=state)
        np.testing.assert_allclose(nxt, tr.hidden, atol=1e-5)
        np.testing.assert_allclose(out, tr.outputs, atol=1e-5)
    with pytest.raises(ValidationError, match="state='hc'"):
        step_from(RNNClassifier("01", hidden_size=4), np.zeros((1, 4)), np.zeros(1, int), state="h")


def test_user_model_trace():
    torch.manual_seed(4)
    emb, rnn, head = nn.Embedding(2, 3), nn.LSTM(3, 5, batch_first=True), nn.Linear(5, 1)
    adapter = RecurrentAdapter(embedding=emb, rnn=rnn, head=head, alphabet="01")
    tr = collect_trace(adapter, ["0110", "1"], state="hc")
    with torch.no_grad():
        out, _ = rnn(emb(torch.tensor([[0, 1, 1, 0]])))
    np.testing.assert_allclose(tr.hidden[:4, :5], out[0].numpy(), atol=1e-6)


# ----------------------------------------------------------------------------- the Net interface
@pytest.fixture
def small():
    torch.manual_seed(6)
    return RNNClassifier("01", hidden_size=5, num_layers=2)


def test_net_steps_counts_exactly_the_steps_run(small, rng):
    net = Net(small)
    assert net.steps == 0
    words = random_words(rng, 40, max_len=15) + [""]
    symbols, offsets = encode_words(words, small.alphabet)
    trace = net.trace(symbols, offsets, batch_size=7)
    assert net.steps == padded_steps(offsets, 7) and trace.n_steps == symbols.size
    before = net.steps
    probs, first = net.outputs(symbols, offsets, batch_size=4)
    assert net.steps - before == padded_steps(offsets, 4)
    np.testing.assert_allclose(probs, trace.probs, atol=1e-6)
    np.testing.assert_allclose(first, net.h0_probs())
    full = net.trace(symbols, offsets, state="hc")
    before = net.steps
    nxt, p = net.step(full.previous_hidden()[:9], full.symbols[:9])
    assert net.steps - before == 9  # one step per state
    np.testing.assert_allclose(nxt, full.hidden[:9], atol=1e-5)
    np.testing.assert_allclose(p, full.probs[:9], atol=1e-5)
    assert "steps=" in repr(net)


def test_net_describes_the_parts(small):
    net = Net(small)
    assert net.alphabet == ("0", "1") and net.cell == "lstm" and net.hidden_size == 5 and net.num_layers == 2
    assert net.full_state == "hc" and net.state_dim("h") == 10 and net.state_dim("hc") == 20
    gru = Net(RNNClassifier("01", cell="gru", hidden_size=3))
    assert gru.full_state == "h" and gru.state_dim("h") == 3
    p = net.h0_probs()
    assert p.shape == (2,) and p.dtype == np.float32 and abs(float(p.sum()) - 1.0) < 1e-6


def test_net_step_checks_its_arguments(small):
    net = Net(small)
    with pytest.raises(ValidationError, match="state='h' does not hold an LSTM's full state"):
        net.step(np.zeros((1, 10)), [0], state="h")
    with pytest.raises(ValidationError, match=r"states must have shape \(n, 20\)"):
        net.step(np.zeros((1, 10)), [0])
    with pytest.raises(ValidationError, match=r"symbol_ids must have shape \(2,\)"):
        net.step(np.zeros((2, 20)), [0])
    with pytest.raises(ValidationError, match=r"symbol_ids must be in \[0, 2\)"):
        net.step(np.zeros((1, 20)), [2])
    nxt, probs = net.step(np.zeros((0, 20)), np.zeros(0, int))
    assert nxt.shape == (0, 20) and probs.shape == (0, 2) and net.steps == 0
    with pytest.raises(ValidationError, match="state='hc' needs an LSTM"):
        Net(RNNClassifier("01", cell="rnn", hidden_size=2)).trace(np.zeros(0, np.int32), np.zeros(1, np.int64), state="hc")


def test_as_net_wraps_parts_and_keeps_a_net(small):
    net = as_net(small)
    assert isinstance(net, Net) and net.parts is small
    assert as_net(net) is net  # a Net is passed through, its counter with it
    assert as_net(small, check=True).parts is small
    for bad in (None, "model", torch.nn.LSTM(2, 3)):
        with pytest.raises(ArgumentTypeError, match="must be an fsm_extract RNNClassifier or a RecurrentAdapter"):
            as_net(bad, name="m")
    with pytest.raises(ArgumentTypeError, match="parts must be"):
        Net(torch.nn.GRU(2, 3))


def test_collect_trace_encoded_equals_collect_trace(small, rng):
    words = random_words(rng, 12, max_len=9)
    symbols, offsets = encode_words(words, small.alphabet)
    a = collect_trace(small, words, state="hc")
    b = collect_trace_encoded(small, symbols, offsets, state="hc")
    np.testing.assert_array_equal(a.hidden, b.hidden)
    np.testing.assert_array_equal(a.probs, b.probs)
    np.testing.assert_array_equal(a.offsets, b.offsets)
