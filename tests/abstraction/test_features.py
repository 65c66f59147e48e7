"""Tests of fsm_extract.abstraction.features: FeatureMap (fit, transform, the column cap, to/from
dict) and the continuation outputs it steps the net for."""

from __future__ import annotations

import json

import numpy as np
import pytest

import fsm_extract as fx
from fsm_extract.abstraction.features import FeatureMap, continuation_words, output_columns
from fsm_extract.errors import DataFormatError, ValidationError
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


# ----------------------------------------------------------------------------- on a tiny exact net
T4_WORDS = ["", "0", "00", "000", "1", "01", "001", "0001", "10", "100", "0100"]


@pytest.fixture(scope="module")
def t4():
    from fsm_extract.nets.exact import exact_lstm

    net = exact_lstm(fx.languages.tomita(4))  # no "000": accepts until three zeros in a row
    return net, fx.collect_trace(net, T4_WORDS, state="hc")


def test_continuation_words_are_every_word_shortest_first():
    assert continuation_words(2, 2) == [(0,), (1,), (0, 0), (0, 1), (1, 0), (1, 1)]
    assert continuation_words(3, 1) == [(0,), (1,), (2,)]
    assert len(continuation_words(3, 3)) == 3 + 9 + 27


def test_output_columns_keep_one_column_for_an_acceptor():
    two = np.array([[0.2, 0.8], [0.9, 0.1]], np.float32)
    np.testing.assert_array_equal(output_columns(two), two[:, 1:])  # the acceptance probability alone
    three = np.array([[0.2, 0.5, 0.3]], np.float32)
    np.testing.assert_array_equal(output_columns(three), three)


def test_fit_scales_hidden_coordinates_to_unit_rms_norm(t4):
    net, trace = t4
    fmap = FeatureMap.fit(trace, features="both", depth=2)
    half = trace.dim // 2  # the h part of an LSTM's "hc" state
    assert (fmap.hidden_columns, fmap.state, fmap.depth, fmap.features) == (half, "hc", 2, "both")
    h = trace.hidden[:, :half].astype(np.float64)
    assert fmap.hidden_scale == pytest.approx(np.sqrt((h**2).sum(1).mean()))
    points = fmap.transform(net, trace.hidden)
    assert points.shape == (trace.n_steps, half + 2 + 4) and points.dtype == np.float32
    scaled = points[:, :half]
    assert np.sqrt((scaled.astype(np.float64) ** 2).sum(1).mean()) == pytest.approx(1.0, rel=1e-5)
    weighted = FeatureMap.fit(trace, features="both", depth=2, hidden_weight=3.0, behaviour_weight=0.5)
    other = weighted.transform(net, trace.hidden)
    np.testing.assert_allclose(other[:, :half], 3.0 * scaled, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(other[:, half:], 0.5 * points[:, half:], rtol=1e-5, atol=1e-6)


def test_transform_shapes_per_kind(t4):
    net, trace = t4
    half = trace.dim // 2
    for kind, width in (("hidden", half), ("behaviour", 2 + 4), ("both", half + 6)):
        fmap = FeatureMap.fit(trace, features=kind, depth=2)
        assert fmap.transform(net, trace.hidden).shape == (trace.n_steps, width)
        assert fmap.uses_net == (kind != "hidden")
        assert fmap.steps_per_state(2) == (0 if kind == "hidden" else 6)


def test_behaviour_columns_are_the_nets_answers_on_each_continuation(t4):
    """Column c of the state after word w is the net's acceptance probability after w + c."""
    net, trace = t4
    fmap = FeatureMap.fit(trace, features="behaviour", depth=3)
    cols = fmap.transform(net, trace.hidden)
    conts = continuation_words(2, 3)
    assert cols.shape == (trace.n_steps, len(conts))
    for i, w in enumerate(T4_WORDS):
        if not w:
            continue
        t = trace.offsets[i + 1] - 1  # the state after the whole word
        expected = net.predict_proba([w + "".join(str(a) for a in c) for c in conts])
        np.testing.assert_allclose(cols[t], expected, atol=1e-5)
        # and for tomita 4 those answers are the language's
        lang = fx.languages.tomita(4)
        assert [bool(p > 0.5) for p in cols[t]] == [lang.accepts(w + "".join(map(str, c))) for c in conts]


def test_behaviour_of_an_lstm_needs_its_full_state():
    net = fx.RNNClassifier("01", hidden_size=3)
    trace = fx.collect_trace(net, ["01", "1"], state="h")
    with pytest.raises(ValidationError, match="state='hc'"):
        FeatureMap.fit(trace, features="behaviour")
    assert FeatureMap.fit(trace, features="hidden").hidden_columns == 3  # coordinates alone are fine


def test_feature_map_round_trips_and_checks_its_fields(t4):
    _, trace = t4
    fmap = FeatureMap.fit(trace, depth=2, hidden_weight=0.5)
    again = FeatureMap.from_dict(json.loads(json.dumps(fmap.to_dict())))
    assert again == fmap
    with pytest.raises(DataFormatError, match="metadata 'features'"):
        FeatureMap.from_dict({"features": "both", "depth": 0})
    with pytest.raises(DataFormatError):
        FeatureMap.from_dict({"bogus": 1})
    with pytest.raises(ValidationError, match="features="):
        FeatureMap(features="all")
    with pytest.raises(ValidationError, match="hidden_scale=0.0"):
        FeatureMap(hidden_scale=0.0)
    with pytest.raises(ValidationError, match="with depth=1"):
        FeatureMap(depth=2, symbols=(0, 1))
    assert FeatureMap(features="hidden", depth=0).depth == 0  # coordinates need no continuation
