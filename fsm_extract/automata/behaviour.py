"""What the states of an :class:`~fsm_extract.automata.automaton.ExtractedFSM` do, beyond the
automaton object: where words end, shortest access words, undecided outputs, whether two Moore
machines agree, the output distributions of states that become one."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from .automaton import ExtractedFSM

__all__ = ["undecided_outputs", "same_outputs", "merged_probs", "access_words", "final_states"]


def undecided_outputs(output_counts: np.ndarray) -> np.ndarray:
    """The states whose most frequent output class is tied, or that saw no outputs."""
    top = output_counts.max(1, initial=0)
    return np.flatnonzero((output_counts == top[:, None]).sum(1) > 1) if output_counts.shape[1] else \
        np.arange(output_counts.shape[0])


def _output_values(fsm: ExtractedFSM) -> np.ndarray:
    """What each state outputs, comparable across automata: its class, or for a next-symbol
    automaton the codebook distribution its class stands for."""
    if fsm.output_kind == "next-symbol":
        return fsm.codebook[fsm.classes]
    return fsm.classes[:, None].astype(np.float64)


def same_outputs(a: ExtractedFSM, b: ExtractedFSM) -> bool:
    """Whether two automata give the same class after every word (breadth-first over pairs)."""
    if a.output_kind != b.output_kind or set(a.alphabet) != set(b.alphabet):
        raise ValidationError(f"cannot compare a {a.output_kind!r} automaton over {list(a.alphabet)} with a "
                              f"{b.output_kind!r} one over {list(b.alphabet)}")
    cols = [b.alphabet.index(s) for s in a.alphabet]
    out_a, out_b = _output_values(a), _output_values(b)
    seen = {(a.initial, b.initial)}
    queue = deque(seen)
    while queue:
        p, q = queue.popleft()
        if not np.allclose(out_a[p], out_b[q], rtol=0.0, atol=1e-9):
            return False
        for i, j in enumerate(cols):
            pair = (int(a.transitions[p, i]), int(b.transitions[q, j]))
            if pair not in seen:
                seen.add(pair)
                queue.append(pair)
    return True


def merged_probs(output_probs: np.ndarray | None, weights: np.ndarray, blocks: np.ndarray, n_blocks: int) -> np.ndarray | None:
    """The output distribution of each block of states: the mean of its members' rows weighted
    by ``weights`` (their outputs seen; equal weights in a block that saw none)."""
    if output_probs is None:
        return None
    w = weights.astype(np.float64)
    total = np.bincount(blocks, weights=w, minlength=n_blocks)
    w = np.where(total[blocks] > 0, w, 1.0)
    total = np.bincount(blocks, weights=w, minlength=n_blocks)
    out = np.zeros((n_blocks, output_probs.shape[1]))
    np.add.at(out, blocks, output_probs * w[:, None])
    return out / total[:, None]


def access_words(fsm: ExtractedFSM) -> list[list[int]]:
    """For each state, a shortest word (symbol ids, first in symbol order) that reaches it."""
    words: dict[int, list[int]] = {fsm.initial: []}
    queue = deque([fsm.initial])
    while queue:
        q = queue.popleft()
        for a in range(fsm.n_symbols):
            r = int(fsm.transitions[q, a])
            if r not in words:
                words[r] = words[q] + [a]
                queue.append(r)
    return [words[q] for q in sorted(words)]


def final_states(transitions: np.ndarray, initial: int, symbols: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The state each CSR-encoded word ends in: ndarray of shape (n_words,), int64."""
    lengths = np.diff(offsets)
    order = np.argsort(-lengths, kind="stable")  # longest first: active words are a prefix
    starts = offsets[:-1][order]
    sorted_len = lengths[order]
    state = np.full(lengths.size, initial, np.int64)
    for t in range(int(sorted_len[0]) if lengths.size else 0):
        m = int(np.searchsorted(-sorted_len, -t, side="left"))  # words with length > t
        state[:m] = transitions[state[:m], symbols[starts[:m] + t]]
    out = np.empty_like(state)
    out[order] = state
    return out
