"""Tests of fsm_extract.nets.net: the one Net interface (trace, outputs, step, the step counter),
as_net, collect_trace and step_from."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import fsm_extract as fx
from fsm_extract.errors import ArgumentTypeError, UnknownSymbolError, ValidationError
from fsm_extract.nets.models import RecurrentAdapter, RNNClassifier
from fsm_extract.nets.net import collect_trace, step_from

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
