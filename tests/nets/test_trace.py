import numpy as np
import pytest

from fsm_extract.errors import ValidationError
from fsm_extract.nets.models import RNNClassifier
from fsm_extract.nets.net import collect_trace
from fsm_extract.nets.trace import Trace

from ..conftest import random_words


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
