"""Approximate state merging: from a fine automaton to every smaller one on the way down.

Refinement splits until the net's transitions are deterministic on the data, so on a net that
is not cleanly finite-state (drift on long words, noise, a counter) it keeps states that differ
only on a few observations: 37 states for the bundled Tomita 7 net, whose language has 5. A
state-merging learner (RPNI, ALERGIA) goes the other way: it merges states whose behaviour is
compatible on the data. Here the data are the net's own outputs, so compatibility is measured
directly: a merge is scored by how many prefixes of the fitting words the merged automaton
still answers as the net does.

:func:`merge_path` merges greedily. At each size it scores every candidate pair at once (one
Numba pass over the words for all candidates, :func:`~fsm_extract.automata.scoring.agreement_counts`)
and keeps the merge that loses the fewest prefixes; the merged automaton is the quotient of the
fine one (counts summed, majority transitions, :func:`~fsm_extract.automata.minimize.quotient_fsm`),
minimised. Candidates are pairs of states with the same output, each state paired with its
``candidates`` nearest by behaviour (outputs on every continuation up to length 3 in the
automaton, then distance between mean net states): merging states with different outputs
always costs their outputs. The path holds one automaton per size reached, largest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from .._checks import check_int
from ..automata.automaton import ExtractedFSM
from ..automata.minimize import quotient_fsm, quotient_parts
from ..automata.scoring import agreement_counts

__all__ = ["Words", "merge_path", "score"]


@dataclass(frozen=True)
class Words:
    """Words with the net's output class after every prefix: what automata are scored on.

    Attributes
    ----------
    symbols, offsets : CSR arrays of the words
    classes : ndarray of shape (n_steps,), int
        The net's output class after each step.
    h0_class : int
        The net's output class on the empty word.
    """

    symbols: np.ndarray
    offsets: np.ndarray
    classes: np.ndarray
    h0_class: int

    @property
    def n_words(self) -> int:
        return int(self.offsets.size - 1)

    @property
    def n_steps(self) -> int:
        return int(self.symbols.size)


def score(fsms: list[ExtractedFSM], words: Words) -> tuple[np.ndarray, np.ndarray]:
    """Prefix and word agreement (shares) of each automaton with the net on ``words`` (1.0
    where there is nothing to disagree on, as :func:`fsm_extract.fidelity` reports)."""
    n = max(f.n_states for f in fsms)
    k = fsms[0].n_symbols
    tables = np.zeros((len(fsms), n, k), np.int32)
    outputs = np.zeros((len(fsms), n), np.int32)
    for i, f in enumerate(fsms):
        tables[i, : f.n_states] = f.transitions
        outputs[i, : f.n_states] = f.state_outputs
    initials = np.array([f.initial for f in fsms], np.int32)
    prefix, whole = agreement_counts(tables, outputs, initials, words.symbols, words.offsets, words.classes,
                                     words.h0_class)
    p = prefix / words.n_steps if words.n_steps else np.ones(len(fsms))
    w = whole / words.n_words if words.n_words else np.ones(len(fsms))
    return p, w


def _signatures(fsm: ExtractedFSM, depth: int = 3) -> np.ndarray:
    """Each state's outputs on every continuation up to ``depth``, (n_states, n_words)."""
    cols = [fsm.state_outputs]
    for length in range(1, depth + 1):
        for w in product(range(fsm.n_symbols), repeat=length):
            q = np.arange(fsm.n_states)
            for a in w:
                q = fsm.transitions[q, a]
            cols.append(fsm.state_outputs[q])
    return np.stack(cols, axis=1)


def _candidates(fsm: ExtractedFSM, per_state: int) -> list[tuple[int, int]]:
    """Pairs (p, q), p < q, with the same output: each state with its nearest by behaviour."""
    n = fsm.n_states
    sig = _signatures(fsm)
    differ = (sig[:, None, :] != sig[None, :, :]).mean(-1)
    if fsm.centroids is not None:
        c = fsm.centroids
        d = np.sqrt(np.maximum(((c[:, None, :] - c[None, :, :]) ** 2).sum(-1), 0.0))
        differ = differ + 1e-3 * d / max(float(d.max()), 1e-12)  # ties broken by mean net states
    same_output = fsm.state_outputs[:, None] == fsm.state_outputs[None, :]
    differ = np.where(same_output & ~np.eye(n, dtype=bool), differ, np.inf)
    pairs = set()
    for p in range(n):
        for q in np.argsort(differ[p], kind="stable")[:per_state]:
            if np.isfinite(differ[p, q]):
                pairs.add((min(p, int(q)), max(p, int(q))))
    return sorted(pairs)


def _blocks(n: int, p: int, q: int) -> np.ndarray:
    """Block labels of merging state ``q`` into ``p`` (p < q): labels 0..n-2, all used."""
    blocks = np.arange(n)
    blocks[q] = p
    blocks[q + 1 :] -= 1
    return blocks


def _quick_quotient(fsm: ExtractedFSM, blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(table, output per state, initial) of :func:`quotient_fsm` without building the automaton
    (nor minimising it: that keeps the language), for scoring a candidate."""
    _, _, _, table, out = quotient_parts(fsm, blocks)
    return table, out, int(blocks[fsm.initial])


def _score_tables(cands: list[tuple[np.ndarray, np.ndarray, int]], words: Words) -> tuple[np.ndarray, np.ndarray]:
    n = max(t.shape[0] for t, _, _ in cands)
    tables = np.zeros((len(cands), n, cands[0][0].shape[1]), np.int32)
    outputs = np.zeros((len(cands), n), np.int32)
    for i, (t, o, _) in enumerate(cands):
        tables[i, : t.shape[0]] = t
        outputs[i, : o.size] = o
    initials = np.array([c[2] for c in cands], np.int32)
    return agreement_counts(tables, outputs, initials, words.symbols, words.offsets, words.classes, words.h0_class)


def merge_path(fsm: ExtractedFSM, words: Words, *, min_states: int = 1, candidates: int = 8) -> list[ExtractedFSM]:
    """Greedy merges of ``fsm`` (see the module docstring), scored on ``words``.

    Parameters
    ----------
    fsm : ExtractedFSM
        The fine automaton (with its evidence).
    words : Words
        The fitting words with the net's outputs.
    min_states : int, default 1
        No automaton smaller than this (a merge can take several states at once, since the
        quotient is minimised: the path stops before one that would go below).
    candidates : int, default 8
        Nearest same-output states paired with each state.

    Returns
    -------
    list of ExtractedFSM
        ``fsm`` minimised, then one automaton per smaller size reached, largest first; each
        records ``metadata["merged_from"]``.
    """
    min_states = check_int("min_states", min_states, min=1)
    candidates = check_int("candidates", candidates, min=1)
    current = fsm.minimize()
    path = [current]
    while current.n_states > min_states:
        pairs = _candidates(current, candidates)
        if not pairs:
            break
        prefix, whole = _score_tables([_quick_quotient(current, _blocks(current.n_states, p, q)) for p, q in pairs],
                                      words)
        p, q = pairs[int(np.lexsort((-whole, -prefix))[0])]  # most prefixes kept, then most words
        current = quotient_fsm(current, _blocks(current.n_states, p, q))
        if current.n_states < min_states:
            break
        path.append(current)
    return path
