import os

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from hypothesis import HealthCheck, settings

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
