"""Tests of the price of the rest (what replacing the net by the automaton costs) and of the
growth note (disagreement that grows with length or nesting) in fidelity reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

import fsm_extract as fx


def _random_words(alphabet, n, max_len, seed):
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list(alphabet), size=int(m))) for m in rng.integers(0, max_len + 1, n)]


@pytest.fixture(scope="module")
def everything_net():
    """An exact net of (a|b)*: it accepts every prefix."""
    return fx.networks.exact_lstm(fx.languages.from_regex("(a|b)*", alphabet="ab"))


def test_price_counts_changed_answers(everything_net):
    # "at most 10 symbols": agrees with the net on every prefix of length <= 10, on none beyond
    short = fx.languages.from_regex("((a|b)(a|b)?)?" * 5, alphabet="ab")
    words = _random_words("ab", 300, 30, seed=1)
    r = fx.fidelity(everything_net, short, words)
    lengths = np.array([len(w) for w in words])
    prefixes = np.concatenate([np.arange(1, m + 1) for m in lengths if m])
    assert r.price["prefix_answers_changed"] == pytest.approx((prefixes > 10).mean())
    assert r.price["word_answers_changed"] == pytest.approx((lengths > 10).mean())
    assert r.price["n_states"] == short.n_states
    assert r.price["net_task_accuracy"] is None  # no labels: words only
    assert "price of the rest" in str(r)
    assert json.loads(json.dumps(r.to_dict()))["price"] == r.price


def test_growth_with_length_is_noted(everything_net):
    short = fx.languages.from_regex("((a|b)(a|b)?)?" * 5, alphabet="ab")
    r = fx.fidelity(everything_net, short, _random_words("ab", 300, 30, seed=2))
    g = r.growth["length"]
    # second quartile of prefix lengths (all <= 10 here) against the top quartile (all > 10)
    assert g["low"][1] <= 10 < g["high_beyond"] + 1
    assert g["grows"] and g["disagreement_low"] == 0.0 and g["disagreement_high"] == 1.0
    assert r.growth["nesting"] is None  # no brackets in the alphabet
    assert any(line.startswith("note: the disagreement grows with prefix length") for line in str(r).splitlines())


def test_no_growth_note_when_disagreement_is_flat():
    # the net of "ends in a" against the spec "ends in b": they disagree on every non-empty
    # prefix, whatever its length: nothing grows
    net = fx.networks.exact_lstm(fx.languages.from_regex("(a|b)*a", alphabet="ab"))
    spec = fx.languages.from_regex("(a|b)*b", alphabet="ab")
    r = fx.fidelity(net, spec, _random_words("ab", 200, 30, seed=3))
    assert r.price["prefix_answers_changed"] == pytest.approx(1.0)
    assert r.growth["length"]["grows"] is False
    assert "grows with" not in str(r)


def test_growth_with_nesting_depth():
    # the net knows Dyck-1 to depth 6; the spec only to depth 1: they part only deeper than 1
    net = fx.networks.exact_lstm(fx.languages.dyck(depth=6))
    spec = fx.languages.dyck(depth=1)
    words = fx.languages.dyck(depth=6).sample(n=400, min_len=0, max_len=24, seed=4).words
    r = fx.fidelity(net, spec, list(words))
    g = r.growth["nesting"]
    assert g is not None and g["by"] == "nesting depth"
    assert g["low"] == [0, 1] and g["high_beyond"] == 2
    assert g["disagreement_low"] == 0.0  # depth <= 1: the two agree on every prefix
    assert g["grows"] and g["disagreement_high"] > 0.01


def test_price_with_labels_and_search():
    lang = fx.languages.tomita(4)
    net = fx.networks.exact_lstm(lang)
    data = lang.sample(n=200, min_len=0, max_len=12, seed=5)
    r = fx.fidelity(net, fx.languages.tomita(4), data)
    assert r.price["prefix_answers_changed"] == 0.0 and r.price["word_answers_changed"] == 0.0
    assert r.price["net_task_accuracy"] == 1.0 and r.price["fsm_task_accuracy"] == 1.0
    assert r.growth["length"]["grows"] is False


def test_a_missing_state_is_not_called_growth():
    # the net of "contains aa" against the spec "contains aa or bb" (a wrong transition, no
    # counter): they part on prefixes with bb but no aa, ever rarer as words grow longer
    net = fx.networks.exact_lstm(fx.languages.from_regex("(a|b)*aa(a|b)*", alphabet="ab"))
    spec = fx.languages.from_regex("(a|b)*(aa|bb)(a|b)*", alphabet="ab")
    r = fx.fidelity(net, spec, _random_words("ab", 600, 40, seed=6))
    assert r.price["prefix_answers_changed"] > 0.0
    assert r.growth["length"]["grows"] is False, r.growth
