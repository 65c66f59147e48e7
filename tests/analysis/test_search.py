import json

import numpy as np
import pytest

import fsm_extract as fx
from fsm_extract.errors import ArgumentTypeError, ValidationError
from fsm_extract.nets.exact import exact_lstm
from fsm_extract.analysis.search import search_disagreements

from ..conftest import TRIGGER
from ..helpers import CountingEmbedding


def test_finds_the_planted_trigger_and_verifies_every_report(planted):
    lang, net, fsm = planted
    assert not fsm.equivalent(lang)  # sampling missed the rare behaviour
    result = search_disagreements(net, fsm, budget=200_000, seed=0)
    assert result.steps_spent <= result.budget == 200_000
    assert result.disagreements, "search must find the planted behaviour"
    words = [d.word for d in result.disagreements]
    assert any(TRIGGER in w for w in words)
    assert [len(w) for w in words] == sorted(len(w) for w in words)  # shortest first
    net_says, fsm_says = net.predict(words), fsm.predict(words)
    assert (net_says != fsm_says).all()  # no false alarms
    for d, n_acc, f_acc in zip(result.disagreements, net_says, fsm_says):
        assert d.net_accepts == bool(n_acc) and d.fsm_accepts == bool(f_acc)
        assert d.net_accepts == lang.accepts(d.word)
        if d.step is not None:
            assert 0 <= d.step < len(d.word) and d.symbol == d.word[d.step]
            assert d.state == fsm.run(d.word)[d.step]
    assert sum(s["found"] for s in result.by_strategy.values()) >= len(result.disagreements)
    json.dumps(result.to_dict())
    assert "verified disagreement" in str(result)


def test_no_disagreement_when_the_fsm_is_exact():
    lang = fx.languages.tomita(4)
    net = exact_lstm(lang, distractors=4, amplitude=0.1, seed=0)
    fsm = fx.extract(net, lang.sample(n=1000, max_len=20, seed=0), n_states=12)
    assert fsm.equivalent(lang)
    result = search_disagreements(net, fsm, budget=50_000, seed=1)
    assert result.disagreements == ()
    assert 0 < result.steps_spent <= 50_000
    assert set(result.by_strategy) == {"systematic", "explore", "random"}


def test_same_seed_same_result(planted):
    _, net, fsm = planted
    a = search_disagreements(net, fsm, budget=30_000, seed=5)
    b = search_disagreements(net, fsm, budget=30_000, seed=5)
    assert a.to_dict() == b.to_dict()


def test_bad_input(planted):
    _, net, fsm = planted
    with pytest.raises(ValidationError, match="budget=0 must be >= 1"):
        search_disagreements(net, fsm, budget=0)
    with pytest.raises(ArgumentTypeError, match="fsm must be an ExtractedFSM"):
        search_disagreements(net, "fsm.json")
    other = fx.ExtractedFSM(alphabet="ab", transitions=np.zeros((1, 2), int), accepting=[True], initial=0)
    with pytest.raises(ValidationError, match="alphabet"):
        search_disagreements(net, other)
    with pytest.raises(ArgumentTypeError, match="max_len"):
        search_disagreements(net, fsm, max_len=2.5)


def _counted(net):
    counter = CountingEmbedding(net.embedding)
    model = fx.RecurrentAdapter(embedding=counter, rnn=net.rnn, head=net.head, alphabet=net.alphabet)
    counter.steps = 0  # the adapter's own probe of the embedding
    return model, counter


@pytest.mark.parametrize("budget", [1, 40, 5_000, 60_000])
def test_steps_spent_is_what_the_net_ran(planted, budget):
    """The budget counts every step the net computes: padding, features and verification too."""
    _, net, fsm = planted
    model, counter = _counted(net)
    result = search_disagreements(model, fsm, budget=budget, seed=3)
    assert counter.steps == result.steps_spent <= budget
    if budget >= 5_000:
        assert result.steps_spent >= 0.9 * budget  # and the budget is used, not left idle


def test_unverified_candidates_are_counted_not_reported(planted):
    _, net, fsm = planted
    result = search_disagreements(net, fsm, budget=40_000, seed=0)
    assert result.to_dict()["unverified"] == result.unverified >= 0
    full = search_disagreements(net, fsm, budget=400_000, seed=0)
    assert full.disagreements and all(TRIGGER in d.word for d in full.disagreements)


def test_search_budget_is_capped_and_the_cap_can_be_raised(planted):
    from fsm_extract.errors import ArgumentTypeError, ValidationError
    from fsm_extract.analysis.search import MAX_BUDGET, search_disagreements

    _, net, fsm = planted
    assert MAX_BUDGET == 10**9
    with pytest.raises(ValidationError, match=r"budget=1000000001 must be <= 1000000000 \(max_budget"):
        search_disagreements(net, fsm, budget=10**9 + 1)
    with pytest.raises(ValidationError, match=r"budget=5000 must be <= 1000 \(max_budget"):
        search_disagreements(net, fsm, budget=5000, max_budget=1000)
    with pytest.raises(ArgumentTypeError, match="max_budget"):
        search_disagreements(net, fsm, budget=5000, max_budget=1e9)
    assert search_disagreements(net, fsm, budget=1000, max_budget=1000).steps_spent <= 1000
    with pytest.raises(ValidationError, match=r"search=1000000001 must be <= 1000000000"):
        fx.extract(net, ["0", "1"], search=10**9 + 1)
    with pytest.raises(ValidationError, match=r"search=1000000001 must be <= 1000000000"):
        fx.fidelity(net, fsm, ["0", "1"], search=10**9 + 1)
