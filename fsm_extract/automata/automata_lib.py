"""Conversion between :class:`~fsm_extract.automata.automaton.ExtractedFSM` tables and
automata-lib's ``DFA`` (see ../shared/notes/libraries.md for its traps), and language
equivalence."""

from __future__ import annotations

from typing import Any

import numpy as np
from automata.fa.dfa import DFA

from ..errors import ArgumentTypeError, ValidationError
from ..words import check_alphabet

__all__ = ["table_of_dfa", "dfa_of_table", "equivalent"]


def table_of_dfa(dfa: Any, alphabet: Any = None) -> tuple[tuple[str, ...], np.ndarray, list[bool]]:
    """(alphabet, transition table, accepting) of an automata-lib DFA (complete or partial):
    states reachable from the initial state numbered ``0..n-1`` breadth-first over the
    alphabet's order, missing transitions (and symbols of ``alphabet`` the DFA lacks) sent to
    an added rejecting trap."""
    if not isinstance(dfa, DFA):
        raise ArgumentTypeError(f"dfa must be an automata-lib DFA, got {type(dfa).__name__}")
    symbols = set(dfa.input_symbols)
    if not all(isinstance(s, str) for s in symbols):
        raise ArgumentTypeError(f"dfa.input_symbols must all be strings, got {sorted(map(repr, symbols))}")
    alphabet = check_alphabet(sorted(symbols) if alphabet is None else alphabet)
    missing = symbols - set(alphabet)
    if missing:
        raise ValidationError(f"alphabet={list(alphabet)} must include every input symbol of the DFA; missing {sorted(missing)}")
    trap = object()
    index = {dfa.initial_state: 0}
    order = [dfa.initial_state]
    rows: list[list[int]] = []
    for q in order:  # grows while iterating: breadth-first
        row = []
        for a in alphabet:
            t = trap if q is trap else dfa.transitions.get(q, {}).get(a, trap) if a in symbols else trap
            if t not in index:
                index[t] = len(order)
                order.append(t)
            row.append(index[t])
        rows.append(row)
    accepting = [q is not trap and q in dfa.final_states for q in order]
    return alphabet, np.array(rows, np.int64), accepting


def dfa_of_table(alphabet: tuple, transitions: np.ndarray, accepting: np.ndarray, initial: int) -> DFA:
    """An automata-lib ``DFA`` with states ``0..n-1`` and input symbols ``alphabet``."""
    table = np.asarray(transitions).tolist()
    return DFA(
        states=set(range(len(table))),
        input_symbols=set(alphabet),
        transitions={q: dict(zip(alphabet, row)) for q, row in enumerate(table)},
        initial_state=int(initial),
        final_states={int(q) for q in np.flatnonzero(accepting)},
    )


def equivalent(dfa: DFA, other: Any, alphabet: tuple) -> bool:
    """Whether automata-lib DFAs ``dfa`` and ``other`` (possibly partial) accept the same
    language; ValidationError when their alphabets differ (automata-lib silently says False)."""
    if not isinstance(other, DFA):
        raise ArgumentTypeError(f"other must be an ExtractedFSM, a DFA or have a .dfa, got {type(other).__name__}")
    if set(other.input_symbols) != set(alphabet):
        raise ValidationError(
            f"other has alphabet {sorted(map(str, other.input_symbols))}, which must equal this FSM's "
            f"alphabet {sorted(alphabet)} to compare languages"
        )
    _, table, accepting = table_of_dfa(other, alphabet)  # completes a partial DFA
    return bool(dfa == dfa_of_table(alphabet, table, np.asarray(accepting), 0))
