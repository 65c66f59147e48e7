"""Minimisation of an :class:`~fsm_extract.automata.automaton.ExtractedFSM`, evidence merged.

Split from :mod:`fsm_extract.automata.automaton` to keep that module to the automaton object itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ValidationError
from .behaviour import merged_probs, undecided_outputs

if TYPE_CHECKING:  # pragma: no cover
    from .automaton import ExtractedFSM

__all__ = ["minimize_fsm", "quotient_fsm", "quotient_parts", "bfs_order", "sum_blocks"]


def bfs_order(transitions: np.ndarray, initial: int) -> list[int]:
    """States reachable from ``initial``, in breadth-first order over symbols in alphabet order."""
    table = transitions.tolist()
    seen = {initial}
    order = [initial]
    for q in order:
        for t in table[q]:
            if t not in seen:
                seen.add(t)
                order.append(t)
    return order


def sum_blocks(arr: np.ndarray, labels: np.ndarray, axis: int) -> np.ndarray:
    """Sum the slices of ``arr`` along ``axis`` that share a label (labels cover 0..max, all used)."""
    perm = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[perm], np.arange(int(labels.max()) + 1))
    return np.add.reduceat(np.take(arr, perm, axis=axis), starts, axis=axis)


def minimize_fsm(fsm: ExtractedFSM) -> ExtractedFSM:
    """The minimal equivalent automaton (:meth:`ExtractedFSM.minimize`), with the evidence merged.

    Unreachable states are dropped and states with the same output class after every word
    merged (Moore partition refinement), which preserves the language (the classes); states
    are renumbered in breadth-first order from the initial state (so it becomes 0). Evidence
    is summed over merged states on both state axes, so a transition's confidence counts mass
    that went to any member of its target. Counts from or into dropped (unreachable) states are
    discarded (``metadata["dropped_counts"]``). ``completed`` holds where a merged pair has no
    support and some member was completed. Centroids and output distributions are means of the
    members' weighted by their number of outputs (equal weights when there are none);
    ``cluster_map`` entries of dropped states become -1. ``metadata["minimized_from"]``
    records the old ``n_states``.
    """
    reach = np.array(bfs_order(fsm.transitions, fsm.initial), np.int64)
    local = np.full(fsm.n_states, -1, np.int64)
    local[reach] = np.arange(reach.size)
    table = local[fsm.transitions[reach]]  # (r, k), reachable states only
    block = np.unique(fsm.classes[reach], return_inverse=True)[1].ravel()
    while True:
        _, refined = np.unique(np.column_stack([block, block[table]]), axis=0, return_inverse=True)
        refined = refined.ravel()
        done = refined.max() == block.max()
        block = refined
        if done:
            break
    rep = np.unique(block, return_index=True)[1]  # first member of each block
    quotient = block[table[rep]]
    order = np.array(bfs_order(quotient, int(block[0])), np.int64)
    relabel = np.empty_like(order)
    relabel[order] = np.arange(order.size)
    new_of_local = relabel[block]  # (r,)
    transitions = relabel[quotient[order]]
    classes = fsm.classes[reach[rep[order]]]

    counts = fsm.transition_counts[np.ix_(reach, np.arange(fsm.n_symbols), reach)]
    counts = sum_blocks(sum_blocks(counts, new_of_local, 0), new_of_local, 2)
    outputs = sum_blocks(fsm.output_counts[reach], new_of_local, 0)
    any_completed = sum_blocks(fsm.completed[reach].astype(np.int64), new_of_local, 0) > 0
    completed = any_completed & (counts.sum(-1) == 0)
    weight = fsm.output_counts[reach].sum(1)
    centroids = merged_probs(None if fsm.centroids is None else fsm.centroids[reach], weight, new_of_local, order.size)
    probs = merged_probs(None if fsm.output_probs is None else fsm.output_probs[reach], weight, new_of_local, order.size)
    state_map = np.full(fsm.n_states, -1, np.int64)
    state_map[reach] = new_of_local
    cluster_map = None
    if fsm.cluster_map is not None:
        cluster_map = np.where(fsm.cluster_map >= 0, state_map[fsm.cluster_map], -1)
    meta = dict(fsm.metadata)
    meta["minimized_from"] = fsm.n_states
    meta["dropped_counts"] = int(fsm.transition_counts.sum() - counts.sum())
    if "undecided_outputs" in meta:
        meta["undecided_outputs"] = undecided_outputs(outputs).tolist()
    return fsm.remade(transitions, classes, 0, transition_counts=counts, output_counts=outputs, completed=completed,
                      centroids=centroids, cluster_map=cluster_map, metadata=meta, output_probs=probs)


def _check_blocks(blocks: Any, n_states: int) -> np.ndarray:
    """``blocks`` as int64 labels of a partition of ``n_states`` states: one per state, labels
    ``0..b-1`` all used; else ValidationError naming the rule."""
    arr = np.asarray(blocks)
    if arr.ndim != 1 or arr.shape[0] != n_states:
        raise ValidationError(f"blocks must have shape ({n_states},), one block per state, got {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
            raise ValidationError(f"blocks must be integer block labels, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise ValidationError(f"blocks must be labels >= 0, got {int(arr.min())}")
    used = np.unique(arr)
    if used.size and (used[-1] != used.size - 1):
        missing = sorted(set(range(int(used[-1]) + 1)) - set(used.tolist()))[:5]
        raise ValidationError(f"blocks must use every label 0..{int(used[-1])}, but {missing} are unused")
    return arr


def quotient_parts(fsm: ExtractedFSM, blocks: np.ndarray) -> tuple[np.ndarray, ...]:
    """The pieces of :func:`quotient_fsm` for checked ``blocks``: (counts, outputs, rep,
    transitions, state_outputs). ``rep[b]`` is the member of block ``b`` with the most outputs
    (the first such state); a pair no member took keeps ``rep``'s transition, a block with no
    output evidence ``rep``'s output."""
    counts = sum_blocks(sum_blocks(fsm.transition_counts, blocks, 0), blocks, 2)
    outputs = sum_blocks(fsm.output_counts, blocks, 0)
    order = np.argsort(-fsm.output_counts.sum(1), kind="stable")
    rep = order[np.unique(blocks[order], return_index=True)[1]]
    transitions = np.where(counts.sum(-1) > 0, counts.argmax(-1), blocks[fsm.transitions[rep]])
    voted = outputs.argmax(1)  # ties: the smaller class (an acceptor's tie rejects)
    state_outputs = np.where(outputs.sum(1) > 0, voted, fsm.state_outputs[rep])
    return counts, outputs, rep, transitions, state_outputs


def quotient_fsm(fsm: ExtractedFSM, blocks: np.ndarray) -> ExtractedFSM:
    """The automaton whose states are the ``blocks`` of ``fsm``'s states (an approximate
    merge: the blocks need not behave alike), evidence merged, then minimised.

    Counts are summed on both state axes; each block takes the majority output of its
    members' outputs and, on each symbol, the majority successor block of the merged counts
    (a pair its members never took keeps the transition of the member with the most outputs,
    flagged ``completed`` when that one was); centroids are weighted as in minimisation and
    ``cluster_map`` follows the blocks. ``metadata["merged_from"]`` records the old size.

    Parameters
    ----------
    fsm : ExtractedFSM
    blocks : ndarray of shape (n_states,), int
        The block of each state, labels ``0..b-1`` all used.
    """
    blocks = _check_blocks(blocks, fsm.n_states)
    counts, outputs, rep, transitions, state_outputs = quotient_parts(fsm, blocks)
    weight = fsm.output_counts.sum(1)
    completed = (counts.sum(-1) == 0) & fsm.completed[rep]
    centroids = merged_probs(fsm.centroids, weight, blocks, rep.size)
    probs = merged_probs(fsm.output_probs, weight, blocks, rep.size)
    cluster_map = None if fsm.cluster_map is None else np.where(fsm.cluster_map >= 0, blocks[fsm.cluster_map], -1)
    meta = {**dict(fsm.metadata), "merged_from": fsm.n_states}
    if "undecided_outputs" in meta:
        meta["undecided_outputs"] = undecided_outputs(outputs).tolist()
    merged = fsm.remade(transitions, state_outputs, int(blocks[fsm.initial]), transition_counts=counts,
                        output_counts=outputs, completed=completed, centroids=centroids, cluster_map=cluster_map,
                        metadata=meta, output_probs=probs)
    return minimize_fsm(merged)
