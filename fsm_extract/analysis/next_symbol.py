"""How well a next-symbol automaton stands for a next-symbol (language) model.

At every prefix of every evaluated word (the empty prefix and the whole word included) the net
gives a distribution over the next symbol and end-of-word, and the automaton the distribution of
the state the prefix leads to (``output_probs``). Compared there: per-step argmax agreement, mean
total variation, KL(net || automaton) in bits, NDCG@5 and WER as the SPiCe competition and
weighted L* (Weiss, Goldberg & Yahav, 2019) compute them (the net as the reference), and the bits
per symbol each model spends on the symbols that really came next: the price, in bits, of
replacing the net by the automaton. All by prefix length; and the residual: the (state, next
symbol) places where the two distributions part most, each with a shortest witness prefix.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..automata.automaton import ExtractedFSM
from ..nets.trace import Trace
from ..words import format_word
from .distributions import bits_per_symbol, kl_divergence, ndcg_at_k, total_variation, word_error_rate

__all__ = ["next_symbol_measures", "next_symbol_lines", "LENGTH_EDGES"]

LENGTH_EDGES = (0, 1, 5, 10, 20, 40, 80, np.inf)


def _positions(fsm: ExtractedFSM, trace: Trace, fsm_states: np.ndarray) -> dict[str, np.ndarray]:
    """Every prefix position (n_steps + n_words of them): the net's and the FSM's
    distributions, the symbol that came next (end-of-word = n_symbols), the prefix length,
    the FSM state, and the step the prefix ends with (-1 for the empty prefix)."""
    k, lengths = fsm.n_symbols, trace.lengths
    n_words = trace.n_words
    starts = trace.offsets[:-1]
    # position order: for each word, the empty prefix then each step
    first = np.arange(n_words) + starts  # index of each word's empty prefix among the positions
    total = trace.n_steps + n_words
    is_step = np.ones(total, bool)
    is_step[first] = False
    step_of = np.full(total, -1, np.int64)
    step_of[is_step] = np.arange(trace.n_steps)
    net_p = np.empty((total, trace.n_classes), np.float64)
    net_p[is_step] = trace.probs
    net_p[~is_step] = trace.h0_probs
    state = np.full(total, fsm.initial, np.int64)
    state[is_step] = fsm_states
    target = np.full(total, k, np.int64)  # end-of-word after the whole word
    nxt = np.ones(total, bool)
    nxt[first + lengths] = False  # the last position of each word is followed by its end
    target[nxt] = trace.symbols  # every other position is followed by the next symbol of the word
    length = np.arange(total) - np.repeat(first, lengths + 1)
    return {"net": net_p, "fsm": fsm.output_probs[state], "target": target, "length": length, "state": state,
            "step": step_of}


def next_symbol_measures(fsm: ExtractedFSM, trace: Trace, fsm_states: np.ndarray, *, max_places: int = 10) -> dict[str, Any]:
    """The next-symbol figures of a report (see the module docstring).

    Parameters
    ----------
    fsm : ExtractedFSM with ``output_kind="next-symbol"``
    trace : Trace of the net on the evaluated words
    fsm_states : ndarray of shape (n_steps,), int64
        The FSM's state after each step.
    """
    pos = _positions(fsm, trace, fsm_states)
    p, q = pos["net"], pos["fsm"]
    tv = total_variation(p, q)
    wer = word_error_rate(p, q, per_row=True)
    bits_net = bits_per_symbol(p, pos["target"], per_row=True)
    bits_fsm = bits_per_symbol(q, pos["target"], per_row=True)
    by_length = []
    for lo, hi in zip(LENGTH_EDGES[:-1], LENGTH_EDGES[1:]):
        m = (pos["length"] >= lo) & (pos["length"] < hi)
        if m.any():
            by_length.append({"lengths": [int(lo), None if np.isinf(hi) else int(hi) - 1], "n": int(m.sum()),
                              "total_variation": float(tv[m].mean()), "wer": float(wer[m].mean()),
                              "bits_net": float(bits_net[m].mean()), "bits_fsm": float(bits_fsm[m].mean())})
    return {
        "n_positions": int(p.shape[0]),
        "argmax_agreement": float(1.0 - wer.mean()),
        "total_variation": float(tv.mean()),
        "kl_divergence": float(kl_divergence(p, q).mean()),
        "bits_per_symbol": {"net": float(bits_net.mean()), "fsm": float(bits_fsm.mean()),
                            "price": float(bits_fsm.mean() - bits_net.mean())},
        "ndcg5": float(ndcg_at_k(p, q, k=5).mean()),
        "wer": float(wer.mean()),
        "by_length": by_length,
        "places": _places(fsm, trace, pos, max_places),
    }


def _places(fsm: ExtractedFSM, trace: Trace, pos: dict[str, np.ndarray], max_places: int) -> list[dict[str, Any]]:
    """The (state, next symbol) pairs where the net's probability differs most from the state's,
    by total absolute difference over the positions; each with the mean net probability, the
    state's, the positions and a shortest prefix (witness) where it differs by the most there."""
    n, c = fsm.n_states, pos["net"].shape[1]
    diff = pos["net"] - pos["fsm"]
    mass = np.zeros((n, c))
    np.add.at(mass, pos["state"], np.abs(diff))
    counts = np.bincount(pos["state"], minlength=n)
    order = np.argsort(-mass, axis=None, kind="stable")[:max_places]
    out = []
    for flat in order:
        q, s = divmod(int(flat), c)
        if mass[q, s] <= 0:
            break
        here = np.flatnonzero(pos["state"] == q)
        d = np.abs(diff[here, s])
        worst = d.max()
        pick = here[d >= worst - 1e-9]
        pick = pick[np.argmin(pos["length"][pick])]  # the shortest prefix among the worst
        out.append({"state": q, "next": "$" if s == fsm.n_symbols else fsm.alphabet[s],
                    "net_prob": float(pos["net"][here, s].mean()), "fsm_prob": float(fsm.output_probs[q, s]),
                    "mean_abs_difference": float(mass[q, s] / counts[q]), "positions": int(counts[q]),
                    "share_of_difference": float(mass[q, s] / max(np.abs(diff).sum(), 1e-300)),
                    "witness": format_word(_prefix(trace, int(pos["step"][pick]))),
                    "witness_net_prob": float(pos["net"][pick, s])})
    return out


def _prefix(trace: Trace, step: int) -> list[str]:
    """The prefix a step ends (empty for -1), as symbols."""
    if step < 0:
        return []
    word = int(np.searchsorted(trace.offsets, step, side="right") - 1)
    ids = trace.symbols[trace.offsets[word] : step + 1]
    return [trace.alphabet[int(a)] for a in ids]


def next_symbol_lines(ns: dict[str, Any], *, max_places: int = 5) -> list[str]:
    """The report's text block for next-symbol figures."""
    b = ns["bits_per_symbol"]
    lines = [
        f"next symbol        argmax agreement {ns['argmax_agreement']:.2%} of {ns['n_positions']} prefix positions   "
        f"WER {ns['wer']:.2%}   NDCG@5 {ns['ndcg5']:.4f}",
        f"distributions      mean total variation {ns['total_variation']:.4f}   KL(net||fsm) {ns['kl_divergence']:.4f} bits",
        f"bits per symbol    net {b['net']:.4f}   fsm {b['fsm']:.4f}   price of replacing the net {b['price']:+.4f} bits/symbol",
    ]
    if ns["by_length"]:
        cells = "  ".join(f"{r['lengths'][0]}-{'' if r['lengths'][1] is None else r['lengths'][1]}: TV {r['total_variation']:.3f}"
                          for r in ns["by_length"])
        lines.append(f"  by prefix length: {cells}")
    for place in ns["places"][:max_places]:
        lines.append(f"  q{place['state']} next {place['next']!r}: net {place['net_prob']:.3f} vs fsm {place['fsm_prob']:.3f} "
                     f"(mean |diff| {place['mean_abs_difference']:.3f} over {place['positions']} positions; "
                     f"witness {place['witness']!r}: net {place['witness_net_prob']:.3f})")
    return lines
