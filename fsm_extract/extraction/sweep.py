"""Sweeps over the number of clusters, and ``n_states="auto"``.

Both trace the net once and then refit only the abstraction for each k, so a sweep over
k = 2..64 costs 63 clusterings, not 63 passes of the net.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import atomic_write, check_bool, check_float, check_out_path, check_seed
from ..abstraction.build import build_fsm
from ..abstraction.clustering import Method, count_distinct_rows, make_abstraction
from ..analysis.fidelity import evaluate_trace
from ..analysis.html import sweep_fragment
from ..data.datasets import Dataset
from ..errors import ArgumentTypeError, ValidationError
from ..abstraction.codebook import use_codebook
from ..nets.net import as_net
from ..nets.trace import StateKind, Trace
from ..words import check_ordered_words

__all__ = ["SweepResult", "sweep", "sweep_traces", "AUTO_GRID"]

#: The k tried by ``n_states="auto"`` (capped by ``max_states`` and the distinct hidden states):
#: every k up to 16, since agreement is not monotone in k and the exact k can fall between
#: coarse steps (the exactly-built Tomita 3 net has 9 distinct states, and is exact at k = 9),
#: then coarser steps.
AUTO_GRID = (*range(2, 17), 20, 24, 32, 40, 48, 64, 96, 128)


@dataclass(frozen=True)
class SweepResult:
    """One row per number of clusters ``k``.

    Each row: ``k``, ``n_states`` (after minimisation), ``prefix_agreement``,
    ``word_agreement``, ``state_agreement``, ``variance_explained``, ``determinism``,
    ``equivalent`` (to the reference, or None) and ``seconds`` (fit + evaluation).
    """

    rows: tuple
    evaluated_on: str

    def to_dict(self) -> dict[str, Any]:
        return {"evaluated_on": self.evaluated_on, "rows": [dict(r) for r in self.rows]}

    def column(self, name: str) -> np.ndarray:
        return np.array([r[name] for r in self.rows], dtype=float)

    def best(self, target: float = 0.999) -> dict:
        """The smallest k whose prefix agreement reaches ``target``, else the most faithful."""
        hits = [r for r in self.rows if r["prefix_agreement"] >= target]
        if hits:
            return min(hits, key=lambda r: r["k"])
        return max(self.rows, key=lambda r: (r["prefix_agreement"], -r["k"]))

    def table(self) -> str:
        """A Markdown table."""
        head = "| k | FSM states | prefix agreement | word agreement | state agreement | variance explained | determinism | equivalent |"
        lines = [head, "|---|---|---|---|---|---|---|---|"]
        for r in self.rows:
            eq = "" if r["equivalent"] is None else ("yes" if r["equivalent"] else "no")
            lines.append(f"| {r['k']} | {r['n_states']} | {r['prefix_agreement']:.2%} | {r['word_agreement']:.2%} | "
                         f"{r['state_agreement']:.2%} | {r['variance_explained']:.2%} | {r['determinism']:.2%} | {eq} |")
        return "\n".join(lines)

    __str__ = table

    def _repr_html_(self) -> str:  # notebooks: the plot and the table
        return sweep_fragment(self.to_dict())

    def plot(self, path: str | os.PathLike, *, title: str | None = None) -> Path:
        """Agreement, variance explained and minimised size against k, as a PNG/SVG/PDF."""
        path = check_out_path("path", path, suffixes=(".png", ".svg", ".pdf"))
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        k = self.column("k")
        fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
        ax.plot(k, self.column("prefix_agreement"), "o-", label="prefix agreement (held out)")
        ax.plot(k, self.column("word_agreement"), "s--", label="word agreement (held out)")
        ax.plot(k, self.column("variance_explained"), "^:", label="hidden variance explained")
        ax.set_xlabel("clusters k")
        ax.set_ylabel("share")
        ax.set_ylim(min(0.5, float(np.nanmin(self.column("variance_explained")))) - 0.02, 1.01)
        ax.grid(alpha=0.3)
        ax2 = ax.twinx()
        ax2.step(k, self.column("n_states"), where="mid", color="grey", alpha=0.6, label="minimised FSM states")
        ax2.set_ylabel("minimised FSM states")
        lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
        ax.legend(lines, labels, loc="lower right", fontsize=8)
        ax.set_title(title or f"extraction sweep ({self.evaluated_on})")
        fig.tight_layout()
        fmt = path.suffix.lstrip(".")
        try:
            atomic_write(path, lambda p: fig.savefig(p, format=fmt))
        finally:
            plt.close(fig)
        return path


def _check_ks(ks: Any) -> list[int]:
    """The sorted distinct k of ``n_states``, checked: integers >= 1, at least one."""
    ks = list(ks)
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise ArgumentTypeError(f"n_states={ks!r} must hold integers, got {k!r} ({type(k).__name__})")
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValidationError(f"n_states={ks!r} must hold at least one k >= 1")
    return ks


def sweep_traces(
    model: Any,
    fit_trace: Trace,
    test_trace: Trace,
    ks: Any,
    *,
    method: Method = "kmeans",
    seed: int = 0,
    reference: Any = None,
    max_fit_points: int = 100_000,
    progress: bool = False,
    extra_metadata: dict | None = None,
) -> tuple[SweepResult, dict]:
    """Sweep on traces already collected; also returns the FSM of each k."""

    ks = _check_ks(ks)
    progress = check_bool("progress", progress)
    distinct = count_distinct_rows(np.concatenate([fit_trace.h0[None, :], fit_trace.hidden[: max_fit_points]]))
    too_big = [k for k in ks if k > distinct]
    ks = [k for k in ks if k <= distinct]
    if not ks:
        raise ValidationError(f"n_states={too_big} must hold a k <= {distinct}, the number of distinct hidden states")
    rows, fsms = [], {}
    it = ks
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(ks, desc="sweep", unit="k", leave=False)
    for k in it:
        t0 = time.perf_counter()
        abstraction = make_abstraction(method, n_states=k, seed=seed, max_fit_points=max_fit_points).fit(fit_trace)
        meta = {"method": method, "n_clusters": k, "state": fit_trace.state, "seed": seed,
                "max_fit_length": int(fit_trace.lengths.max()), **(extra_metadata or {})}
        fsm = build_fsm(model, fit_trace, abstraction, metadata=meta)
        rep = evaluate_trace(fsm, test_trace, reference=reference)
        rows.append({
            "k": k, "n_states": fsm.n_states, "prefix_agreement": rep.prefix_agreement,
            "word_agreement": rep.word_agreement, "state_agreement": rep.state_agreement,
            "variance_explained": rep.variance_explained, "determinism": rep.determinism,
            "equivalent": None if rep.reference is None else rep.reference["fsm_equivalent"],
            "seconds": round(time.perf_counter() - t0, 3),
        })
        fsms[k] = fsm
    return SweepResult(rows=tuple(rows), evaluated_on=f"{test_trace.n_words} held-out words"), fsms


def sweep(
    model: Any,
    fit_data: Any,
    test_data: Any,
    n_states: Any = range(2, 65),
    *,
    method: Method = "kmeans",
    state: StateKind = "h",
    seed: int = 0,
    reference: Any = None,
    progress: bool = True,
) -> SweepResult:
    """Extract at every k in ``n_states`` and measure each automaton on ``test_data``.

    Parameters
    ----------
    model : RNNClassifier or RecurrentAdapter
    fit_data, test_data : Dataset or sequence of words
        The words the abstraction is fitted on, and the held-out words it is measured on.
    n_states : iterable of int, default range(2, 65)
    method : {"kmeans", "gmm"}
    state : {"h", "hc"}
    seed : int
    reference : Language or DFA, optional
        Adds an ``equivalent`` column.

    Returns
    -------
    SweepResult
        ``.table()``, ``.plot(path)``, ``.best(target)``, ``.to_dict()``.
    """

    seed = check_seed("seed", seed)
    progress = check_bool("progress", progress)
    if isinstance(n_states, (str, bytes)):
        raise ArgumentTypeError(f"n_states={n_states!r} must be an iterable of ints, e.g. range(2, 65), not a string")
    try:
        ks = list(n_states)
    except TypeError:
        raise ArgumentTypeError(f"n_states={n_states!r} must be an iterable of ints, e.g. range(2, 65)") from None
    ks = _check_ks(ks)
    check_ordered_words(fit_data, "fit_data")
    check_ordered_words(test_data, "test_data")
    model = as_net(model, check=True)
    use_codebook(model, fit_data.words if isinstance(fit_data, Dataset) else fit_data, seed=seed)
    fit_trace = model.trace_words(fit_data.words if isinstance(fit_data, Dataset) else fit_data, name="fit_data", state=state)
    test_trace = model.trace_words(test_data.words if isinstance(test_data, Dataset) else test_data, name="test_data",
                                   state=state)
    if fit_trace.n_steps == 0:
        raise ValidationError("fit_data must hold at least one non-empty word")
    if test_trace.n_words == 0:
        raise ValidationError("test_data must hold at least one word")
    result, _ = sweep_traces(model, fit_trace, test_trace, ks, method=method, seed=seed, reference=reference, progress=progress)
    return result


def select_n_states(
    model: Any,
    fit_trace: Trace,
    validation_trace: Trace,
    *,
    target: float = 0.999,
    max_states: int = 64,
    method: Method = "kmeans",
    seed: int = 0,
    max_fit_points: int = 100_000,
) -> tuple[Any, dict]:
    """``n_states="auto"``: the smallest k of :data:`AUTO_GRID` whose prefix agreement on the
    validation trace reaches ``target``, else the most faithful k. Returns (fsm, record)."""
    target = check_float("target", target, min=0.0, max=1.0)
    distinct = count_distinct_rows(np.concatenate([fit_trace.h0[None, :], fit_trace.hidden[:max_fit_points]]))
    grid = [k for k in AUTO_GRID if k <= min(max_states, distinct)] or [min(max_states, distinct)]
    tried, best, best_fsm = [], None, None

    for k in grid:
        abstraction = make_abstraction(method, n_states=k, seed=seed, max_fit_points=max_fit_points).fit(fit_trace)
        fsm = build_fsm(model, fit_trace, abstraction, metadata={"n_clusters": k})
        agree = evaluate_trace(fsm, validation_trace).prefix_agreement
        tried.append([k, agree])
        if best is None or agree > best[1]:
            best, best_fsm = (k, agree), fsm
        if agree >= target:
            best, best_fsm = (k, agree), fsm
            break
    record = {"target": target, "chosen": best[0], "validation_prefix_agreement": best[1],
              "reached_target": best[1] >= target, "tried": tried}
    return best_fsm, record
