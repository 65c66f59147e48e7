"""The architecture issue's typed hand-offs: fx.Refinement (and the deprecated keywords),
fx.EarlyStopping, the typed abstraction saved with an automaton, and one Net that counts."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import fsm_extract as fx
from fsm_extract.automata.state_map import FeatureSpec, StateAbstraction
from fsm_extract.errors import ArgumentTypeError, ValidationError
from fsm_extract.networks import exact_lstm


@pytest.fixture(scope="module")
def t4():
    lang = fx.languages.tomita(4)
    return lang, exact_lstm(lang, distractors=2, amplitude=0.1, seed=0), lang.sample(n=300, max_len=14, seed=0)


@pytest.mark.parametrize("kwargs,pattern", [
    ({"features": "all"}, "features='all' must be one of"),
    ({"depth": 0}, "depth=0 must be >= 1"),
    ({"depth": 9}, "depth=9 must be <= 6"),
    ({"threshold": 0.2}, "threshold=0.2 must be >= 0.5"),
    ({"max_rounds": -1}, "max_rounds=-1 must be >= 0"),
    ({"search": -5}, "search=-5 must be >= 0"),
    ({"search": 10**12}, "search=1000000000000 must be <= 1000000000"),
    ({"max_check_steps": 0}, "max_check_steps=0 must be >= 1"),
])
def test_refinement_is_validated_on_construction(kwargs, pattern):
    with pytest.raises(ValidationError, match=pattern):
        fx.Refinement(**kwargs)


def test_refinement_normalises_search_and_is_frozen():
    assert fx.Refinement(search=True).search == 200_000 and fx.Refinement(search=False).search == 0
    r = fx.Refinement(depth=3)
    with pytest.raises(AttributeError):
        r.depth = 4  # type: ignore[misc]
    assert fx.Refinement.of(True) == fx.Refinement() and fx.Refinement.of(False) is None
    with pytest.raises(ArgumentTypeError, match="refine='yes' must be True, False or an fx.Refinement"):
        fx.Refinement.of("yes")


def test_deprecated_keywords_warn_and_give_the_same_automaton(t4):
    lang, net, data = t4
    new = fx.extract(net, data, n_states=6, refine=fx.Refinement(depth=1, max_rounds=1))
    with pytest.warns(DeprecationWarning, match=r"extract\(depth=\.\.\., max_rounds=\.\.\.\) is deprecated"):
        old = fx.extract(net, data, n_states=6, depth=1, max_rounds=1)
    assert new.to_dict(timing=False) == old.to_dict(timing=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new way warns about nothing
        fx.extract(net, data, n_states=6, refine=fx.Refinement(depth=1, max_rounds=1))


def test_unknown_keyword_and_refine_only_keyword_without_refinement(t4):
    _, net, data = t4
    with pytest.raises(ArgumentTypeError, match="extract\\(\\) got an unexpected keyword argument 'dept'"):
        fx.extract(net, data, dept=2)
    with pytest.warns(DeprecationWarning), pytest.raises(ValidationError, match="depth=3 applies only to refined extraction"):
        fx.extract(net, data, refine=False, depth=3)


def test_the_abstraction_is_typed_and_saved(t4, tmp_path):
    lang, net, data = t4
    refined = fx.extract(net, data, n_states=6)
    assert refined.abstraction == StateAbstraction(state="hc", features=refined.abstraction.features)
    assert isinstance(refined.abstraction.features, FeatureSpec) and refined.abstraction.features.depth == 2
    plain = fx.extract(net, data, n_states=12, refine=False)
    assert plain.abstraction == StateAbstraction(state="h", features=None)
    test = lang.sample(n=200, max_len=30, seed=5)
    for name, fsm in (("refined", refined), ("plain", plain)):
        path = fsm.save(tmp_path / f"{name}.json")
        loaded = fx.load_fsm(path)
        assert loaded.abstraction == fsm.abstraction
        saved = json.loads(path.read_text())
        assert saved["version"] == 2 and saved["output_kind"] == "accept"
        # fidelity reads the typed abstraction: the loaded automaton gives the same report
        assert fx.fidelity(net, fsm, test).to_dict() == fx.fidelity(net, loaded, test).to_dict()


def test_one_net_counts_every_step_it_runs(t4):
    lang, net_parts, data = t4
    net = fx.as_net(net_parts)
    assert fx.as_net(net) is net and net.steps == 0
    words = ["0101", "1", "", "000111"]
    from fsm_extract.words import encode_words

    symbols, offsets = encode_words(words, net.alphabet)
    trace = net.trace(symbols, offsets, batch_size=2)
    # batches of two words sorted by length ("1", "0101") and ("000111"): padded to 4 and 6
    assert net.steps == 2 * 4 + 1 * 6
    before = net.steps
    net.step(np.zeros((5, net.state_dim("hc")), np.float32), np.zeros(5, np.int64))
    assert net.steps == before + 5
    np.testing.assert_array_equal(trace.classes, [int(lang.accepts(w[: i + 1])) for w in words for i in range(len(w))])
    assert trace.probs.shape == (trace.n_steps, 2) and trace.n_classes == 2
    with pytest.raises(ArgumentTypeError, match="model=str must be an fsm_extract RNNClassifier"):
        fx.as_net("net")


def test_early_stopping_is_an_options_object():
    assert fx.EarlyStopping() == fx.EarlyStopping(validation_fraction=0.1, patience=10)
    with pytest.raises(ValidationError, match="patience=0 must be >= 1"):
        fx.EarlyStopping(patience=0)
