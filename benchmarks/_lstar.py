"""The L* baseline shared by the benchmarks: AALpy's ``run_Lstar`` on a trained net.

The net is the system under learning, stepped one symbol at a time by a NumPy copy of its
recurrent cell and head (:class:`NumpyNet`, checked against the torch net before use: L* asks
symbol by symbol, and a torch call per symbol costs more than the whole NumPy step). The
equivalence oracle is AALpy's ``RandomWordEqOracle``. A run stops when L* converges, when it
has fed the net ``budget`` symbols, or after ``seconds`` of wall time; every hypothesis and
counterexample is recorded, so a stopped run still shows how far it got.

AALpy is an optional dependency (``pip install -e ".[bench]"``); it is imported only by
:func:`run_lstar`.
"""

from __future__ import annotations

import random
import signal
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["NumpyNet", "NumpyLSTM", "LstarRun", "check_numpy_net", "run_lstar", "hypothesis_table",
           "hypothesis_equals"]


class Stop(Exception):
    """Raised inside the system under learning when the step budget or the time is spent."""


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


class NumpyNet:
    """A one-layer ``RNNClassifier`` (LSTM, GRU or tanh RNN) and its head, stepped one symbol at
    a time in float64 (PyTorch's gate order and equations)."""

    def __init__(self, net: Any) -> None:
        sd = {k: v.detach().double().numpy() for k, v in net.state_dict().items()}
        if "rnn.weight_ih_l1" in sd:
            raise ValueError("NumpyNet supports one recurrent layer")
        self.cell = {"LSTM": "lstm", "GRU": "gru", "RNN": "rnn"}[type(net.rnn).__name__]
        if self.cell == "rnn" and getattr(net.rnn, "nonlinearity", "tanh") != "tanh":
            raise ValueError("NumpyNet supports the tanh RNN only")
        emb = sd["embedding.weight"]
        self.x = emb @ sd["rnn.weight_ih_l0"].T + sd["rnn.bias_ih_l0"]  # (k, G*H): input part per symbol
        self.w, self.b_hh = sd["rnn.weight_hh_l0"], sd["rnn.bias_hh_l0"]
        if self.cell != "gru":  # the hidden bias can be folded into the input part
            self.x = self.x + self.b_hh
        self.head_w, self.head_b = sd["head.weight"][0], float(sd["head.bias"][0])
        self.H = self.w.shape[1]
        self.reset()

    def reset(self) -> None:
        self.h, self.c = np.zeros(self.H), np.zeros(self.H)

    def accepts(self) -> bool:
        return bool(self.head_w @ self.h + self.head_b > 0)

    def step(self, a: int) -> bool:
        H = self.H
        if self.cell == "lstm":
            z = self.x[a] + self.w @ self.h
            i, f = _sigmoid(z[:H]), _sigmoid(z[H : 2 * H])
            g, o = np.tanh(z[2 * H : 3 * H]), _sigmoid(z[3 * H :])
            self.c = f * self.c + i * g
            self.h = o * np.tanh(self.c)
        elif self.cell == "gru":
            x, hh = self.x[a], self.w @ self.h + self.b_hh
            r, u = _sigmoid(x[:H] + hh[:H]), _sigmoid(x[H : 2 * H] + hh[H : 2 * H])
            n = np.tanh(x[2 * H :] + r * hh[2 * H :])
            self.h = (1 - u) * n + u * self.h
        else:
            self.h = np.tanh(self.x[a] + self.w @ self.h)
        return self.accepts()

    def accepts_word(self, word: Any, index: dict) -> bool:
        self.reset()
        for s in word:
            self.step(index[s])
        return self.accepts()


NumpyLSTM = NumpyNet  # the name bench_triggers.py used


def check_numpy_net(np_net: NumpyNet, net: Any, *, n: int = 300, max_len: int = 40, seed: int = 0) -> None:
    """Raise AssertionError unless ``np_net`` classifies ``n`` random words as ``net`` does."""
    index = {s: i for i, s in enumerate(net.alphabet)}
    rng = np.random.default_rng(seed)
    words = ["".join(net.alphabet[a] for a in rng.integers(0, len(net.alphabet), m))
             for m in rng.integers(0, max_len, n)]
    mine = np.array([np_net.accepts_word(w, index) for w in words])
    if not (mine == np.asarray(net.predict(words))).all():
        raise AssertionError("the NumPy copy of the net used for L* disagrees with the torch net")


@dataclass
class LstarRun:
    """What one L* run did. ``stopped``: "converged", "budget" or "time"."""

    stopped: str
    steps: int
    seconds: float
    hypotheses: list = field(default_factory=list)
    cex: list = field(default_factory=list)

    @property
    def last(self) -> Any:
        return self.hypotheses[-1] if self.hypotheses else None


def run_lstar(
    net: Any,
    *,
    budget: int | None = None,
    seconds: float | None = None,
    num_walks: int = 1000,
    min_walk_len: int = 10,
    max_walk_len: int = 60,
    reset_after_cex: bool = False,
    seed: int = 0,
    check: bool = True,
) -> LstarRun:
    """AALpy's L* (DFA, Rivest-Schapire counterexample processing, its cache) with its
    ``RandomWordEqOracle`` on ``net``.

    Parameters
    ----------
    net : RNNClassifier
        One recurrent layer (LSTM, GRU or tanh RNN) with an embedding and a one-logit head.
    budget : int, optional
        Stop after feeding the net this many symbols (L*'s queries and the oracle's walks).
    seconds : float, optional
        Stop after this much wall time (checked at every net step, and by an interval timer
        that interrupts L*'s own bookkeeping too, where the process's main thread runs this).
    num_walks, min_walk_len, max_walk_len, reset_after_cex
        ``RandomWordEqOracle``'s options: with ``reset_after_cex`` each equivalence query may
        walk ``num_walks`` random words; without, that is the total over the run.
    seed : int
        Seeds Python's ``random`` module, which AALpy draws its walks from.
    check : bool
        First check the NumPy copy of the net against the torch net on 300 words.
    """
    from aalpy.base import SUL
    from aalpy.learning_algs import run_Lstar
    from aalpy.oracles import RandomWordEqOracle

    np_net = NumpyNet(net)
    if check:
        check_numpy_net(np_net, net, seed=seed)
    index = {s: i for i, s in enumerate(net.alphabet)}
    t0 = time.perf_counter()
    deadline = None if seconds is None else t0 + seconds
    stopped = {"why": "converged"}

    class NetSUL(SUL):
        def __init__(self) -> None:
            super().__init__()
            self.steps = 0

        def pre(self) -> None:
            np_net.reset()

        def post(self) -> None:
            pass

        def step(self, letter: Any) -> bool:
            if letter is None:
                return np_net.accepts()  # the empty word: no step
            if budget is not None and self.steps >= budget:
                stopped["why"] = "budget"
                raise Stop
            if deadline is not None and time.perf_counter() > deadline:
                stopped["why"] = "time"
                raise Stop
            self.steps += 1
            return np_net.step(index[letter])

    sul = NetSUL()
    alphabet = list(net.alphabet)
    random.seed(seed)  # AALpy draws its walks with the random module
    oracle = RandomWordEqOracle(alphabet, sul, num_walks=num_walks, min_walk_len=min_walk_len,
                                max_walk_len=max_walk_len, reset_after_cex=reset_after_cex)
    run = LstarRun(stopped="converged", steps=0, seconds=0.0)
    find_cex = oracle.find_cex

    def recording(hypothesis: Any) -> Any:
        run.hypotheses.append(hypothesis)
        cex = find_cex(hypothesis)
        if cex is not None:
            run.cex.append("".join(cex))
        return cex

    oracle.find_cex = recording

    def on_alarm(signum: int, frame: Any) -> None:
        stopped["why"] = "time"
        raise Stop

    timer = deadline is not None and hasattr(signal, "setitimer")
    if timer:
        try:
            old = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, seconds + 1.0)  # backstop: the step check stops it first
        except ValueError:  # not the main thread
            timer = False
    try:
        run_Lstar(alphabet, sul, oracle, automaton_type="dfa", print_level=0)
    except Stop:
        pass
    finally:
        if timer:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    run.stopped, run.steps = stopped["why"], sul.steps
    run.seconds = round(time.perf_counter() - t0, 2)
    return run


def hypothesis_table(hypothesis: Any, alphabet: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """``(transitions (n, k) int64, accepting (n,) bool, initial)`` of an AALpy DFA, its states
    numbered in AALpy's order and its columns in ``alphabet``'s order."""
    states = list(hypothesis.states)
    number = {id(s): i for i, s in enumerate(states)}
    table = np.array([[number[id(s.transitions[a])] for a in alphabet] for s in states], dtype=np.int64)
    accepting = np.array([bool(s.is_accepting) for s in states])
    return table, accepting, number[id(hypothesis.initial_state)]


def hypothesis_equals(hypothesis: Any, language: Any) -> bool:
    """Whether an AALpy DFA accepts exactly ``language`` (breadth-first over their product)."""
    table, accepting, initial = language.transition_table()
    symbols = list(language.alphabet)
    htable, hacc, hinit = hypothesis_table(hypothesis, symbols)
    start = (hinit, int(initial))
    seen, queue = {start}, [start]
    while queue:
        h, q = queue.pop()
        if bool(hacc[h]) != bool(accepting[q]):
            return False
        for a in range(len(symbols)):
            nxt = (int(htable[h, a]), int(table[q, a]))
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return True
