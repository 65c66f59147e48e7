"""State diagrams of an :class:`~fsm_extract.automata.automaton.ExtractedFSM` with Graphviz.

:func:`to_dot` needs only the ``graphviz`` Python package; :func:`render` to ``.svg``, ``.png``
or ``.pdf`` also needs the Graphviz ``dot`` program.

How to read a diagram: states are circles (double circles accept), an arrow from nowhere points
at the initial state, and parallel transitions share one edge labelled ``0,1``. Solid black
edges are well supported (confidence >= ``min_confidence``) or given (from a DFA); thinner,
orange/red dashed edges are transitions the net took less consistently; grey dashed edges were
never observed and were completed from the net.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

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

if TYPE_CHECKING:  # pragma: no cover
    from .automaton import ExtractedFSM

__all__ = ["to_dot", "to_svg", "render", "SUFFIXES"]

SUFFIXES = (".svg", ".png", ".pdf", ".dot")
_INSTALL = "install Graphviz (`apt-get install graphviz`, `brew install graphviz` or `conda install -c conda-forge graphviz`)"


def _sinks(fsm: ExtractedFSM) -> np.ndarray:
    """Rejecting states whose every transition loops back to themselves (never the initial); an
    acceptor only (a Moore machine's trap states say something: their class)."""
    loops = (fsm.transitions == np.arange(fsm.n_states)[:, None]).all(1)
    mask = loops & ~fsm.accepting if fsm.output_kind == "accept" else np.zeros(fsm.n_states, bool)
    mask[fsm.initial] = False
    return mask


def _symbol_name(fsm: ExtractedFSM, i: int) -> str:
    return "$" if i == fsm.n_symbols else fsm.alphabet[i]


def _output_label(fsm: ExtractedFSM, q: int, top: int = 3) -> str:
    """What state ``q`` outputs, for its node: nothing for an acceptor (its shape says it), the
    class of a Moore machine, the most probable next symbols of a next-symbol automaton ($ is
    end-of-word)."""
    if fsm.output_kind == "accept":
        return ""
    if fsm.output_kind == "classes":
        return f"\\nclass {int(fsm.classes[q])}"
    p = fsm.output_probs[q]
    best = np.argsort(-p, kind="stable")[:top]
    return "\\n" + graphviz.escape(" ".join(f"{_symbol_name(fsm, int(i))}:{p[i]:.2f}" for i in best if p[i] >= 0.005))


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


def _edge_groups(fsm: ExtractedFSM, hidden: np.ndarray, min_confidence: float,
                 marked: np.ndarray | None = None) -> dict[tuple[int, int, bool, bool], list[int]]:
    """The drawn edges: symbols grouped by (source, target, weak, marked), hidden states left out."""
    support = fsm.support
    groups: dict[tuple[int, int, bool, bool], list[int]] = {}
    for q in range(fsm.n_states):
        for a in range(fsm.n_symbols):
            t = int(fsm.transitions[q, a])
            if hidden[q] or hidden[t]:
                continue
            weak = bool(fsm.completed[q, a]) or (support[q, a] > 0 and fsm.confidence[q, a] < min_confidence)
            groups.setdefault((q, t, weak, marked is not None and bool(marked[q, a])), []).append(a)
    return groups


def _marked(fsm: ExtractedFSM, mark: Iterable[tuple[int, str]]) -> np.ndarray:
    """The (state, symbol) pairs of ``mark`` as a boolean (n_states, n_symbols) mask, checked."""
    mask = np.zeros((fsm.n_states, fsm.n_symbols), bool)
    if isinstance(mark, (str, bytes)) or not isinstance(mark, Iterable):
        raise ArgumentTypeError(f"mark={mark!r} must be an iterable of (state, symbol) pairs")
    for pair in mark:
        try:
            q, symbol = pair
        except (TypeError, ValueError):
            raise ArgumentTypeError(f"mark must hold (state, symbol) pairs, got {pair!r}") from None
        q = check_int("mark state", q, min=0, max=fsm.n_states - 1)
        if symbol not in fsm.alphabet:
            raise ValidationError(f"mark symbol {symbol!r} must be in the FSM's alphabet {list(fsm.alphabet)}")
        mask[q, fsm.alphabet.index(symbol)] = True
    return mask


def _check_drawable(fsm: ExtractedFSM, path: Path, *, hide_sink: bool, min_confidence: float, max_states: int) -> None:
    """Refuse a diagram too large for Graphviz's layout (see :func:`render`), before any work."""
    hidden = _sinks(fsm) if hide_sink else np.zeros(fsm.n_states, bool)
    states = int(fsm.n_states - hidden.sum())
    advice = (f"write {str(path.with_suffix('.dot'))!r} instead (the DOT source, no layout), read the table "
              "fsm.transitions, or pass max_states= (CLI: --max-states) to draw it anyway")
    if states > max_states:
        raise ValidationError(
            f"path={str(path)!r}: the diagram has {states} states, which must be <= max_states={max_states} for "
            f"Graphviz to lay it out in reasonable time; {advice}"
        )
    edges, limit = len(_edge_groups(fsm, hidden, min_confidence)), RENDER_EDGES_PER_STATE * max_states
    if edges > limit:
        raise ValidationError(
            f"path={str(path)!r}: the diagram has {edges} edges, which must be <= {limit} ({RENDER_EDGES_PER_STATE} x "
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


def to_dot(
    fsm: ExtractedFSM,
    *,
    hide_sink: bool = False,
    min_confidence: float = 0.99,
    title: str | None = None,
    rankdir: Literal["LR", "TB", "RL", "BT"] = "LR",
    show_support: bool = False,
    mark: Iterable[tuple[int, str]] = (),
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

    Returns
    -------
    str
    """
    if type(fsm).__name__ != "ExtractedFSM" or not hasattr(fsm, "transitions"):  # automaton imports this module
        raise ArgumentTypeError(f"fsm must be an ExtractedFSM, got {type(fsm).__name__}")
    hide_sink = check_bool("hide_sink", hide_sink)
    show_support = check_bool("show_support", show_support)
    min_confidence = check_float("min_confidence", min_confidence, min=0.0, max=1.0)
    rankdir = check_choice("rankdir", rankdir, ("LR", "TB", "RL", "BT"))
    if title is not None and not isinstance(title, str):
        raise ArgumentTypeError(f"title={title!r} must be a string or None, got {type(title).__name__}")

    marked = _marked(fsm, mark)
    hidden = _sinks(fsm) if hide_sink else np.zeros(fsm.n_states, bool)
    g = graphviz.Digraph("fsm", graph_attr={"rankdir": rankdir}, node_attr={"shape": "circle", "fontname": "Helvetica"},
                         edge_attr={"fontname": "Helvetica", "fontsize": "12", "arrowsize": "0.8"})
    if title:
        g.attr(label=graphviz.escape(title), labelloc="t", fontname="Helvetica")
    if hidden.any():
        g.attr(comment=f"rejecting sink state(s) {', '.join(f'q{q}' for q in np.flatnonzero(hidden))} hidden")
    g.node("__start", label="", shape="none", width="0", height="0")
    g.edge("__start", f"q{fsm.initial}")
    out_total = fsm.output_counts.sum(1)
    for q in range(fsm.n_states):
        if hidden[q]:
            continue
        label = f"q{q}" + _output_label(fsm, q)
        if show_support and out_total[q]:
            if fsm.output_kind == "accept":
                rej, acc = fsm.output_counts[q]
                majority = "acc " if acc > rej else "rej " if rej > acc else "tie "
            else:
                majority = ""
            label += f"\\n{majority}{fsm.output_confidence[q]:.0%}\\nn={out_total[q]}"
        accepting = fsm.output_kind == "accept" and fsm.accepting[q]
        g.node(f"q{q}", label=label, shape="doublecircle" if accepting else "circle")

    support, agree = fsm.support, np.take_along_axis(fsm.transition_counts, fsm.transitions[:, :, None], 2)[..., 0]
    for (q, t, _, red), symbols in _edge_groups(fsm, hidden, min_confidence, marked).items():
        n_obs, n_agree = int(support[q, symbols].sum()), int(agree[q, symbols].sum())
        confidence = n_agree / n_obs if n_obs else math.nan
        completed = bool(fsm.completed[q, symbols].all())
        label = graphviz.escape(",".join(fsm.alphabet[a] for a in symbols))
        if show_support and n_obs:
            label += f"\\nn={n_obs} {confidence:.0%}"
        elif show_support and completed:
            label += "\\n(completed)"
        style = _edge_style(confidence, completed, min_confidence)
        if red:
            style.update(color="red3", fontcolor="red3", penwidth="2.6")
        g.edge(f"q{q}", f"q{t}", label=label, **style)
    return g.source


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
) -> Path:
    """Write the state diagram to ``path``: ``.svg``, ``.png``, ``.pdf`` (needs ``dot``) or ``.dot``.

    The write is atomic. Without the Graphviz ``dot`` program, the DOT source is written beside
    ``path`` (same name, ``.dot`` suffix) and GraphvizNotFoundError is raised. Options are those
    of :func:`to_dot`, and:

    Parameters
    ----------
    max_states : int, default 100
        Graphviz's layout time grows steeply with size (a random 100-state automaton on two
        symbols takes about 4 s, 200 states more than two minutes), so a drawn diagram may have
        at most ``max_states`` states (hidden sinks not counted) and 2 x ``max_states`` edges
        (parallel transitions are one edge). Above that, ValidationError is raised before any
        work, suggesting ``.dot`` output (the DOT source, which has no limit since no layout
        runs) or the table ``fsm.transitions``. Raise it to draw a larger diagram anyway.
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
    source = to_dot(fsm, hide_sink=hide_sink, min_confidence=min_confidence, title=title,
                    rankdir=rankdir, show_support=show_support)
    fmt = p.suffix.lower()[1:]
    if fmt == "dot":
        return atomic_write_text(p, source)
    _check_drawable(fsm, p, hide_sink=hide_sink, min_confidence=min_confidence, max_states=max_states)
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


def svg_or_none(fsm: ExtractedFSM, *, max_states: int = MAX_RENDER_STATES, timeout: float = 10.0) -> str | None:
    """SVG text for notebooks, or None (plain repr) when ``dot`` is missing, fails or runs past
    ``timeout`` seconds, or the diagram is larger than :func:`render` draws with ``max_states``
    (layout would be slow and unreadable)."""
    if fsm.n_states > max_states:
        return None
    if len(_edge_groups(fsm, np.zeros(fsm.n_states, bool), 0.99)) > RENDER_EDGES_PER_STATE * max_states:
        return None
    try:
        return _run_dot(to_dot(fsm), "svg", timeout).decode("utf-8")
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError, subprocess.TimeoutExpired, UnicodeDecodeError):
        return None


def to_svg(fsm: ExtractedFSM, *, max_states: int = MAX_RENDER_STATES, timeout: float = DOT_TIMEOUT, **options) -> str:
    """SVG text of the state diagram (options as :func:`to_dot`), for embedding in a page.

    Raises ValidationError when the diagram is larger than :func:`render` draws with
    ``max_states``, GraphvizNotFoundError without ``dot``, GraphvizTimeoutError past ``timeout``
    seconds, FsmExtractError when ``dot`` fails."""
    max_states = check_int("max_states", max_states, min=1)
    timeout = check_float("timeout", timeout, min=0.0, min_inclusive=False)
    source = to_dot(fsm, **options)
    _check_drawable(fsm, Path("diagram.svg"), hide_sink=bool(options.get("hide_sink", False)),
                    min_confidence=float(options.get("min_confidence", 0.99)), max_states=max_states)
    try:
        return _run_dot(source, "svg", timeout).decode("utf-8")
    except subprocess.TimeoutExpired:
        raise GraphvizTimeoutError(f"Graphviz `dot` ran past timeout={timeout:g} s and was stopped") from None
    except graphviz.ExecutableNotFound as exc:
        raise GraphvizNotFoundError(f"drawing the diagram needs the Graphviz `dot` program, which was not found on "
                                    f"PATH; {_INSTALL}") from exc
    except (graphviz.CalledProcessError, UnicodeDecodeError) as exc:
        raise FsmExtractError(f"Graphviz `dot` failed to draw the diagram: {exc}") from None
