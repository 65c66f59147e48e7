"""What a state diagram draws: states grouped into the nodes a reader can follow.

A large automaton (30-300 states) is legible only once its structure is visible, so before
Graphviz lays it out the states are grouped:

- **rare states folded**: states whose share of the traffic (the net's visits, from
  ``output_counts``, else the observed transitions into them) is below a threshold become one
  "rare states" node per strongly connected component (those that are the only rare state of
  their component share one node); the initial state and the states a highlighted word visits
  are never folded;
- **chains collapsed**: a path ``q3 -> q4 -> q5`` where each state but the last goes to the next
  on every (drawn) symbol, each state but the first is entered only from the one before it, and
  all have the same output, is one node: every edge into it enters ``q3``, every edge out leaves
  ``q5``, so nothing is lost;
- **strongly connected components** (computed on the drawn states) give Graphviz clusters.

Everything here is NumPy and plain Python; :mod:`.render` turns a :class:`DrawnGraph` into DOT.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .automaton import ExtractedFSM

__all__ = ["DrawnNode", "DrawnGraph", "drawn_graph", "traffic_share", "strongly_connected", "chain_links"]


@dataclass(frozen=True)
class DrawnNode:
    """One node of a diagram: a state, a collapsed chain (states in path order) or folded rare states."""

    kind: Literal["state", "chain", "rare"]
    states: tuple[int, ...]
    component: int  # the strongly connected component it belongs to; -1 for a node spanning several

    @property
    def name(self) -> str:
        """The DOT node id: ``q3`` for a state, ``chain_q3`` for a chain from q3, ``rare_q7`` for folded states."""
        return f"q{self.states[0]}" if self.kind == "state" else f"{self.kind}_q{self.states[0]}"


@dataclass(frozen=True)
class DrawnGraph:
    """The nodes of a diagram and which node each state is drawn in.

    Attributes
    ----------
    nodes : tuple of DrawnNode
    node_of : ndarray of shape (n_states,), int64
        Index into ``nodes`` of each state; -1 for a hidden state.
    component : ndarray of shape (n_states,), int64
        Strongly connected component of each drawn state (-1 hidden), over the drawn states.
    share : ndarray of shape (n_states,), float64
        Each state's traffic share (NaN throughout when the automaton has no evidence).
    """

    nodes: tuple[DrawnNode, ...]
    node_of: np.ndarray
    component: np.ndarray
    share: np.ndarray

    def component_sizes(self) -> dict[int, int]:
        """Drawn states per strongly connected component."""
        ids, counts = np.unique(self.component[self.component >= 0], return_counts=True)
        return {int(i): int(c) for i, c in zip(ids, counts)}


def traffic_share(fsm: ExtractedFSM) -> np.ndarray:
    """ndarray of shape (n_states,), float64: each state's share of the net's visits (its
    outputs counted, or else the observed transitions into it); NaN when there is no evidence."""
    visits = fsm.output_counts.sum(1).astype(np.float64)
    if visits.sum() == 0:
        visits = fsm.transition_counts.sum((0, 1)).astype(np.float64)
    total = visits.sum()
    return visits / total if total > 0 else np.full(fsm.n_states, np.nan)


def strongly_connected(transitions: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Component labels (ndarray of shape (n_states,), int64, -1 for invisible states) of the
    graph of ``transitions`` restricted to the ``visible`` states (iterative Tarjan); labels
    are numbered in order of each component's smallest state."""
    n = transitions.shape[0]
    succ = [sorted({int(t) for t in transitions[q] if visible[t]}) for q in range(n)]
    index = np.full(n, -1, np.int64)
    low = np.zeros(n, np.int64)
    on_stack = np.zeros(n, bool)
    label = np.full(n, -1, np.int64)
    stack: list[int] = []
    counter = 0
    for root in range(n):
        if not visible[root] or index[root] >= 0:
            continue
        work = [(root, 0)]
        while work:
            q, i = work.pop()
            if i == 0:
                index[q] = low[q] = counter
                counter += 1
                stack.append(q)
                on_stack[q] = True
            if i < len(succ[q]):
                work.append((q, i + 1))
                t = succ[q][i]
                if index[t] < 0:
                    work.append((t, 0))
                elif on_stack[t]:
                    low[q] = min(low[q], index[t])
                continue
            if low[q] == index[q]:
                while True:
                    s = stack.pop()
                    on_stack[s] = False
                    label[s] = q  # provisional: the root
                    if s == q:
                        break
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[q])
    roots = {}
    for q in range(n):  # renumber by smallest member
        if label[q] >= 0:
            label[q] = roots.setdefault(int(label[q]), len(roots))
    return label


def _predecessors(transitions: np.ndarray, visible: np.ndarray) -> list[set[int]]:
    preds: list[set[int]] = [set() for _ in range(transitions.shape[0])]
    for q, a in zip(*np.nonzero(visible[:, None] & visible[transitions])):
        preds[int(transitions[q, a])].add(int(q))
    return preds


def chain_links(fsm: ExtractedFSM, visible: np.ndarray, blocked: np.ndarray) -> dict[int, int]:
    """``{p: s}`` where the chain rule lets ``s`` follow ``p`` in one node (see the module
    docstring); ``blocked`` states (folded, or with marked transitions) are never followed by
    another state in a chain, nor follow one."""
    preds = _predecessors(fsm.transitions, visible)
    out = fsm.state_outputs
    links = {}
    for p in np.flatnonzero(visible & ~blocked).tolist():
        succ = {int(t) for t in fsm.transitions[p] if visible[t]}
        if len(succ) != 1:
            continue
        s = succ.pop()
        if s != p and s != fsm.initial and not blocked[s] and preds[s] == {p} and out[s] == out[p]:
            links[p] = s
    return links


def _chains(links: dict[int, int]) -> list[tuple[int, ...]]:
    """Maximal paths along ``links`` (rings with no way in are left alone)."""
    targets = set(links.values())
    chains = []
    for head in sorted(links):
        if head in targets:
            continue
        chain = [head]
        while chain[-1] in links:
            chain.append(links[chain[-1]])
        chains.append(tuple(chain))
    return chains


def _fold_groups(rare: np.ndarray, component: np.ndarray) -> list[tuple[int, ...]]:
    """Rare states grouped by component; the components with a single rare state share one group."""
    by_component: dict[int, list[int]] = {}
    for q in np.flatnonzero(rare).tolist():
        by_component.setdefault(int(component[q]), []).append(q)
    groups = [tuple(g) for g in by_component.values() if len(g) > 1]
    loners = sorted(g[0] for g in by_component.values() if len(g) == 1)
    if loners:
        groups.append(tuple(loners))
    return sorted(groups)


def drawn_graph(fsm: ExtractedFSM, *, hidden: np.ndarray, fold: float, collapse_chains: bool,
                keep: Iterable[int] = (), marked: np.ndarray | None = None) -> DrawnGraph:
    """Group the states of ``fsm`` into diagram nodes.

    Parameters
    ----------
    fsm : ExtractedFSM
    hidden : ndarray of shape (n_states,), bool
        States left out of the drawing (hidden sinks).
    fold : float in [0, 1)
        Fold states whose traffic share is below ``fold`` (0: none).
    collapse_chains : bool
    keep : iterable of int
        States never folded (the initial state is always kept).
    marked : ndarray of shape (n_states, n_symbols), bool, optional
        Transitions that must stay visible: their source state is not merged into a chain.
    """
    n = fsm.n_states
    visible = ~np.asarray(hidden, bool)
    component = strongly_connected(fsm.transitions, visible)
    share = traffic_share(fsm)
    rare = np.zeros(n, bool)
    if fold > 0 and not np.isnan(share).all():
        rare = visible & (share < fold)
        rare[fsm.initial] = False
        rare[list(keep)] = False
    groups = _fold_groups(rare, component)
    blocked = rare if marked is None else rare | np.asarray(marked, bool).any(1)
    chains = _chains(chain_links(fsm, visible, blocked)) if collapse_chains else []
    grouped = {q for g in groups + chains for q in g}
    nodes = [DrawnNode("state", (q,), int(component[q])) for q in range(n) if visible[q] and q not in grouped]
    nodes += [DrawnNode("chain", c, int(component[c[0]])) for c in chains]
    for g in groups:
        comps = {int(component[q]) for q in g}
        nodes.append(DrawnNode("rare", g, comps.pop() if len(comps) == 1 else -1))
    nodes.sort(key=lambda node: node.states[0])
    node_of = np.full(n, -1, np.int64)
    for i, node in enumerate(nodes):
        node_of[list(node.states)] = i
    return DrawnGraph(tuple(nodes), node_of, component, share)
