"""The measures of a fidelity report: the net and the automaton run side by side over every
prefix of a trace, compared on output classes and on states.

Each function takes the side-by-side run (:class:`SideBySide`) and returns plain numbers,
lists and dicts; :func:`fsm_extract.analysis.fidelity.evaluate_trace` assembles them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..automata.automaton import ExtractedFSM
from ..automata.counting import run_transitions
from ..nets.trace import Trace
from ..words import decode_word, format_word
from .residual import ResidualItem, previous_per_step, shortest_difference

__all__ = ["BUCKET", "SideBySide", "side_by_side", "variance_explained", "determinism", "coverage", "by_length",
           "beyond_fit", "task_accuracy", "reference_check", "concentration", "shortest_disagreements", "growth",
           "price"]

BUCKET = 10  # width of the length buckets


@dataclass(frozen=True)
class SideBySide:
    """The FSM and the net over every step of a trace.

    Attributes
    ----------
    fsm_states : ndarray of shape (n_steps,), int64
        The FSM's state after each step.
    net_states : ndarray of shape (n_steps,), int64
        The FSM state of the net's own state (nearest cluster; -1 for a dropped cluster).
    net_initial : int
        The same for the net's initial state.
    agree_p : ndarray of shape (n_steps,), bool
        Output classes agree on the prefix ending at the step.
    net_word, fsm_word : ndarray of shape (n_words,), int
        Output class of each whole word (the empty prefix's for an empty word).
    starts : ndarray of shape (n_steps,), int64
        First step of the word each step is in.
    """

    fsm_states: np.ndarray
    net_states: np.ndarray
    net_initial: int
    agree_p: np.ndarray
    net_word: np.ndarray
    fsm_word: np.ndarray
    starts: np.ndarray

    @property
    def agree_w(self) -> np.ndarray:
        return self.fsm_word == self.net_word


def side_by_side(fsm: ExtractedFSM, trace: Trace, points: np.ndarray, point0: np.ndarray) -> SideBySide:
    """Run the FSM beside the net's trace; ``points``/``point0`` are what the FSM's
    abstraction maps to its states (the hidden states, or their behavioural features)."""
    sym, off, lengths = trace.symbols, trace.offsets, trace.lengths
    nonempty = lengths > 0
    fsm_states = run_transitions(fsm.transitions, sym, off, fsm.initial).astype(np.int64)
    fsm_out = fsm.state_outputs[fsm_states]
    fsm_word = np.full(trace.n_words, int(fsm.state_outputs[fsm.initial]))
    fsm_word[nonempty] = fsm_out[off[1:][nonempty] - 1]
    return SideBySide(
        fsm_states=fsm_states, net_states=fsm.abstract(points), net_initial=int(fsm.abstract(point0[None, :])[0]),
        agree_p=fsm_out == trace.classes, net_word=trace.final_classes(), fsm_word=fsm_word,
        starts=np.repeat(off[:-1], lengths),
    )


def variance_explained(fsm: ExtractedFSM, trace: Trace, run: SideBySide) -> float | None:
    """``1 - sum ||h_t - c(q_t)||^2 / sum ||h_t - mean(h)||^2`` with ``q_t`` the FSM's state."""
    if fsm.centroids is None or trace.n_steps == 0:
        return None
    h = trace.hidden.astype(np.float64)
    sse = float(((h - fsm.centroids[run.fsm_states]) ** 2).sum())
    sst = float(((h - h.mean(0)) ** 2).sum())
    return 1.0 - sse / sst if sst > 0 else (1.0 if sse == 0 else 0.0)


def determinism(fsm: ExtractedFSM, trace: Trace, run: SideBySide) -> tuple[float, list]:
    """The share of the net's own abstract transitions that go to the majority successor, and
    a row per (state, symbol) with its majority share and entropy in bits (state None: a
    dropped cluster)."""
    n, k = fsm.n_states, len(fsm.alphabet)
    net_lab = np.where(run.net_states < 0, n, run.net_states)
    prev_lab = previous_per_step(net_lab, trace.offsets, n if run.net_initial < 0 else run.net_initial)
    counts = np.bincount((prev_lab * k + trace.symbols) * (n + 1) + net_lab,
                         minlength=(n + 1) * k * (n + 1)).reshape(n + 1, k, n + 1)
    mass = counts.sum(-1)
    rows = []
    for q, a in np.argwhere(mass > 0):
        p = counts[q, a][counts[q, a] > 0] / mass[q, a]
        rows.append({"state": int(q) if q < n else None, "symbol": fsm.alphabet[a], "mass": int(mass[q, a]),
                     "majority_share": float(p.max()), "entropy_bits": float(-(p * np.log2(p)).sum())})
    return (float(counts.max(-1).sum() / mass.sum()) if mass.sum() else 1.0), rows


def coverage(fsm: ExtractedFSM, trace: Trace, run: SideBySide) -> dict[str, Any]:
    """Which of the FSM's transitions the data exercises: observed when fitting, completed
    from the net, or given (an automaton built from a DFA)."""
    sym = trace.symbols
    prev = previous_per_step(run.fsm_states, trace.offsets, fsm.initial)
    observed = fsm.support[prev, sym] > 0
    completed = fsm.completed[prev, sym]
    denom = max(trace.n_steps, 1)
    n, k = fsm.n_states, len(fsm.alphabet)
    return {"observed": float(observed.sum() / denom), "completed": float(completed.sum() / denom),
            "given": float((~observed & ~completed).sum() / denom),
            "transitions_used": int(np.unique(prev * k + sym).size), "n_transitions": n * k}


def _bucket_rows(lengths: np.ndarray, agree: np.ndarray) -> dict[str, tuple[int, float]]:
    rows = {}
    if lengths.size == 0:
        return rows
    for lo in range(0, int(lengths.max()) + 1, BUCKET):
        hi = lo + BUCKET - 1
        m = (lengths >= lo) & (lengths <= hi)
        if m.any():
            rows[f"{lo}-{hi}"] = (int(m.sum()), float(agree[m].mean()))
    return rows


def _prefix_lengths(trace: Trace, run: SideBySide) -> np.ndarray:
    return (np.arange(trace.n_steps) - run.starts + 1) if trace.n_steps else np.zeros(0, np.int64)


def by_length(trace: Trace, run: SideBySide) -> list[dict]:
    """Agreement of words by word length and of prefixes by prefix length, in buckets of 10."""
    wrows = _bucket_rows(trace.lengths, run.agree_w)
    prows = _bucket_rows(_prefix_lengths(trace, run), run.agree_p)
    return [{"lengths": b, "words": wrows.get(b, (0, None))[0], "word_agreement": wrows.get(b, (0, None))[1],
             "prefixes": prows.get(b, (0, None))[0], "prefix_agreement": prows.get(b, (0, None))[1]}
            for b in sorted(set(wrows) | set(prows), key=lambda s: int(s.split("-")[0]))]


def _compare(position: np.ndarray, disagree: np.ndarray, what: str, low: tuple[int, int], high: int) -> dict | None:
    """Disagreement on prefixes with ``low[0] <= position <= low[1]`` against those with
    ``position > high``: rates, a two-proportion z statistic, and whether it grows (rate at least
    doubled, at least 0.5 percentage point more, z >= 3)."""
    a, b = (position >= low[0]) & (position <= low[1]), position > high
    n1, n2 = int(a.sum()), int(b.sum())
    if n1 < 10 or n2 < 10:
        return None
    r1, r2 = float(disagree[a].mean()), float(disagree[b].mean())
    pooled = (r1 * n1 + r2 * n2) / (n1 + n2)
    se = float(np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2)))
    z = (r2 - r1) / se if se > 0 else 0.0
    return {"by": what, "low": [int(low[0]), int(low[1])], "high_beyond": int(high), "disagreement_low": r1,
            "disagreement_high": r2, "prefixes_low": n1, "prefixes_high": n2, "z": float(z),
            "grows": bool(r2 >= 2 * r1 and r2 - r1 >= 0.005 and z >= 3.0)}


def _length_trend(lengths: np.ndarray, disagree: np.ndarray) -> dict | None:
    """The second quartile of prefix lengths against the top quartile. The shortest quarter is
    left out: short prefixes reach few states, so any residual looks like it "grows" there;
    past them a missing state's disagreement stays level, a counter's or a drift's keeps rising."""
    if lengths.size < 40:
        return None
    q1, q2, q3 = (int(np.quantile(lengths, q, method="lower")) for q in (0.25, 0.5, 0.75))
    if not q1 < q2 < q3:
        return None
    return _compare(lengths, disagree, "prefix length", (q1 + 1, q2), q3)


def _nesting_depth(trace: Trace, run: SideBySide, alphabet: tuple) -> np.ndarray | None:
    """The nesting depth of each prefix (the deepest it has been, |open - closed|), where the
    alphabet has ``(`` and ``)``, ``[`` and ``]`` or ``{`` and ``}``; None otherwise."""
    for o, c in (("(", ")"), ("[", "]"), ("{", "}")):
        if o in alphabet and c in alphabet:
            step = np.zeros(len(alphabet), np.int64)
            step[alphabet.index(o)], step[alphabet.index(c)] = 1, -1
            inc = step[trace.symbols]
            total = np.cumsum(inc)
            before = np.concatenate([[0], total])[run.starts]  # the running sum before each word
            depth = np.abs(total - before)
            # the deepest the prefix has been: a running maximum that restarts with each word
            word = np.repeat(np.arange(trace.n_words, dtype=np.int64), trace.lengths)
            big = int(depth.max(initial=0)) + 1
            return np.maximum.accumulate(depth + word * big) - word * big
    return None


def growth(trace: Trace, run: SideBySide, alphabet: tuple) -> dict[str, Any]:
    """Does the disagreement grow with the prefix length (or, over brackets, the nesting
    depth)? A net that counts or drifts disagrees more the longer (deeper) the word: no missing
    state explains that, and more states fitted on short words do not fix it."""
    disagree = ~run.agree_p
    out: dict[str, Any] = {"length": _length_trend(_prefix_lengths(trace, run), disagree)}
    depth = _nesting_depth(trace, run, alphabet)  # depth <= 1 (no nesting) against depth >= 3
    out["nesting"] = None if depth is None else _compare(depth, disagree, "nesting depth", (0, 1), 2)
    return out


def price(run: SideBySide, task: dict | None, n_states: int) -> dict[str, Any]:
    """What replacing the net by the automaton costs on these words: the share of prefix and
    word answers that change, and (with labels) the task accuracy of each."""
    return {"n_states": int(n_states),
            "prefix_answers_changed": float((~run.agree_p).mean()) if run.agree_p.size else 0.0,
            "word_answers_changed": float((~run.agree_w).mean()) if run.agree_w.size else 0.0,
            "net_task_accuracy": None if task is None else task["net_accuracy"],
            "fsm_task_accuracy": None if task is None else task["fsm_accuracy"]}


def beyond_fit(trace: Trace, run: SideBySide, max_fit_length: int | None) -> dict | None:
    """Agreement on words and prefixes longer than the longest fitting word."""
    if max_fit_length is None:
        return None
    wl, pl = trace.lengths > max_fit_length, _prefix_lengths(trace, run) > max_fit_length
    return {"words": int(wl.sum()), "word_agreement": float(run.agree_w[wl].mean()) if wl.any() else None,
            "prefixes": int(pl.sum()), "prefix_agreement": float(run.agree_p[pl].mean()) if pl.any() else None}


def task_accuracy(run: SideBySide, labels: np.ndarray | None) -> dict | None:
    """Net and FSM against the labels (class ids; booleans are classes 0 and 1)."""
    if labels is None:
        return None
    labels = np.asarray(labels).astype(np.int64)
    net_acc, fsm_acc = float((run.net_word == labels).mean()), float((run.fsm_word == labels).mean())
    return {"net_accuracy": net_acc, "fsm_accuracy": fsm_acc, "cost": net_acc - fsm_acc}


def reference_check(fsm: ExtractedFSM, trace: Trace, run: SideBySide, table: np.ndarray, accepting: np.ndarray,
                    initial: int) -> dict[str, Any]:
    """Whether the FSM is equivalent to a reference DFA (the shortest word where not), and how
    well the net itself follows the reference on these words."""
    sym, off = trace.symbols, trace.offsets
    diff = shortest_difference(fsm.transitions, fsm.accepting, fsm.initial, table, accepting, initial)
    ref_p = accepting[run_transitions(table, sym, off, initial)].astype(np.int64)
    nonempty = trace.lengths > 0
    ref_w = np.full(trace.n_words, int(accepting[initial]))
    ref_w[nonempty] = ref_p[off[1:][nonempty] - 1]
    net_out = trace.classes
    net_dis = np.flatnonzero(ref_p != net_out)
    net_short = None
    if net_dis.size:
        t = net_dis[np.argmin(net_dis - run.starts[net_dis])]
        net_short = format_word(decode_word(sym[run.starts[t] : t + 1], fsm.alphabet))
    return {"fsm_equivalent": diff is None,
            "fsm_shortest_difference": None if diff is None else format_word(decode_word(diff, fsm.alphabet)),
            "net_word_agreement": float((ref_w == run.net_word).mean()) if trace.n_words else 1.0,
            "net_prefix_agreement": float((ref_p == net_out).mean()) if trace.n_steps else 1.0,
            "net_shortest_difference": net_short}


def concentration(items: list[ResidualItem]) -> dict[str, Any]:
    """The fewest places that hold 80% of the residual, and the share they hold."""
    total = sum(it.count for it in items)
    if not total:
        return {"share": 0.0, "places": 0, "transitions": 0}
    cum = np.cumsum([it.count for it in items if it.count])
    m = int(np.searchsorted(cum, 0.8 * total - 1e-9) + 1)
    return {"share": float(cum[m - 1] / total), "places": m,
            "transitions": len([it for it in items if it.count and it.kind == "transition"])}


def shortest_disagreements(trace: Trace, run: SideBySide, alphabet: tuple, n: int = 5) -> list:
    """The ``n`` shortest distinct prefixes on which the output classes differ."""
    dis = np.flatnonzero(~run.agree_p)
    out: list = []
    for t in dis[np.lexsort((dis, dis - run.starts[dis]))]:
        w = decode_word(trace.symbols[run.starts[t] : t + 1], alphabet)
        if w not in out:
            out.append(w)
        if len(out) == n:
            break
    return out
