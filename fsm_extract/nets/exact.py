"""Ground-truth networks: recurrent nets whose weights are *set*, not trained, so that they
compute a given DFA exactly, optionally disguised; and languages with a planted trigger.

They give extraction a known answer. :func:`exact_lstm` builds an ``nn.LSTM`` inside an
:class:`~fsm_extract.nets.models.RNNClassifier` whose acceptance after every prefix equals the
DFA's, on words of any length (saturated gates rewrite the state at every step, so nothing
drifts). Distractor units, a random permutation of the hidden units and weight noise hide the
construction without changing what the net computes. :func:`plant_trigger` makes the rare
behaviour that a 95%-fidelity extraction misses: a language that flips its answer on every
word containing a given substring.

>>> import fsm_extract as fx
>>> from fsm_extract.nets.exact import exact_lstm
>>> net = exact_lstm(fx.languages.tomita(4), distractors=8, amplitude=0.1, seed=1)
>>> net.predict(["0100", "01000"]).tolist()
[True, False]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from automata.fa.dfa import DFA

from .._checks import check_bool, check_float, check_int, check_seed
from ..data import dfa_tables as _sampling
from ..data.languages import Language, from_dfa
from ..errors import ArgumentTypeError, ValidationError
from ..words import encode_word, format_word
from .models import RNNClassifier

__all__ = ["exact_lstm", "exact_gru", "plant_trigger", "MIN_SHARPNESS"]

MIN_SHARPNESS = 8.0
"""Smallest ``sharpness`` accepted; exactness is verified (tests) from here up to 100."""

_DISTRACTOR_STD = 1.5  # std of a distractor gate's pre-activation from each input group


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _as_language(dfa: Any) -> Language:
    if isinstance(dfa, Language):
        return dfa
    if isinstance(dfa, DFA):
        return from_dfa(dfa)
    raise ArgumentTypeError(
        f"dfa={dfa!r} must be an fsm_extract Language or an automata-lib DFA, got {type(dfa).__name__}"
    )


class _Plan:
    """The state units of the first-order construction and their linear read-out.

    Unit ``u`` stands for the pair ``(unit_state[u], unit_symbol[u]) = (q', a)``: "the last
    symbol was ``a`` and the DFA is now in ``q'``", one unit per distinct pair
    ``(delta(q, a), a)``. ``pred[u, q]`` is 1 where ``delta(q, a) = q'``. The read-out
    ``s = A @ h + e_0`` gives the one-hot DFA state from the hidden vector ``h`` (``A`` is filled
    per cell kind); the zero initial state reads as the initial state 0.
    """

    def __init__(self, lang: Language) -> None:
        table, accepting, _ = lang.transition_table()
        n, k = table.shape
        pairs = sorted({(int(table[q, a]), a) for q in range(n) for a in range(k)})
        self.n_states, self.n_symbols = n, k
        self.unit_state = np.array([p[0] for p in pairs], dtype=np.int64)
        self.unit_symbol = np.array([p[1] for p in pairs], dtype=np.int64)
        self.n_units = len(pairs)
        self.pred = (table[:, self.unit_symbol].T == self.unit_state[:, None]).astype(np.float64)  # (P, n)
        self.sign = np.where(accepting, 1.0, -1.0)  # (n,)
        self.of_state = (self.unit_state[None, :] == np.arange(n)[:, None]).astype(np.float64)  # (n, P)


def _match_rows(plan: _Plan, A: np.ndarray, s: float, hidden: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random rows for ``m`` distractor gates: input, state-unit and distractor columns each
    contribute a pre-activation of std ~1.5 (distractor activity is ~``amp``, so its columns
    are scaled by ``1 / max(amp, 0.1)``)."""
    w_ih = rng.normal(0.0, _DISTRACTOR_STD / x_on, (m, k))
    w_hh = np.zeros((m, hidden))
    w_hh[:, :n_state] = rng.normal(0.0, _DISTRACTOR_STD / h_on, (m, n_state))
    w_hh[:, n_state:] = rng.normal(0.0, _DISTRACTOR_STD / math.sqrt(m) / max(amp, 0.1), (m, m))
    return w_ih, w_hh, rng.normal(0.0, 0.5, m)


def _check_common(
    dfa: Any, sharpness: Any, distractors: Any, amplitude: Any, noise: Any, seed: Any, permute: Any
) -> tuple[Language, float, int, float, float, int, bool]:
    lang = _as_language(dfa)
    s = check_float("sharpness", sharpness, max=1e4)
    if s < MIN_SHARPNESS:
        raise ValidationError(f"sharpness={s} must be >= {MIN_SHARPNESS}: below it the gates do not saturate and the net is not exact")
    m = check_int("distractors", distractors, min=0, max=65536)
    amp = check_float("amplitude", amplitude, min=0.0, max=1.0)
    eps = check_float("noise", noise, min=0.0)
    seed = check_seed("seed", seed)
    permute = m > 0 if permute is None else check_bool("permute", permute)
    return lang, s, m, amp, eps, seed, permute


def _build(
    cell: str, lang: Language, plan: _Plan, blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    head_w: np.ndarray, head_b: float, meta: dict[str, Any], permute: bool, eps: float, seed: int,
) -> RNNClassifier:
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
    perm_rng, noise_rng = (np.random.default_rng(s) for s in np.random.SeedSequence([seed, 1]).spawn(2))
    perm = perm_rng.permutation(hidden) if permute else np.arange(hidden)  # new unit j = old unit perm[j]
    rows = np.concatenate([g * hidden + perm for g in range(len(blocks))])
    w_ih, w_hh, bias = w_ih[rows], w_hh[rows][:, perm], bias[rows]
    head_w = head_w[perm]
    model = RNNClassifier(lang.alphabet, cell=cell, hidden_size=hidden, embedding_dim=k)  # type: ignore[arg-type]
    values = {
        "embedding.weight": math.sqrt(meta["sharpness"]) * np.eye(k),
        "rnn.weight_ih_l0": w_ih,
        "rnn.weight_hh_l0": w_hh,
        "rnn.bias_ih_l0": bias,
        "rnn.bias_hh_l0": np.zeros_like(bias),
        "head.weight": head_w[None, :],
        "head.bias": np.array([head_b]),
    }
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in values.items():  # a fixed order: the noise is reproducible
            if eps > 0:
                value = value + noise_rng.normal(0.0, eps, value.shape)
            params[name].copy_(torch.from_numpy(np.ascontiguousarray(value)).to(params[name].dtype))
    model.metadata = {
        **meta,
        "language": lang.name,
        "n_dfa_states": plan.n_states,
        "unit_state": unit_state[perm].tolist(),
        "unit_symbol": unit_symbol[perm].tolist(),
        "permute": bool(permute),
        "noise": eps,
        "seed": seed,
    }
    return model.eval()


def exact_lstm(
    dfa: Any,
    *,
    sharpness: float = 20.0,
    distractors: int = 0,
    amplitude: float = 0.1,
    noise: float = 0.0,
    seed: int = 0,
    permute: bool | None = None,
) -> RNNClassifier:
    """A one-layer LSTM classifier whose acceptance after every prefix is the DFA's, exactly.

    Construction (first order, on the minimal complete DFA ``(Q, Sigma, delta, 0, F)`` of
    ``dfa``, ``n = |Q|``, ``k = |Sigma|``): the embedding is the identity (``embedding_dim = k``);
    there is one *state unit* per distinct pair ``(q', a) = (delta(q, a), a)``, meaning "the last
    symbol was ``a`` and the DFA is now in ``q'``", so ``P <= n * k`` state units (the embedding
    is ``sqrt(s)`` times the identity, and so are the input weights). After every
    step exactly one state unit is on (``h = h_on = sigmoid(s/2) * tanh(sigmoid(s/2)) ~ 0.7616``)
    and the others are off (``|h| < 1e-8`` at ``s = 20``); the zero initial state, no unit on,
    stands for the initial state. The DFA state is read linearly from ``h``:
    ``s_q(h) = sum_{u in q} h_u / h_on + [q = 0] (1 - sum_u h_u / h_on)``.

    Gates of state unit ``u = (q', a)``, with ``s = sharpness``: input and output gates
    ``sigmoid(s (x_a + sum_{q: delta(q, a) = q'} s_q(h) - 1.5))``, which is ``sigmoid(+s/2)``
    exactly when the symbol is ``a`` and the previous state leads to ``q'``, else at most
    ``sigmoid(-s/2)``; forget gate ``sigmoid(-s) ~ 0`` and cell candidate ``tanh(s) ~ 1``, so
    ``c`` is rewritten at every step and errors never accumulate. The head is
    ``logit = (s / 2) * sum_q (+1 if q in F else -1) s_q(h)``, i.e. ``+-s/2`` after every prefix
    (the empty one included).

    Disguise: ``distractors = m`` units with random (seeded) input, recurrent and bias weights
    in their input, forget and cell gates, and an output gate fixed at ``amplitude``, so that
    ``h = amplitude * tanh(c)`` moves continuously with the input, the state units and each
    other; their outgoing weights into every state-unit gate and into the head are exactly
    zero. Then all ``H`` units are permuted (seeded), consistently in the rows of the four gate
    blocks, the recurrent columns and the head. ``noise = eps`` adds N(0, eps^2) to every
    parameter (embedding, gates, biases, head). At the default sharpness, eps up to 0.2 was
    verified to stay exact: tomita 1-7 and eight 10-state random DFAs over 3-4 symbols, with
    and without 8 distractors of amplitude 1, three noise seeds each, all words up to length
    10 / 7 / 6 (2 / 3 / 4 symbols) and 30 words of length 1000; the smallest gate margin was
    then 4.9 (of 10) and the smallest ``|logit|`` 8.5 (of 10). At eps = 0.3 it is not exact.

    Parameters
    ----------
    dfa : Language or automata.fa.dfa.DFA
        A raw DFA is converted with :func:`fsm_extract.data.languages.from_dfa` (sorted alphabet).
    sharpness : float, default 20.0
        Gate gain ``s``; >= 8. The pre-activation margin of every state gate is ``s / 2``
        and ``|logit| = s / 2``.
    distractors : int, default 0
        Number ``m`` of distractor units.
    amplitude : float in [0, 1], default 0.1
        Distractor activity ``|h| < amplitude``.
    noise : float, default 0.0
        Std of the Gaussian noise added to every parameter.
    seed : int, default 0
        Seeds the distractor weights, the permutation and the noise.
    permute : bool, optional
        Permute the hidden units; default: when ``distractors > 0``.

    Returns
    -------
    RNNClassifier
        ``cell="lstm"``, ``hidden_size = H = P + m``, in eval mode. ``metadata`` records the
        construction; ``metadata["unit_state"][j]`` / ``["unit_symbol"][j]`` give the pair of
        hidden unit ``j`` (``-1`` for a distractor).

    Raises
    ------
    ArgumentTypeError, ValidationError
        For a ``dfa`` of the wrong type or an option outside its rule.
    """
    lang, s, m, amp, eps, seed, permute = _check_common(dfa, sharpness, distractors, amplitude, noise, seed, permute)
    plan = _Plan(lang)
    P, k, H = plan.n_units, plan.n_symbols, plan.n_units + m
    on = _sigmoid(s / 2)
    h_on = on * math.tanh(on * math.tanh(s))
    A = (plan.of_state - (np.arange(plan.n_states) == 0)[:, None]) / h_on  # (n, P): s = A h + e_0
    i_rows = _match_rows(plan, A, s, H)

    def const(value: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.zeros((P, k)), np.zeros((P, H)), np.full(P, value)

    blocks = [i_rows, const(-s), const(s), i_rows]  # PyTorch gate order: i, f, g, o
    if m:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
        gates = [_distractor_rows(rng, m, k, P, H, amp, h_on, math.sqrt(s)) for _ in range(3)]
        a = min(max(amp, 1e-9), 1 - 1e-7)
        gates.append((np.zeros((m, k)), np.zeros((m, H)), np.full(m, math.log(a / (1 - a)))))
        blocks = [tuple(np.concatenate([x, y]) for x, y in zip(b, g)) for b, g in zip(blocks, gates)]
    head_w = np.zeros(H)
    head_w[:P] = (s / 2) * plan.sign @ A
    meta = {"construction": "exact_lstm", "sharpness": s, "distractors": m, "amplitude": amp, "h_on": h_on}
    return _build("lstm", lang, plan, blocks, head_w, (s / 2) * plan.sign[0], meta, permute, eps, seed)


def exact_gru(
    dfa: Any,
    *,
    sharpness: float = 20.0,
    distractors: int = 0,
    amplitude: float = 0.1,
    noise: float = 0.0,
    seed: int = 0,
    permute: bool | None = None,
) -> RNNClassifier:
    """A one-layer GRU classifier whose acceptance after every prefix is the DFA's, exactly.

    The same first-order construction as :func:`exact_lstm`, with the GRU's update gate
    ``z = sigmoid(-s) ~ 0`` and reset gate ``r = sigmoid(s) ~ 1`` so ``h = n`` is rewritten at
    every step. A state unit's candidate ``n = tanh(s (x_a + sum_{q: delta(q, a) = q'} s_q(h) -
    1.5))`` is ``+eta = tanh(s/2)`` when it fires and about ``-1`` otherwise, so GRU states are
    ``+-1`` vectors; one extra *start unit* (``n = tanh(s)``) is 0 in the initial state and 1
    afterwards, which tells the zero initial state apart. Read-out:
    ``s_q(h) = sum_{u in q} (h_u / eta + h_start) / 2 + [q = 0] (1 - h_start)``; the head is
    ``(s / 2) sum_q (+-1) s_q(h)``. Hidden size ``H = P + 1 + m`` with ``P <= n k`` pairs.

    Distractors have random reset, update and candidate rows, the candidate's pre-activation
    scaled to a std of about ``amplitude`` (so ``|h|`` is typically ``amplitude``, not bounded by
    it as in the LSTM), and zero outgoing weights into state units and head. Parameters, returns and errors as in :func:`exact_lstm`
    (``metadata["unit_state"]`` is ``-2`` for the start unit).
    """
    lang, s, m, amp, eps, seed, permute = _check_common(dfa, sharpness, distractors, amplitude, noise, seed, permute)
    plan = _Plan(lang)
    P, k = plan.n_units, plan.n_symbols
    S, H = P + 1, P + 1 + m  # state units, then the start unit, then distractors
    eta, eta_start = math.tanh(s / 2), math.tanh(s)
    A = np.zeros((plan.n_states, S))
    A[:, :P] = plan.of_state / (2 * eta)
    A[:, P] = plan.of_state.sum(1) / (2 * eta_start) - (np.arange(plan.n_states) == 0) / eta_start
    w_ih, w_hh, b = _match_rows(plan, A, s, H)
    start_ih = np.zeros((1, k))

    def const(value: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.zeros((S, k)), np.zeros((S, H)), np.full(S, value)

    n_rows = (np.vstack([w_ih, start_ih]), np.vstack([w_hh, np.zeros((1, H))]), np.append(b, s))
    blocks = [const(s), const(-s), n_rows]  # PyTorch gate order: r, z, n
    if m:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
        # every GRU state unit is +-1, so the S state columns are scaled like one input of std 1.5
        gates = [_distractor_rows(rng, m, k, S, H, amp, math.sqrt(S), math.sqrt(s)) for _ in range(3)]
        gates[2] = tuple(amp / (_DISTRACTOR_STD * math.sqrt(3)) * x for x in gates[2])  # pre-activation std ~amp
        blocks = [tuple(np.concatenate([x, y]) for x, y in zip(bl, g)) for bl, g in zip(blocks, gates)]
    head_w = np.zeros(H)
    head_w[:S] = (s / 2) * plan.sign @ A
    meta = {"construction": "exact_gru", "sharpness": s, "distractors": m, "amplitude": amp, "eta": eta, "start_unit": P}
    return _build("gru", lang, plan, blocks, head_w, (s / 2) * plan.sign[0], meta, permute, eps, seed)


def _kmp_table(trigger: np.ndarray, k: int) -> np.ndarray:
    """Substring automaton: ``kmp[j, a]`` is the length of the longest prefix of ``trigger``
    that is a suffix of (the first ``j`` trigger symbols, then ``a``); state ``L`` absorbs."""
    L = trigger.size
    kmp = np.zeros((L + 1, k), dtype=np.int64)
    kmp[0, trigger[0]] = 1
    fail = 0  # state reached by the trigger's first j symbols without its first one
    for j in range(1, L):
        kmp[j] = kmp[fail]
        kmp[j, trigger[j]] = j + 1
        fail = int(kmp[fail, trigger[j]])
    kmp[L] = L
    return kmp


def plant_trigger(dfa: Any, trigger: Any, *, name: str | None = None) -> Language:
    """The language of ``dfa`` with its answer flipped on every word containing ``trigger``.

    Built as the product of the DFA with the substring (Knuth-Morris-Pratt) automaton of
    ``trigger``, whose last state is "trigger seen" and absorbs; acceptance is flipped in the
    product states where the trigger was seen, and :class:`~fsm_extract.data.languages.Language`
    minimises the result.

    Parameters
    ----------
    dfa : Language or automata.fa.dfa.DFA
    trigger : str or sequence of str
        A non-empty word over the alphabet (a ``str`` of one-character symbols, or symbols).
    name : str, optional
        Defaults to ``"<name> + trigger <trigger>"``.

    Returns
    -------
    Language
        ``result.accepts(w) == (lang.accepts(w) != (trigger occurs in w))``.

    Raises
    ------
    UnknownSymbolError
        If ``trigger`` holds a symbol outside the alphabet.
    ValidationError
        If ``trigger`` is empty.
    """
    lang = _as_language(dfa)
    ids = encode_word(trigger, lang.alphabet, name="trigger").astype(np.int64)
    if ids.size == 0:
        raise ValidationError(f"trigger={trigger!r} must hold at least one symbol")
    if name is not None and not isinstance(name, str):
        raise ArgumentTypeError(f"name={name!r} must be a str, got {type(name).__name__}")
    table, accepting, _ = lang.transition_table()
    kmp = _kmp_table(ids, len(lang.alphabet))
    L = ids.size
    index = {(0, 0): 0}
    order = [(0, 0)]
    rows = []
    for q, j in order:  # grows while iterating: breadth-first over reachable pairs
        row = []
        for a in range(len(lang.alphabet)):
            nxt = (int(table[q, a]), int(kmp[j, a]))
            if nxt not in index:
                index[nxt] = len(order)
                order.append(nxt)
            row.append(index[nxt])
        rows.append(row)
    acc = np.array([bool(accepting[q]) != (j == L) for q, j in order])
    product = _sampling.dfa_of_table(np.array(rows, dtype=np.int64), acc, lang.alphabet)
    label = name if name is not None else f"{lang.name or 'language'} + trigger {format_word(trigger)}"
    return Language(lang.alphabet, product, label)
