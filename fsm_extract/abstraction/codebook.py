"""Output classes for next-symbol nets: a codebook of next-symbol distributions.

A next-symbol (language) model's output after a prefix is a distribution over the next symbol
and end-of-word, not a class. Two states of a probabilistic automaton may predict the same most
likely symbol with different distributions, so the argmax is too coarse a class to build and
minimise a Moore machine on. Instead the distributions the net gives on the fitting words are
quantised (farthest-first, :func:`fit_codebook`) into the fewest centres that leave them
within a mean total variation of 0.015 (or, where 32 centres do not, the knee of the curve). A step's output class is then its nearest
centre (L1, :func:`~fsm_extract.nets.trace.output_classes`), and everything built on classes
(counting, splitting, merging, minimisation, agreement, search) works unchanged; each state of
the automaton keeps the mean distribution of its steps (``output_probs``), which the
next-symbol measures compare with the net's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import check_float, check_int, check_seed
from ..errors import ArgumentTypeError, ValidationError
from ..nets.net import Net
from ..nets.trace import nearest_rows
from ..words import encode_words

__all__ = ["fit_codebook", "use_codebook", "match_outputs", "CODEBOOK_TOLERANCE", "MAX_OUTPUTS"]

CODEBOOK_TOLERANCE = 0.015  # mean total variation of the net's distributions to their centre
MAX_OUTPUTS = 32
LOOK_PAST = 8  # centres tried past the tolerance, to see where the curve flattens
MERGE_TV = 0.08  # centres closer than this (total variation) are one output class


def fit_codebook(probs: Any, *, tolerance: float = CODEBOOK_TOLERANCE, max_outputs: int = MAX_OUTPUTS,
                 seed: int = 0, max_points: int = 20_000) -> tuple[np.ndarray, dict[str, Any]]:
    """The fewest next-symbol distributions that stand for ``probs``.

    Farthest-first: start from the mean distribution; add the row farthest from every centre
    as a new centre and move every centre to the mean of the rows nearest to it (a few Lloyd
    steps, L1 distance), until 8 centres past the point where the mean total variation
    between a row and its nearest centre is at most ``tolerance``, or ``max_outputs``
    centres. The fewest centres within ``tolerance`` are kept, unless the tolerance is not
    reached or the knee of the curve (Kneedle: the most reduction for the fewest centres) is
    already within twice of it: then the fewest as close as the knee. What more centres would
    split is the scatter of the net's outputs around its states' distributions, not another
    state; for the same reason centres closer than a total variation of 0.08 are merged
    (states with such near outputs are still told apart by their transitions). Distinct distributions are found one by one
    however rare, and the result does not depend on a random start.

    Parameters
    ----------
    probs : array-like of shape (n, n_classes)
        The net's distributions (rows >= 0 summing to 1).
    tolerance : float, default 0.015
        Mean total variation to the nearest centre that is close enough.
    max_outputs : int, default 32
    seed : int
        Seeds the subsample (at most ``max_points`` rows).

    Returns
    -------
    codebook : ndarray of shape (n_outputs, n_classes), float64
        Rows are distributions, in order of first use by the rows of ``probs``.
    record : dict
        ``n_outputs``, ``mean_tv`` reached, ``tolerance``, ``reached`` (False: the tolerance
        was not reached with ``max_outputs`` centres).
    """
    p = _checked_probs(probs)
    tolerance = check_float("tolerance", tolerance, min=0.0)
    max_outputs = check_int("max_outputs", max_outputs, min=1, max=4096)
    max_points = check_int("max_points", max_points, min=1)
    rng = np.random.default_rng(check_seed("seed", seed))
    sample = p if p.shape[0] <= max_points else p[np.sort(rng.choice(p.shape[0], max_points, replace=False))]
    centres, books, tvs, reached_at = sample.mean(0, keepdims=True), [], [], None
    while True:
        centres = _lloyd(sample, centres)
        tv = 0.5 * np.abs(sample - centres[nearest_rows(sample, centres)]).sum(1)
        books.append(centres)
        tvs.append(float(tv.mean()))
        if reached_at is None and tvs[-1] <= tolerance:
            reached_at = len(tvs)
        if centres.shape[0] >= max_outputs or tv.max() <= 0 or (reached_at and len(tvs) >= reached_at + LOOK_PAST):
            break
        centres = np.vstack([centres, sample[int(np.argmax(tv))]])
    knee = tvs[_knee(np.array(tvs))]  # the most reduction for the fewest centres
    bar = knee if (reached_at is None or knee <= 2 * tolerance) else tolerance
    pick = next(i for i, v in enumerate(tvs) if v <= max(bar, tolerance))  # no more centres than reach it
    kept = _merge_close(sample, books[pick])
    kept_tv = float((0.5 * np.abs(sample - kept[nearest_rows(sample, kept)]).sum(1)).mean())
    first_use = np.unique(nearest_rows(p, kept), return_index=True)
    order = first_use[0][np.argsort(first_use[1])]  # centres in order of first use; unused ones dropped
    book = np.clip(kept[order], 0.0, None)
    book /= book.sum(1, keepdims=True)
    return book, {"n_outputs": int(book.shape[0]), "mean_tv": round(kept_tv, 6), "tolerance": tolerance,
                  "reached": bool(kept_tv <= tolerance)}


def _merge_close(sample: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Merge centres closer than :data:`MERGE_TV` in total variation (the closest pair first,
    then a few Lloyd steps): two centres that near split the scatter around one distribution."""
    out = centres
    while out.shape[0] > 1:
        d = 0.5 * np.abs(out[:, None, :] - out[None, :, :]).sum(-1)
        d[np.diag_indices(out.shape[0])] = np.inf
        i, j = np.unravel_index(int(np.argmin(d)), d.shape)
        if d[i, j] >= MERGE_TV:
            break
        counts = np.bincount(nearest_rows(sample, out), minlength=out.shape[0]).astype(np.float64)
        w = counts[[i, j]] + 1e-12
        merged = (out[i] * w[0] + out[j] * w[1]) / w.sum()
        out = _lloyd(sample, np.vstack([np.delete(out, [i, j], axis=0), merged]))
    return out


def _knee(tvs: np.ndarray) -> int:
    """The index of the knee of a falling curve (Kneedle: the point farthest above the chord
    from the first to the last point, both axes scaled to [0, 1])."""
    if tvs.size < 3 or tvs[0] <= tvs[-1]:
        return int(tvs.size - 1) if tvs.size and tvs[-1] < tvs[0] else 0
    x = np.arange(tvs.size) / (tvs.size - 1)
    y = (tvs[0] - tvs) / (tvs[0] - tvs[-1])
    return int(np.argmax(y - x))


def _checked_probs(probs: Any) -> np.ndarray:
    try:
        p = np.asarray(probs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(f"probs must be an array of numbers: {exc}") from None
    if p.ndim != 2 or p.shape[0] < 1:
        raise ValidationError(f"probs must have shape (n >= 1, n_classes), got {p.shape}")
    if not np.isfinite(p).all():
        raise ValidationError(f"probs must be finite, but {int((~np.isfinite(p)).sum())} value(s) are not")
    if p.min() < 0 or np.abs(p.sum(1) - 1.0).max() > 1e-3:
        raise ValidationError("probs must hold distributions (rows >= 0 summing to 1)")
    return p


def _lloyd(sample: np.ndarray, centres: np.ndarray, steps: int = 5) -> np.ndarray:
    """A few steps of moving each centre to the mean of the rows nearest to it (L1)."""
    out = centres.copy()
    for _ in range(steps):
        near = nearest_rows(sample, out)
        sums = np.zeros_like(out)
        np.add.at(sums, near, sample)
        counts = np.bincount(near, minlength=out.shape[0])
        moved = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], out)
        if np.allclose(moved, out):
            return moved
        out = moved
    return out


def use_codebook(net: Net, words: Any, *, seed: int = 0, codebook: np.ndarray | None = None) -> dict[str, Any] | None:
    """Give a next-symbol ``net`` its output classes: ``codebook`` when given (an automaton's),
    else one fitted on the net's distributions over ``words``. Nothing for other nets.
    Returns the fitting record (None when nothing was fitted)."""
    if net.output_kind != "next-symbol":
        return None
    if codebook is not None:
        net.codebook = np.asarray(codebook, dtype=np.float64)
        return None
    net.codebook = None
    symbols, offsets = encode_words(words, net.alphabet)
    probs, h0 = net.outputs(symbols, offsets)
    book, record = fit_codebook(np.vstack([probs, h0[None, :]]), seed=seed)
    net.codebook = book
    return record


def match_outputs(net: Net, fsm: Any) -> None:
    """Check that ``fsm`` gives the kind of outputs ``net`` does (and as many classes), and give
    a next-symbol net the automaton's codebook, so the two are compared class for class."""
    if fsm.output_kind != net.output_kind:
        raise ValidationError(f"fsm.output_kind={fsm.output_kind!r} must match the model's outputs "
                              f"({net.output_kind!r}): an automaton is compared with the kind of net it was extracted from")
    if net.output_kind == "classes" and fsm.n_outputs != net.parts.n_classes:
        raise ValidationError(f"the fsm has {fsm.n_outputs} classes, the model {net.parts.n_classes}; they must match")
    use_codebook(net, (), codebook=fsm.codebook)
