"""The fidelity report: :class:`FidelityReport` (every figure, ``to_dict``, the printed
summary) and its headline."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..words import format_word
from .html import report_fragment, write_report
from .next_symbol import next_symbol_lines

__all__ = ["FidelityReport", "headline", "price_line", "growth_line"]


@dataclass(frozen=True, eq=False)
class FidelityReport:
    """The fidelity of an automaton to a net, on one set of words.

    Every figure is a plain number, list or dict; :meth:`to_dict` is JSON-serialisable and
    ``str(report)`` is the printed summary, headline first. Shares are in [0, 1].
    """

    headline: str
    n_words: int
    n_prefixes: int
    held_out: bool | None
    overlap: float | None
    word_agreement: float
    prefix_agreement: float
    by_length: list
    beyond_fit: dict | None
    max_fit_length: int | None
    state_agreement: float
    initial_state_agrees: bool
    first_parting: np.ndarray
    variance_explained: float | None
    determinism: float
    determinism_table: list
    coverage: dict
    task: dict | None
    reference: dict | None
    residual: tuple
    shortest_disagreements: tuple
    residual_concentration: dict
    n_transitions: int
    notes: tuple = field(default=())
    search: dict | None = None
    aligned: dict | None = None
    price: dict | None = None
    growth: dict | None = None
    next_symbol: dict | None = None
    output_kind: str = "accept"
    examples: list | None = None
    stream: dict | None = None

    def to_dict(self) -> dict[str, Any]:
        """All figures as JSON-serialisable values."""
        return {
            "headline": self.headline,
            "n_words": self.n_words,
            "n_prefixes": self.n_prefixes,
            "held_out": self.held_out,
            "overlap_with_fit_data": self.overlap,
            "word_agreement": self.word_agreement,
            "prefix_agreement": self.prefix_agreement,
            "by_length": self.by_length,
            "beyond_fit": self.beyond_fit,
            "max_fit_length": self.max_fit_length,
            "state_agreement": self.state_agreement,
            "initial_state_agrees": self.initial_state_agrees,
            "first_parting": self.first_parting.tolist(),
            "variance_explained": self.variance_explained,
            "determinism": self.determinism,
            "determinism_table": self.determinism_table,
            "coverage": self.coverage,
            "task": self.task,
            "reference": self.reference,
            "residual": [item.to_dict() for item in self.residual],
            "shortest_disagreements": [format_word(w) for w in self.shortest_disagreements],
            "residual_concentration": self.residual_concentration,
            "n_transitions": self.n_transitions,
            "notes": list(self.notes),
            "search": self.search,
            "aligned": self.aligned,
            "price": self.price,
            "growth": self.growth,
            "output_kind": self.output_kind,
            "examples": self.examples,
            "stream": self.stream,
            **({} if self.next_symbol is None else {
                "next_symbol": self.next_symbol,
                **{key: self.next_symbol[key] for key in ("total_variation", "kl_divergence", "bits_per_symbol",
                                                          "ndcg5", "wer")}}),
        }

    def summary(self, *, max_items: int = 8) -> str:
        """The printed report (``str(report)``)."""
        pct = lambda x: "n/a" if x is None else f"{x:.2%}"  # noqa: E731
        lines = [self.headline, ""]
        lines.extend(f"note: {n}" for n in self.notes)
        if self.aligned is not None:
            data = "data (a specification: nothing was fitted; its states were aligned to the net on these words)"
        elif self.held_out:
            data = "held-out data"
        elif self.overlap is not None:
            data = f"data of which {self.overlap:.1%} of words are also in the fitting data"
        else:
            data = "data (overlap with the fitting data unknown)"
        lines.append(f"evaluated on {self.n_words} words, {self.n_prefixes} prefixes of {data}")
        lines.append(f"output agreement   words {pct(self.word_agreement)}   prefixes {pct(self.prefix_agreement)}")
        if self.beyond_fit is not None:
            b = self.beyond_fit
            lines.append(f"  beyond the longest fitting word ({self.max_fit_length}): words {pct(b['word_agreement'])} "
                         f"({b['words']}), prefixes {pct(b['prefix_agreement'])} ({b['prefixes']})")
        lines.append("  by length:  " + "  ".join(
            f"{r['lengths']}: {pct(r['word_agreement'])}" for r in self.by_length if r["words"]))
        if self.next_symbol is not None:
            lines.append("  (output classes of a next-symbol net: the nearest of the automaton's codebook distributions)")
            lines.extend(next_symbol_lines(self.next_symbol))
        lines.append(f"state agreement    {pct(self.state_agreement)} of steps"
                     + ("" if self.initial_state_agrees else " (the net's initial state maps to another FSM state!)"))
        lines.append(f"hidden variance explained by the FSM's states   {pct(self.variance_explained)}")
        lines.append(f"determinism        {pct(self.determinism)} of observed transition mass goes to the majority successor")
        c = self.coverage
        lines.append(f"coverage           {pct(c['observed'])} of steps use transitions observed when fitting, "
                     f"{pct(c['completed'])} completed from the net, {pct(c['given'])} given")
        if self.price is not None:
            lines.append(price_line(self.price, search=self.search))
        if self.task is not None:
            t = self.task
            lines.append(f"task accuracy      net {pct(t['net_accuracy'])}   FSM {pct(t['fsm_accuracy'])}   "
                         f"cost of replacing the net by the FSM {t['cost']:+.2%}")
        for g in (self.growth or {}).values():
            if g is not None and g["grows"]:
                lines.append(growth_line(g, specification=self.aligned is not None))
        if self.reference is not None:
            r = self.reference
            diff = "" if r["fsm_equivalent"] else f" (shortest difference: {r['fsm_shortest_difference']!r})"
            lines.append(f"reference          FSM equivalent: {'yes' if r['fsm_equivalent'] else 'no'}{diff}; "
                         f"net agrees on {pct(r['net_word_agreement'])} of words, {pct(r['net_prefix_agreement'])} of prefixes"
                         + (f" (shortest disagreement {r['net_shortest_difference']!r})" if r["net_shortest_difference"] is not None else ""))
        if self.residual:
            n_places = len(self.residual)
            lines.append(f"residual ({n_places} place{'' if n_places == 1 else 's'}; shares of all prefixes):")
            lines.extend("  " + item.describe() for item in self.residual[:max_items])
            if len(self.residual) > max_items:
                lines.append(f"  ... {len(self.residual) - max_items} more in report.residual")
        if self.shortest_disagreements:
            lines.append("shortest disagreeing words: " + ", ".join(repr(format_word(w)) for w in self.shortest_disagreements))
        if self.search is not None:
            found = self.search["disagreements"]
            lines.append(f"found by search ({self.search['steps_spent']} net steps): {len(found)} verified disagreement(s)"
                         + (": " + ", ".join(repr(d["word"]) for d in found[:5]) if found else ""))
        return "\n".join(lines)

    __str__ = summary

    def to_html(self, path: str | os.PathLike, *, fsm: Any = None, front: Any = None, search: Any = None,
                title: str | None = None, command: str | None = None) -> Path:
        """Write a self-contained HTML page of this report (atomically; one file that opens
        offline) and return its path.

        Every figure comes from :meth:`to_dict`, which the page also embeds as JSON.

        Parameters
        ----------
        path : str or os.PathLike
            Ends in ``.html`` or ``.htm``; checked before any work.
        fsm : ExtractedFSM, optional
            The automaton the report measured: drawn (Graphviz ``dot``; a note replaces the
            diagram when ``dot`` is missing or the automaton is too large), with the transitions
            that carry residual in red and those completed from the net dashed grey; its
            parameters and the command that extracted it go into "how it was made".
        front : ParetoFront or SweepResult, optional
            Adds its plot and table (``fx.pareto`` / ``fx.sweep``).
        search : SearchResult, optional
            What a search found (default: the search the report ran, if any).
        title : str, optional
        command : str, optional
            The command line that made the report, shown for reproduction.
        """
        return write_report(path, self.to_dict(), fsm=fsm, front=front, search=search, title=title, command=command)

    def _repr_html_(self) -> str:  # notebooks
        return report_fragment(self.to_dict())


def headline(prefix_agreement: float, variance: float | None, *, held_out: bool | None, overlap: float | None,
              empty_disagrees: bool, residual: tuple | None, search: Any) -> str:
    """The report's first line: agreement on the sampled prefixes, the residual, and what a
    search found (never "agree on every prefix" when a search found a disagreement)."""
    if held_out:
        what = "held-out prefixes"
    elif overlap is not None and overlap >= 1.0:
        what = "prefixes of the FITTING data"
    elif overlap is not None:
        what = f"prefixes ({overlap:.0%} of the words also in the fitting data)"
    else:
        what = "prefixes"
    head = f"{prefix_agreement:.1%} of {what}"
    if variance is not None:
        head += f", {variance:.0%} of hidden variance"
    found = () if search is None else search.disagreements
    if residual is not None:
        covered, m, n, k = residual
        head += f"; {covered:.0%} of the residual is in {m} of {n * k + n} places ({n * k} transitions, {n} state outputs)"
    elif empty_disagrees:
        head += "; the only disagreement is on the empty word (the initial state's output)"
    elif found:
        head += "; no disagreement on the sampled prefixes"
    else:
        head += "; no residual: FSM and net agree on every sampled prefix"
    if search is not None:
        if found:
            but = "but " if residual is None and not empty_disagrees else ""
            head += (f"; {but}search found {len(found)} disagreement(s) in {search.steps_spent} net steps"
                     f" (shortest {format_word(found[0].word)!r}; see the residual)")
        else:
            head += f"; search found no disagreement in {search.steps_spent} net steps"
    return head


def price_line(price: dict, *, search: dict | None = None) -> str:
    """One line: what replacing the net by the automaton costs on the evaluated words."""
    line = (f"price of the rest  replacing the net by this {price['n_states']}-state FSM changes "
            f"{price['prefix_answers_changed']:.2%} of prefix answers and {price['word_answers_changed']:.2%} of word answers")
    if search is not None and search.get("disagreements"):
        line += f"; a search found {len(search['disagreements'])} more disagreement(s) these words do not show"
    return line


def growth_line(g: dict, *, specification: bool = False) -> str:
    """One line: the disagreement grows with length (or nesting): a counter or a drift."""
    lo, hi = g["low"]
    head = (f"note: the disagreement grows with {g['by']}: {g['disagreement_low']:.2%} of prefixes at {g['by']} "
            f"{lo}-{hi}, {g['disagreement_high']:.2%} beyond {g['high_beyond']} (z = {g['z']:.1f}). ")
    if specification:
        return head + ("The net and the specification part more the longer (deeper) the word: one of them counts, "
                       "drifts or has a bound the other lacks")
    return head + ("A counter or a drift in the net, not a missing state: more states fitted on these words will "
                   "not remove it (see the agreement beyond the fitting lengths)")
