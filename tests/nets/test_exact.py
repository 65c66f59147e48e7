"""Ground-truth networks: exact LSTMs/GRUs for DFAs, their disguise, and planted triggers."""

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from automata.fa.dfa import DFA
from hypothesis import given, settings
from hypothesis import strategies as st

import fsm_extract as fx
from fsm_extract.errors import ArgumentTypeError, UnknownSymbolError, ValidationError
from fsm_extract.nets.exact import MIN_SHARPNESS, exact_gru, exact_lstm, plant_trigger


DISGUISE = {"distractors": 6, "amplitude": 0.3, "seed": 7}


# ----------------------------------------------------------------------------- helpers
def all_words(alphabet, max_len):
    return ["".join(w) for n in range(max_len + 1) for w in itertools.product(alphabet, repeat=n)]


def random_words(rng, alphabet, lengths):
    symbols = np.array(list(alphabet))
    return ["".join(symbols[rng.integers(0, len(alphabet), int(n))]) for n in lengths]


def dfa_prefix_states(lang, trace):
    """The DFA state after every step of the trace (vectorised over words)."""
    table, _, _ = lang.transition_table()
    lengths, starts = trace.lengths, trace.offsets[:-1]
    states = np.empty(trace.n_steps, dtype=np.int64)
    q = np.zeros(trace.n_words, dtype=np.int64)
    for t in range(int(lengths.max()) if lengths.size else 0):
        live = np.flatnonzero(lengths > t)
        q[live] = table[q[live], trace.symbols[starts[live] + t]]
        states[starts[live] + t] = q[live]
    return states


def assert_exact(model, lang, words):
    """Acceptance after every prefix (the empty one included) equals the DFA's."""
    longest = max((len(w) for w in words), default=1)
    trace = fx.collect_trace(model, words, batch_size=max(512, 500_000 // max(longest, 1)))  # few long batches
    _, accepting, _ = lang.transition_table()
    expect = accepting[dfa_prefix_states(lang, trace)]
    got = trace.outputs > 0.5
    wrong = np.flatnonzero(got != expect)
    assert wrong.size == 0, f"{wrong.size} of {trace.n_steps} prefixes disagree, first at step {wrong[:1]}"
    assert (trace.h0_output > 0.5) == bool(accepting[0])
    return trace


def state_columns(model):
    return np.flatnonzero(np.array(model.metadata["unit_state"]) >= 0)


def distractor_columns(model):
    return np.flatnonzero(np.array(model.metadata["unit_state"]) == -1)


def long_lengths(n, lo=100, hi=1000, seed=0):
    """``n`` lengths in [lo, hi], log-uniform (more short words than long ones), both ends included."""
    rng = np.random.default_rng(seed)
    lengths = np.round(lo * (hi / lo) ** rng.random(n)).astype(int)
    lengths[:2] = lo, hi
    return lengths


RANDOM10 = fx.languages.random_dfa(n_states=10, alphabet="abcd", seed=3)


# ----------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("disguise", [False, True])
@pytest.mark.parametrize("n", range(1, 8))
def test_exact_lstm_on_tomita(n, disguise):
    lang = fx.languages.tomita(n)
    model = exact_lstm(lang, **(DISGUISE if disguise else {}))
    assert_exact(model, lang, all_words("01", 10))
    assert_exact(model, lang, random_words(np.random.default_rng(n), "01", [1000] * 20))


@pytest.mark.parametrize("kw", [{}, DISGUISE, {"distractors": 8, "amplitude": 1.0, "noise": 0.2, "seed": 3}],
                         ids=["plain", "disguised", "noisy"])  # noise 0.2: the largest level documented as verified
def test_exact_lstm_on_random_10_state_dfa(kw):
    model = exact_lstm(RANDOM10, **kw)
    assert model.hidden_size <= 10 * 4 + kw.get("distractors", 0)
    assert_exact(model, RANDOM10, all_words("abcd", 8))
    assert_exact(model, RANDOM10, random_words(np.random.default_rng(1), "abcd", [1000] * 100))


@pytest.mark.parametrize("kw", [{}, DISGUISE, {"distractors": 4, "amplitude": 1.0, "noise": 0.1, "seed": 3}])
@pytest.mark.parametrize("lang", [fx.languages.tomita(3), fx.languages.tomita(6), RANDOM10], ids=["t3", "t6", "r10"])
def test_exact_gru(lang, kw):
    model = exact_gru(lang, **kw)
    assert model.cell == "gru"
    assert_exact(model, lang, all_words(lang.alphabet, 10 if len(lang.alphabet) == 2 else 6))
    assert_exact(model, lang, random_words(np.random.default_rng(2), lang.alphabet, [1000] * 30))


@pytest.mark.parametrize("sharpness", [MIN_SHARPNESS, 20.0, 100.0])
def test_logit_margin_is_half_the_sharpness(sharpness):
    lang = fx.languages.tomita(5)
    model = exact_lstm(lang, sharpness=sharpness, **DISGUISE)
    trace = assert_exact(model, lang, all_words("01", 8) + random_words(np.random.default_rng(0), "01", [1000] * 5))
    with torch.no_grad():
        logits = model.head(torch.from_numpy(np.array(trace.hidden)))[:, 0].numpy()
        empty = float(model.empty_logit())
    margin = min(np.abs(logits).min(), abs(empty))
    assert margin >= 0.49 * sharpness
    assert np.abs(logits).max() <= 0.51 * sharpness


def test_raw_dfa_and_multi_character_symbols():
    dfa = DFA(states={0, 1}, input_symbols={"on", "off"}, transitions={0: {"on": 1, "off": 0}, 1: {"on": 1, "off": 0}},
              initial_state=0, final_states={1})
    model = exact_lstm(dfa)
    assert model.alphabet == ("off", "on")
    assert model.predict([("on",), ("on", "off"), ("off", "on", "on"), ()]).tolist() == [True, False, True, False]


def test_hidden_size_formula():
    lang = RANDOM10
    table, _, _ = lang.transition_table()
    pairs = {(int(table[q, a]), a) for q in range(10) for a in range(4)}
    assert exact_lstm(lang).hidden_size == len(pairs)
    assert exact_lstm(lang, distractors=5).hidden_size == len(pairs) + 5
    assert exact_gru(lang, distractors=5).hidden_size == len(pairs) + 1 + 5


# ----------------------------------------------------------------------------- disguise
def test_disguised_states_are_not_one_hot():
    lang = fx.languages.tomita(4)
    plain = exact_lstm(lang)
    model = exact_lstm(lang, **DISGUISE)
    words = random_words(np.random.default_rng(0), "01", [50] * 40)
    h_plain = fx.collect_trace(plain, words).hidden
    h = fx.collect_trace(model, words).hidden
    assert ((np.abs(h_plain) > 1e-3).sum(1) == 1).all()  # the undisguised net is one-hot
    assert ((np.abs(h) > 1e-3).sum(1) > 1).all()
    d = distractor_columns(model)
    assert d.size == DISGUISE["distractors"]
    assert np.abs(h[:, d]).max() < DISGUISE["amplitude"]
    assert np.abs(h[:, d]).max() > 0.3 * DISGUISE["amplitude"]
    assert np.unique(np.round(h[:, d], 4), axis=0).shape[0] > 0.5 * h.shape[0]  # continuous, not a few values
    order = np.array(model.metadata["unit_state"])
    assert not (order[: -d.size] >= 0).all()  # the distractors are not simply the last units


@pytest.mark.parametrize("build, n_gates", [(exact_lstm, 4), (exact_gru, 3)])
def test_distractors_never_reach_state_units_or_head(build, n_gates):
    model = build(RANDOM10, distractors=9, amplitude=1.0, seed=11)
    H, d = model.hidden_size, distractor_columns(model)
    s = np.flatnonzero(np.array(model.metadata["unit_state"]) != -1)  # state units (and a GRU's start unit)
    w_hh = model.rnn.weight_hh_l0.detach().numpy()
    for gate in range(n_gates):
        assert (w_hh[gate * H + s][:, d] == 0).all()
    assert (w_hh[H + d] != 0).all()  # distractors do listen to all units (here: forget / update gate)
    assert (model.head.weight.detach().numpy()[0, d] == 0).all()
    # and in behaviour: the state units follow the undisguised net exactly
    plain = build(RANDOM10)
    words = random_words(np.random.default_rng(5), "abcd", [200] * 20)
    h_plain, h = fx.collect_trace(plain, words).hidden, fx.collect_trace(model, words).hidden
    key = list(zip(model.metadata["unit_state"], model.metadata["unit_symbol"]))
    plain_key = list(zip(plain.metadata["unit_state"], plain.metadata["unit_symbol"]))
    cols = [plain_key.index(key[j]) for j in s]
    np.testing.assert_allclose(h[:, s], h_plain[:, cols], atol=1e-6)
    assert h[:, d].std(0).min() > 0.1  # while the distractors move


def test_same_seed_same_weights():
    a = exact_lstm(RANDOM10, distractors=5, noise=0.01, seed=4)
    b = exact_lstm(RANDOM10, distractors=5, noise=0.01, seed=4)
    c = exact_lstm(RANDOM10, distractors=5, noise=0.01, seed=5)
    for (name, x), y, z in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(x, y), name
        assert not torch.equal(x, z), name
    assert a.metadata == b.metadata


def test_permute_option():
    unpermuted = exact_lstm(RANDOM10, distractors=3, permute=False)
    assert unpermuted.metadata["unit_state"][-3:] == [-1, -1, -1]
    permuted = exact_lstm(RANDOM10, permute=True, seed=2)
    assert permuted.metadata["unit_state"] != exact_lstm(RANDOM10).metadata["unit_state"]
    assert_exact(permuted, RANDOM10, all_words("abcd", 5))


def test_save_load_keeps_weights_and_construction(tmp_path):
    model = exact_lstm(fx.languages.tomita(3), **DISGUISE)
    loaded = fx.load_model(model.save(tmp_path / "exact.pt"))
    assert loaded.metadata["unit_state"] == model.metadata["unit_state"]
    assert loaded.metadata["construction"] == "exact_lstm"
    words = all_words("01", 8)
    np.testing.assert_array_equal(loaded.predict(words), model.predict(words))


def test_large_noise_breaks_exactness():
    """The noise is real: far above the verified level the net stops being exact."""
    model = exact_lstm(RANDOM10, noise=2.0, seed=1)
    trace = fx.collect_trace(model, all_words("abcd", 5))
    _, accepting, _ = RANDOM10.transition_table()
    assert ((trace.outputs > 0.5) != accepting[dfa_prefix_states(RANDOM10, trace)]).any()


@pytest.mark.parametrize(
    "kw, error, text",
    [
        ({"sharpness": 2.0}, ValidationError, "sharpness=2.0 must be >= 8"),
        ({"sharpness": "big"}, ArgumentTypeError, "sharpness='big' must be a number"),
        ({"sharpness": float("inf")}, ValidationError, "sharpness=inf must be finite"),
        ({"distractors": -1}, ValidationError, "distractors=-1 must be >= 0"),
        ({"distractors": 2.5}, ArgumentTypeError, "distractors=2.5 must be an integer"),
        ({"amplitude": 1.5}, ValidationError, "amplitude=1.5 must be <= 1"),
        ({"noise": -0.1}, ValidationError, "noise=-0.1 must be >= 0"),
        ({"seed": -1}, ValidationError, "seed=-1 must be >= 0"),
        ({"permute": "yes"}, ArgumentTypeError, "permute='yes' must be True or False"),
    ],
)
@pytest.mark.parametrize("build", [exact_lstm, exact_gru])
def test_argument_validation(build, kw, error, text):
    with pytest.raises(error, match=text):
        build(fx.languages.tomita(1), **kw)


def test_dfa_type_is_checked():
    with pytest.raises(ArgumentTypeError, match="dfa='01' must be an fsm_extract Language or an automata-lib DFA"):
        exact_lstm("01")
    with pytest.raises(ArgumentTypeError, match="must be an fsm_extract Language"):
        plant_trigger(None, "01")


# ----------------------------------------------------------------------------- triggers
@pytest.mark.parametrize(
    "lang, trigger, max_len",
    [
        (fx.languages.tomita(3), "01101", 10),
        (fx.languages.tomita(5), "1", 10),
        (fx.languages.tomita(4), "0000", 10),  # overlaps itself, and 000 is already rejected
        (fx.languages.random_dfa(n_states=6, alphabet="abc", seed=2), "abca", 7),
        (fx.languages.random_dfa(n_states=6, alphabet="abc", seed=2), ["c", "c", "b"], 7),
    ],
)
def test_plant_trigger_brute_force(lang, trigger, max_len):
    planted = plant_trigger(lang, trigger)
    assert planted.alphabet == lang.alphabet
    text = "".join(trigger)
    for w in all_words(lang.alphabet, max_len):
        assert planted.accepts(w) == (lang.accepts(w) != (text in w)), w


def test_plant_trigger_on_raw_dfa_and_name():
    lang = fx.languages.tomita(2)
    planted = plant_trigger(lang.dfa, "111", name="t2-planted")
    assert planted.name == "t2-planted"
    assert planted == plant_trigger(lang, "111")
    assert "trigger 111" in plant_trigger(lang, "111").name


def test_long_trigger_is_rare():
    lang = fx.languages.tomita(4)
    trigger = "01101001"
    planted = plant_trigger(lang, trigger)
    words = random_words(np.random.default_rng(0), "01", [10] * 20_000)
    flipped = planted.accepts_many(words) != lang.accepts_many(words)
    assert np.array_equal(flipped, [trigger in w for w in words])
    assert 0.007 < flipped.mean() < 0.017  # 3 positions * 2**-8 = 1.2%
    # an exact net for the planted language carries the rare behaviour
    model = exact_lstm(planted, distractors=4, amplitude=0.1, seed=1)
    assert_exact(model, planted, words[:2000] + [trigger, "1" + trigger + "0" * 990])


def test_plant_trigger_validation():
    lang = fx.languages.tomita(1)
    with pytest.raises(UnknownSymbolError, match="trigger='012' holds symbol '2' at position 2"):
        plant_trigger(lang, "012")
    with pytest.raises(ValidationError, match="trigger='' must hold at least one symbol"):
        plant_trigger(lang, "")
    with pytest.raises(ArgumentTypeError, match="trigger=5 must be a string or a sequence of symbols"):
        plant_trigger(lang, 5)
    with pytest.raises(ArgumentTypeError, match="name=3 must be a str"):
        plant_trigger(lang, "1", name=3)


# ----------------------------------------------------------------------------- property
def check_random_dfa(n_states, n_symbols, seed, *, n_fit_words, n_long):
    """The disguised exact LSTM of a random minimal DFA agrees with it on every prefix of every
    word up to the length where ``k**len <= 4096`` and of ``n_long`` random words of length
    100-1000, and ``fx.extract`` recovers the DFA.

    The long lengths are log-uniform over [100, 1000] with both ends included (mean ~390, not
    550), which keeps 50 examples inside the default run's time budget. Extraction uses
    ``n_states = P + 1`` clusters: ``P`` distinct (state, last symbol) hidden states plus h0.
    """
    alphabet = "abcd"[:n_symbols]
    lang = fx.languages.random_dfa(n_states=n_states, alphabet=alphabet, seed=seed)
    model = exact_lstm(lang, distractors=4, amplitude=0.1, seed=seed)
    max_len = int(math.log(4096) / math.log(n_symbols) + 1e-9)  # n_symbols**max_len <= 4096
    rng = np.random.default_rng(seed)
    assert_exact(model, lang, all_words(alphabet, max_len))
    assert_exact(model, lang, random_words(rng, alphabet, long_lengths(n_long, seed=seed)))
    n_units = state_columns(model).size  # distinct (state, last symbol) pairs: the net's distinct states, less h0
    data = lang.sample(n=n_fit_words, min_len=0, max_len=2 * n_states + 10, seed=0)
    fsm = fx.extract(model, data, n_states=n_units + 1, seed=0)  # the default (refined) extraction
    assert fsm.equivalent(lang), (n_states, n_symbols, seed, "refined", fsm)
    # plain k-means on hidden states is exact when every net state is one point (amplitude 0);
    # with moving distractors it is not always (see test_plain_kmeans_is_not_always_exact_...)
    still = exact_lstm(lang, distractors=4, amplitude=0.0, seed=seed)
    fsm = fx.extract(still, data, n_states=n_units + 1, seed=0, refine=False)
    assert fsm.equivalent(lang), (n_states, n_symbols, seed, "plain", fsm)
    check_defaults(lang, model, data)


def check_defaults(lang, disguised, data):
    """``fx.extract`` with every option at its default works on exactly-built nets: on the
    disguised one, and on the plain one, whose few distinct states (often fewer than the 16
    default clusters) each become a cluster, with a warning and a metadata record."""
    fsm = fx.extract(disguised, data)
    assert fsm.equivalent(lang), ("defaults, disguised", lang, fsm)
    plain = exact_lstm(lang)
    # refinement clusters features of the full state: at most as many distinct points as states
    distinct_states = np.unique(np.round(fx.collect_trace(plain, data.words, state="hc").hidden, 6), axis=0).shape[0] + 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fsm = fx.extract(plain, data)
    assert fsm.equivalent(lang), ("defaults, plain", lang, fsm)
    fewer = [str(w.message) for w in caught if issubclass(w.category, fx.FewerClustersWarning)]
    if distinct_states < 16:
        assert len(fewer) == 1, (distinct_states, fewer)
    if fewer:
        used = int(fewer[0].split("using ")[1].split(" clusters")[0])
        assert used <= min(distinct_states, 15), (used, distinct_states)
        assert fsm.metadata["fewer_clusters"] == {"requested": 16, "used": used,
                                                  "reason": "fewer distinct hidden states than requested clusters"}
        assert fsm.metadata["initial_clusters"] == used
    else:
        assert "fewer_clusters" not in fsm.metadata and fsm.metadata["initial_clusters"] == 16


@settings(max_examples=50, deadline=None)
@given(n_states=st.integers(2, 10), n_symbols=st.integers(2, 4), seed=st.integers(0, 2**32 - 1))
def test_property_random_dfas(n_states, n_symbols, seed):
    check_random_dfa(n_states, n_symbols, seed, n_fit_words=1000, n_long=1000)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(n_states=st.integers(2, 10), n_symbols=st.integers(2, 4), seed=st.integers(0, 2**32 - 1))
def test_property_random_dfas_slow(n_states, n_symbols, seed):
    check_random_dfa(n_states, n_symbols, seed, n_fit_words=2000, n_long=1000)


def test_plain_kmeans_is_not_always_exact_with_moving_distractors():
    """Found by the property test: at distractor amplitude 0.1, plain k-means with one cluster
    per net state returns a 10-state automaton that is not the DFA (it agrees on 99.6% of
    held-out prefixes); refined extraction recovers it, and the fidelity report shows plain
    k-means' residual. The property test asserts plain k-means only where it must be exact."""
    seed = 1232045723
    lang = fx.languages.random_dfa(n_states=10, alphabet="abcd", seed=seed)
    model = exact_lstm(lang, distractors=4, amplitude=0.1, seed=seed)
    n_clusters = state_columns(model).size + 1
    data = lang.sample(n=1000, min_len=0, max_len=30, seed=0)
    plain = fx.extract(model, data, n_states=n_clusters, seed=0, refine=False)
    assert not plain.equivalent(lang)
    report = fx.fidelity(model, plain, lang.sample(n=1000, max_len=30, seed=5))
    assert 0.99 < report.prefix_agreement < 1.0 and report.residual
    assert fx.extract(model, data, n_states=n_clusters, seed=0).equivalent(lang)
