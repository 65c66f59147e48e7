"""Same seed, same automaton (issue 18): unordered words are refused at every boundary, and
results do not depend on PYTHONHASHSEED or on the number of threads. (Randomness hidden in a
user's parts: tests/nets/test_determinism.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fsm_extract as fx
from fsm_extract.errors import ArgumentTypeError


ROOT = Path(__file__).resolve().parents[2]


WORDS = ["0101", "11", "000", "1", "0110", "10", "111", "0", "1001", "01"]


@pytest.fixture(scope="module")
def model():
    return fx.datasets.bundled_model("tomita4")


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
