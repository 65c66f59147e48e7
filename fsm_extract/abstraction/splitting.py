"""Splitting: split abstract states until the automaton explains the net.

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

from ..automata.counting import count_outputs, count_transitions
from ..automata.nearest import nearest_centroid
from ..nets.trace import Trace

__all__ = ["Split", "refine_partition", "behaviour_blocks"]


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


class _Partition:
    """The fixed data a partition is refined on, and its counts under given centres."""

    def __init__(self, points: np.ndarray, point0: np.ndarray, trace: Trace) -> None:
        self.points, self.point0, self.trace = points, point0, trace
        self.symbols, self.offsets = trace.symbols, trace.offsets
        self.out_cls, self.out0 = trace.classes, trace.h0_class
        lengths = np.diff(self.offsets)
        self.starts = self.offsets[:-1][lengths > 0]
        # successor of each step inside its word (-1 at a word's last step)
        self.nxt = np.arange(1, points.shape[0] + 1, dtype=np.int64)
        self.nxt[self.offsets[1:][lengths > 0] - 1] = -1

    def counts(self, centroids: np.ndarray) -> tuple:
        """(labels, initial label, transition counts, output counts, behaviour blocks)."""
        labels = nearest_centroid(self.points, centroids)
        init = int(nearest_centroid(self.point0[None, :], centroids)[0])
        n, t = centroids.shape[0], self.trace
        counts = count_transitions(labels, self.symbols, self.offsets, init, n, len(t.alphabet))
        outs = count_outputs(labels, self.out_cls, init, self.offsets, n, t.n_outputs, initial_output=self.out0)
        return labels, init, counts, outs, behaviour_blocks(counts, outs)

    def signature(self, q: int, a: int | None, labels: np.ndarray, init: int, block: np.ndarray) -> tuple:
        """The members of cluster ``q`` (points) and what tells them apart (their output, or the
        behaviour block of their successor on ``a``); h0 counts once per word it starts."""
        members = np.flatnonzero(labels == q)
        extra_pts = extra_sig = None
        if a is None:  # mixed outputs: split by output class
            sig_idx, sig = members, self.out_cls[members]
            if init == q:  # h0 is visited once per word: give it that weight
                n_words = self.offsets.size - 1
                extra_pts, extra_sig = np.repeat(self.point0[None, :], n_words, axis=0), np.full(n_words, self.out0)
        else:  # split by the successor cluster on symbol a
            succ = self.nxt[members]
            ok = succ >= 0
            ok[ok] = self.symbols[succ[ok]] == a
            sig_idx, sig = members[ok], block[labels[succ[ok]]]
            if init == q:  # h0 is a member too: its successors are the first steps of words
                first = self.starts[self.symbols[self.starts] == a]
                if first.size:
                    extra_pts = np.repeat(self.point0[None, :], first.size, axis=0)
                    extra_sig = block[labels[first]]
        pts = self.points[sig_idx]
        if extra_pts is not None:
            pts, sig = np.concatenate([pts, extra_pts]), np.concatenate([sig, extra_sig])
        return pts, sig


def _split_centres(centroids: np.ndarray, q: int, pts: np.ndarray, group_of: np.ndarray, order: np.ndarray,
                   max_states: int) -> tuple[np.ndarray, list[int], float, bool]:
    """Split cluster ``q``: its groups' means become centres (the largest keeps ``q``). Returns
    the centres, the clusters it became, the separation (the share of the signed members the
    nearest-centre classifier puts in their own group) and whether the split took effect."""
    new_centres = [pts[group_of == g].mean(0) for g in order]
    centroids = centroids.copy()
    centroids[q] = new_centres[0]
    into = [q]
    for c in new_centres[1:]:
        if centroids.shape[0] >= max_states:
            break
        centroids = np.vstack([centroids, c[None, :]])
        into.append(centroids.shape[0] - 1)
    target = np.full(group_of.size, -1)
    for new_label, g in zip(into, order):
        target[group_of == g] = new_label
    kept = target >= 0
    assigned = nearest_centroid(pts[kept], centroids)
    separation = float((assigned == target[kept]).mean()) if kept.any() else float("nan")
    return centroids, into, separation, np.unique(assigned).size >= 2


def refine_partition(
    points: np.ndarray,
    point0: np.ndarray,
    centroids: np.ndarray,
    trace: Trace,
    *,
    threshold: float = 0.999,
    max_states: int = 64,
    min_mass: int = 2,
    max_iterations: int = 1000,
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
    trace : Trace
        Its CSR arrays, its output classes after each step and on the empty prefix.
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
    data = _Partition(points, point0, trace)
    alphabet = trace.alphabet
    splits: list[Split] = []
    skip: set = set()
    stopped = "deterministic"
    it = iteration0
    for _ in range(max_iterations):
        labels, init, counts, outs, block = data.counts(centroids)
        cands = _impurities(_by_block(counts, block), outs, threshold, min_mass, skip)
        if not cands:
            stopped = "deterministic"
            break
        if centroids.shape[0] >= max_states:
            stopped = "state budget"
            break
        mass, q, a, share = cands[0]
        pts, sig = data.signature(q, a, labels, init, block)
        _, inverse, group_mass = np.unique(sig, return_inverse=True, return_counts=True)
        big = np.flatnonzero(group_mass >= min_mass)
        if big.size < 2:
            skip.add((q, a))
            continue
        order = big[np.argsort(-group_mass[big], kind="stable")]
        group_of = inverse.ravel()
        if on_split is not None:
            on_split(pts, np.where(np.isin(group_of, big), group_of, -1))
        centroids, into, separation, took = _split_centres(centroids, q, pts, group_of, order, max_states)
        it += 1
        splits.append(Split(iteration=it, cluster=q, reason="output" if a is None else "transition",
                            symbol=None if a is None else alphabet[a], majority_share=share,
                            impure_mass=mass, into=tuple(into), separation=separation))
        if not took:  # a split that changes nothing would come back forever
            skip.add((q, a))
    else:
        stopped = "iteration budget"
    _, _, counts, outs, block = data.counts(centroids)
    remaining = _impurities(_by_block(counts, block), outs, threshold, min_mass, set())
    status = {
        "deterministic": not remaining,
        "stopped": stopped if remaining or stopped == "deterministic" else "deterministic",
        "remaining": [{"cluster": q, "symbol": None if a is None else alphabet[a], "majority_share": s, "impure_mass": m}
                      for m, q, a, s in remaining[:20]],
    }
    return centroids, splits, status
