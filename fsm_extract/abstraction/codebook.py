"""Output classes for next-symbol nets: a codebook of next-symbol distributions.

A next-symbol (language) model's output after a prefix is a distribution over the next symbol
and end-of-word, not a class. Two states of a probabilistic automaton may predict the same most
likely symbol with different distributions, so the argmax is too coarse a class to build and
minimise a Moore machine on. Instead the distributions the net gives on the fitting words are
quantised: k-means over them, with the smallest number of centres whose mean total variation
to the net's distributions is within ``tolerance``. A step's output class is then its nearest
centre (L1, :func:`~fsm_extract.nets.trace.output_classes`), and everything built on classes
(counting, splitting, merging, minimisation, agreement, search) works unchanged; each state of
the automaton keeps the mean distribution of its steps (``output_probs``), which the
next-symbol measures compare with the net's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.cluster import KMeans

from .._checks import check_float, check_int, check_seed
from ..errors import ValidationError
from ..nets.net import Net
from ..nets.trace import nearest_rows
from ..words import encode_words

__all__ = ["fit_codebook", "use_codebook", "match_outputs", "CODEBOOK_TOLERANCE", "MAX_OUTPUTS"]

CODEBOOK_TOLERANCE = 0.01  # mean total variation of the net's distributions to their centre
MAX_OUTPUTS = 32
ELBOW = 0.8  # a centre is added while it cuts the mean total variation to below this share


def fit_codebook(probs: Any, *, tolerance: float = CODEBOOK_TOLERANCE, max_outputs: int = MAX_OUTPUTS,
                 seed: int = 0, max_points: int = 20_000) -> tuple[np.ndarray, dict[str, Any]]:
    """The fewest next-symbol distributions that stand for ``probs`` within ``tolerance``.

    Parameters
    ----------
    probs : array-like of shape (n, n_classes)
        The net's distributions (rows sum to 1).
    tolerance : float, default 0.01
        The mean total variation between a row and its nearest centre to reach; centres are
        added one at a time until it is reached, or until one more would cut the mean total
        variation by less than a fifth (the elbow: a net's outputs scatter around the
        distributions of its states, and more centres would split that scatter).
    max_outputs : int, default 32
        The most centres; the record says when the tolerance was not reached with them.
    seed : int
        Seeds the subsample (at most ``max_points`` rows) and k-means.

    Returns
    -------
    codebook : ndarray of shape (n_outputs, n_classes), float64
        Rows are distributions, in order of first use by the rows of ``probs``.
    record : dict
        ``n_outputs``, ``mean_tv`` reached, ``tolerance``, ``reached`` (False: stopped at the
        elbow or at ``max_outputs``).
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 1:
        raise ValidationError(f"probs must have shape (n >= 1, n_classes), got {p.shape}")
    tolerance = check_float("tolerance", tolerance, min=0.0)
    max_outputs = check_int("max_outputs", max_outputs, min=1, max=4096)
    rng = np.random.default_rng(check_seed("seed", seed))
    sample = p if p.shape[0] <= max_points else p[np.sort(rng.choice(p.shape[0], max_points, replace=False))]
    distinct = np.unique(np.round(sample, 6), axis=0)
    books, tvs = [], []
    for k in range(1, min(max_outputs, distinct.shape[0]) + 1):
        if k == distinct.shape[0]:
            centres = distinct
        else:
            km = KMeans(n_clusters=k, n_init=3, random_state=int(rng.integers(2**31 - 1))).fit(sample)
            centres = _refit(sample, km.cluster_centers_)
        books.append(centres)
        tvs.append(float(0.5 * np.abs(sample - centres[nearest_rows(sample, centres)]).sum(1).mean()))
        if tvs[-1] <= tolerance:
            break
        if len(tvs) >= 2 and tvs[-1] > ELBOW * tvs[-2]:  # one more centre no longer pays: keep the one before
            books.pop(), tvs.pop()
            break
    best, tv = books[-1], tvs[-1]
    first_use = np.unique(nearest_rows(p, best), return_index=True)
    order = first_use[0][np.argsort(first_use[1])]  # centres in order of first use; unused ones dropped
    book = np.clip(best[order], 0.0, None)
    book /= book.sum(1, keepdims=True)
    return book, {"n_outputs": int(book.shape[0]), "mean_tv": round(tv, 6), "tolerance": tolerance,
                  "reached": bool(tv <= tolerance)}


def _refit(sample: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Centres as the means of the rows nearest to them in L1 (the assignment classes use)."""
    near = nearest_rows(sample, centres)
    out = centres.copy()
    for j in range(centres.shape[0]):
        rows = sample[near == j]
        if rows.size:
            out[j] = rows.mean(0)
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
