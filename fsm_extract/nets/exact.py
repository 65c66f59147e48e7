"""Ground-truth networks: recurrent nets whose weights are *set*, not trained, so that they
compute a given DFA (or Moore machine) exactly, optionally disguised; and languages with a
planted trigger.

They give extraction a known answer. :func:`exact_lstm` builds an ``nn.LSTM`` inside an
:class:`~fsm_extract.nets.models.RNNClassifier` whose acceptance after every prefix equals the
DFA's, on words of any length (saturated gates rewrite the state at every step, so nothing
drifts). Distractor units, a random permutation of the hidden units and weight noise hide the
construction without changing what the net computes. :func:`exact_moore` builds the same
net for a :class:`~fsm_extract.data.moore.MooreMachine`, with one logit per class
(``outputs="classes"``). The construction itself is
:mod:`fsm_extract.nets.exact_construction`. :func:`plant_trigger` makes the rare
behaviour that a 95%-fidelity extraction misses: a language that flips its answer on every
word containing a given substring.

>>> import fsm_extract as fx
>>> from fsm_extract.nets.exact import exact_lstm
>>> net = exact_lstm(fx.languages.tomita(4), distractors=8, amplitude=0.1, seed=1)
>>> net.predict(["0100", "01000"]).tolist()
[True, False]
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from automata.fa.dfa import DFA

from .._checks import check_choice
from ..data import dfa_tables as _sampling
from ..data.languages import Language, from_dfa
from ..data.moore import MooreMachine
from ..errors import ArgumentTypeError, ValidationError
from ..words import encode_word, format_word
from .exact_construction import MIN_SHARPNESS, Plan, check_options, gru_net, lstm_net
from .models import RNNClassifier

__all__ = ["exact_lstm", "exact_gru", "exact_moore", "plant_trigger", "MIN_SHARPNESS"]


def _as_language(dfa: Any) -> Language:
    if isinstance(dfa, Language):
        return dfa
    if isinstance(dfa, DFA):
        return from_dfa(dfa)
    if isinstance(dfa, MooreMachine):
        raise ArgumentTypeError(f"dfa={dfa!r} must be an fsm_extract Language or an automata-lib DFA, got a "
                                "MooreMachine; build its net with exact_moore(machine, cell=...)")
    raise ArgumentTypeError(
        f"dfa={dfa!r} must be an fsm_extract Language or an automata-lib DFA, got {type(dfa).__name__}"
    )


def _plan(lang: Language) -> Plan:
    """An acceptor's plan: one head logit, +1 in accepting states and -1 elsewhere."""
    table, accepting, _ = lang.transition_table()
    return Plan(lang.alphabet, table, np.where(accepting, 1.0, -1.0)[None, :], lang.name, {})


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
    lang = _as_language(dfa)
    opts = check_options(sharpness, distractors, amplitude, noise, seed, permute)
    return lstm_net(_plan(lang), opts, "exact_lstm")


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
    lang = _as_language(dfa)
    opts = check_options(sharpness, distractors, amplitude, noise, seed, permute)
    return gru_net(_plan(lang), opts, "exact_gru")


def _moore_plan(machine: MooreMachine) -> Plan:
    """A Moore machine's plan over its reachable states, renumbered breadth-first from the
    initial state (so the initial state is 0): one head logit per class, +1 in the states of
    that class and -1 elsewhere."""
    table, outputs, initial = machine.transition_table()
    order, index = [initial], {initial: 0}
    for q in order:  # grows while iterating: breadth-first over reachable states
        for r in table[q].tolist():
            if r not in index:
                index[r] = len(order)
                order.append(r)
    reach = np.array(order, dtype=np.int64)
    renumbered = np.vectorize(index.__getitem__, otypes=[np.int64])(table[reach])
    signs = np.where(outputs[reach][None, :] == np.arange(machine.n_classes)[:, None], 1.0, -1.0)
    return Plan(machine.alphabet, renumbered, signs, machine.name,
                {"outputs": "classes", "n_classes": machine.n_classes})


def exact_moore(
    machine: MooreMachine,
    *,
    cell: Literal["lstm", "gru"] = "lstm",
    sharpness: float = 20.0,
    distractors: int = 0,
    amplitude: float = 0.1,
    noise: float = 0.0,
    seed: int = 0,
    permute: bool | None = None,
) -> RNNClassifier:
    """A one-layer LSTM (or GRU) classifier whose class after every prefix is the Moore
    machine's, exactly.

    The construction of :func:`exact_lstm` (or :func:`exact_gru`) on the machine's reachable
    states, with a head of ``n_classes`` logits: logit ``c`` is ``+s/2`` after a prefix that
    leads to a state of class ``c`` and ``-s/2`` otherwise, so the argmax is the machine's class
    with a margin of ``s`` between it and every other class (the empty prefix included). The
    disguise options act as for :func:`exact_lstm`.

    Parameters
    ----------
    machine : MooreMachine
    cell : {"lstm", "gru"}, default "lstm"
    sharpness, distractors, amplitude, noise, seed, permute
        As for :func:`exact_lstm`.

    Returns
    -------
    RNNClassifier
        ``outputs="classes"``, ``n_classes = machine.n_classes``, in eval mode;
        ``hidden_size = P + m`` (LSTM) or ``P + 1 + m`` (GRU) with ``P <= n k`` pairs of the
        ``n`` reachable states. ``metadata["construction"]`` is ``"exact_moore"``; the other
        entries as for :func:`exact_lstm` (``unit_state`` numbers the reachable states
        breadth-first from the initial one).

    Raises
    ------
    ArgumentTypeError, ValidationError
        For a ``machine`` that is not a MooreMachine or an option outside its rule.
    """
    if not isinstance(machine, MooreMachine):
        raise ArgumentTypeError(f"machine={machine!r} must be an fsm_extract MooreMachine, got "
                                f"{type(machine).__name__} (for a DFA or Language use exact_lstm or exact_gru)")
    check_choice("cell", cell, ("lstm", "gru"))
    opts = check_options(sharpness, distractors, amplitude, noise, seed, permute)
    build = lstm_net if cell == "lstm" else gru_net
    return build(_moore_plan(machine), opts, "exact_moore")


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
