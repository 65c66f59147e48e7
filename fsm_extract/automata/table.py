"""The transition table of an automaton, for when a diagram cannot help: plain text, HTML, or a
Graphviz node (so ``render(path, view="table")`` writes it as ``.svg``/``.png``/``.pdf``).

One row per state: the state (``->`` marks the initial one), its output (accept/reject, its
class, or its most probable next symbols), its share of the net's traffic, and where each
symbol leads (``q3*``: completed from the net, never observed). With more than
``max_symbol_columns`` symbols, one column lists each successor with its symbol set instead.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

import numpy as np

from .._checks import check_choice, check_int
from ..errors import ArgumentTypeError, ValidationError
from .drawn_graph import traffic_share

if TYPE_CHECKING:  # pragma: no cover
    from .automaton import ExtractedFSM

__all__ = ["symbol_set_label", "output_text", "share_text", "table_cells", "to_table", "table_dot", "marked_mask", "LARGE_ALPHABET"]

#: Alphabets larger than this have their symbol sets written compactly (runs, "any", "all but").
LARGE_ALPHABET = 6


def symbol_set_label(symbols: list[int], alphabet: tuple[str, ...]) -> str:
    """The symbols (indices into ``alphabet``, sorted) as text: ``0,1`` for a small alphabet; for
    a large one, runs of three or more consecutive symbols as ``a-e``, every symbol as ``any``,
    and more than half of them as ``not {x,y}`` where that is shorter."""
    names = [alphabet[a] for a in symbols]
    k = len(alphabet)
    if k <= LARGE_ALPHABET:
        return ",".join(names)
    if len(symbols) == k:
        return "any"
    if len(symbols) > k / 2:  # the shorter of the set and its complement
        rest = [a for a in range(k) if a not in set(symbols)]
        return min(_runs(symbols, names), "not {" + _runs(rest, [alphabet[a] for a in rest]) + "}", key=len)
    return _runs(symbols, names)


def _runs(symbols: list[int], names: list[str]) -> str:
    parts, i = [], 0
    while i < len(symbols):
        j = i
        while j + 1 < len(symbols) and symbols[j + 1] == symbols[j] + 1:
            j += 1
        parts.append(f"{names[i]}-{names[j]}" if j - i >= 2 else ",".join(names[i:j + 1]))
        i = j + 1
    return ",".join(parts)


def _symbol(fsm: ExtractedFSM, i: int) -> str:
    return "$" if i == fsm.n_symbols else fsm.alphabet[i]


def output_text(fsm: ExtractedFSM, q: int, *, top: int = 3) -> str:
    """What state ``q`` outputs: ``accept``/``reject``, ``class k``, or its ``top`` most probable
    next symbols (``$`` is end-of-word), e.g. ``1:0.62 $:0.30``."""
    if fsm.output_kind == "accept":
        return "accept" if fsm.accepting[q] else "reject"
    if fsm.output_kind == "classes":
        return f"class {int(fsm.classes[q])}"
    p = fsm.output_probs[q]
    best = np.argsort(-p, kind="stable")[:top]
    return " ".join(f"{_symbol(fsm, int(i))}:{p[i]:.2f}" for i in best if p[i] >= 0.005)


def share_text(share: float) -> str:
    return "-" if np.isnan(share) else f"{share:.1%}" if share >= 0.001 or share == 0 else "<0.1%"


def table_cells(fsm: ExtractedFSM, *, max_symbol_columns: int = 8,
                marked: np.ndarray | None = None) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the table, as text: one row per state, in state order (``marked``: a
    (n_states, n_symbols) mask of transitions flagged ``!``)."""
    marked = np.zeros(fsm.transitions.shape, bool) if marked is None else marked
    share = traffic_share(fsm)
    per_symbol = fsm.n_symbols <= max_symbol_columns
    header = ["state", "output", "traffic"] + (list(fsm.alphabet) if per_symbol else ["transitions"])
    rows = []
    for q in range(fsm.n_states):
        cells = [("-> " if q == fsm.initial else "") + f"q{q}", output_text(fsm, q), share_text(share[q])]
        targets = [f"q{int(t)}" + ("*" if fsm.completed[q, a] else "") + ("!" if marked[q, a] else "")
                   for a, t in enumerate(fsm.transitions[q])]
        if per_symbol:
            cells += targets
        else:
            groups: dict[str, list[int]] = {}
            for a, target in enumerate(targets):
                groups.setdefault(target, []).append(a)
            cells.append("; ".join(f"{target}: {symbol_set_label(s, fsm.alphabet)}" for target, s in groups.items()))
        rows.append(cells)
    return header, rows


_NOTE = ("-> initial state; * completed from the net (never observed); ! carries residual (where given); "
         "traffic: share of the net's visits")


def marked_mask(fsm: ExtractedFSM, mark: Iterable[tuple[int, str]]) -> np.ndarray:
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


def to_table(fsm: ExtractedFSM, *, fmt: Literal["text", "html"] = "text", max_symbol_columns: int = 8,
             mark: Iterable[tuple[int, str]] = ()) -> str:
    """The transition table as plain text (aligned columns) or an HTML ``<table>`` fragment.

    Parameters
    ----------
    fsm : ExtractedFSM
    fmt : {"text", "html"}
    max_symbol_columns : int, default 8
        Above this many symbols, one ``transitions`` column groups the symbols by successor.
    mark : iterable of (state, symbol)
        Transitions that carry residual (a fidelity report's places), flagged ``!``.
    """
    if type(fsm).__name__ != "ExtractedFSM" or not hasattr(fsm, "transitions"):
        raise ArgumentTypeError(f"fsm must be an ExtractedFSM, got {type(fsm).__name__}")
    fmt = check_choice("fmt", fmt, ("text", "html"))
    max_symbol_columns = check_int("max_symbol_columns", max_symbol_columns, min=1)
    header, rows = table_cells(fsm, max_symbol_columns=max_symbol_columns, marked=marked_mask(fsm, mark))
    if fmt == "html":
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        return (f'<table class="fsm-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
                f"<p class=\"note\">{html.escape(_NOTE)}</p>")
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + ["", _NOTE]) + "\n"


def table_dot(fsm: ExtractedFSM, *, title: str | None = None, max_symbol_columns: int = 8) -> str:
    """DOT source of one node holding the table (an HTML-like Graphviz label)."""
    header, rows = table_cells(fsm, max_symbol_columns=max_symbol_columns)

    def row(cells: list[str], bold: bool = False) -> str:
        esc = [html.escape(c) for c in cells]
        return "<TR>" + "".join(f"<TD ALIGN=\"LEFT\">{f'<B>{c}</B>' if bold else c}</TD>" for c in esc) + "</TR>"

    caption = f'<TR><TD COLSPAN="{len(header)}"><B>{html.escape(title)}</B></TD></TR>' if title else ""
    label = (f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">{caption}{row(header, True)}'
             + "".join(row(r) for r in rows) + "</TABLE>>")
    note = _NOTE.replace('"', '\\"')
    return (f'digraph fsm {{\n\tgraph [label="{note}" labelloc=b fontname=Helvetica fontsize=11]\n'
            f'\tnode [fontname=Helvetica shape=plaintext]\n\ttable [label={label}]\n}}\n')
