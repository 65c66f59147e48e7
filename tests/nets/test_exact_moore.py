"""Exactly-built nets for Moore machines: exact_moore (fx.networks.exact_moore)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import fsm_extract as fx
from fsm_extract.data.moore import MooreMachine, random_moore
from fsm_extract.errors import ArgumentTypeError, ValidationError
from fsm_extract.nets.exact import exact_gru, exact_lstm, exact_moore

DISGUISE = {"distractors": 5, "amplitude": 0.5, "noise": 0.1, "seed": 3}


def random_words(rng, alphabet, n, max_len):
    symbols = np.array(list(alphabet))
    return ["".join(symbols[rng.integers(0, len(alphabet), int(rng.integers(0, max_len + 1)))]) for _ in range(n)]


def prefix_classes(machine, trace):
    """The machine's class after every step of the trace."""
    table, outputs, initial = machine.transition_table()
    out = np.empty(trace.n_steps, dtype=np.int64)
    for i in range(trace.n_words):
        q = initial
        for j in range(trace.offsets[i], trace.offsets[i + 1]):
            q = table[q, trace.symbols[j]]
            out[j] = outputs[q]
    return out


def assert_exact(net, machine, words):
    np.testing.assert_array_equal(net.predict(words), machine.classify_many(words))
    trace = fx.collect_trace(net, words)
    np.testing.assert_array_equal(trace.classes, prefix_classes(machine, trace))
    assert trace.h0_class == machine.outputs[machine.initial]
    return trace


@settings(max_examples=100)
@given(
    n_states=st.integers(2, 6),
    n_classes=st.integers(2, 4),
    n_symbols=st.integers(2, 3),
    seed=st.integers(0, 2**32 - 1),
    cell=st.sampled_from(["lstm", "gru"]),
    disguised=st.booleans(),
)
def test_classes_equal_the_machines_on_random_words(n_states, n_classes, n_symbols, seed, cell, disguised):
    machine = random_moore(n_states=n_states, n_classes=min(n_classes, n_states), alphabet="abc"[:n_symbols],
                           seed=seed)
    net = exact_moore(machine, cell=cell, **(DISGUISE if disguised else {}))
    assert net.output_kind == "classes" and net.n_classes == machine.n_classes and net.cell == cell
    words = random_words(np.random.default_rng(seed), machine.alphabet, 60, 30) + [""]
    assert_exact(net, machine, words)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("kw", [{}, DISGUISE, {"distractors": 8, "amplitude": 1.0, "noise": 0.2, "seed": 1}],
                         ids=["plain", "disguised", "noisy"])
def test_long_words(cell, kw):
    machine = random_moore(n_states=6, n_classes=4, alphabet="abc", seed=11)
    net = exact_moore(machine, cell=cell, **kw)
    assert_exact(net, machine, random_words(np.random.default_rng(0), machine.alphabet, 20, 1000))


@pytest.mark.parametrize("sharpness", [8.0, 20.0, 100.0])
def test_margin_between_the_right_class_and_every_other_is_the_sharpness(sharpness):
    machine = random_moore(n_states=5, n_classes=3, alphabet="ab", seed=2)
    net = exact_moore(machine, sharpness=sharpness)
    trace = assert_exact(net, machine, random_words(np.random.default_rng(1), "ab", 50, 30))
    with torch.no_grad():
        logits = net.head(torch.from_numpy(np.array(trace.hidden))).numpy()
        logits = np.vstack([logits, net.empty_logit().numpy()[None, :]])
    right = np.append(prefix_classes(machine, trace), machine.outputs[machine.initial])
    top = logits[np.arange(len(right)), right]
    others = np.where(np.arange(3)[None, :] == right[:, None], -np.inf, logits).max(axis=1)
    assert (top - others).min() >= 0.98 * sharpness
    assert np.abs(logits).max() <= 0.51 * sharpness


def test_initial_state_not_zero_and_unreachable_states():
    """States are renumbered breadth-first from the initial one; unreachable states get no unit."""
    machine = MooreMachine("01", [[1, 2], [0, 0], [2, 1], [3, 3]], [0, 1, 2, 1], initial=2, n_classes=4)
    for cell in ("lstm", "gru"):
        net = exact_moore(machine, cell=cell)
        assert net.n_classes == 4
        assert_exact(net, machine, random_words(np.random.default_rng(2), "01", 100, 12) + [""])
    assert max(exact_moore(machine).metadata["unit_state"]) == 2  # 3 reachable states (2, 1, 0)


def test_multi_character_symbols_and_metadata():
    machine = MooreMachine(("go", "stop"), [[1, 0], [1, 2], [2, 2]], [0, 1, 2], name="traffic")
    net = fx.networks.exact_moore(machine, distractors=3, seed=4)
    words = [(), ("go",), ("go", "stop"), ("stop", "go", "go"), ("go", "stop", "go")]
    assert net.predict(words).tolist() == [0, 1, 2, 1, 2]
    meta = net.metadata
    assert meta["construction"] == "exact_moore" and meta["language"] == "traffic" and meta["distractors"] == 3
    assert sorted(meta["unit_state"]).count(-1) == 3 and meta["permute"] is True


def test_round_trips_through_a_checkpoint(tmp_path):
    machine = random_moore(n_states=4, n_classes=3, alphabet="ab", seed=5)
    net = exact_moore(machine, **DISGUISE)
    loaded = fx.load_model(net.save(tmp_path / "moore.pt"))
    assert loaded.output_kind == "classes" and loaded.n_classes == 3
    assert_exact(loaded, machine, random_words(np.random.default_rng(3), "ab", 50, 20))


def test_same_seed_same_weights():
    machine = random_moore(n_states=4, n_classes=3, alphabet="ab", seed=5)
    a, b, c = (exact_moore(machine, distractors=4, noise=0.1, seed=s) for s in (1, 1, 2))
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    assert any(not torch.equal(v, c.state_dict()[k]) for k, v in a.state_dict().items())


def test_bad_arguments():
    machine = random_moore(n_states=3, n_classes=2, alphabet="ab", seed=0)
    with pytest.raises(ArgumentTypeError, match="machine=.* must be an fsm_extract MooreMachine"):
        exact_moore(fx.languages.tomita(3))
    with pytest.raises(ValidationError, match="cell='rnn' must be one of 'lstm', 'gru'"):
        exact_moore(machine, cell="rnn")
    with pytest.raises(ValidationError, match="sharpness=2.0 must be >= 8"):
        exact_moore(machine, sharpness=2.0)
    with pytest.raises(ValidationError, match="distractors=-1 must be >= 0"):
        exact_moore(machine, distractors=-1)
    with pytest.raises(ArgumentTypeError, match="permute='yes' must be True or False"):
        exact_moore(machine, permute="yes")
    for build in (exact_lstm, exact_gru):
        with pytest.raises(ArgumentTypeError, match="got a MooreMachine; build its net with exact_moore"):
            build(machine)
