"""The first-order construction behind the exactly-built nets of :mod:`fsm_extract.nets.exact`.

A :class:`Plan` is a complete deterministic machine (initial state 0) with a sign per state
for every logit of the head: one logit for an acceptor (+1 accepting, -1 rejecting), one per
class for a Moore machine (+1 in the states of that class, -1 elsewhere). :func:`lstm_net` and
:func:`gru_net` set the weights of a one-layer LSTM or GRU whose hidden state, after every
prefix, reads linearly as the one-hot state of the machine, and whose head gives
``(s / 2) * sign`` of the state reached: ``+-s/2`` for an acceptor, a margin of ``s`` between
the right class and every other for a Moore machine. The options (distractors, permutation,
noise) disguise the construction without changing what the net computes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._checks import check_bool, check_float, check_int, check_seed
from ..errors import ValidationError
from .models import RNNClassifier

__all__ = ["Plan", "Options", "check_options", "lstm_net", "gru_net", "MIN_SHARPNESS"]

MIN_SHARPNESS = 8.0
"""Smallest ``sharpness`` accepted; exactness is verified (tests) from here up to 100."""

_DISTRACTOR_STD = 1.5  # std of a distractor gate's pre-activation from each input group

Blocks = tuple[np.ndarray, np.ndarray, np.ndarray]  # (W_ih, W_hh, b) rows of one gate


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class Plan:
    """The state units of the first-order construction and their linear read-out.

    Unit ``u`` stands for the pair ``(unit_state[u], unit_symbol[u]) = (q', a)``: "the last
    symbol was ``a`` and the machine is now in ``q'``", one unit per distinct pair
    ``(delta(q, a), a)``. ``pred[u, q]`` is 1 where ``delta(q, a) = q'``. The read-out
    ``s = A @ h + e_0`` gives the one-hot machine state from the hidden vector ``h`` (``A`` is
    filled per cell kind); the zero initial state reads as the initial state 0.

    Parameters
    ----------
    alphabet : tuple of str
    table : ndarray of shape (n_states, n_symbols), int
        The transitions; state 0 is the initial state.
    signs : ndarray of shape (n_logits, n_states), float
        ``+1`` / ``-1``: the sign of each head logit in each state.
    name : str
        Recorded in the net's metadata (``"language"``).
    outputs : dict
        What :class:`RNNClassifier` is told about its head (``{}`` for an acceptor,
        ``{"outputs": "classes", "n_classes": C}`` for a Moore machine).
    """

    def __init__(self, alphabet: tuple[str, ...], table: np.ndarray, signs: np.ndarray, name: str,
                 outputs: dict[str, Any]) -> None:
        n, k = table.shape
        pairs = sorted({(int(table[q, a]), a) for q in range(n) for a in range(k)})
        self.alphabet, self.name, self.outputs = alphabet, name, outputs
        self.n_states, self.n_symbols = n, k
        self.unit_state = np.array([p[0] for p in pairs], dtype=np.int64)
        self.unit_symbol = np.array([p[1] for p in pairs], dtype=np.int64)
        self.n_units = len(pairs)
        self.pred = (table[:, self.unit_symbol].T == self.unit_state[:, None]).astype(np.float64)  # (P, n)
        self.signs = np.asarray(signs, dtype=np.float64)  # (n_logits, n)
        self.of_state = (self.unit_state[None, :] == np.arange(n)[:, None]).astype(np.float64)  # (n, P)

    def head(self, A: np.ndarray, s: float, hidden: int) -> tuple[np.ndarray, np.ndarray]:
        """Head weights (n_logits, hidden) and bias (n_logits,): logit ``j`` is
        ``(s / 2) * signs[j, q]`` in state ``q``, read through ``s_q(h) = A h + e_0``."""
        w = np.zeros((self.signs.shape[0], hidden))
        for j, row in enumerate(self.signs):  # row by row: the same floats as a single acceptor logit
            w[j, : A.shape[1]] = (s / 2) * row @ A
        return w, (s / 2) * self.signs[:, 0]


@dataclass(frozen=True)
class Options:
    """Checked options of a builder (see :func:`fsm_extract.nets.exact.exact_lstm`)."""

    sharpness: float
    distractors: int
    amplitude: float
    noise: float
    seed: int
    permute: bool


def check_options(sharpness: Any, distractors: Any, amplitude: Any, noise: Any, seed: Any, permute: Any) -> Options:
    s = check_float("sharpness", sharpness, max=1e4)
    if s < MIN_SHARPNESS:
        raise ValidationError(f"sharpness={s} must be >= {MIN_SHARPNESS}: below it the gates do not saturate and the net is not exact")
    m = check_int("distractors", distractors, min=0, max=65536)
    amp = check_float("amplitude", amplitude, min=0.0, max=1.0)
    eps = check_float("noise", noise, min=0.0)
    seed = check_seed("seed", seed)
    permute = m > 0 if permute is None else check_bool("permute", permute)
    return Options(s, m, amp, eps, seed, permute)


def _match_rows(plan: Plan, A: np.ndarray, s: float, hidden: int) -> Blocks:
    """Pre-activation ``s * (x[a] + sum_{q in pred(u)} s_q(h) - 1.5)`` of every state unit:
    ``+s/2`` when unit ``u`` must fire, ``<= -s/2`` otherwise. Returns (W_ih, W_hh, b) rows."""
    P = plan.n_units
    w_ih = np.zeros((P, plan.n_symbols))
    w_ih[np.arange(P), plan.unit_symbol] = math.sqrt(s)  # the embedding is sqrt(s) * identity
    w_hh = np.zeros((P, hidden))
    w_hh[:, : A.shape[1]] = s * plan.pred @ A
    bias = s * (plan.pred[:, 0] - 1.5)  # the read-out's constant term is e_0
    return w_ih, w_hh, bias


def _distractor_rows(
    rng: np.random.Generator, m: int, k: int, n_state: int, hidden: int, amp: float, h_on: float, x_on: float
) -> Blocks:
    """Random rows for ``m`` distractor gates: input, state-unit and distractor columns each
    contribute a pre-activation of std ~1.5 (distractor activity is ~``amp``, so its columns
    are scaled by ``1 / max(amp, 0.1)``)."""
    w_ih = rng.normal(0.0, _DISTRACTOR_STD / x_on, (m, k))
    w_hh = np.zeros((m, hidden))
    w_hh[:, :n_state] = rng.normal(0.0, _DISTRACTOR_STD / h_on, (m, n_state))
    w_hh[:, n_state:] = rng.normal(0.0, _DISTRACTOR_STD / math.sqrt(m) / max(amp, 0.1), (m, m))
    return w_ih, w_hh, rng.normal(0.0, 0.5, m)


def _build(cell: str, plan: Plan, blocks: list[Blocks], head: tuple[np.ndarray, np.ndarray], meta: dict[str, Any],
           opts: Options) -> RNNClassifier:
    """Assemble gate blocks (rows ordered as the unit list), permute units, add noise, load."""
    w_ih = np.concatenate([b[0] for b in blocks])
    w_hh = np.concatenate([b[1] for b in blocks])
    bias = np.concatenate([b[2] for b in blocks])
    hidden = w_hh.shape[1]
    k = plan.n_symbols
    unit_state = np.concatenate([plan.unit_state, -np.ones(hidden - plan.n_units, np.int64)])
    unit_symbol = np.concatenate([plan.unit_symbol, -np.ones(hidden - plan.n_units, np.int64)])
    if meta.get("start_unit") is not None:
        unit_state[plan.n_units], unit_symbol[plan.n_units] = -2, -2
    perm_rng, noise_rng = (np.random.default_rng(s) for s in np.random.SeedSequence([opts.seed, 1]).spawn(2))
    perm = perm_rng.permutation(hidden) if opts.permute else np.arange(hidden)  # new unit j = old unit perm[j]
    rows = np.concatenate([g * hidden + perm for g in range(len(blocks))])
    w_ih, w_hh, bias = w_ih[rows], w_hh[rows][:, perm], bias[rows]
    head_w, head_b = head[0][:, perm], head[1]
    model = RNNClassifier(plan.alphabet, cell=cell, hidden_size=hidden, embedding_dim=k, **plan.outputs)  # type: ignore[arg-type]
    values = {
        "embedding.weight": math.sqrt(meta["sharpness"]) * np.eye(k),
        "rnn.weight_ih_l0": w_ih,
        "rnn.weight_hh_l0": w_hh,
        "rnn.bias_ih_l0": bias,
        "rnn.bias_hh_l0": np.zeros_like(bias),
        "head.weight": head_w,
        "head.bias": head_b,
    }
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in values.items():  # a fixed order: the noise is reproducible
            if opts.noise > 0:
                value = value + noise_rng.normal(0.0, opts.noise, value.shape)
            params[name].copy_(torch.from_numpy(np.ascontiguousarray(value)).to(params[name].dtype))
    model.metadata = {
        **meta,
        "language": plan.name,
        "n_dfa_states": plan.n_states,
        "unit_state": unit_state[perm].tolist(),
        "unit_symbol": unit_symbol[perm].tolist(),
        "permute": bool(opts.permute),
        "noise": opts.noise,
        "seed": opts.seed,
    }
    return model.eval()


def lstm_net(plan: Plan, opts: Options, construction: str) -> RNNClassifier:
    """The exact LSTM of ``plan`` (the construction of :func:`fsm_extract.nets.exact.exact_lstm`);
    ``construction`` names it in the metadata."""
    s, m, amp = opts.sharpness, opts.distractors, opts.amplitude
    P, k, H = plan.n_units, plan.n_symbols, plan.n_units + m
    on = _sigmoid(s / 2)
    h_on = on * math.tanh(on * math.tanh(s))
    A = (plan.of_state - (np.arange(plan.n_states) == 0)[:, None]) / h_on  # (n, P): s = A h + e_0
    i_rows = _match_rows(plan, A, s, H)

    def const(value: float) -> Blocks:
        return np.zeros((P, k)), np.zeros((P, H)), np.full(P, value)

    blocks = [i_rows, const(-s), const(s), i_rows]  # PyTorch gate order: i, f, g, o
    if m:
        rng = np.random.default_rng(np.random.SeedSequence([opts.seed, 0]))
        gates = [_distractor_rows(rng, m, k, P, H, amp, h_on, math.sqrt(s)) for _ in range(3)]
        a = min(max(amp, 1e-9), 1 - 1e-7)
        gates.append((np.zeros((m, k)), np.zeros((m, H)), np.full(m, math.log(a / (1 - a)))))
        blocks = [tuple(np.concatenate([x, y]) for x, y in zip(b, g)) for b, g in zip(blocks, gates)]
    meta = {"construction": construction, "sharpness": s, "distractors": m, "amplitude": amp, "h_on": h_on}
    return _build("lstm", plan, blocks, plan.head(A, s, H), meta, opts)


def gru_net(plan: Plan, opts: Options, construction: str) -> RNNClassifier:
    """The exact GRU of ``plan`` (the construction of :func:`fsm_extract.nets.exact.exact_gru`)."""
    s, m, amp = opts.sharpness, opts.distractors, opts.amplitude
    P, k = plan.n_units, plan.n_symbols
    S, H = P + 1, P + 1 + m  # state units, then the start unit, then distractors
    eta, eta_start = math.tanh(s / 2), math.tanh(s)
    A = np.zeros((plan.n_states, S))
    A[:, :P] = plan.of_state / (2 * eta)
    A[:, P] = plan.of_state.sum(1) / (2 * eta_start) - (np.arange(plan.n_states) == 0) / eta_start
    w_ih, w_hh, b = _match_rows(plan, A, s, H)
    start_ih = np.zeros((1, k))

    def const(value: float) -> Blocks:
        return np.zeros((S, k)), np.zeros((S, H)), np.full(S, value)

    n_rows = (np.vstack([w_ih, start_ih]), np.vstack([w_hh, np.zeros((1, H))]), np.append(b, s))
    blocks = [const(s), const(-s), n_rows]  # PyTorch gate order: r, z, n
    if m:
        rng = np.random.default_rng(np.random.SeedSequence([opts.seed, 0]))
        # every GRU state unit is +-1, so the S state columns are scaled like one input of std 1.5
        gates = [_distractor_rows(rng, m, k, S, H, amp, math.sqrt(S), math.sqrt(s)) for _ in range(3)]
        gates[2] = tuple(amp / (_DISTRACTOR_STD * math.sqrt(3)) * x for x in gates[2])  # pre-activation std ~amp
        blocks = [tuple(np.concatenate([x, y]) for x, y in zip(bl, g)) for bl, g in zip(blocks, gates)]
    meta = {"construction": construction, "sharpness": s, "distractors": m, "amplitude": amp, "eta": eta,
            "start_unit": P}
    return _build("gru", plan, blocks, plan.head(A, s, H), meta, opts)
