"""The front: for each automaton size, the most faithful automaton found, on held-out words.

``fx.pareto(model, data)`` fits a fine automaton (refined extraction), merges it down one size
at a time (:func:`fsm_extract.abstraction.merging.merge_path`), and measures every automaton on
words it was not fitted on: its agreement with the net (prefixes and words, and words longer
than any fitting word) and, with labels, its task accuracy beside the net's. The front keeps
the points no smaller automaton beats. Its knee (:meth:`ParetoFront.knee`) is the smallest
automaton within a tolerance of the best: what ``fx.extract`` returns by default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import atomic_write, check_float, check_int, check_out_path
from ..abstraction.merging import Words, score
from ..analysis.html import front_fragment
from ..automata.automaton import ExtractedFSM
from ..automata.counting import run_transitions
from ..data.corpus import Corpus
from ..errors import ValidationError
from ..nets.net import Net
from ..words import encode_words

__all__ = ["FrontPoint", "ParetoFront", "Tally", "knee_tolerance", "measure_words", "tally_corpus"]


def knee_tolerance(best: float) -> float:
    """How much held-out prefix agreement the knee may give up against the best point: half
    of the best point's disagreement, at least 0.1 percentage point. On a net the best
    automaton explains fully, the knee must too (to 0.1 pp); on one where the best leaves 4% of
    the prefixes unexplained, the knee may leave 6%: the residual may grow by half to buy a
    smaller automaton, never more (the front shows every other trade)."""
    return max(0.001, 0.5 * (1.0 - best))


def measure_words(net: Net, words: Any, *, name: str = "words") -> Words:
    """The net's output class after every prefix of ``words`` (no states kept)."""
    symbols, offsets = encode_words(words, net.alphabet, name=name)
    probs, h0 = net.outputs(symbols, offsets)
    return Words(symbols=symbols, offsets=offsets, classes=net.classes_of(probs),
                 h0_class=int(net.classes_of(h0[None, :])[0]))


def _subset(words: Words, keep: np.ndarray) -> Words:
    """The words where ``keep`` is True."""
    lengths = np.diff(words.offsets)
    steps = np.repeat(keep, lengths)  # each step kept with its word
    offsets = np.concatenate([[0], np.cumsum(lengths[keep])]).astype(np.int64)
    return Words(symbols=words.symbols[steps], offsets=offsets, classes=words.classes[steps], h0_class=words.h0_class)


def _word_outputs(fsm: ExtractedFSM, words: Words) -> np.ndarray:
    """The automaton's output class on each whole word."""
    out = np.full(words.n_words, int(fsm.state_outputs[fsm.initial]))
    if words.n_steps:
        states = run_transitions(fsm.transitions, words.symbols, words.offsets, fsm.initial)
        nonempty = np.diff(words.offsets) > 0
        out[nonempty] = fsm.state_outputs[states[words.offsets[1:][nonempty] - 1]]
    return out


@dataclass(frozen=True)
class Tally:
    """What held-out words say about each of a list of automata, as counts that add up chunk by
    chunk (:meth:`__add__`): agreeing prefixes and words, words longer than any fitting word, and
    with labels the words each automaton (and the net) gets right."""

    prefix: np.ndarray
    n_steps: int
    whole: np.ndarray
    n_words: int
    beyond: np.ndarray
    n_beyond: int
    task: np.ndarray | None = None
    net_right: int = 0

    @classmethod
    def of(cls, fsms: list[ExtractedFSM], words: Words, labels: np.ndarray | None = None,
           max_fit_length: int | None = None) -> "Tally":
        prefix, whole = score(fsms, words)
        beyond, n_beyond = np.zeros(len(fsms)), 0
        if max_fit_length is not None:
            long = np.diff(words.offsets) > max_fit_length
            if long.any():
                n_beyond = int(long.sum())
                beyond = score(fsms, _subset(words, long))[1] * n_beyond
        task, net_right = None, 0
        if labels is not None:
            net_word = np.full(words.n_words, words.h0_class)
            nonempty = np.diff(words.offsets) > 0
            net_word[nonempty] = words.classes[words.offsets[1:][nonempty] - 1]
            net_right = int((net_word == labels).sum())
            task = np.array([int((_word_outputs(f, words) == labels).sum()) for f in fsms], dtype=np.int64)
        return cls(prefix=np.rint(prefix * words.n_steps), n_steps=words.n_steps, whole=np.rint(whole * words.n_words),
                   n_words=words.n_words, beyond=np.rint(beyond), n_beyond=n_beyond, task=task, net_right=net_right)

    def __add__(self, other: "Tally") -> "Tally":
        task = None if self.task is None or other.task is None else self.task + other.task
        return Tally(self.prefix + other.prefix, self.n_steps + other.n_steps, self.whole + other.whole,
                     self.n_words + other.n_words, self.beyond + other.beyond, self.n_beyond + other.n_beyond,
                     task, self.net_right + other.net_right)

    def shares(self) -> tuple[np.ndarray, np.ndarray, list, list | None, float | None]:
        """(prefix agreement, word agreement, beyond-fit word agreement or None, task accuracy,
        the net's accuracy) of each automaton; 1.0 where there is nothing to disagree on."""
        m = self.prefix.size
        prefix = self.prefix / self.n_steps if self.n_steps else np.ones(m)
        whole = self.whole / self.n_words if self.n_words else np.ones(m)
        beyond = list(self.beyond / self.n_beyond) if self.n_beyond else [None] * m
        if self.task is None or not self.n_words:
            return prefix, whole, beyond, None, None
        return prefix, whole, beyond, list(self.task / self.n_words), self.net_right / self.n_words


def tally_corpus(net: Net, fsms: list[ExtractedFSM], corpus: Corpus, *, max_fit_length: int | None = None,
                 exclude: np.ndarray | None = None) -> Tally:
    """:class:`Tally` of ``fsms`` on every word of ``corpus`` but the sorted word indices
    ``exclude`` (the words fitted on), chunk by chunk: the net runs once per chunk."""
    total = None
    skip = np.zeros(0, np.int64) if exclude is None else np.asarray(exclude, np.int64)
    for chunk in corpus.chunks():
        keep = ~np.isin(np.arange(chunk.first, chunk.first + chunk.n_words), skip)
        if not keep.any():
            continue
        lengths = np.diff(chunk.offsets)[keep]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        symbols = chunk.symbols[np.repeat(keep, np.diff(chunk.offsets))]
        probs, h0 = net.outputs(symbols, offsets)
        words = Words(symbols=symbols, offsets=offsets, classes=net.classes_of(probs),
                      h0_class=int(net.classes_of(h0[None, :])[0]))
        part = Tally.of(fsms, words, None if chunk.labels is None else chunk.labels[keep], max_fit_length)
        total = part if total is None else total + part
    if total is None:
        raise ValidationError(f"{corpus.name} must hold at least one word to measure the front on, got none")
    return total


@dataclass(frozen=True)
class FrontPoint:
    """One automaton of the front and what it explains of the net on held-out words.

    Attributes
    ----------
    n_states : int
    agreement : float
        Held-out prefix agreement with the net.
    word_agreement : float
        Held-out word agreement with the net.
    beyond_agreement : float or None
        Word agreement on held-out words longer than any fitting word (None: there are none).
    task_accuracy : float or None
        The automaton's accuracy on the held-out labels (None without labels).
    fsm : ExtractedFSM
    found_agreement : float or None
        Word agreement on the disagreements a search found while fitting (verified behaviour of
        the net that held-out words rarely show: rare triggers); None without a search's finds.
    """

    n_states: int
    agreement: float
    word_agreement: float
    beyond_agreement: float | None
    task_accuracy: float | None
    fsm: ExtractedFSM
    found_agreement: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"n_states": self.n_states, "agreement": self.agreement, "word_agreement": self.word_agreement,
                "beyond_agreement": self.beyond_agreement, "task_accuracy": self.task_accuracy,
                "found_agreement": self.found_agreement}


@dataclass(frozen=True)
class ParetoFront:
    """Automaton size against held-out agreement with the net (see the module docstring).

    Attributes
    ----------
    points : tuple of FrontPoint
        Smallest first; each more faithful than every smaller one.
    candidates : tuple of FrontPoint
        Every automaton measured (the merge path), smallest first.
    net_accuracy : float or None
        The net's own accuracy on the held-out labels.
    evaluated_on : str
    checked : dict or None
        Where the fine automaton passed its counterexample check: the sizes checked from the
        knee up and the smallest that passed it too (see :meth:`choice`).
    """

    points: tuple
    candidates: tuple
    net_accuracy: float | None
    evaluated_on: str
    checked: dict | None = None

    @classmethod
    def of(cls, fsms: list[ExtractedFSM], held_out: "Words | Tally", *, labels: np.ndarray | None = None,
           max_fit_length: int | None = None, evaluated_on: str = "", found: Words | None = None) -> "ParetoFront":
        """Measure ``fsms`` on ``held_out`` (words, or a :class:`Tally` already counted on them, as
        :func:`tally_corpus` does chunk by chunk) and keep the front; ``found``: a search's finds
        while fitting, which :meth:`knee` keeps explained."""
        tally = held_out if isinstance(held_out, Tally) else Tally.of(fsms, held_out, labels, max_fit_length)
        prefix, whole, beyond, task, net_accuracy = tally.shares()
        kept = [None] * len(fsms) if found is None or found.n_words == 0 else list(score(fsms, found)[1])
        cands = sorted((FrontPoint(n_states=f.n_states, agreement=float(prefix[i]), word_agreement=float(whole[i]),
                                   beyond_agreement=None if beyond[i] is None else float(beyond[i]),
                                   task_accuracy=None if task is None else task[i], fsm=f,
                                   found_agreement=None if kept[i] is None else float(kept[i]))
                        for i, f in enumerate(fsms)), key=lambda p: (p.n_states, -p.agreement))
        points, best = [], -1.0
        for p in cands:
            if p.agreement > best:
                points.append(p)
                best = p.agreement
        return cls(points=tuple(points), candidates=tuple(cands), net_accuracy=net_accuracy, evaluated_on=evaluated_on)

    def at(self, n_states: int) -> FrontPoint:
        """The most faithful point with at most ``n_states`` states."""
        n_states = check_int("n_states", n_states, min=1)
        fit = [p for p in self.points if p.n_states <= n_states]
        if not fit:
            raise ValidationError(f"n_states={n_states} must be >= {self.points[0].n_states}, the smallest automaton "
                                  "on the front")
        return fit[-1]

    def best(self, target: float = 0.99) -> FrontPoint:
        """The smallest point whose held-out agreement reaches ``target``, else the most faithful."""
        target = check_float("target", target, min=0.0, max=1.0)
        return next((p for p in self.points if p.agreement >= target), self.points[-1])

    def knee(self, tolerance: float | None = None) -> FrontPoint:
        """The smallest automaton within ``tolerance`` of the most faithful on held-out words
        (default :func:`knee_tolerance` of its agreement). Where a search found disagreements
        while fitting, the knee must also explain them as well as the best automaton does
        (within :func:`knee_tolerance` of that share): a rare trigger the held-out words do not
        show is verified behaviour of the net, and no merge may forget it."""
        top = max(p.agreement for p in self.points)
        tol = knee_tolerance(top) if tolerance is None else check_float("tolerance", tolerance, min=0.0, max=1.0)
        close = [p for p in self.candidates if p.agreement >= top - tol - 1e-12]
        found = [p.found_agreement for p in self.candidates if p.found_agreement is not None]
        if found:
            need = max(found) - knee_tolerance(max(found)) - 1e-12
            keeping = [p for p in close if p.found_agreement is not None and p.found_agreement >= need]
            close = keeping or [max(close, key=lambda p: (p.found_agreement or 0.0, -p.n_states))]
        return close[0]

    def choice(self, tolerance: float | None = None) -> FrontPoint:
        """What ``fx.extract`` returns: the knee; where the fine automaton passed its
        counterexample check (the net looks cleanly finite-state), the smallest automaton from
        the knee up that passes the same check (``checked``): held-out words may miss a rare
        trigger the check sees, and an exact answer is not traded for a smaller one. (The check
        is made only with the default ``tolerance``: one given is the rule.)"""
        if self.checked is not None and tolerance is None:
            n = self.checked["chosen"]
            return next(p for p in self.candidates if p.n_states == n)
        return self.knee(tolerance)

    def to_dict(self) -> dict[str, Any]:
        return {"evaluated_on": self.evaluated_on, "net_accuracy": self.net_accuracy,
                "points": [p.to_dict() for p in self.points], "candidates": [p.to_dict() for p in self.candidates],
                "knee": self.knee().n_states, "choice": self.choice().n_states, "checked": self.checked}

    def table(self) -> str:
        """A Markdown table of the front, the knee marked."""
        knee = self.knee().n_states
        task = self.net_accuracy is not None
        what = "held-out prefix agreement" if "held-out" in self.evaluated_on else "prefix agreement (not held out)"
        head = f"| states | {what} | word agreement | words beyond the fitting lengths |"
        head += " task accuracy (net {:.2%}) |".format(self.net_accuracy) if task else ""
        lines = [head, "|---|---|---|---|" + ("---|" if task else "")]
        pct = lambda x: "n/a" if x is None else f"{x:.2%}"  # noqa: E731
        for p in self.points:
            mark = " (knee)" if p.n_states == knee else ""
            lines.append(f"| {p.n_states}{mark} | {pct(p.agreement)} | {pct(p.word_agreement)} | {pct(p.beyond_agreement)} |"
                         + (f" {pct(p.task_accuracy)} |" if task else ""))
        return "\n".join(lines)

    __str__ = table

    def _repr_html_(self) -> str:  # notebooks: the plot and the table
        return front_fragment(self.to_dict())

    def plot(self, path: str | os.PathLike, *, title: str | None = None) -> Path:
        """Held-out agreement against automaton size (every candidate, the front, the knee)."""
        path = check_out_path("path", path, suffixes=(".png", ".svg", ".pdf"))
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
        ax.plot([p.n_states for p in self.candidates], [p.agreement for p in self.candidates], ".", color="0.6",
                label="automata measured")
        ax.step([p.n_states for p in self.points], [p.agreement for p in self.points], "o-", where="post",
                label="front (held-out prefix agreement)")
        k = self.knee()
        ax.plot([k.n_states], [k.agreement], "*", markersize=14, color="C3", label=f"knee: {k.n_states} states")
        ax.set_xlabel("automaton states")
        ax.set_ylabel("agreement with the net")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
        ax.set_title(title or f"extraction front ({self.evaluated_on})")
        fig.tight_layout()
        try:
            atomic_write(path, lambda p: fig.savefig(p, format=path.suffix.lstrip(".")))
        finally:
            plt.close(fig)
        return path
