"""Refinement: split abstract states until the automaton explains the net.

Plain clustering stops short: clusters that mix hidden states with different futures give
transitions that are not deterministic. Refinement repairs that on the data, as Moore's
algorithm does on an automaton:

1. Count transitions and outputs per cluster.
2. Take the cluster with the largest impure mass: a (cluster, symbol) whose majority successor
   has a share below ``threshold``, or a cluster whose outputs are mixed.
3. Split it by where its members go on that symbol (or by their output): each successor group
   with enough mass becomes a cluster, with the mean of its members as centre.
4. Reassign every point to its nearest centre (the classifier, in the feature space), recount,
   repeat until every transition is deterministic or the state budget is spent.

The classifier is nearest-centroid: it is what ``ExtractedFSM.abstract`` applies later, it
needs no training, it is serialised with the automaton as its cluster centres, and in the
feature space of :mod:`fsm_extract.abstraction.features` the states that k-means mixes are far apart
(see the README's refinement section for measurements). Every split is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..automata.nearest import nearest_centroid
from ..automata.counting import count_outputs, count_transitions

__all__ = ["Split", "refine_partition"]


@dataclass(frozen=True)
class Split:
    """One split: ``cluster`` was divided (for ``reason`` on ``symbol``) into ``into``."""

    iteration: int
    cluster: int
    reason: str  # "transition" or "output"
    symbol: str | None
    majority_share: float
    impure_mass: int
    into: tuple
    separation: float = float("nan")  # share of the split members the classifier puts in their own group

    def to_dict(self) -> dict[str, Any]:
        return {"iteration": self.iteration, "cluster": self.cluster, "reason": self.reason, "symbol": self.symbol,
                "majority_share": self.majority_share, "impure_mass": self.impure_mass, "into": list(self.into),
                "separation": self.separation}


def _by_block(counts: np.ndarray, block: np.ndarray) -> np.ndarray:
    """Transition counts summed over successors in the same block: (n, k, n_blocks)."""
    onehot = np.zeros((block.size, int(block.max()) + 1), dtype=np.int64)
    onehot[np.arange(block.size), block] = 1
    return counts @ onehot


def behaviour_blocks(counts: np.ndarray, out_counts: np.ndarray) -> np.ndarray:
    """Which clusters behave alike: Moore's partition of the majority automaton.

    Each cluster's majority successor on each symbol (-1 where never observed) and majority
    output define an automaton; clusters that it cannot tell apart share a block. Successors in
    one block are the same state after minimisation, so mass split among them is no conflict.

    Returns
    -------
    ndarray of shape (n_clusters,), int64: the block of each cluster
    """
    table = np.where(counts.sum(-1) > 0, counts.argmax(-1), -1)
    outputs = out_counts.argmax(1)  # the majority class (ties: the lowest)
    block = np.unique(outputs, return_inverse=True)[1].ravel()
    while True:
        succ = np.where(table >= 0, block[np.maximum(table, 0)], -1)
        refined = np.unique(np.column_stack([block, succ]), axis=0, return_inverse=True)[1].ravel()
        if refined.max() == block.max():
            return refined
        block = refined


def _impurities(counts: np.ndarray, out_counts: np.ndarray, threshold: float, min_mass: int, skip: set) -> list:
    """Candidates (impure_mass, cluster, symbol or None, majority_share), worst first."""
    cands = []
    support = counts.sum(-1)
    majority = counts.max(-1)  # counts here are per successor block
    q_idx, a_idx = np.nonzero((support >= min_mass) & (majority < threshold * support))
    for q, a in zip(q_idx.tolist(), a_idx.tolist()):
        if (q, a) not in skip:
            cands.append((int(support[q, a] - majority[q, a]), q, a, float(majority[q, a] / support[q, a])))
    total = out_counts.sum(1)
    for q in np.flatnonzero((total >= min_mass) & (out_counts.max(1) < threshold * total)).tolist():
        if (q, None) not in skip:
            cands.append((int(total[q] - out_counts[q].max()), q, None, float(out_counts[q].max() / total[q])))
    cands.sort(key=lambda c: (-c[0], c[1], -1 if c[2] is None else c[2]))
    return cands


def refine_partition(
    points: np.ndarray,
    point0: np.ndarray,
    centroids: np.ndarray,
    symbols: np.ndarray,
    offsets: np.ndarray,
    out_cls: np.ndarray,
    out0: int,
    alphabet: tuple,
    *,
    threshold: float = 0.999,
    max_states: int = 64,
    min_mass: int = 2,
    max_iterations: int = 1000,
    n_classes: int = 2,
    iteration0: int = 0,
    on_split: Any = None,
) -> tuple[np.ndarray, list[Split], dict]:
    """Split clusters until transitions and outputs are deterministic on the data.

    Parameters
    ----------
    points : ndarray of shape (n_steps, n_features)
        The abstraction's view of the state after each step.
    point0 : ndarray of shape (n_features,)
        The same for the initial state.
    centroids : ndarray of shape (n_clusters, n_features)
        Starting centres (e.g. from k-means).
    symbols, offsets : the trace's CSR arrays
    out_cls : ndarray of shape (n_steps,), int
        The net's output class after each step; ``out0`` on the empty prefix.
    n_classes : int, default 2
        Number of output classes.
    threshold : float
        A transition (or output) is deterministic when its majority share is at least this.
    max_states : int
        State budget: no split beyond this many clusters.
    min_mass : int
        Ignore (cluster, symbol) pairs seen fewer times, and successor groups smaller than this.
    on_split : callable, optional
        Called as ``on_split(points, groups)`` with the split members' points and their group
        (-1: a group too small to keep) before each split; benchmarks use it to compare
        classifiers on the same decisions.

    Returns
    -------
    centroids : ndarray of shape (n_clusters', n_features)
    splits : list of Split
    status : dict
        ``deterministic`` (bool), ``remaining`` impurities (list), ``stopped`` (why).
    """
    centroids = np.array(centroids, dtype=np.float64)
    k = len(alphabet)
    n_steps = points.shape[0]
    lengths = np.diff(offsets)
    starts = offsets[:-1][lengths > 0]
    # successor of each step inside its word (-1 at a word's last step)
    nxt = np.arange(1, n_steps + 1, dtype=np.int64)
    nxt[offsets[1:][lengths > 0] - 1] = -1
    splits: list[Split] = []
    skip: set = set()
    stopped = "deterministic"
    it = iteration0
    for _ in range(max_iterations):
        labels = nearest_centroid(points, centroids)
        init = int(nearest_centroid(point0[None, :], centroids)[0])
        n = centroids.shape[0]
        counts = count_transitions(labels, symbols, offsets, init, n, k)
        outs = count_outputs(labels, out_cls, init, offsets, n, n_classes, initial_output=out0)
        block = behaviour_blocks(counts, outs)
        cands = _impurities(_by_block(counts, block), outs, threshold, min_mass, skip)
        if not cands:
            stopped = "deterministic"
            break
        if n >= max_states:
            stopped = "state budget"
            break
        mass, q, a, share = cands[0]
        members = np.flatnonzero(labels == q)
        if a is None:  # mixed outputs: split by output class
            sig_idx, sig = members, out_cls[members]
            extra_pts, extra_sig = None, None
            if init == q:  # h0 is visited once per word: give it that weight
                n_words = offsets.size - 1
                extra_pts, extra_sig = np.repeat(point0[None, :], n_words, axis=0), np.full(n_words, out0)
        else:  # split by the successor cluster on symbol a
            succ = nxt[members]
            ok = (succ >= 0)
            ok[ok] = symbols[succ[ok]] == a
            sig_idx, sig = members[ok], block[labels[succ[ok]]]
            extra_pts, extra_sig = None, None
            if init == q:  # h0 is a member too: its successors are the first steps of words
                first = starts[symbols[starts] == a]
                if first.size:
                    extra_pts = np.repeat(point0[None, :], first.size, axis=0)
                    extra_sig = block[labels[first]]
        pts = points[sig_idx]
        if extra_pts is not None:
            pts, sig = np.concatenate([pts, extra_pts]), np.concatenate([sig, extra_sig])
        values, inverse, group_mass = np.unique(sig, return_inverse=True, return_counts=True)
        big = np.flatnonzero(group_mass >= min_mass)
        if big.size < 2:
            skip.add((q, a))
            continue
        order = big[np.argsort(-group_mass[big], kind="stable")]
        group_of = inverse.ravel()
        if on_split is not None:
            on_split(pts, np.where(np.isin(group_of, big), group_of, -1))
        new_centres = [pts[group_of == g].mean(0) for g in order]
        centroids[q] = new_centres[0]
        into = [q]
        for c in new_centres[1:]:
            if centroids.shape[0] >= max_states:
                break
            centroids = np.vstack([centroids, c[None, :]])
            into.append(centroids.shape[0] - 1)
        it += 1
        # how well the classifier separates the groups it was built from (the signed members)
        target = np.full(group_of.size, -1)
        for new_label, g in zip(into, order):
            target[group_of == g] = new_label
        kept = target >= 0
        assigned = nearest_centroid(pts[kept], centroids)
        separation = float((assigned == target[kept]).mean()) if kept.any() else float("nan")
        splits.append(Split(iteration=it, cluster=q, reason="output" if a is None else "transition",
                            symbol=None if a is None else alphabet[a], majority_share=share,
                            impure_mass=mass, into=tuple(into), separation=separation))
        # a split that changes nothing would come back forever: check it took effect
        if np.unique(assigned).size < 2:
            skip.add((q, a))
    else:
        stopped = "iteration budget"
    labels = nearest_centroid(points, centroids)
    init = int(nearest_centroid(point0[None, :], centroids)[0])
    n = centroids.shape[0]
    counts = count_transitions(labels, symbols, offsets, init, n, k)
    outs = count_outputs(labels, out_cls, init, offsets, n, n_classes, initial_output=out0)
    remaining = _impurities(_by_block(counts, behaviour_blocks(counts, outs)), outs, threshold, min_mass, set())
    status = {
        "deterministic": not remaining,
        "stopped": stopped if remaining or stopped == "deterministic" else "deterministic",
        "remaining": [{"cluster": q, "symbol": None if a is None else alphabet[a], "majority_share": s, "impure_mass": m}
                      for m, q, a, s in remaining[:20]],
    }
    return centroids, splits, status
