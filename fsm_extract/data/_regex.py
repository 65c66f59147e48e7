"""Regular expression to DFA with a bounded cost, for :func:`fsm_extract.data.languages.from_regex`.

automata-lib builds the NFA of a pattern by copying it for counted repetitions (``a{1000000}``
is two million states) and its subset construction computes every state's epsilon closure
(``(a?){2000}`` took 56 s and 0.8 GB). Here the NFA's size is estimated from the pattern's
tokens before it is built, with repetitions expanded arithmetically; the subset construction
is our own, closes sets rather than single states, and stops once it has made ``max_states``
DFA states or visited :data:`~fsm_extract._limits.REGEX_WORK_PER_STATE` x ``max_states`` NFA
states in all. Exceeding any bound raises :class:`~fsm_extract.errors.ValidationError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import count

from automata.fa.dfa import DFA
from automata.fa.nfa import NFA
from automata.regex.parser import (
    ConcatToken,
    QuantifierToken,
    StringToken,
    UnionToken,
    add_concat_and_empty_string_tokens,
    get_regex_lexer,
)
from automata.regex.postfix import (
    InfixOperator,
    Literal,
    PostfixOperator,
    tokens_to_postfix,
    validate_tokens,
)

from .._limits import REGEX_WORK_PER_STATE
from ..errors import ValidationError

__all__ = ["estimate_nfa_states", "regex_dfa"]

_HINT = "pass from_regex(..., max_states=...) to allow a larger automaton"


def estimate_nfa_states(pattern: str, alphabet: Iterable[str]) -> int:
    """The number of states automata-lib's NFA of ``pattern`` has (an upper bound for
    intersection), computed from the pattern's tokens without building it.

    Raises automata-lib's own exceptions for an invalid pattern, as ``NFA.from_regex`` does.
    """
    if not pattern:
        return 1
    tokens = get_regex_lexer(frozenset(alphabet), count(0)).lex(pattern)
    validate_tokens(tokens)
    stack: list[int] = []
    for token in tokens_to_postfix(add_concat_and_empty_string_tokens(tokens, count(0))):
        if isinstance(token, InfixOperator):
            right, left = stack.pop(), stack.pop()
            # union adds a start state; intersection (its reachable part) and shuffle are products
            stack.append(left + right + 1 if isinstance(token, UnionToken) else
                         left + right if isinstance(token, ConcatToken) else left * right)
        elif isinstance(token, PostfixOperator):
            left = stack.pop()
            if isinstance(token, QuantifierToken):  # copied max(lower, upper) times, plus a start state
                copies = token.lower_bound if token.upper_bound is None else token.upper_bound
                stack.append(left * max(copies, 1) + 1)
            else:  # *, + and ? are repeat(0, None), repeat(1, None), repeat(0, 1): one copy
                stack.append(left + 1)
        elif isinstance(token, Literal):
            stack.append(len(token.text) + 1 if isinstance(token, StringToken) else 2)
        else:  # pragma: no cover - validate_tokens leaves only these
            raise ValueError(f"unexpected token {token!r}")
    return stack[0]


def _closure(transitions: dict, states: Iterable) -> frozenset:
    """Every NFA state reachable from ``states`` by empty moves."""
    seen = set(states)
    todo = list(seen)
    while todo:
        for nxt in transitions.get(todo.pop(), {}).get("", ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return frozenset(seen)


def regex_dfa(pattern: str, nfa: NFA, alphabet: tuple[str, ...], *, max_states: int) -> DFA:
    """The (partial) DFA of ``nfa`` by subset construction, refused past ``max_states`` DFA
    states or ``REGEX_WORK_PER_STATE * max_states`` NFA states visited."""
    transitions, finals = nfa.transitions, nfa.final_states
    budget = REGEX_WORK_PER_STATE * max_states
    start = _closure(transitions, [nfa.initial_state])
    index, order, rows, work = {start: 0}, [start], [], len(start)
    for subset in order:  # grows while we walk it: breadth-first
        moves: dict[str, set] = {}
        for q in subset:
            for symbol, targets in transitions.get(q, {}).items():
                if symbol:
                    moves.setdefault(symbol, set()).update(targets)
        row = {}
        for symbol in alphabet:
            if symbol not in moves:
                continue
            target = _closure(transitions, moves[symbol])
            work += len(subset) + len(target)
            if target not in index:
                if len(order) >= max_states:
                    raise ValidationError(
                        f"pattern={pattern!r} needs a DFA of more than max_states={max_states} states (subset "
                        f"construction stopped at {len(order)}); {_HINT}"
                    )
                index[target] = len(order)
                order.append(target)
            row[symbol] = index[target]
        if work > budget:
            raise ValidationError(
                f"pattern={pattern!r} needs a subset construction visiting more than {budget:,} NFA states "
                f"({REGEX_WORK_PER_STATE} per state of max_states={max_states}); {_HINT}"
            )
        rows.append(row)
    return DFA(
        states=frozenset(range(len(order))),
        input_symbols=frozenset(alphabet),
        transitions={i: row for i, row in enumerate(rows)},
        initial_state=0,
        final_states=frozenset(i for i, subset in enumerate(order) if not subset.isdisjoint(finals)),
        allow_partial=True,
    )
