import numpy as np
import pytest
import torch
from torch import nn

import fsm_extract as fx
from fsm_extract.errors import ArgumentTypeError, FsmExtractError, ValidationError
from fsm_extract.nets.models import RecurrentAdapter, RNNClassifier

from .conftest import _Net, _adapter


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("layers", [1, 2])
def test_forward_shapes(cell, layers):
    torch.manual_seed(0)
    m = RNNClassifier("01", cell=cell, hidden_size=8, num_layers=layers)
    logits = m(torch.zeros(3, 5, dtype=torch.long))
    assert logits.shape == (3, 5)
    assert m.cell == cell and m.num_layers == layers
    assert m.predict(["", "0", "0110"]).dtype == bool


def test_predict_matches_forward():
    torch.manual_seed(1)
    m = RNNClassifier("ab", hidden_size=8).eval()
    words = ["abba", "a", "", "bbbbbbb"]
    probs = m.predict_proba(words)
    with torch.no_grad():
        for w, p in zip(words, probs):
            if w:
                ids = torch.tensor([[m.alphabet.index(c) for c in w]])
                expect = torch.sigmoid(m(ids)[0, -1])
            else:
                expect = torch.sigmoid(m.empty_logit())
            assert abs(float(expect) - float(p)) < 1e-6


def test_save_is_atomic(tmp_path, monkeypatch):
    m = RNNClassifier("01", hidden_size=4)
    target = tmp_path / "m.pt"

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(RuntimeError):
        m.save(target)
    assert list(tmp_path.iterdir()) == []


def test_bad_constructor_arguments():
    with pytest.raises(ValidationError, match="cell='transformer'"):
        RNNClassifier("01", cell="transformer")
    with pytest.raises(ValidationError, match="hidden_size=0 must be >= 1"):
        RNNClassifier("01", hidden_size=0)
    with pytest.raises(ArgumentTypeError, match="hidden_size"):
        RNNClassifier("01", hidden_size=2.5)
    with pytest.raises(ValidationError, match="distinct"):
        RNNClassifier("00")
    with pytest.raises(FsmExtractError):
        RNNClassifier("01").predict(["012"])


class UserNet(nn.Module):
    """A model of the user's own: one-hot inputs, a GRU, a two-class head."""

    def __init__(self):
        super().__init__()
        self.rec = nn.GRU(3, 7, batch_first=True)
        self.out = nn.Linear(7, 2)

    def forward(self, ids):
        h, _ = self.rec(nn.functional.one_hot(ids, 3).float())
        return self.out(h)


def test_adapter_for_user_model():
    torch.manual_seed(3)
    net = UserNet().eval()
    adapter = RecurrentAdapter(
        embedding=lambda ids: nn.functional.one_hot(ids, 3).float(), rnn=net.rec, head=net.out, alphabet="abc"
    )
    words = ["abc", "cab", "a", "ccccc"]
    pred = adapter.predict(words)
    with torch.no_grad():
        for w, p in zip(words, pred):
            logits = net(torch.tensor([["abc".index(c) for c in w]]))[0, -1]
            assert bool(logits[1] > logits[0]) == bool(p)


def test_adapter_validation():
    with pytest.raises(ValidationError, match="batch_first"):
        RecurrentAdapter(embedding=nn.Embedding(2, 3), rnn=nn.LSTM(3, 4), head=nn.Linear(4, 1), alphabet="01")
    with pytest.raises(ArgumentTypeError, match="rnn="):
        RecurrentAdapter(embedding=nn.Embedding(2, 3), rnn=nn.Linear(3, 4), head=nn.Linear(4, 1), alphabet="01")
    with pytest.raises(ArgumentTypeError, match="must be an fsm_extract RNNClassifier"):
        fx.collect_trace(nn.LSTM(3, 4), ["01"])


def test_a_squeezing_head_is_caught_at_construction():
    """Issue 18, 9: ``lambda h: lin(h).squeeze()`` gave a bare IndexError on the (1, H) state."""
    torch.manual_seed(0)
    net = _Net()
    with pytest.raises(ValidationError) as info:
        fx.RecurrentAdapter(embedding=net.emb, rnn=net.rnn, head=lambda h: net.out(h).squeeze(), alphabet="01")
    msg = str(info.value)
    assert msg.startswith("head must map") and "squeeze" in msg and "(1, 6) gave shape ()" in msg


def test_a_bad_head_swapped_in_later_is_a_validation_error():
    torch.manual_seed(0)
    net = _Net()
    adapter = _adapter(net)
    adapter.head = lambda h: net.out(h).squeeze()
    with pytest.raises(ValidationError, match=r"head must map .*gave shape \(\)"):
        fx.collect_trace(adapter, ["01", "1"])


@pytest.mark.parametrize("head, needle", [
    (lambda h: (h.sum(-1, keepdim=True) > 0).long(), "dtype torch.int64"),
    (lambda h: h.sum().reshape(1), "gave shape (1,)"),
    (lambda h: "logit", "gave str"),
    (lambda h: 1 / 0, "raised ZeroDivisionError"),
])
def test_heads_of_the_wrong_kind_are_refused_at_construction(head, needle):
    net = _Net()
    with pytest.raises(ValidationError) as info:
        fx.RecurrentAdapter(embedding=net.emb, rnn=net.rnn, head=head, alphabet="01")
    assert str(info.value).startswith("head must map") and needle in str(info.value)


def test_a_wide_head_is_a_classifier_and_next_symbol_must_be_declared():
    net = _Net()
    three = fx.RecurrentAdapter(embedding=net.emb, rnn=net.rnn, head=lambda h: h[..., :3], alphabet="01")
    assert three.output_kind == "classes" and three.n_classes == 3
    assert fx.collect_trace(three, ["01", "1"]).probs.shape == (3, 3)
    lm = fx.RecurrentAdapter(embedding=net.emb, rnn=net.rnn, head=lambda h: h[..., :3], alphabet="01",
                             outputs="next-symbol")
    assert lm.output_kind == "next-symbol" and lm.predict(["0"]).dtype == np.int64
    with pytest.raises(ValidationError, match=r"outputs='next-symbol' needs a head of width \|alphabet\| \+ 1 = 3.*got 2"):
        fx.RecurrentAdapter(embedding=net.emb, rnn=net.rnn, head=lambda h: h[..., :2], alphabet="01", outputs="next-symbol")
    two = fx.RecurrentAdapter(embedding=net.emb, rnn=net.rnn, head=lambda h: h[..., :2], alphabet="01", outputs="classes")
    assert two.output_kind == "classes" and two.n_classes == 2
    with pytest.raises(ValidationError, match="outputs='classes' needs a head of width >= 2"):
        fx.RecurrentAdapter(embedding=net.emb, rnn=net.rnn, head=net.out, alphabet="01", outputs="classes")
    with pytest.raises(ValidationError, match="outputs"):
        fx.RecurrentAdapter(embedding=net.emb, rnn=net.rnn, head=net.out, alphabet="01", outputs="tags")


def test_heads_of_every_allowed_shape_are_accepted():
    net = _Net()
    for head in (net.out, lambda h: net.out(h)[..., 0], lambda h: torch.cat([-net.out(h), net.out(h)], -1)):
        adapter = fx.RecurrentAdapter(embedding=net.emb, rnn=net.rnn, head=head, alphabet="01")
        assert fx.collect_trace(adapter, ["01", ""]).n_steps == 2


class _NormHead(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.norm, self.lin = torch.nn.BatchNorm1d(6), torch.nn.Linear(6, 1)

    def forward(self, h):
        return self.lin(self.norm(h.reshape(-1, 6))).reshape(*h.shape[:-1], 1)


def test_the_head_probe_leaves_a_training_batch_norm_head_alone():
    """A head module is probed in eval mode: a batch of one does not break batch norm and its
    running statistics do not move; its training mode is restored."""
    net, head = _Net(), _NormHead()
    head.train()
    before = head.norm.running_mean.clone()
    fx.RecurrentAdapter(embedding=net.emb, rnn=net.rnn, head=head, alphabet="01")
    assert head.training and torch.equal(head.norm.running_mean, before)
