"""Completing unobserved transitions from the net (complete_transitions) and how fx.extract uses it.

Fitting words use only the symbol "0" of the alphabet "01", so every (state, "1") pair is
unobserved and has to be completed from the net.
"""

import inspect

import numpy as np
import pytest
import torch

import fsm_extract as fx
from fsm_extract.abstraction.clustering import KMeansAbstraction
from fsm_extract.automata.automaton import ExtractedFSM
from fsm_extract.abstraction.completion import complete_transitions
from fsm_extract.automata.counting import count_outputs, count_transitions
from fsm_extract.errors import ValidationError



ZEROS = ["0" * k for k in range(1, 25)]
K = 5
# plain clustering of hidden states (no refinement), where extract offers the choice
PLAIN = {"refine": False} if "refine" in inspect.signature(fx.extract).parameters else {}


def _model(cell, seed=0, layers=1):
    torch.manual_seed(seed)
    return fx.RNNClassifier("01", cell=cell, hidden_size=8, num_layers=layers).eval()


def _setup(model, state, words=ZEROS, n_states=K):
    trace = fx.collect_trace(model, words, state=state)
    abstraction = KMeansAbstraction(n_states=n_states, seed=0).fit(trace)
    labels = abstraction.predict(trace.hidden)
    counts = count_transitions(labels, trace.symbols, trace.offsets, abstraction.initial_label_, n_states, 2)
    return trace, abstraction, labels, counts


def _raw_step(model, vector, symbol, state):
    """One step of the net from a full state, with torch directly (not step_from).

    ``vector`` is in the trace layout: the hidden vectors of every layer, then (LSTM, "hc") the
    cell vectors of every layer."""
    L, H = model.num_layers, model.hidden_size
    v = torch.as_tensor(np.asarray(vector, np.float32))
    x = model.embedding(torch.tensor([[symbol]]))
    with torch.no_grad():
        if model.cell == "lstm":
            assert state == "hc"
            h0 = v[: L * H].view(L, 1, H).contiguous()
            c0 = v[L * H :].view(L, 1, H).contiguous()
            _, (h, c) = model.rnn(x, (h0, c0))
            return torch.cat([h.reshape(-1), c.reshape(-1)]).numpy()
        _, h = model.rnn(x, v.view(L, 1, H).contiguous())
        return h.reshape(-1).numpy()


def _check_unobserved_layout(support, completion):
    assert completion.shape == support.shape and completion.dtype == np.int64
    assert (support[:, 1] == 0).all()  # "1" never read
    np.testing.assert_array_equal(completion[support > 0], -1)
    filled = completion[support == 0]
    assert (filled >= 0).all() and (filled < support.shape[0]).all()


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_centroid_completion_full_state(cell, layers):
    model = _model(cell, layers=layers)
    trace, abstraction, labels, counts = _setup(model, "h")
    support = counts.sum(-1)
    completion, method = complete_transitions(model, abstraction, trace, labels, support)
    assert method == "centroid"
    _check_unobserved_layout(support, completion)
    centroids = abstraction.centroids_
    for q, a in np.argwhere(support == 0):
        nxt = _raw_step(model, centroids[q], int(a), "h")
        assert completion[q, a] == abstraction.predict(nxt[None])[0], (q, a)


@pytest.mark.parametrize("layers", [1, 2])
def test_centroid_completion_lstm_hc(layers):
    model = _model("lstm", layers=layers)
    trace, abstraction, labels, counts = _setup(model, "hc")
    assert trace.dim == 2 * 8 * layers
    support = counts.sum(-1)
    completion, method = complete_transitions(model, abstraction, trace, labels, support)
    assert method == "centroid"
    _check_unobserved_layout(support, completion)
    for q, a in np.argwhere(support == 0):
        nxt = _raw_step(model, abstraction.centroids_[q], int(a), "hc")
        assert completion[q, a] == abstraction.predict(nxt[None])[0], (q, a)


def _medoid_word(trace, labels, abstraction, q):
    """The word (a str) whose net state is the medoid of cluster q (h0 counts for the initial state)."""
    c = abstraction.centroids_[q].astype(np.float32)
    members = np.flatnonzero(labels == q)
    best_d, best_word = np.inf, None
    if q == abstraction.initial_label_:
        best_d, best_word = float(((trace.h0 - c) ** 2).sum()), ""
    ends = trace.offsets[1:]
    for t in members:
        d = float(((trace.hidden[t] - c) ** 2).sum())
        if d < best_d:
            w = int(np.searchsorted(ends, t, side="right"))
            start = int(trace.offsets[w])
            best_d, best_word = d, "".join(trace.alphabet[s] for s in trace.symbols[start : t + 1])
    assert best_word is not None
    return best_word


@pytest.mark.parametrize(
    "words,layers", [(ZEROS, 1), (["0" * 20, "00", "0000000"], 1), (ZEROS, 2)], ids=["many-words", "few-words", "two-layers"]
)
def test_medoid_prefix_completion_lstm_h(words, layers):
    model = _model("lstm", seed=1, layers=layers)
    trace, abstraction, labels, counts = _setup(model, "h", words=words, n_states=4)
    support = counts.sum(-1)
    completion, method = complete_transitions(model, abstraction, trace, labels, support)
    assert method == "medoid-prefix"
    _check_unobserved_layout(support, completion)
    for q, a in np.argwhere(support == 0):
        prefix = _medoid_word(trace, labels, abstraction, int(q))
        # the medoid's prefix really leads the net into cluster q
        if prefix:
            h_prefix = fx.collect_trace(model, [prefix]).hidden[-1]
            assert abstraction.predict(h_prefix[None])[0] == q
        # recompute the successor independently: run the net on prefix + symbol
        sub = fx.collect_trace(model, [prefix + trace.alphabet[a]], state="h")
        assert completion[q, a] == abstraction.predict(sub.hidden[-1:])[0], (q, a, prefix)


def test_nothing_unobserved_returns_all_minus_one():
    model = _model("lstm")
    trace, abstraction, labels, _ = _setup(model, "h")
    support = np.ones((K, 2), np.int64)
    completion, method = complete_transitions(model, abstraction, trace, labels, support)
    assert method == "medoid-prefix"
    np.testing.assert_array_equal(completion, -1)


# ----------------------------------------------------------------------------- through fx.extract
@pytest.mark.parametrize(
    "cell,state,how", [("lstm", "h", "medoid-prefix"), ("lstm", "hc", "centroid"), ("gru", "h", "centroid")]
)
def test_extract_marks_completed_transitions(cell, state, how):
    model = _model(cell)
    fsm = fx.extract(model, ZEROS, n_states=K, state=state, minimize=False, **PLAIN)
    assert fsm.n_states == K
    assert fsm.metadata["completion"] == how
    support = fsm.transition_counts.sum(-1)
    assert fsm.completed[:, 1].all()
    np.testing.assert_array_equal(fsm.completed, support == 0)
    # the completed transitions are exactly what complete_transitions computes for the same fit
    trace, abstraction, labels, counts = _setup(model, state)
    np.testing.assert_array_equal(fsm.transition_counts, counts)
    completion, _ = complete_transitions(model, abstraction, trace, labels, counts.sum(-1))
    np.testing.assert_array_equal(fsm.transitions[fsm.completed], completion[fsm.completed])
    # observed pairs take the majority successor
    observed = ~fsm.completed
    np.testing.assert_array_equal(fsm.transitions[observed], counts.argmax(-1)[observed])


def test_extract_completion_on_a_trained_net():
    """Bundled Tomita-4 LSTM fitted on zeros only: every "1" transition comes from the net, and the
    automaton then agrees with the net on words that take one completed transition."""
    model = fx.datasets.bundled_model("tomita4")
    fsm = fx.extract(model, ["0" * k for k in range(30)], n_states=5)
    assert fsm.n_states >= 2
    support = fsm.transition_counts.sum(-1)
    assert fsm.completed[:, 1].all()
    assert not fsm.completed[:, 0].any()
    assert (support[fsm.completed] == 0).all()
    probe = ["0" * k + "1" for k in range(26)]
    np.testing.assert_array_equal(fsm.predict(probe), model.predict(probe))
    # saved and loaded, the completed marks survive
    again = ExtractedFSM.from_dict(fsm.to_dict())
    np.testing.assert_array_equal(again.completed, fsm.completed)


def test_from_counts_refuses_unobserved_pairs_without_completion():
    model = _model("lstm")
    trace, abstraction, labels, counts = _setup(model, "h")
    outputs = count_outputs(labels, (trace.outputs > 0.5).astype(np.int32), abstraction.initial_label_,
                            trace.offsets, K, 2, initial_output=int(trace.h0_output > 0.5))
    with pytest.raises(ValidationError, match=r"never observed"):
        ExtractedFSM.from_counts(counts, outputs, initial=abstraction.initial_label_, alphabet="01")
    # a completion that leaves an unobserved pair at -1 is refused too
    with pytest.raises(ValidationError, match=r"completion\[\d+, 1\]=-1"):
        ExtractedFSM.from_counts(counts, outputs, initial=abstraction.initial_label_, alphabet="01",
                                 completion=np.full((K, 2), -1))
    # with a completion it builds, and marks exactly the unobserved pairs
    completion, _ = complete_transitions(model, abstraction, trace, labels, counts.sum(-1))
    fsm = ExtractedFSM.from_counts(counts, outputs, initial=abstraction.initial_label_, alphabet="01",
                                   completion=completion)
    np.testing.assert_array_equal(fsm.completed, counts.sum(-1) == 0)


def test_completed_must_be_unobserved():
    counts = np.zeros((2, 2, 2), np.int64)
    counts[0, 0, 1] = 3
    with pytest.raises(ValidationError, match=r"completed\[0, 0\]=True"):
        ExtractedFSM("01", [[1, 0], [1, 1]], [False, True], 0, counts, None, [[True, False], [False, False]])
