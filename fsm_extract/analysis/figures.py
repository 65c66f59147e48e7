"""The pictures of an HTML report, as inline SVG text: the automaton (Graphviz ``dot``) and the
front or sweep plot (matplotlib), drawn from the same dicts the JSON output holds.

Every SVG is cleaned for inlining in HTML: no XML prolog, no DOCTYPE, no metadata block, so
the only URLs left are the SVG namespace declarations (no external resource is ever loaded).
"""

from __future__ import annotations

import io
import re
from typing import Any

from .._limits import MAX_RENDER_STATES
from ..automata.automaton import ExtractedFSM
from ..automata.render import FOLD_SHARE, READABLE_ABOVE, TABLE_ABOVE, chosen_view, to_svg
from ..errors import FsmExtractError

__all__ = ["inline_svg", "automaton_svg", "front_svg", "sweep_svg", "HIDE_SINK_ABOVE"]

#: Automata with more states than this are drawn without their rejecting sink state.
HIDE_SINK_ABOVE = 12

_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.S)
_STRIP = (re.compile(r"<metadata>.*?</metadata>\s*", re.S), re.compile(r"<!--.*?-->\s*", re.S))


def inline_svg(text: str) -> str:
    """``text`` (a standalone SVG file) ready to sit inside an HTML page."""
    text = _PROLOG.sub("", text, count=1)
    for pattern in _STRIP:
        text = pattern.sub("", text)
    return text.strip()


def automaton_svg(fsm: ExtractedFSM, marked: list, *, max_states: int = MAX_RENDER_STATES,
                  timeout: float = 30.0) -> tuple[str | None, str | None]:
    """(svg, note): the diagram with the ``marked`` (state, symbol) transitions in red, and a note
    on what was left out or grouped; (None, why) when it cannot be drawn (no ``dot``, too large,
    too slow). A large automaton is drawn readable (rare states folded, chains collapsed, strongly
    connected components boxed), or as its HTML transition table when that leaves too many nodes."""
    hide = fsm.n_states > HIDE_SINK_ABOVE
    if chosen_view(fsm, hide_sink=hide, mark=marked) == "table":
        return fsm.to_table(fmt="html", mark=marked), (f"{fsm.n_states} states are too many to draw readably (more than "
                                          f"{TABLE_ABOVE} nodes even after folding rare states and collapsing "
                                          "chains): the transition table is shown instead")
    try:
        svg = to_svg(fsm, max_states=max_states, timeout=timeout, hide_sink=hide, mark=marked)
    except FsmExtractError as exc:
        return None, "diagram not drawn: " + " ".join(str(exc).split())
    notes = ["rejecting sink states (every transition loops back) are hidden, with the edges into them"] if hide else []
    if fsm.n_states > READABLE_ABOVE:
        notes.append(f"states with less than {FOLD_SHARE:.0%} of the traffic are folded into 'rare states' nodes, "
                     "chains of states (one way in, one way out, same output) are drawn as one node, and strongly "
                     "connected components are boxed")
    return inline_svg(svg), "; ".join(notes) or None


def _svg_of(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    try:
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    finally:
        plt.close(fig)
    return inline_svg(buf.getvalue())


def _axes(title: str):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "fsm-extract"}):
        fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    return fig, ax


def front_svg(front: dict) -> str:
    """Held-out agreement against automaton size, from a front's ``to_dict()``: every candidate,
    the front, the knee (and what ``extract`` chose, where it differs)."""
    import matplotlib

    fig, ax = _axes(f"extraction front ({front.get('evaluated_on', '')})")
    cands, points = front["candidates"], front["points"]
    ax.plot([p["n_states"] for p in cands], [p["agreement"] for p in cands], ".", color="0.6", label="automata measured")
    ax.step([p["n_states"] for p in points], [p["agreement"] for p in points], "o-", where="post",
            label="front (held-out prefix agreement)")
    by_size = {p["n_states"]: p["agreement"] for p in cands}
    knee, choice = front.get("knee"), front.get("choice")
    if knee in by_size:
        ax.plot([knee], [by_size[knee]], "*", markersize=14, color="C3", label=f"knee: {knee} states")
    if choice in by_size and choice != knee:
        ax.plot([choice], [by_size[choice]], "D", markersize=8, color="C2", label=f"chosen: {choice} states")
    ax.set_xlabel("automaton states")
    ax.set_ylabel("agreement with the net")
    ax.legend(loc="lower right", fontsize=8)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "fsm-extract"}):
        fig.tight_layout()
        return _svg_of(fig)


def sweep_svg(sweep: dict) -> str:
    """Agreement and variance explained against the number of clusters, from a sweep's
    ``to_dict()`` (minimised size on the right axis)."""
    import matplotlib

    fig, ax = _axes(f"extraction sweep ({sweep.get('evaluated_on', '')})")
    rows = sweep["rows"]
    k = [r["k"] for r in rows]
    ax.plot(k, [r["prefix_agreement"] for r in rows], "o-", label="prefix agreement")
    ax.plot(k, [r["word_agreement"] for r in rows], "s--", label="word agreement")
    ax.plot(k, [r["variance_explained"] for r in rows], "^:", label="hidden variance explained")
    ax.set_xlabel("clusters k")
    ax.set_ylabel("share")
    ax2 = ax.twinx()
    ax2.step(k, [r["n_states"] for r in rows], where="mid", color="grey", alpha=0.6, label="minimised FSM states")
    ax2.set_ylabel("FSM states")
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
    ax.legend(handles, labels, loc="lower right", fontsize=8)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "fsm-extract"}):
        fig.tight_layout()
        return _svg_of(fig)
