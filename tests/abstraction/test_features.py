"""Tests of fsm_extract.abstraction.features: FeatureMap (fit, transform, the column cap, to/from
dict) and the continuation outputs it steps the net for."""

from __future__ import annotations

import json

import numpy as np
import pytest

import fsm_extract as fx
from fsm_extract.nets.models import RNNClassifier

from ..helpers import _alphabet


@pytest.fixture(scope="module")
def fifty():
    from fsm_extract.nets.exact import exact_lstm

    lang = fx.languages.random_dfa(n_states=5, alphabet=_alphabet(50), seed=0)
    return lang, exact_lstm(lang)


def test_feature_width_is_capped_and_recorded(fifty):
    from fsm_extract.abstraction.features import MAX_FEATURE_COLUMNS, FeatureMap

    lang, net = fifty
    trace = fx.collect_trace(net, lang.sample(n=20, max_len=6, seed=0), state="hc")
    fmap = FeatureMap.fit(trace, depth=2)
    assert 50 + 50**2 > MAX_FEATURE_COLUMNS
    assert (fmap.depth, fmap.requested_depth, fmap.symbols) == (1, 2, None)
    assert fmap.steps_per_state(50) == 50 and fmap.to_dict()["requested_depth"] == 2
    points = fmap.transform(net, trace.hidden[:7])
    assert points.shape == (7, fmap.hidden_columns + 50)
    small = FeatureMap.fit(trace, depth=2, max_columns=20, seed=3)  # the alphabet alone is too wide
    assert small.depth == 1 and len(small.symbols) == 20 and small.steps_per_state(50) == 20
    assert FeatureMap.fit(trace, depth=2, max_columns=20, seed=3).symbols == small.symbols  # seeded
    again = FeatureMap.from_dict(json.loads(json.dumps(small.to_dict())))
    assert again == small
    np.testing.assert_array_equal(again.transform(net, trace.hidden[:5]), small.transform(net, trace.hidden[:5]))
    assert small.transform(net, trace.hidden[:5]).shape == (5, small.hidden_columns + 20)
    # a two-symbol alphabet is not affected: every continuation up to depth 2
    tiny = FeatureMap.fit(fx.collect_trace(RNNClassifier("01", hidden_size=4), ["0110"], state="hc"), depth=2)
    assert (tiny.depth, tiny.requested_depth, tiny.symbols) == (2, None, None)
    assert "requested_depth" not in tiny.to_dict() and "symbols" not in tiny.to_dict()


def test_continuation_outputs_step_in_bounded_chunks(fifty, monkeypatch):
    from fsm_extract.abstraction import features as behaviour
    from fsm_extract.abstraction.features import FeatureMap

    lang, net = fifty
    trace = fx.collect_trace(net, lang.sample(n=50, max_len=6, seed=0), state="hc")
    fmap = FeatureMap.fit(trace, depth=2, max_columns=3000)  # every pair: 2,550 columns
    assert fmap.depth == 2
    ref = fmap.continuation_outputs(net, trace.hidden[:12])
    rows = []
    real = fx.Net.step

    def spy(self, states, ids, **kw):  # every single step goes through the one net interface
        rows.append(states.shape[0])
        return real(self, states, ids, **kw)

    monkeypatch.setattr(fx.Net, "step", spy)
    monkeypatch.setattr(behaviour, "CHUNK_VALUES", 2550 * trace.dim * 4)  # 4 states at a time
    out = fmap.continuation_outputs(net, trace.hidden[:12])
    np.testing.assert_allclose(out, ref, atol=1e-6)
    assert max(rows) <= 4 * 2500
