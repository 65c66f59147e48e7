"""Self-contained HTML reports (``FidelityReport.to_html``) and the compact notebook views
(``_repr_html_`` of reports, searches, fronts and sweeps).

A page is one file that opens offline: inline CSS, inline SVG (the automaton drawn by Graphviz
``dot``, the front or sweep plot by matplotlib) and one small inline script that sorts tables
when a column header is clicked. Every figure comes from the report's ``to_dict()`` (embedded in
the page as JSON, ``<script id="report-data">``), a search's and a front's ``to_dict()``; only
the diagram and the provenance (versions, the automaton's parameters) come from the automaton.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from importlib import metadata as _metadata
from pathlib import Path
from typing import Any

from .._checks import atomic_write_text, check_out_path
from ..automata.automaton import ExtractedFSM
from ..errors import ArgumentTypeError, ValidationError
from .figures import automaton_svg, front_svg, sweep_svg
from .html_sections import (
    determinism_section,
    esc,
    figure_cards,
    front_table,
    length_section,
    next_symbol_section,
    pct,
    provenance_section,
    residual_marks,
    residual_section,
    search_section,
    section,
    states_section,
    sweep_table,
    value_attr,
)

__all__ = ["report_html", "write_report", "report_fragment", "search_fragment", "front_fragment",
           "sweep_fragment", "provenance", "plot_data", "SUFFIXES"]

SUFFIXES = (".html", ".htm")

_CSS = """
.fsmx{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1d232b;line-height:1.45;
 max-width:1280px;margin:0 auto;padding:0 18px 40px}
.fsmx h1{font-size:1.6em;margin:18px 0 4px}.fsmx h2{display:inline;font-size:1.2em;margin:0}
.fsmx h3{font-size:1em;margin:16px 0 6px}
.fsmx summary{cursor:pointer;padding:6px 0;border-bottom:1px solid #dde3ea;margin:18px 0 10px}
.fsmx .headline{font-size:1.1em;background:#f2f6fb;border-left:4px solid #3873b8;padding:10px 14px;margin:10px 0}
.fsmx .notes li,.fsmx .warn{color:#8a4b00}
.fsmx .cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.fsmx .card{border:1px solid #dde3ea;border-radius:6px;padding:8px 12px;min-width:150px;background:#fff}
.fsmx .card .label{font-size:.8em;color:#5b6673}.fsmx .card .value{font-size:1.35em;font-weight:600}
.fsmx .card.good .value{color:#1c7c3a}.fsmx .card.bad .value{color:#b3261e}
.fsmx table{border-collapse:collapse;margin:8px 0;font-size:.92em}
.fsmx th,.fsmx td{border-bottom:1px solid #e6eaef;padding:4px 10px;text-align:left;vertical-align:top}
.fsmx th{background:#f5f7f9}.fsmx table.sortable th{cursor:pointer}.fsmx td:first-child{white-space:nowrap}
.fsmx table.sortable th[data-dir=asc]:after{content:" \\25B2"}.fsmx table.sortable th[data-dir=desc]:after{content:" \\25BC"}
.fsmx code{background:#f3f3f3;padding:0 3px;border-radius:3px;font-size:.92em}
.fsmx pre{background:#f3f3f3;padding:8px;overflow-x:auto;white-space:pre-wrap}
.fsmx .bar{width:160px;height:10px;background:#eceff3;border-radius:3px}
.fsmx .bar div{height:10px;background:#3873b8;border-radius:3px}
.fsmx .diagram{overflow-x:auto;border:1px solid #e6eaef;border-radius:6px;padding:8px;background:#fff}
.fsmx .diagram svg{max-width:100%;height:auto}.fsmx .plot svg{max-width:760px;height:auto}
.fsmx .legend{display:flex;flex-wrap:wrap;gap:18px;font-size:.88em;margin:8px 0}
.fsmx .legend span{display:inline-flex;align-items:center;gap:6px}
.fsmx nav a{margin-right:12px;font-size:.9em}
"""

_JS = """
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var asc = th.getAttribute("data-dir") !== "asc";
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("data-dir"); });
    th.setAttribute("data-dir", asc ? "asc" : "desc");
    function key(row) {
      var cell = row.cells[col], v = cell.getAttribute("data-sort");
      if (v === null) { v = cell.textContent; }
      var n = Number(v);
      return v !== "" && !isNaN(n) ? n : v;
    }
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      var r = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return asc ? r : -r;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""


def _line(color: str, dash: str = "", width: float = 1.5) -> str:
    return (f'<svg width="38" height="10" aria-hidden="true"><line x1="1" y1="5" x2="37" y2="5" stroke="{color}" '
            f'stroke-width="{width}"' + (f' stroke-dasharray="{dash}"' if dash else "") + "/></svg>")


_LEGEND = ('<div class="legend">'
           f"<span>{_line('#000')} observed when fitting, consistent</span>"
           f"<span>{_line('#cd0000', width=3)} carries residual (the answers change there)</span>"
           f"<span>{_line('#7f7f7f', '5,3')} completed from the net (never observed when fitting)</span>"
           f"<span>{_line('#ff8c00', '5,3')} observed, less consistent (below 99% majority)</span>"
           "<span>double circle: accepting state; arrow from nowhere: the initial state</span></div>")


def plot_data(front: Any) -> tuple[str, dict] | None:
    """("front", dict) for a ParetoFront, ("sweep", dict) for a SweepResult (or their
    ``to_dict()``), None for None; ArgumentTypeError for anything else."""
    if front is None:
        return None
    d = front.to_dict() if hasattr(front, "to_dict") and callable(front.to_dict) else front
    if isinstance(d, dict) and {"points", "candidates"} <= set(d):
        return "front", d
    if isinstance(d, dict) and "rows" in d:
        return "sweep", d
    raise ArgumentTypeError(f"front must be a ParetoFront (fx.pareto), a SweepResult (fx.sweep) or its to_dict(), "
                            f"got {type(front).__name__}")


def _search_dict(search: Any) -> dict | None:
    if search is None:
        return None
    d = search.to_dict() if hasattr(search, "to_dict") and callable(search.to_dict) else search
    if not isinstance(d, dict) or not {"disagreements", "steps_spent", "budget"} <= set(d):
        raise ArgumentTypeError(f"search must be a SearchResult (fx.search_disagreements) or its to_dict(), "
                                f"got {type(search).__name__}")
    return d


def _version(dist: str) -> str:
    try:
        return _metadata.version(dist)
    except _metadata.PackageNotFoundError:
        return "not installed"


def _dot_version() -> str:
    exe = shutil.which("dot")
    if exe is None:
        return "not found"
    try:
        proc = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (proc.stderr or proc.stdout).strip().replace("dot - graphviz version ", "") or "unknown"


_PARAMETERS = ("source", "method", "n_clusters", "initial_clusters", "state", "seed", "completion", "features",
               "n_fit_words", "n_fit_steps", "max_fit_length", "minimized_from", "output_kind", "timing")


def provenance(fsm: ExtractedFSM | None, *, command: str | None = None) -> dict[str, Any]:
    """Versions of what made the report, the automaton's parameters (from its metadata), the
    command that extracted it (``metadata["command"]``, recorded by ``fsm-extract extract``) and
    the one that made the report, when known."""
    versions = {"fsm-extract": _version("fsm-extract"), "Python": platform.python_version(),
                "torch": _version("torch"), "numpy": _version("numpy"), "matplotlib": _version("matplotlib"),
                "Graphviz dot": _dot_version()}
    meta = {} if fsm is None else fsm.to_dict()["metadata"]
    params = {k: meta[k] for k in _PARAMETERS if k in meta}
    if fsm is not None:
        params = {"n_states": fsm.n_states, "alphabet": list(fsm.alphabet), "output_kind": fsm.output_kind, **params}
    return {"versions": versions, "parameters": params, "extract_command": meta.get("command"), "command": command}


def _check_fsm(fsm: Any, d: dict) -> None:
    if fsm is None:
        return
    if not isinstance(fsm, ExtractedFSM):
        raise ArgumentTypeError(f"fsm must be the ExtractedFSM the report measured, or None, got {type(fsm).__name__}")
    n = len(d["examples"]) if d.get("examples") else None
    top = max([i["state"] for i in d["residual"]] + [-1])
    if (n is not None and n != fsm.n_states) or top >= fsm.n_states:
        raise ValidationError(f"fsm has {fsm.n_states} states but the report describes "
                              f"{n if n is not None else f'state q{top} of'} an automaton with more: pass the "
                              "automaton the report was measured on")


def _nav(parts: list[tuple[str, str]]) -> str:
    return "<nav>" + "".join(f'<a href="#{esc(k)}">{esc(t)}</a>' for k, t in parts) + "</nav>"


def _details(d: dict) -> str:
    """The remaining figures as a key/value table (each with its to_dict key)."""
    rows = []
    for key in ("n_words", "n_prefixes", "held_out", "overlap_with_fit_data", "initial_state_agrees", "coverage", "task",
                "price", "reference", "aligned"):
        value = d.get(key)
        if value is None and key in ("task", "price", "reference", "aligned"):
            continue
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for sub, v in items:
            name = key if sub is None else f"{key}.{sub}"
            shown = pct(v) if isinstance(v, float) and 0.0 <= abs(v) <= 1.0 and not isinstance(v, bool) else v
            rows.append(f'<tr><td>{esc(name)}</td><td class="fig" data-key="{esc(name)}" '
                        f'data-value="{value_attr(v)}">{esc(shown)}</td></tr>')
    return f'<table><thead><tr><th>to_dict key</th><th>value</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'


def report_html(d: dict, *, fsm: ExtractedFSM | None = None, front: Any = None, search: Any = None,
                title: str | None = None, command: str | None = None) -> str:
    """The whole page for a report's ``to_dict()`` ``d`` (see :func:`write_report`)."""
    if not isinstance(d, dict) or "headline" not in d:
        raise ArgumentTypeError(f"the report must be a FidelityReport's to_dict(), got {type(d).__name__}")
    if title is not None and not isinstance(title, str):
        raise ArgumentTypeError(f"title={title!r} must be a string or None, got {type(title).__name__}")
    _check_fsm(fsm, d)
    plot = plot_data(front)
    found = _search_dict(search)
    if found is not None:
        d = {**d, "search": found}
    n_states = len(d["examples"]) if d.get("examples") else (None if fsm is None else fsm.n_states)
    title = title or (f"fsm-extract report: a {n_states}-state automaton" if n_states else "fsm-extract report")
    parts = [("automaton", "The automaton")]
    body = []
    if fsm is not None:
        svg, note = automaton_svg(fsm, residual_marks(d))
        drawing = f'<div class="diagram">{svg}</div>' if svg else f'<p class="warn">{esc(note)}</p>'
        extra = f"<p>{esc(note)}</p>" if svg and note else ""
        body.append(section("automaton", "The automaton", _LEGEND + drawing + extra))
    else:
        body.append(section("automaton", "The automaton", "<p>No automaton was passed (<code>to_html(path, fsm=fsm)"
                                                             "</code>): only its figures are shown.</p>"))
    if plot is not None:
        kind, pd = plot
        svg = front_svg(pd) if kind == "front" else sweep_svg(pd)
        table = front_table(pd) if kind == "front" else sweep_table(pd)
        extra = (f"<p>Knee: {esc(pd.get('knee'))} states; what <code>extract</code> returns: {esc(pd.get('choice'))} "
                 f"states.</p>" if kind == "front" else "")
        body.append(section("front", f"The {kind}", f'<div class="plot">{svg}</div>{extra}{table}'))
        parts.append(("front", f"The {kind}"))
    body.append(section("lengths", "Agreement by length", length_section(d)))
    parts.append(("lengths", "By length"))
    if d.get("output_kind") == "next-symbol":
        body.append(section("next-symbol", "Next-symbol distributions", next_symbol_section(d)))
        parts.append(("next-symbol", "Next symbol"))
    body += [section("residual", "The residual: where they part", residual_section(d)),
             section("states", "What each state means", states_section(d)),
             section("search", "What a search found", search_section(d.get("search"))),
             section("details", "Further figures", _details(d) + determinism_section(d), open_=False),
             section("provenance", "How it was made", provenance_section(provenance(fsm, command=command)))]
    parts += [("residual", "Residual"), ("states", "States"), ("search", "Search"), ("details", "Details"),
              ("provenance", "How it was made")]
    notes = "".join(f"<li>{esc(n)}</li>" for n in d.get("notes", []))
    data = json.dumps(d, default=float)  # no <, > or & inside the script element: it cannot end it early
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    head = (f'<h1>{esc(title)}</h1><p class="headline fig" data-key="headline" data-value="{esc(json.dumps(d["headline"]))}">'
            f'{esc(d["headline"])}</p>' + (f'<ul class="notes">{notes}</ul>' if notes else "")
            + f"<p>Output kind: <strong>{esc(d.get('output_kind', 'accept'))}</strong>; evaluated on {esc(d['n_words'])} words, "
              f"{esc(d['n_prefixes'])} prefixes.</p>" + figure_cards(d) + _nav(parts))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{_CSS}</style></head>"
            f'<body><main class="fsmx">{head}{"".join(body)}</main>'
            f'<script type="application/json" id="report-data">{data}</script><script>{_JS}</script></body></html>\n')


def write_report(path: str | os.PathLike, d: dict, **options: Any) -> Path:
    """Write the page for ``d`` to ``path`` (``.html`` or ``.htm``), atomically; options as
    :func:`report_html`. The path is checked before any work."""
    p = check_out_path("path", path, suffixes=SUFFIXES)
    return atomic_write_text(p, report_html(d, **options))


def _fragment(inner: str) -> str:
    return f'<div class="fsmx"><style>{_CSS}</style>{inner}</div>'


def report_fragment(d: dict) -> str:
    """A report in a notebook: the headline, the figures, the residual, the states, the search."""
    notes = "".join(f"<li>{esc(n)}</li>" for n in d.get("notes", []))
    inner = (f'<p class="headline">{esc(d["headline"])}</p>' + (f'<ul class="notes">{notes}</ul>' if notes else "")
             + figure_cards(d) + "<h3>Residual</h3>" + residual_section(d, limit=8)
             + "<h3>What each state means</h3>" + states_section(d))
    if d.get("search") is not None:
        inner += "<h3>Search</h3>" + search_section(d["search"])
    return _fragment(inner + "<p><i>The full page: <code>report.to_html(path, fsm=fsm)</code>.</i></p>")


def search_fragment(d: dict) -> str:
    return _fragment("<h3>Search for disagreements</h3>" + search_section(d))


def front_fragment(d: dict) -> str:
    return _fragment(f'<div class="plot">{front_svg(d)}</div>' + front_table(d)
                     + f"<p>Knee: {esc(d.get('knee'))} states; what <code>extract</code> returns: "
                       f"{esc(d.get('choice'))} states.</p>")


def sweep_fragment(d: dict) -> str:
    return _fragment(f'<div class="plot">{sweep_svg(d)}</div>' + sweep_table(d))
