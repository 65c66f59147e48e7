"""The parts of an HTML report, each built from plain dicts (a report's, a search's or a front's
``to_dict()``) by escaping strings into HTML: no template engine.

Every figure shown carries the key it comes from (``data-key``) and its exact value
(``data-value``), so a test, or a reader with the browser's inspector, can check the page
against the JSON output: one source of truth.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

__all__ = ["esc", "pct", "table", "figure_cards", "length_section", "next_symbol_section", "residual_section",
           "states_section", "search_section", "determinism_section", "front_table", "sweep_table",
           "provenance_section", "residual_marks", "place_name", "section", "value_attr"]


def esc(value: Any) -> str:
    """``value`` as escaped HTML text (quotes too: safe in attributes)."""
    return html.escape(str(value), quote=True)


def pct(x: Any, digits: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}%"


def _num(x: Any, digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def value_attr(value: Any) -> str:
    return esc(json.dumps(value))


def section(key: str, title: str, body: str, *, open_: bool = True) -> str:
    """A collapsible part of the page (``<details>``: opens and closes without script)."""
    return (f'<section id="{esc(key)}"><details{" open" if open_ else ""}><summary><h2>{esc(title)}</h2></summary>'
            f"{body}</details></section>")


def table(headers: list[str], rows: list[list[Any]], *, sortable: bool = False, cls: str = "") -> str:
    """A table; each cell is text (escaped) or a (html, sort_value) pair already built."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for cell in row:
            if isinstance(cell, tuple):
                content, key = cell
                cells.append(f'<td data-sort="{esc(key)}">{content}</td>')
            else:
                cells.append(f"<td>{esc(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    classes = " ".join(c for c in (cls, "sortable" if sortable else "") if c)
    return f'<table class="{classes}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _share(key: str, value: float | None, digits: int = 2) -> tuple[str, Any]:
    """A share as a figure cell that names its source key and holds its exact value."""
    return (f'<span class="fig" data-key="{esc(key)}" data-value="{value_attr(value)}">{pct(value, digits)}</span>',
            -1 if value is None else value)


def _card(key: str, label: str, shown: str, value: Any, *, good: bool | None = None) -> str:
    tone = "" if good is None else (" good" if good else " bad")
    return (f'<div class="card{tone}"><div class="label">{esc(label)}</div>'
            f'<div class="value fig" data-key="{esc(key)}" data-value="{value_attr(value)}">{esc(shown)}</div></div>')


def figure_cards(d: dict) -> str:
    """The headline figures as cards, each with its ``to_dict`` key."""
    cards = [
        _card("prefix_agreement", "prefix agreement", pct(d["prefix_agreement"]), d["prefix_agreement"],
              good=d["prefix_agreement"] >= 0.999),
        _card("word_agreement", "word agreement", pct(d["word_agreement"]), d["word_agreement"]),
        _card("state_agreement", "state agreement", pct(d["state_agreement"]), d["state_agreement"]),
        _card("variance_explained", "hidden variance explained", pct(d["variance_explained"]), d["variance_explained"]),
        _card("determinism", "determinism", pct(d["determinism"]), d["determinism"]),
        _card("coverage.completed", "steps on completed transitions", pct(d["coverage"]["completed"]),
              d["coverage"]["completed"]),
    ]
    if d.get("task") is not None:
        t = d["task"]
        cards.append(_card("task.net_accuracy", "task accuracy: net", pct(t["net_accuracy"]), t["net_accuracy"]))
        cards.append(_card("task.fsm_accuracy", "task accuracy: FSM", pct(t["fsm_accuracy"]), t["fsm_accuracy"]))
    if d.get("reference") is not None:
        eq = d["reference"]["fsm_equivalent"]
        cards.append(_card("reference.fsm_equivalent", "equivalent to the reference", "yes" if eq else "no", eq, good=eq))
    if d.get("price") is not None:
        p = d["price"]["prefix_answers_changed"]
        cards.append(_card("price.prefix_answers_changed", "prefix answers the FSM changes", pct(p), p))
    if d.get("output_kind") == "next-symbol":
        ns = d["next_symbol"]
        cards += [_card("total_variation", "mean total variation", _num(d["total_variation"]), d["total_variation"]),
                  _card("kl_divergence", "KL(net || FSM), bits", _num(d["kl_divergence"]), d["kl_divergence"]),
                  _card("bits_per_symbol.price", "bits/symbol price", f"{ns['bits_per_symbol']['price']:+.4f}",
                        ns["bits_per_symbol"]["price"]),
                  _card("ndcg5", "NDCG@5", _num(d["ndcg5"]), d["ndcg5"]),
                  _card("wer", "WER", pct(d["wer"]), d["wer"])]
    return '<div class="cards">' + "".join(cards) + "</div>"


def _bar(value: float | None) -> str:
    width = 0.0 if value is None else max(0.0, min(1.0, value)) * 100
    return f'<div class="bar"><div style="width:{width:.1f}%"></div></div>'


def length_section(d: dict) -> str:
    """Agreement by word length, beyond the fitting lengths, and growth notes."""
    rows = [[r["lengths"], (str(r["words"]), r["words"]), _share(f"by_length.{i}.word_agreement", r["word_agreement"]),
             (str(r["prefixes"]), r["prefixes"]), _share(f"by_length.{i}.prefix_agreement", r["prefix_agreement"]),
             (_bar(r["prefix_agreement"]), r["prefix_agreement"] or 0)]
            for i, r in enumerate(d["by_length"]) if r["words"]]
    out = table(["word lengths", "words", "word agreement", "prefixes", "prefix agreement", ""], rows, cls="lengths")
    b = d.get("beyond_fit")
    if b is not None:
        out += (f"<p>Beyond the longest fitting word ({esc(d['max_fit_length'])} symbols): words "
                f"{_share('beyond_fit.word_agreement', b['word_agreement'])[0]} ({esc(b['words'])}), prefixes "
                f"{_share('beyond_fit.prefix_agreement', b['prefix_agreement'])[0]} ({esc(b['prefixes'])}).</p>")
    for g in (d.get("growth") or {}).values():
        if g is not None and g.get("grows"):
            out += (f'<p class="warn">The disagreement grows with {esc(g["by"])}: {pct(g["disagreement_low"])} of prefixes '
                    f'low, {pct(g["disagreement_high"])} beyond {esc(g["high_beyond"])} (z = {g["z"]:.1f}).</p>')
    return out


def next_symbol_section(d: dict) -> str:
    """A next-symbol net's figures: distributions compared by prefix length, and the places
    where they part most."""
    ns = d["next_symbol"]
    b = ns["bits_per_symbol"]
    out = (f"<p>Over {esc(ns['n_positions'])} prefix positions: argmax agreement "
           f"{_share('next_symbol.argmax_agreement', ns['argmax_agreement'])[0]}; bits per symbol: net "
           f"{_num(b['net'])}, FSM {_num(b['fsm'])} (price {b['price']:+.4f}).</p>")
    rows = [[f"{r['lengths'][0]}-{'' if r['lengths'][1] is None else r['lengths'][1]}", (str(r["n"]), r["n"]),
             (_num(r["total_variation"]), r["total_variation"]), _share(f"next_symbol.by_length.{i}.wer", r["wer"]),
             (_num(r["bits_net"]), r["bits_net"]), (_num(r["bits_fsm"]), r["bits_fsm"])]
            for i, r in enumerate(ns["by_length"])]
    out += table(["prefix lengths", "positions", "total variation", "WER", "bits (net)", "bits (FSM)"], rows)
    rows = [[(f"q{p['state']} next {esc(p['next'])}", p["state"]), (_num(p["net_prob"], 3), p["net_prob"]),
             (_num(p["fsm_prob"], 3), p["fsm_prob"]), (_num(p["mean_abs_difference"], 3), p["mean_abs_difference"]),
             _share(f"next_symbol.places.{i}.share_of_difference", p["share_of_difference"]),
             (f"<code>{esc(p['witness'])}</code>", p["witness"])] for i, p in enumerate(ns["places"])]
    if rows:
        out += "<h3>Where the distributions part most</h3>" + table(
            ["place", "net p", "FSM p", "mean |diff|", "share of difference", "witness"], rows, sortable=True)
    return out


def place_name(item: dict) -> str:
    return f"q{item['state']} --{item['symbol']}-->" if item.get("symbol") is not None else f"output of q{item['state']}"


def residual_marks(d: dict) -> list[tuple[int, str]]:
    """The transitions that carry residual (answers change there, or a search found it)."""
    return [(i["state"], i["symbol"]) for i in d["residual"]
            if i["symbol"] is not None and (i["count"] > 0 or i["found_by_search"] > 0)]


def _words(words: list) -> str:
    return " ".join(f"<code>{esc(w)}</code>" for w in words)


def residual_section(d: dict, *, limit: int | None = None) -> str:
    """The residual table (sortable), with witnesses, and the shortest disagreeing words."""
    items = d["residual"] if limit is None else d["residual"][:limit]
    if not items:
        return "<p>No residual: the FSM and the net agree on every evaluated prefix.</p>"
    rows = [[(esc(place_name(i)), i["state"]), i["kind"], _share(f"residual.{n}.share", i["share"], 3),
             (str(i["count"]), i["count"]), _share(f"residual.{n}.parting_share", i["parting_share"], 3),
             ("yes" if i["completed"] else "", int(i["completed"])), (_words(i["witnesses"]), len(i["witnesses"])),
             (f"{i['found_by_search']} " + _words(i["search_witnesses"]) if i["found_by_search"] else "",
              i["found_by_search"])] for n, i in enumerate(items)]
    c = d["residual_concentration"]
    if c["places"]:
        out = f"<p>{pct(c['share'], 0)} of the residual is in {esc(c['places'])} place(s). "
    else:
        out = "<p>No answer differs on these words: every place below is a <i>conflict</i>. "
    out += ("Each disagreeing prefix is charged to the first step where the FSM's state and the net's abstract state "
            "part; a conflict is a place where the net's state leaves the FSM's without (yet) changing an answer "
            "(its parting share). Click a column to sort.</p>")
    out += table(["place", "kind", "share of prefixes", "prefixes", "parting share", "completed", "witnesses",
                  "found by search"], rows, sortable=True, cls="residual")
    if limit is not None and len(d["residual"]) > limit:
        out += f"<p>... {len(d['residual']) - limit} more places in the full report.</p>"
    if d.get("shortest_disagreements"):
        out += f"<p>Shortest disagreeing words: {_words(d['shortest_disagreements'])}</p>"
    return out


def states_section(d: dict) -> str:
    """What each state means: shortest prefixes that end in it, and its output."""
    ex = d.get("examples")
    if not ex:
        return "<p>No per-state examples in this report.</p>"
    rows = [[(f"q{s['state']}", s["state"]), (esc(s["output"]), s["output"]), (str(s["visits"]), s["visits"]),
             _share(f"examples.{s['state']}.share", s["share"]), _share(f"examples.{s['state']}.agreement", s["agreement"]),
             (_words(s["prefixes"]), len(s["prefixes"]))] for s in ex]
    what = {"accept": "accept/reject", "classes": "class", "next-symbol": "most probable next symbols ($: end)"}
    return (f"<p>For each state, the shortest distinct prefixes of the evaluated words that end in it (&epsilon; is the "
            f"empty word), and its output ({esc(what.get(d.get('output_kind'), 'output'))}).</p>"
            + table(["state", "output", "prefixes ending here", "share", "agreement there", "shortest prefixes"], rows,
                    sortable=True))


def search_section(s: dict | None) -> str:
    if s is None:
        return "<p>No search was run (<code>fx.fidelity(..., search=True)</code>, CLI <code>--search STEPS</code>).</p>"
    found = s["disagreements"]
    out = (f'<p><span class="fig" data-key="search.disagreements" data-value="{len(found)}">{len(found)}</span> verified '
           f"disagreement(s) in {esc(s['steps_spent'])} of {esc(s['budget'])} net steps"
           + (f"; {esc(s['unverified'])} candidate(s) left unverified" if s.get("unverified") else "") + ".</p>")
    strat = [[k, (str(v.get("steps", "")), v.get("steps", 0)), (str(v.get("found", "")), v.get("found", 0))]
             for k, v in (s.get("by_strategy") or {}).items()]
    if strat:
        out += table(["strategy", "net steps", "found"], strat)
    rows = [[(f"<code>{esc(f['word'])}</code>", len(f["word"])), "accepts" if f["net_accepts"] else "rejects",
             "accepts" if f["fsm_accepts"] else "rejects", ("" if f["step"] is None else str(f["step"]), -1 if f["step"] is None else f["step"]),
             ("" if f["state"] is None else f"q{f['state']} --{esc(f['symbol'])}-->", -1 if f["state"] is None else f["state"]),
             f["strategy"]]
            for f in found]
    if rows:
        out += table(["word", "net", "FSM", "parts at step", "at", "strategy"], rows, sortable=True)
    return out


def determinism_section(d: dict) -> str:
    rows = [[(f"q{r['state']} --{esc(r['symbol'])}-->", r["state"]), (str(r["mass"]), r["mass"]),
             (pct(r["majority_share"]), r["majority_share"]), (_num(r["entropy_bits"], 3), r["entropy_bits"])]
            for r in d["determinism_table"]]
    return ("<p>Of the net's transitions between abstract states on these words, the share that goes to the majority "
            "successor, per (state, symbol).</p>" + table(["transition", "steps", "majority share", "entropy (bits)"],
                                                          rows, sortable=True))


def front_table(f: dict) -> str:
    rows = [[(str(p["n_states"]) + (" (knee)" if p["n_states"] == f.get("knee") else ""), p["n_states"]),
             *(_share(f"front.points.{i}.{key}", p[key]) for key in ("agreement", "word_agreement", "beyond_agreement",
                                                                     "task_accuracy"))]
            for i, p in enumerate(f["points"])]
    return table(["states", "held-out prefix agreement", "word agreement", "beyond the fitting lengths",
                  "task accuracy"], rows)


def sweep_table(s: dict) -> str:
    rows = [[(str(r["k"]), r["k"]), (str(r["n_states"]), r["n_states"]),
             *(_share(f"sweep.rows.{i}.{key}", r[key]) for key in ("prefix_agreement", "word_agreement",
                                                                   "variance_explained")),
             "" if r.get("equivalent") is None else ("yes" if r["equivalent"] else "no")] for i, r in enumerate(s["rows"])]
    return table(["k", "FSM states", "prefix agreement", "word agreement", "variance explained", "equivalent"], rows,
                 sortable=True)


def provenance_section(p: dict) -> str:
    """How the result was made: versions, the automaton's parameters, the command."""
    rows = [[k, (f"<code>{esc(v)}</code>", str(v))] for k, v in p["versions"].items()]
    out = table(["software", "version"], rows)
    if p.get("parameters"):
        out += "<h3>The automaton's parameters</h3>" + table(
            ["parameter", "value"], [[k, (f"<code>{esc(json.dumps(v, default=str))}</code>", str(v))]
                                     for k, v in p["parameters"].items()])
    for key, label in (("extract_command", "Extracted with"), ("command", "This report was made with")):
        if p.get(key):
            out += f"<p>{label}:</p><pre>{esc(p[key])}</pre>"
    if not p.get("extract_command"):
        out += ("<p>The command that extracted the automaton is not recorded (it was made through the Python API, or "
                "before commands were recorded); its parameters are above.</p>")
    return out
