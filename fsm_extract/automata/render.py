"""State diagrams of an :class:`~fsm_extract.automata.automaton.ExtractedFSM` with Graphviz.

:func:`to_dot` needs only the ``graphviz`` Python package; :func:`render` to ``.svg``, ``.png``
or ``.pdf`` also needs the Graphviz ``dot`` program.

How to read a diagram: states are circles (double circles accept), an arrow from nowhere points
at the initial state, and parallel transitions share one edge labelled ``0,1``. Solid black
edges are well supported (confidence >= ``min_confidence``) or given (from a DFA); thinner,
orange/red dashed edges are transitions the net took less consistently; grey dashed edges were
never observed and were completed from the net.

Large automata (30-300 states) are drawn readable by default (see :mod:`.drawn_graph`): rarely
visited states folded into one node with their traffic share, chains of states collapsed into
one node, strongly connected components boxed as clusters; above ``TABLE_ABOVE`` nodes a
transition table is drawn instead (:mod:`.table`). ``highlight="0110"`` draws a word's path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import graphviz
import numpy as np

from .._checks import (
    atomic_write,
    atomic_write_text,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_out_path,
)
from .._limits import DOT_TIMEOUT, MAX_RENDER_STATES, RENDER_EDGES_PER_STATE
from ..errors import (
    ArgumentTypeError,
    FsmExtractError,
    GraphvizNotFoundError,
    GraphvizTimeoutError,
    ValidationError,
)
from ..words import Word, encode_word
from .diagram import PathSteps, diagram_dot, sinks
from .drawn_graph import drawn_graph
from .table import marked_mask as _marked
from .table import table_dot

if TYPE_CHECKING:  # pragma: no cover
    from .automaton import ExtractedFSM

__all__ = ["to_dot", "to_svg", "render", "chosen_view", "drawable_plan", "svg_or_none", "SUFFIXES", "READABLE_ABOVE", "FOLD_SHARE", "CLUSTERS_ABOVE", "TABLE_ABOVE"]

SUFFIXES = (".svg", ".png", ".pdf", ".dot")
#: Above this many drawn states, folding and chain collapsing are on by default ("auto").
READABLE_ABOVE = 30
#: The traffic share below which "auto" folds a state.
FOLD_SHARE = 0.01
#: Above this many drawn states, strongly connected components are boxed by default.
CLUSTERS_ABOVE = 15
#: Above this many nodes (after folding and collapsing), view="auto" draws the table.
TABLE_ABOVE = 80
_INSTALL = "install Graphviz (`apt-get install graphviz`, `brew install graphviz` or `conda install -c conda-forge graphviz`)"


def _check_drawable(plan: _Plan, path: Path, *, max_states: int) -> None:
    """Refuse a diagram too large for Graphviz's layout (see :func:`render`), before any work."""
    if plan.view == "table":
        return
    advice = (f"write {str(path.with_suffix('.dot'))!r} instead (the DOT source, no layout), draw the table "
              "(view='table', CLI: --view table), or pass max_states= (CLI: --max-states) to draw it anyway")
    if plan.nodes > max_states:
        raise ValidationError(
            f"path={str(path)!r}: the diagram has {plan.nodes} nodes for {plan.states} states, which must be <= "
            f"max_states={max_states} for Graphviz to lay it out in reasonable time; {advice}"
        )
    limit = RENDER_EDGES_PER_STATE * max_states
    if plan.edges > limit:
        raise ValidationError(
            f"path={str(path)!r}: the diagram has {plan.edges} edges, which must be <= {limit} ({RENDER_EDGES_PER_STATE} x "
            f"max_states={max_states}) for Graphviz to lay it out in reasonable time; {advice}"
        )


def _run_dot(source: str, fmt: str, timeout: float) -> bytes:
    """Run ``dot -T<fmt>`` on ``source``, stopped after ``timeout`` seconds.

    Raises graphviz.ExecutableNotFound, subprocess.TimeoutExpired or graphviz.CalledProcessError.
    """
    exe = shutil.which("dot")
    if exe is None:
        raise graphviz.ExecutableNotFound(["dot"])
    proc = subprocess.run([exe, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise graphviz.CalledProcessError(proc.returncode, [exe, f"-T{fmt}"], output=proc.stdout, stderr=proc.stderr)
    return proc.stdout


def _auto_or_bool(name: str, value: Any) -> bool | str:
    if isinstance(value, str) and value == "auto":
        return value
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"{name}={value!r} must be True, False or 'auto', got {type(value).__name__}")
    return bool(value)


def _check_fold(fold: Any) -> float | str:
    if fold is None or fold is False:
        return 0.0
    if isinstance(fold, str):
        if fold != "auto":
            raise ValidationError(f"fold={fold!r} must be 'auto', None or a traffic share in [0, 1)")
        return fold
    if isinstance(fold, bool) or not isinstance(fold, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(f"fold={fold!r} must be 'auto', None or a traffic share in [0, 1), got "
                                f"{type(fold).__name__}")
    if not 0.0 <= float(fold) < 1.0:
        raise ValidationError(f"fold={fold!r} must be a traffic share in [0, 1) (states visited less are folded), "
                              "'auto' or None")
    return float(fold)


def _path(fsm: ExtractedFSM, highlight: Any) -> PathSteps | None:
    if highlight is None:
        return None
    symbols = encode_word(highlight, fsm.alphabet, name="highlight")
    states = fsm.run(highlight)
    word = highlight if isinstance(highlight, str) else " ".join(map(str, highlight))
    return PathSteps(word, tuple(int(q) for q in states), tuple(int(a) for a in symbols))


@dataclass(frozen=True)
class _Plan:
    source: str
    view: str
    nodes: int
    edges: int
    states: int


def _plan(fsm: ExtractedFSM, *, hide_sink: bool = False, min_confidence: float = 0.99, title: str | None = None,
          rankdir: str = "LR", show_support: bool = False, mark: Iterable[tuple[int, str]] = (),
          highlight: Any = None, fold: Any = "auto", collapse_chains: Any = "auto", clusters: Any = "auto",
          view: str = "auto") -> _Plan:
    """Validate the options of :func:`to_dot`, group the states and write the DOT source."""
    if type(fsm).__name__ != "ExtractedFSM" or not hasattr(fsm, "transitions"):  # automaton imports this module
        raise ArgumentTypeError(f"fsm must be an ExtractedFSM, got {type(fsm).__name__}")
    hide_sink = check_bool("hide_sink", hide_sink)
    show_support = check_bool("show_support", show_support)
    min_confidence = check_float("min_confidence", min_confidence, min=0.0, max=1.0)
    rankdir = check_choice("rankdir", rankdir, ("LR", "TB", "RL", "BT"))
    if title is not None and not isinstance(title, str):
        raise ArgumentTypeError(f"title={title!r} must be a string or None, got {type(title).__name__}")
    fold, view = _check_fold(fold), check_choice("view", view, ("auto", "diagram", "table"))
    collapse_chains, clusters = _auto_or_bool("collapse_chains", collapse_chains), _auto_or_bool("clusters", clusters)
    marked, path = _marked(fsm, mark), _path(fsm, highlight)

    hidden = sinks(fsm) if hide_sink else np.zeros(fsm.n_states, bool)
    if path is not None:
        hidden[list(path.states)] = False  # the path is drawn in full
    n_drawn = int((~hidden).sum())
    big = n_drawn > READABLE_ABOVE
    fold = (FOLD_SHARE if big else 0.0) if fold == "auto" else fold
    collapse_chains = big if collapse_chains == "auto" else collapse_chains
    clusters = n_drawn > CLUSTERS_ABOVE if clusters == "auto" else clusters
    graph = drawn_graph(fsm, hidden=hidden, fold=fold, collapse_chains=collapse_chains,
                        keep=() if path is None else path.states, marked=marked)
    if view == "table" or (view == "auto" and len(graph.nodes) > TABLE_ABOVE):
        return _Plan(table_dot(fsm, title=title), "table", 1, 0, n_drawn)
    comment = (f"rejecting sink state(s) {', '.join(f'q{q}' for q in np.flatnonzero(hidden))} hidden"
               if hidden.any() else None)
    source, n_edges = diagram_dot(fsm, graph, min_confidence=min_confidence, title=title, rankdir=rankdir,
                                  show_support=show_support, marked=marked, path=path, comment=comment,
                                  compact=big and bool(fold or collapse_chains or clusters), clusters=clusters)
    return _Plan(source, "diagram", len(graph.nodes), n_edges, n_drawn)


def chosen_view(fsm: ExtractedFSM, **options: Any) -> Literal["diagram", "table"]:
    """What :func:`to_dot` with these options draws: ``"diagram"`` or ``"table"`` (``view="auto"``
    draws the table above ``TABLE_ABOVE`` nodes)."""
    return _plan(fsm, **options).view  # type: ignore[return-value]


def to_dot(
    fsm: ExtractedFSM,
    *,
    hide_sink: bool = False,
    min_confidence: float = 0.99,
    title: str | None = None,
    rankdir: Literal["LR", "TB", "RL", "BT"] = "LR",
    show_support: bool = False,
    mark: Iterable[tuple[int, str]] = (),
    highlight: Word | None = None,
    fold: float | Literal["auto"] | None = "auto",
    collapse_chains: bool | Literal["auto"] = "auto",
    clusters: bool | Literal["auto"] = "auto",
    view: Literal["auto", "diagram", "table"] = "auto",
) -> str:
    """DOT source of the state diagram (no Graphviz binary needed).

    Parameters
    ----------
    fsm : ExtractedFSM
    hide_sink : bool
        Hide rejecting sink states (all transitions to themselves, not initial) and edges into them.
    min_confidence : float in [0, 1]
        Observed transitions with a lower confidence are drawn dashed and coloured.
    title : str, optional
        Shown above the diagram.
    rankdir : {"LR", "TB", "RL", "BT"}
    show_support : bool
        Add to each edge label its number of observations and confidence, and to each state its
        number of outputs and majority share.
    mark : iterable of (state, symbol) pairs
        Transitions drawn thick and red, e.g. those that carry residual (a report's
        ``residual`` items); dashed where they were also completed from the net.
    highlight : word, optional
        Draw the path this word takes in blue: its states (never folded or hidden) and edges,
        each edge labelled with its step numbers, and the run above the diagram.
    fold : float in [0, 1), "auto" or None
        Fold the states whose traffic share (the net's visits) is below ``fold`` into one
        "rare states (n, x% of traffic)" node per strongly connected component (components
        with one such state share one node); the initial state is never folded. "auto": 0.01
        above 30 drawn states, else none. Needs evidence (an automaton from a DFA has none).
    collapse_chains : bool or "auto"
        Draw each maximal chain of states (each going to the next on every symbol, entered
        only from the one before, all with the same output) as one node "q3 → q4 → q5 (3
        states)". "auto": above 30 drawn states.
    clusters : bool or "auto"
        Box each strongly connected component of two or more states as a Graphviz cluster
        labelled with its size. "auto": above 15 drawn states.
    view : {"auto", "diagram", "table"}
        "table": one node holding the transition table (:func:`~fsm_extract.automata.table.to_table`)
        instead of a diagram; "auto": the table when more than 80 nodes remain after folding
        and collapsing.

    Returns
    -------
    str
    """
    return _plan(fsm, hide_sink=hide_sink, min_confidence=min_confidence, title=title, rankdir=rankdir,
                 show_support=show_support, mark=mark, highlight=highlight, fold=fold,
                 collapse_chains=collapse_chains, clusters=clusters, view=view).source


def render(
    fsm: ExtractedFSM,
    path: str | os.PathLike,
    *,
    hide_sink: bool = False,
    min_confidence: float = 0.99,
    title: str | None = None,
    rankdir: Literal["LR", "TB", "RL", "BT"] = "LR",
    show_support: bool = False,
    max_states: int = MAX_RENDER_STATES,
    timeout: float = DOT_TIMEOUT,
    highlight: Word | None = None,
    fold: float | Literal["auto"] | None = "auto",
    collapse_chains: bool | Literal["auto"] = "auto",
    clusters: bool | Literal["auto"] = "auto",
    view: Literal["auto", "diagram", "table"] = "auto",
) -> Path:
    """Write the state diagram to ``path``: ``.svg``, ``.png``, ``.pdf`` (needs ``dot``) or ``.dot``.

    The write is atomic. Without the Graphviz ``dot`` program, the DOT source is written beside
    ``path`` (same name, ``.dot`` suffix) and GraphvizNotFoundError is raised. Options are those
    of :func:`to_dot` (``mark`` aside), and:

    Parameters
    ----------
    max_states : int, default 100
        Graphviz's layout time grows steeply with size (a random 100-state automaton on two
        symbols takes about 4 s, 200 states more than two minutes), so a drawn diagram may have
        at most ``max_states`` nodes (after folding and collapsing chains; hidden sinks not
        counted) and 2 x ``max_states`` edges (parallel transitions are one edge). Above that,
        ValidationError is raised before any work, suggesting ``.dot`` output (the DOT source,
        which has no limit since no layout runs) or ``view="table"``. Raise it to draw a larger
        diagram anyway. (With ``view="auto"`` a diagram of more than 80 nodes is a table.)
    timeout : float, default 60
        Seconds ``dot`` may run; it is then stopped and GraphvizTimeoutError is raised.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    p = check_out_path("path", path, suffixes=SUFFIXES)
    max_states = check_int("max_states", max_states, min=1)
    timeout = check_float("timeout", timeout, min=0.0, min_inclusive=False)
    plan = _plan(fsm, hide_sink=hide_sink, min_confidence=min_confidence, title=title, rankdir=rankdir,
                 show_support=show_support, highlight=highlight, fold=fold, collapse_chains=collapse_chains,
                 clusters=clusters, view=view)
    source, fmt = plan.source, p.suffix.lower()[1:]
    if fmt == "dot":
        return atomic_write_text(p, source)
    _check_drawable(plan, p, max_states=max_states)
    try:
        data = _run_dot(source, fmt, timeout)
    except subprocess.TimeoutExpired:
        raise GraphvizTimeoutError(
            f"path={str(p)!r}: Graphviz `dot` ran past timeout={timeout:g} s and was stopped; write "
            f"{str(p.with_suffix('.dot'))!r} instead, or pass a larger timeout="
        ) from None
    except graphviz.ExecutableNotFound as exc:
        dot_path = p.with_suffix(".dot")
        atomic_write_text(dot_path, source)
        raise GraphvizNotFoundError(
            f"path={str(p)!r} needs the Graphviz `dot` program, which was not found on PATH; the diagram "
            f"source was written to {str(dot_path)!r} instead. To draw it, {_INSTALL}, then call render() "
            f"again or run `dot -T{fmt} {dot_path} -o {p}`"
        ) from exc
    except graphviz.CalledProcessError as exc:
        raise FsmExtractError(f"Graphviz `dot` failed to draw {str(p)!r}: {exc.stderr!r}") from None
    return atomic_write(p, lambda tmp: tmp.write_bytes(data))


def drawable_plan(fsm: ExtractedFSM, *, max_states: int = MAX_RENDER_STATES) -> Any:
    """The drawing plan of a notebook's diagram, or None when it is larger than :func:`render`
    draws with ``max_states`` (layout would be slow and unreadable). Runs no ``dot``."""
    if fsm.n_states > max_states:
        return None
    plan = _plan(fsm)
    if plan.view == "diagram" and (plan.nodes > max_states or plan.edges > RENDER_EDGES_PER_STATE * max_states):
        return None
    return plan


def svg_or_none(fsm: ExtractedFSM, *, max_states: int = MAX_RENDER_STATES, timeout: float = 10.0) -> str | None:
    """SVG text for notebooks, or None (plain repr) when ``dot`` is missing, fails or runs past
    ``timeout`` seconds, or the diagram is larger than :func:`render` draws with ``max_states``
    (layout would be slow and unreadable)."""
    plan = drawable_plan(fsm, max_states=max_states)
    if plan is None:
        return None
    try:
        return _run_dot(plan.source, "svg", timeout).decode("utf-8")
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError, subprocess.TimeoutExpired, UnicodeDecodeError):
        return None


def to_svg(fsm: ExtractedFSM, *, max_states: int = MAX_RENDER_STATES, timeout: float = DOT_TIMEOUT, **options) -> str:
    """SVG text of the state diagram (options as :func:`to_dot`), for embedding in a page.

    Raises ValidationError when the diagram is larger than :func:`render` draws with
    ``max_states``, GraphvizNotFoundError without ``dot``, GraphvizTimeoutError past ``timeout``
    seconds, FsmExtractError when ``dot`` fails."""
    max_states = check_int("max_states", max_states, min=1)
    timeout = check_float("timeout", timeout, min=0.0, min_inclusive=False)
    plan = _plan(fsm, **options)
    _check_drawable(plan, Path("diagram.svg"), max_states=max_states)
    try:
        return _run_dot(plan.source, "svg", timeout).decode("utf-8")
    except subprocess.TimeoutExpired:
        raise GraphvizTimeoutError(f"Graphviz `dot` ran past timeout={timeout:g} s and was stopped") from None
    except graphviz.ExecutableNotFound as exc:
        raise GraphvizNotFoundError(f"drawing the diagram needs the Graphviz `dot` program, which was not found on "
                                    f"PATH; {_INSTALL}") from exc
    except (graphviz.CalledProcessError, UnicodeDecodeError) as exc:
        raise FsmExtractError(f"Graphviz `dot` failed to draw the diagram: {exc}") from None
