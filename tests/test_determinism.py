"""Same seed, same automaton (issue 18): unordered words are refused, randomness hidden in a
user's parts is switched off (or refused), and results do not depend on PYTHONHASHSEED or on
the number of threads."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import fsm_extract as fx
from fsm_extract.errors import ArgumentTypeError, ValidationError

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["0101", "11", "000", "1", "0110", "10", "111", "0", "1001", "01"]


@pytest.fixture(scope="module")
def model():
    return fx.datasets.bundled_model("tomita4")


# --- 3a: a set of words has no order ----------------------------------------------------------

@pytest.mark.parametrize("kind", [set, frozenset])
def test_a_set_of_words_is_refused_at_every_boundary(model, kind):
    words = kind(WORDS)
    fsm = fx.ExtractedFSM(alphabet="01", transitions=np.zeros((1, 2), int), accepting=[True], initial=0)
    calls = {
        "data": [lambda: fx.extract(model, words, n_states=4), lambda: fx.extract(model, words, refine=False),
                 lambda: fx.fidelity(model, fsm, words)],
        "validation": [lambda: fx.extract(model, WORDS, n_states="auto", validation=words)],
        "words": [lambda: fx.collect_trace(model, words), lambda: model.predict(words),
                  lambda: model.predict_proba(words), lambda: fsm.predict(words),
                  lambda: fx.datasets.Dataset(words=words, labels=[True] * len(words), alphabet="01"),
                  lambda: fx.languages.tomita(4).accepts_many(words)],
        "fit_data": [lambda: fx.sweep(model, words, WORDS, n_states=[2], progress=False)],
        "test_data": [lambda: fx.sweep(model, WORDS, words, n_states=[2], progress=False)],
    }
    for name, fns in calls.items():
        for fn in fns:
            with pytest.raises(ArgumentTypeError, match=rf"{name} must be an ordered sequence.*sorted\({name}\)"):
                fn()


def test_fit_data_may_be_a_set_because_only_membership_counts(model):
    fsm = fx.extract(model, WORDS, n_states=4, refine=False)
    a = fx.fidelity(model, fsm, WORDS, fit_data=set(WORDS)).to_dict()
    b = fx.fidelity(model, fsm, WORDS, fit_data=sorted(WORDS)).to_dict()
    assert a == b


# --- 3b: dropout hidden in a lambda ---------------------------------------------------------------

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


# --- 3c: byte-identical JSON across processes, hash seeds and thread counts -------------------------

_EXTRACT = """
import sys, torch
torch.set_num_threads(int(sys.argv[1]))
import fsm_extract as fx
from fsm_extract.nets.exact import exact_lstm
lang = fx.languages.tomita(3)
net = exact_lstm(lang, distractors=4, amplitude=0.1, seed=0)
words = sorted(set(lang.sample(n=600, max_len=14, seed=0).words))
fsm = fx.extract(net, words, n_states=8, seed=0)
import json
sys.stdout.write(json.dumps(fsm.to_dict(timing=False), sort_keys=True))
"""


def _run(threads: int, hashseed: str) -> bytes:
    env = {"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": hashseed, "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(_EXTRACT), str(threads)], capture_output=True,
                         env=env, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    return out.stdout


@pytest.mark.slow
def test_extract_is_byte_identical_across_processes_hash_seeds_and_threads():
    a = _run(1, "1")
    b = _run(2, "4242")
    assert a and a == b


def test_timing_lives_in_one_place_and_can_be_dropped(model):
    fsm = fx.extract(model, WORDS, n_states=4, seed=0)
    plain = fx.extract(model, WORDS, n_states=4, seed=0, refine=False)
    for f in (fsm, plain):
        meta = f.to_dict()["metadata"]
        assert set(meta["timing"]) == {"seconds"} and meta["timing"]["seconds"] >= 0
        assert "seconds" not in meta
        assert "timing" not in f.to_dict(timing=False)["metadata"]
        assert "seconds" not in json.dumps(f.to_dict(timing=False))
    assert json.dumps(fsm.to_dict(timing=False)) == json.dumps(fx.extract(model, WORDS, n_states=4, seed=0).to_dict(timing=False))
