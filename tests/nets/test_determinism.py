"""Tests of fsm_extract.nets.determinism: randomness hidden in a user's parts (dropout reached
through a lambda, a bound method or a global) is switched off with a warning, or refused."""

from __future__ import annotations

import functools
import json
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import fsm_extract as fx
from fsm_extract.errors import ValidationError


WORDS = ["0101", "11", "000", "1", "0110", "10", "111", "0", "1001", "01"]


def _net_with_hidden_dropout(p=0.5):
    torch.manual_seed(0)
    emb, lstm, lin, drop = nn.Embedding(2, 8), nn.LSTM(8, 16, batch_first=True), nn.Linear(16, 1), nn.Dropout(p)
    drop.train()
    return emb, lstm, lin, drop


def test_dropout_reached_through_a_lambda_is_switched_off_with_a_warning():
    emb, lstm, lin, drop = _net_with_hidden_dropout()
    with pytest.warns(UserWarning, match=r"eval mode.*Dropout.*embedding"):
        model = fx.RecurrentAdapter(embedding=lambda ids: drop(emb(ids)), rnn=lstm, head=lin, alphabet="01")
    assert not drop.training
    p1, p2 = model.predict_proba(WORDS), model.predict_proba(WORDS)
    np.testing.assert_array_equal(p1, p2)
    a = fx.extract(model, WORDS * 5, n_states=4, seed=0)
    b = fx.extract(model, WORDS * 5, n_states=4, seed=0)
    assert json.dumps(a.to_dict(timing=False)) == json.dumps(b.to_dict(timing=False))


def test_dropout_in_a_bound_method_and_a_global_is_found():
    emb, lstm, lin, drop = _net_with_hidden_dropout()

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.drop = lin, nn.Dropout(0.5)

        def classify(self, h):
            return self.lin(self.drop(h))

    head = Head().train()
    with pytest.warns(UserWarning, match=r"Dropout"):
        fx.RecurrentAdapter(embedding=emb, rnn=lstm, head=head.classify, alphabet="01")
    assert not head.drop.training
    globals()["_GLOBAL_DROP"] = drop
    try:
        drop.train()
        with pytest.warns(UserWarning, match=r"Dropout"):
            fx.RecurrentAdapter(embedding=lambda ids: _GLOBAL_DROP(emb(ids)), rnn=lstm, head=lin, alphabet="01")  # noqa: F821
        assert not drop.training
    finally:
        del globals()["_GLOBAL_DROP"]


@pytest.mark.filterwarnings("ignore:.*identical forward passes")
def test_randomness_that_eval_mode_cannot_stop_is_refused():
    emb, lstm, lin, _ = _net_with_hidden_dropout()
    with pytest.raises(ValidationError, match=r"two identical forward passes differ.*head.*eval mode"):
        fx.RecurrentAdapter(embedding=emb, rnn=lstm, head=lambda h: lin(h) + torch.randn(h.shape[:-1] + (1,)),
                            alphabet="01")


def test_a_net_switched_to_train_mode_later_is_caught_at_extract():
    emb, lstm, lin, drop = _net_with_hidden_dropout()
    drop.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a deterministic net: no warning
        model = fx.RecurrentAdapter(embedding=lambda ids: drop(emb(ids)), rnn=lstm, head=lin, alphabet="01")
    drop.train()
    with pytest.warns(UserWarning, match="Dropout"):
        fx.extract(model, WORDS, n_states=3, refine=False)
    assert not drop.training


def test_eval_mode_switches_every_part_off_and_restores_the_modes():
    from fsm_extract.nets.determinism import eval_mode

    emb, lstm, lin, drop = _net_with_hidden_dropout()
    model = fx.RecurrentAdapter(embedding=emb, rnn=lstm, head=lin, alphabet="01")
    emb.train()
    lin.train()
    lstm.eval()
    with eval_mode(model):
        assert not emb.training and not lin.training and not lstm.training
    assert emb.training and lin.training and not lstm.training
    with pytest.raises(RuntimeError), eval_mode(model):
        raise RuntimeError("the modes come back on errors too")
    assert emb.training and lin.training


def test_reachable_modules_finds_modules_behind_closures_and_attributes():
    from fsm_extract.nets.determinism import reachable_modules

    emb, lstm, lin, drop = _net_with_hidden_dropout()

    class Holder:  # a callable object: its attributes are followed
        def __init__(self):
            self.inner = {"drop": drop}

        def __call__(self, h):
            return h

    holder = Holder()
    found = dict((id(m), path) for path, m in reachable_modules(lambda ids: drop(emb(ids)), "embedding"))
    assert id(drop) in found and id(emb) in found and found[id(drop)].startswith("embedding")
    paths = {path: m for path, m in reachable_modules(holder, "head")}
    assert paths.get("head.inner['drop']") is drop
    assert any(m is lin for _, m in reachable_modules(functools.partial(lambda f, h: f(h), lin), "head"))
    assert reachable_modules(5, "x") == []


def test_a_deterministic_model_passes_without_a_warning():
    from fsm_extract.nets.determinism import check_deterministic

    torch.manual_seed(0)
    model = fx.RNNClassifier("01", hidden_size=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_deterministic(model)
