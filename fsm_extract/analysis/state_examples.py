"""What each state of an automaton *means*, shown by example: for every FSM state, a few of the
shortest distinct prefixes of the evaluated words that end in it, how often the words visit it,
how often net and automaton agree there, and the state's output.

Small by construction (``per_state`` prefixes per state), so it fits in a report's ``to_dict``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..automata.automaton import ExtractedFSM
from ..nets.trace import Trace
from ..words import format_word

__all__ = ["state_examples", "state_output"]

_MIX = np.uint64(0x9E3779B97F4A7C15)  # the 64-bit golden-ratio constant: a cheap polynomial hash


def _prefix_hashes(trace: Trace) -> np.ndarray:
    """A 64-bit hash of the prefix each step ends (equal prefixes, equal hashes), vectorised over
    the position in the word: at most max-length passes over the steps."""
    n = trace.n_steps
    h = np.zeros(n, np.uint64)
    if n == 0:
        return h
    starts = np.repeat(trace.offsets[:-1], trace.lengths)
    pos = np.arange(n) - starts
    sym = trace.symbols.astype(np.uint64) + np.uint64(1)
    with np.errstate(over="ignore"):
        first = pos == 0
        h[first] = sym[first]
        for j in range(1, int(pos.max()) + 1):
            at = np.flatnonzero(pos == j)
            h[at] = h[at - 1] * _MIX + sym[at]
    return h


def state_output(fsm: ExtractedFSM, q: int, *, top: int = 3) -> dict[str, Any]:
    """What state ``q`` outputs: accept/reject, a class, or its most probable next symbols
    (``$`` is end-of-word) with their probabilities."""
    if fsm.output_kind == "accept":
        return {"output": "accept" if fsm.accepting[q] else "reject"}
    if fsm.output_kind == "classes":
        return {"output": f"class {int(fsm.classes[q])}"}
    p = fsm.output_probs[q]
    best = np.argsort(-p, kind="stable")[:top]
    names = [*fsm.alphabet, "$"]
    nxt = [[names[int(i)], round(float(p[i]), 4)] for i in best]
    return {"output": " ".join(f"{s}:{v:.2f}" for s, v in nxt), "top_next": nxt}


def state_examples(fsm: ExtractedFSM, trace: Trace, fsm_states: np.ndarray, agree: np.ndarray, *,
                   per_state: int = 3) -> list[dict[str, Any]]:
    """Per FSM state (in order): ``state``, ``visits`` (prefixes ending in it, the empty ones
    included), ``share`` of all prefixes, ``agreement`` (net and FSM outputs agree on those
    prefixes; None when unvisited), ``prefixes`` (up to ``per_state`` shortest distinct ones,
    shortest first, then in order of appearance), ``output`` (and ``top_next`` for a
    next-symbol automaton).

    Parameters
    ----------
    fsm : ExtractedFSM
    trace : Trace
    fsm_states : ndarray of shape (n_steps,), int
        The FSM's state after each step.
    agree : ndarray of shape (n_steps,), bool
        Output agreement on the prefix each step ends.
    """
    n, n_words = fsm.n_states, trace.n_words
    states = np.asarray(fsm_states, np.int64)
    lengths = np.arange(trace.n_steps) - np.repeat(trace.offsets[:-1], trace.lengths) + 1
    visits = np.bincount(states, minlength=n)
    agreeing = np.bincount(states, weights=np.asarray(agree, float), minlength=n)
    visits[fsm.initial] += n_words  # every word's empty prefix ends in the initial state
    agreeing[fsm.initial] += n_words if int(fsm.state_outputs[fsm.initial]) == trace.h0_class else 0
    hashes = _prefix_hashes(trace)
    order = np.lexsort((np.arange(trace.n_steps), hashes, lengths, states))
    keep = np.ones(order.size, bool)  # the first step of each distinct (state, prefix)
    keep[1:] = (states[order][1:] != states[order][:-1]) | (hashes[order][1:] != hashes[order][:-1])
    firsts = order[keep]
    firsts = firsts[np.lexsort((firsts, lengths[firsts], states[firsts]))]
    bounds = np.searchsorted(states[firsts], np.arange(n + 1))
    total = max(int(visits.sum()), 1)
    out = []
    for q in range(n):
        picks = firsts[bounds[q]: bounds[q + 1]][: per_state - (q == fsm.initial and n_words > 0)]
        prefixes = [format_word("")] if q == fsm.initial and n_words else []
        for step in picks:
            word = int(np.searchsorted(trace.offsets, step, side="right") - 1)
            ids = trace.symbols[trace.offsets[word]: step + 1]
            prefixes.append(format_word([trace.alphabet[int(a)] for a in ids]))
        out.append({"state": q, "visits": int(visits[q]), "share": float(visits[q] / total),
                    "agreement": float(agreeing[q] / visits[q]) if visits[q] else None,
                    "prefixes": prefixes, **state_output(fsm, q)})
    return out
