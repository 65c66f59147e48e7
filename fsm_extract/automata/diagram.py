"""DOT source of a :class:`~fsm_extract.automata.drawn_graph.DrawnGraph`: its nodes (states,
collapsed chains, folded rare states), merged edges labelled with symbol sets, clusters for
strongly connected components, and the path of a highlighted word.

:mod:`.render` validates the options and calls :func:`diagram_dot`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import graphviz
import numpy as np

from .drawn_graph import DrawnGraph, DrawnNode
from .table import output_text, share_text, symbol_set_label

if TYPE_CHECKING:  # pragma: no cover
    from .automaton import ExtractedFSM

__all__ = ["HIGHLIGHT", "PathSteps", "sinks", "edge_groups", "diagram_dot"]

#: The colour of a highlighted word's states and edges.
HIGHLIGHT = "#1f6fd1"
_HIGHLIGHT_FILL = "#dde9fb"
_COMPACT = {"graph": {"ranksep": "0.3", "nodesep": "0.2"},
            "node": {"fontsize": "11", "margin": "0.02", "width": "0.3", "height": "0.3"}}


@dataclass(frozen=True)
class PathSteps:
    """A highlighted word's run: ``states[i]`` after ``i`` symbols, ``symbols[i]`` the (i+1)-th symbol."""

    word: str
    states: tuple[int, ...]
    symbols: tuple[int, ...]


def sinks(fsm: ExtractedFSM) -> np.ndarray:
    """Rejecting states whose every transition loops back to themselves (never the initial); an
    acceptor only (a Moore machine's trap states say something: their class)."""
    loops = (fsm.transitions == np.arange(fsm.n_states)[:, None]).all(1)
    mask = loops & ~fsm.accepting if fsm.output_kind == "accept" else np.zeros(fsm.n_states, bool)
    mask[fsm.initial] = False
    return mask


def _output_label(fsm: ExtractedFSM, q: int) -> str:
    """A node's output line: nothing for an acceptor (its shape says it), the class of a Moore
    machine, the most probable next symbols of a next-symbol automaton ($ is end-of-word)."""
    return "" if fsm.output_kind == "accept" else "\\n" + graphviz.escape(output_text(fsm, q))


def _edge_style(confidence: float, completed: bool, min_confidence: float) -> dict[str, str]:
    if completed:
        return {"style": "dashed", "color": "gray50", "fontcolor": "gray40", "penwidth": "1"}
    if math.isnan(confidence):  # given, not observed (e.g. from a DFA)
        return {"penwidth": "1.2"}
    width = f"{0.6 + 1.4 * confidence:.2f}"
    if confidence >= min_confidence:
        return {"penwidth": width}
    color = "darkorange" if confidence >= 0.9 else "red3"
    return {"style": "dashed", "color": color, "fontcolor": color, "penwidth": width}


def _internal(graph: DrawnGraph, q: int, t: int) -> bool:
    """Whether ``q -> t`` is a step inside a collapsed chain (not drawn)."""
    node = graph.nodes[graph.node_of[q]]
    return node.kind == "chain" and graph.node_of[t] == graph.node_of[q] and q in node.states[:-1]


def edge_groups(fsm: ExtractedFSM, graph: DrawnGraph, min_confidence: float, marked: np.ndarray | None = None,
                lit: set[tuple[int, int]] = frozenset()) -> dict[tuple[int, int, bool, bool, bool], list[tuple[int, int]]]:
    """The drawn edges: (state, symbol) pairs grouped by (source node, target node, weak, marked,
    on the highlighted path); hidden states and the steps inside chains left out."""
    support = fsm.support
    groups: dict[tuple[int, int, bool, bool, bool], list[tuple[int, int]]] = {}
    node_of = graph.node_of
    for q in range(fsm.n_states):
        for a in range(fsm.n_symbols):
            t = int(fsm.transitions[q, a])
            if node_of[q] < 0 or node_of[t] < 0 or _internal(graph, q, t):
                continue
            weak = bool(fsm.completed[q, a]) or (support[q, a] > 0 and fsm.confidence[q, a] < min_confidence)
            red = marked is not None and bool(marked[q, a])
            groups.setdefault((int(node_of[q]), int(node_of[t]), weak, red, (q, a) in lit), []).append((q, a))
    return groups


def _state_list(states: tuple[int, ...], sep: str, limit: int) -> str:
    names = [f"q{q}" for q in states]
    return sep.join(names if len(names) <= limit else names[: limit - 2] + ["…", names[-1]])


def _node_attrs(fsm: ExtractedFSM, graph: DrawnGraph, node: DrawnNode, show_support: bool) -> dict[str, str]:
    q = node.states[0]
    if node.kind == "rare":
        share = float(np.nansum(graph.share[list(node.states)]))
        label = (f"rare states ({len(node.states)}, {share_text(share)} of traffic)\\n"
                 + _state_list(node.states, " ", 8))
        return {"label": label, "shape": "box", "style": "dashed,filled", "fillcolor": "gray95", "color": "gray40",
                "margin": "0.1,0.04"}
    accepting = fsm.output_kind == "accept" and bool(fsm.accepting[q])
    if node.kind == "chain":
        label = f"{_state_list(node.states, ' → ', 5)}\\n({len(node.states)} states)" + _output_label(fsm, q)
        return {"label": label, "shape": "box", "style": "rounded", "peripheries": "2" if accepting else "1",
                "margin": "0.1,0.04"}
    label = f"q{q}" + _output_label(fsm, q)
    total = int(fsm.output_counts[q].sum())
    if show_support and total:
        majority = ""
        if fsm.output_kind == "accept":
            rej, acc = fsm.output_counts[q]
            majority = "acc " if acc > rej else "rej " if rej > acc else "tie "
        label += f"\\n{majority}{fsm.output_confidence[q]:.0%}\\nn={total}"
    return {"label": label, "shape": "doublecircle" if accepting else "circle"}


def _path_label(fsm: ExtractedFSM, path: PathSteps) -> str:
    states = path.states if len(path.states) <= 12 else path.states[:10] + (-1,) + path.states[-1:]
    run = " → ".join("…" if q < 0 else f"q{q}" for q in states)
    return f"path of {path.word!r}: {run} ({output_text(fsm, path.states[-1])})"


def _steps_text(steps: list[int]) -> str:
    return ("step " if len(steps) == 1 else "steps ") + ",".join(map(str, steps))


def diagram_dot(fsm: ExtractedFSM, graph: DrawnGraph, *, min_confidence: float, title: str | None, rankdir: str,
                show_support: bool, marked: np.ndarray, path: PathSteps | None, clusters: bool,
                compact: bool = False, comment: str | None = None) -> tuple[str, int]:
    """(DOT source, number of edges) of ``graph``; ``compact``: smaller nodes, fonts and gaps
    (about half the width for a 40-state automaton)."""
    g = graphviz.Digraph("fsm", graph_attr={"rankdir": rankdir, **_COMPACT["graph"]} if compact else {"rankdir": rankdir},
                         node_attr={"shape": "circle", "fontname": "Helvetica", **(_COMPACT["node"] if compact else {})},
                         edge_attr={"fontname": "Helvetica", "fontsize": "10" if compact else "12", "arrowsize": "0.8"})
    lines = ([graphviz.escape(title)] if title else []) + ([graphviz.escape(_path_label(fsm, path))] if path else [])
    if lines:
        g.attr(label="\\n".join(lines), labelloc="t", fontname="Helvetica")
    if comment:
        g.attr(comment=comment)
    steps: dict[tuple[int, int], list[int]] = {}
    if path is not None:
        for i, (q, a) in enumerate(zip(path.states, path.symbols), 1):
            steps.setdefault((q, a), []).append(i)
    on_path = {int(graph.node_of[q]) for q in path.states} if path is not None else set()
    start = graph.nodes[graph.node_of[fsm.initial]].name
    g.node("__start", label="", shape="none", width="0", height="0")
    g.edge("__start", start, **({"color": HIGHLIGHT, "penwidth": "2.8"} if path is not None else {}))

    sizes = graph.component_sizes()
    boxes: dict[int, list[int]] = {}
    for i, node in enumerate(graph.nodes):
        boxes.setdefault(node.component if clusters and sizes.get(node.component, 0) >= 2 else -1, []).append(i)
    for comp, members in sorted(boxes.items()):
        def add(sub: graphviz.Digraph) -> None:
            for i in members:
                node = graph.nodes[i]
                attrs = _node_attrs(fsm, graph, node, show_support)
                if i in on_path:
                    inside = [s for (q, a), s in steps.items() if _internal(graph, q, int(fsm.transitions[q, a]))
                              and graph.node_of[q] == i]
                    if inside:
                        attrs["label"] += "\\n" + _steps_text(sorted(x for s in inside for x in s)) + " inside"
                    style = attrs.get("style", "")
                    attrs.update(color=HIGHLIGHT, penwidth="2.5", fillcolor=_HIGHLIGHT_FILL,
                                 style=",".join(x for x in (style.replace("filled", "").strip(","), "filled") if x))
                sub.node(node.name, **attrs)
        if comp < 0:
            add(g)
            continue
        with g.subgraph(name=f"cluster_scc{comp}") as sub:
            sub.attr(label=f"strongly connected: {sizes[comp]} states", style="rounded,dashed", color="gray60",
                     fontcolor="gray40", fontname="Helvetica", fontsize="11")
            add(sub)

    support = fsm.support
    agree = np.take_along_axis(fsm.transition_counts, fsm.transitions[:, :, None], 2)[..., 0]
    groups = edge_groups(fsm, graph, min_confidence, marked, set(steps))
    for (src, dst, _, red, lit), pairs in groups.items():
        qs, symbols = [q for q, _ in pairs], [a for _, a in pairs]
        n_obs, n_agree = int(support[qs, symbols].sum()), int(agree[qs, symbols].sum())
        confidence = n_agree / n_obs if n_obs else math.nan
        completed = bool(fsm.completed[qs, symbols].all())
        label = graphviz.escape(symbol_set_label(sorted(set(symbols)), fsm.alphabet))
        if show_support and n_obs:
            label += f"\\nn={n_obs} {confidence:.0%}"
        elif show_support and completed:
            label += "\\n(completed)"
        style = _edge_style(confidence, completed, min_confidence)
        if red:
            style.update(color="red3", fontcolor="red3", penwidth="2.6")
        if lit:
            label += "\\n" + _steps_text(sorted(x for p in pairs for x in steps.get(p, [])))
            style.update(color=HIGHLIGHT, fontcolor=HIGHLIGHT, penwidth="2.8")
        g.edge(graph.nodes[src].name, graph.nodes[dst].name, label=label, **style)
    return g.source, len(groups)
