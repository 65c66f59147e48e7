import numpy as np
import pytest
import torch
from torch import nn

import fsm_extract as fx
from fsm_extract.errors import ArgumentTypeError, UnknownSymbolError, ValidationError
from fsm_extract.nets.models import RecurrentAdapter, RNNClassifier
from fsm_extract.nets.net import collect_trace, step_from
from fsm_extract.nets.trace import Trace

from ..conftest import random_words


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


def test_trace_invariants_and_helpers(rng):
    model = RNNClassifier("01", hidden_size=8)
    words = random_words(rng, 30)
    tr = collect_trace(model, words)
    assert tr.hidden.dtype == np.float32 and tr.symbols.dtype == np.int32 and tr.offsets.dtype == np.int64
    assert tr.n_words == 30 and tr.n_steps == sum(map(len, words))
    assert not tr.hidden.flags.writeable
    np.testing.assert_array_equal(tr.lengths, [len(w) for w in words])
    np.testing.assert_allclose(tr.final_outputs(), model.predict_proba(words))
    prev = tr.previous_hidden()
    for i in range(tr.n_words):
        if tr.lengths[i]:
            assert (prev[tr.offsets[i]] == tr.h0).all()
    assert (tr.word_of_step() == np.repeat(np.arange(30), tr.lengths)).all()


def _trace_kwargs():
    return dict(
        hidden=np.zeros((3, 2), np.float32),
        symbols=np.array([0, 1, 0], np.int32),
        offsets=np.array([0, 2, 3], np.int64),
        h0=np.zeros(2, np.float32),
        outputs=np.array([0.1, 0.9, 0.5], np.float32),
        h0_output=0.5,
        alphabet=("0", "1"),
    )


@pytest.mark.parametrize(
    "change, match",
    [
        ({"hidden": np.zeros((3,), np.float32)}, "shape"),
        ({"symbols": np.array([0, 1], np.int32)}, "one entry per step"),
        ({"offsets": np.array([0, 2, 4], np.int64)}, "end at n_steps=3"),
        ({"offsets": np.array([0, 3, 2, 3], np.int64)}, "non-decreasing"),
        ({"symbols": np.array([0, 2, 0], np.int32)}, r"symbols must be in \[0, 2\)"),
        ({"hidden": np.array([[0, 0], [np.nan, 0], [0, 0]], np.float32)}, "finite"),
        ({"hidden": np.array([[0, 0], [np.inf, 0], [0, 0]], np.float32)}, "finite"),
        ({"h0": np.zeros(3, np.float32)}, "h0 must have shape"),
        ({"outputs": np.array([0.1, 1.5, 0.5], np.float32)}, "probabilities"),
        ({"state": "c"}, "state='c'"),
    ],
)
def test_trace_rejects_broken_arrays(change, match):
    Trace(**_trace_kwargs())
    with pytest.raises(ValidationError, match=match):
        Trace(**{**_trace_kwargs(), **change})


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
