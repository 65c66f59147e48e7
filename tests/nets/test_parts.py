"""Tests of fsm_extract.nets.parts: what every stage needs from a recurrent net (cell kind, sizes,
dtype, class probabilities from the head, zero states), devices and padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from fsm_extract.errors import ArgumentTypeError, ValidationError
from fsm_extract.nets.models import RecurrentAdapter, RNNClassifier
from fsm_extract.nets.parts import cell_kind, check_device, padded, seed_everything


@pytest.mark.parametrize("rnn, kind", [(nn.LSTM(2, 3), "lstm"), (nn.GRU(2, 3), "gru"), (nn.RNN(2, 3), "rnn")])
def test_cell_kind(rnn, kind):
    assert cell_kind(rnn) == kind


def test_cell_kind_refuses_anything_else():
    with pytest.raises(ArgumentTypeError, match="rnn=Linear must be an nn.LSTM, nn.GRU or nn.RNN"):
        cell_kind(nn.Linear(2, 3))


def test_sizes_dtype_and_zero_state():
    torch.manual_seed(0)
    m = RNNClassifier("01", hidden_size=5, num_layers=2)
    assert (m.cell, m.hidden_size, m.num_layers) == ("lstm", 5, 2)
    h, c = m.zero_state(3)
    assert h.shape == c.shape == (2, 3, 5) and not h.any() and not c.any()
    g = RNNClassifier("01", cell="gru", hidden_size=4).double()
    z = g.zero_state(2)
    assert isinstance(z, torch.Tensor) and z.shape == (1, 2, 4) and z.dtype == torch.float64
    assert g._dtype() == torch.float64 and g._inputs(torch.zeros(1, 2, dtype=torch.long)).dtype == torch.float64


def test_class_probs_are_the_sigmoid_of_the_acceptance_logit():
    torch.manual_seed(1)
    m = RNNClassifier("01", hidden_size=4)
    h = torch.randn(3, 2, 4)
    p = m.class_probs(h)
    assert p.shape == (3, 2, 2)
    torch.testing.assert_close(p.sum(-1), torch.ones(3, 2))
    torch.testing.assert_close(p[..., 1], torch.sigmoid(m.head(h)[..., 0]))


@pytest.mark.parametrize("head, expect", [
    (lambda h: h.sum(-1, keepdim=True), lambda h: h.sum(-1)),                      # (..., 1)
    (lambda h: h.sum(-1), lambda h: h.sum(-1)),                                    # (...)
    (lambda h: torch.stack([h[..., 0], h[..., 1]], -1), lambda h: h[..., 1] - h[..., 0]),  # two class logits
])
def test_accept_logit_reads_every_allowed_head_shape(head, expect):
    torch.manual_seed(2)
    adapter = RecurrentAdapter(embedding=nn.Embedding(2, 3), rnn=nn.GRU(3, 4, batch_first=True), head=head, alphabet="01")
    h = torch.randn(5, 4)
    torch.testing.assert_close(adapter.accept_logit(h), expect(h))


def test_accept_logit_refuses_a_head_that_drops_dimensions():
    adapter = RecurrentAdapter(embedding=nn.Embedding(2, 3), rnn=nn.GRU(3, 4, batch_first=True),
                               head=nn.Linear(4, 1), alphabet="01")
    adapter.head = lambda h: h.sum()
    with pytest.raises(ValidationError, match=r"head must map .*\(2, 4\) gave shape \(\)"):
        adapter.accept_logit(torch.zeros(2, 4))


def test_check_device():
    assert check_device("device", "cpu") == torch.device("cpu")
    assert check_device("device", torch.device("cpu")).type == "cpu"
    with pytest.raises(ArgumentTypeError, match="device=5"):
        check_device("device", 5)
    with pytest.raises(ValidationError, match="device='bogus' must name a torch device"):
        check_device("device", "bogus")
    with pytest.raises(ValidationError, match="'cpu', 'cuda' or 'mps'"):
        check_device("device", "meta")
    if not torch.cuda.is_available():
        with pytest.raises(ValidationError, match="needs CUDA"):
            check_device("device", "cuda:0")


def test_padded_ids_and_lengths():
    symbols = np.array([1, 0, 1, 1, 1, 0], np.int32)
    offsets = np.array([0, 2, 2, 5, 6], np.int64)  # words "10", "", "111", "0" (as ids)
    ids, lengths = padded(symbols, offsets, np.array([2, 0, 1]), pad=7)
    assert ids.dtype == np.int64 and lengths.tolist() == [3, 2, 0]
    assert ids.tolist() == [[1, 1, 1], [1, 0, 7], [7, 7, 7]]
    ids, lengths = padded(symbols, offsets, np.array([1]))
    assert ids.shape == (1, 1) and lengths.tolist() == [0]  # at least one column


def test_seed_everything_makes_torch_and_numpy_repeat():
    seed_everything(3)
    a = (torch.rand(2), np.random.rand(2))
    gen = seed_everything(3)
    b = (torch.rand(2), np.random.rand(2))
    torch.testing.assert_close(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert isinstance(gen, torch.Generator) and gen.initial_seed() == 3
