import os

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from hypothesis import HealthCheck, settings

import fsm_extract as fx

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("slow", deadline=None, max_examples=500, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# One torch thread: on the 2-core CI machine a second thread mostly waits on the first (a
# 20-word forward pass took 0.5 s instead of 0.2 ms with two threads under load).
torch.set_num_threads(1)
threadpool_limits(limits=1)  # the same for OpenMP/BLAS pools (scikit-learn, NumPy)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def random_words(rng, n, alphabet="01", min_len=0, max_len=30):
    return ["".join(rng.choice(list(alphabet), rng.integers(min_len, max_len + 1))) for _ in range(n)]


#: The rare behaviour planted in ``planted``'s net (a 12-symbol word that flips the answer).
TRIGGER = "011010011100"


@pytest.fixture(scope="session")
def planted():
    """(language, exact net, extracted FSM): a random 5-state DFA with TRIGGER planted, its exact
    LSTM (disguised), and the automaton extracted from words sampled without the trigger, which
    misses it. Built once: tests/analysis and tests/extraction share it."""
    from fsm_extract.nets.exact import exact_lstm, plant_trigger

    base = fx.languages.random_dfa(n_states=5, alphabet="01", seed=3)
    lang = plant_trigger(base, TRIGGER)
    net = exact_lstm(lang, distractors=4, amplitude=0.1, seed=1)
    fsm = fx.extract(net, base.sample(n=2000, min_len=0, max_len=20, seed=0), n_states=16)
    return lang, net, fsm


@pytest.fixture
def t4_exact(tmp_path):
    """The exact Tomita-4 LSTM and 200 of its words, saved as files for the CLI."""
    from fsm_extract.nets.exact import exact_lstm

    lang = fx.languages.tomita(4)
    model_path = exact_lstm(lang).save(tmp_path / "t4.pt")
    data_path = lang.sample(n=200, max_len=12, seed=0).to_jsonl(tmp_path / "t4.jsonl")
    return model_path, data_path
