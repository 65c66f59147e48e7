"""Measures between next-symbol distributions: how far a model's predictions are from a reference.

Every function takes distributions as rows: ``p`` and ``q`` of shape (n_rows, n_outcomes), one
row per prefix, one column per symbol and a last column for the end of the word (the layout of
:meth:`fsm_extract.data.pdfa.PDFA.prefix_probs`). By convention ``p`` is the reference (the
net, or the true PDFA) and ``q`` the model judged against it (the extracted automaton). A
row must be a distribution: non-negative, summing to 1 within 1e-3 (a float32 softmax is well
inside). A 1-D argument is one row, and the per-row measures then return a float.

The ranking and error measures follow Weiss, Goldberg & Yahav, "Learning Deterministic
Weighted Automata with Queries and Counterexamples" (NeurIPS 2019), whose experiments score
extracted PDFAs against the RNN with WER and NDCG as in the SPiCe competition
(https://spice.lis-lab.fr/description.php; the authors' code: github.com/tech-srl/weighted_lstar,
``LanguageModel.WER`` and ``spice_ndcg.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import check_bool, check_finite_array, check_float, check_int
from ..errors import ArgumentTypeError, ValidationError

__all__ = ["total_variation", "kl_divergence", "bits_per_symbol", "ndcg_at_k", "word_error_rate", "mean_by_length"]

_SUM_TOL = 1e-3  # how far a row may sum from 1


def _rows(name: str, value: Any) -> tuple[np.ndarray, bool]:
    """``value`` as float64 rows (n_rows, n_outcomes) of distributions, and whether it was 1-D."""
    arr = check_finite_array(name, value)
    if arr.ndim not in (1, 2):
        raise ValidationError(f"{name} must have shape (n_rows, n_outcomes) or (n_outcomes,), got shape {arr.shape}")
    one = arr.ndim == 1
    arr = np.atleast_2d(arr).astype(np.float64)
    if arr.shape[1] < 1:
        raise ValidationError(f"{name} must have at least one outcome (column), got shape {arr.shape}")
    bad = np.argwhere(arr < 0)
    if bad.size:
        i, j = bad[0]
        raise ValidationError(f"{name}[{i}, {j}]={arr[i, j]} must be >= 0 (a probability)")
    sums = arr.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > _SUM_TOL)
    if off.size:
        raise ValidationError(
            f"{name}[{off[0]}] must sum to 1 within {_SUM_TOL} (a next-symbol distribution), got sum {sums[off[0]]!r}"
        )
    return arr, one


def _pair(p: Any, q: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    p_arr, one_p = _rows("p", p)
    q_arr, one_q = _rows("q", q)
    if p_arr.shape != q_arr.shape or one_p != one_q:
        raise ValidationError(f"p and q must have the same shape, got {np.shape(p)} and {np.shape(q)}")
    return p_arr, q_arr, one_p


def _out(values: np.ndarray, one: bool) -> np.ndarray | float:
    return float(values[0]) if one else values


def total_variation(p: Any, q: Any) -> np.ndarray | float:
    """Total variation distance of each row pair: ``0.5 * sum_j |p[i, j] - q[i, j]|``.

    The largest difference, over all sets of outcomes, of the probability the two rows give the
    set; in [0, 1], 0 exactly when the rows are equal.

    Parameters
    ----------
    p, q : array-like of shape (n_rows, n_outcomes) or (n_outcomes,)

    Returns
    -------
    ndarray of shape (n_rows,), float64; a float for 1-D input
    """
    p, q, one = _pair(p, q)
    return _out(np.minimum(0.5 * np.abs(p - q).sum(axis=1), 1.0), one)


def kl_divergence(p: Any, q: Any, *, eps: float = 1e-12) -> np.ndarray | float:
    """Kullback-Leibler divergence ``KL(p || q)`` of each row pair, in bits.

    ``sum_j p[i, j] * (log2 p[i, j] - log2 max(q[i, j], eps))``, with ``0 * log 0 = 0``: the
    extra bits per outcome paid for coding draws from ``p`` (the reference, e.g. the net) with
    a code built for ``q`` (the model). ``eps`` keeps an outcome that ``q`` rules out finite
    (about 40 bits at the default). The result is clipped at 0 (rounding, and ``eps`` raising
    ``q``, can otherwise give -1e-12); it is 0 when the rows are equal, positive otherwise.

    Parameters
    ----------
    p, q : array-like of shape (n_rows, n_outcomes) or (n_outcomes,)
    eps : float, 0 < eps <= 1e-3

    Returns
    -------
    ndarray of shape (n_rows,), float64; a float for 1-D input
    """
    p, q, one = _pair(p, q)
    eps = check_float("eps", eps, min=0.0, max=1e-3, min_inclusive=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log2(np.where(p > 0, p, 1.0)) - np.log2(np.maximum(q, eps))), 0.0)
    return _out(np.maximum(terms.sum(axis=1), 0.0), one)


def bits_per_symbol(probs: Any, targets: Any, *, per_row: bool = False) -> np.ndarray | float:
    """Cross-entropy of what actually came next under the predicted distributions, in bits.

    ``mean_i -log2 probs[i, targets[i]]``: the average code length of the observed next
    symbols (``2 ** bits_per_symbol`` is the perplexity). ``inf`` if a target has probability 0.

    Parameters
    ----------
    probs : array-like of shape (n_rows, n_symbols + 1)
        Predicted next-symbol distributions, one row per prefix.
    targets : array-like of shape (n_rows,), int
        The id of the symbol that came next after each prefix; ``n_symbols`` (the last column)
        where the word ended.
    per_row : bool, default False
        Return the ``n_rows`` values ``-log2 probs[i, targets[i]]`` instead of their mean.

    Returns
    -------
    float, or ndarray of shape (n_rows,) with ``per_row``
    """
    probs, _ = _rows("probs", probs)
    per_row = check_bool("per_row", per_row)
    t = check_finite_array("targets", targets, ndim=1)
    if t.dtype.kind not in "iu":
        raise ArgumentTypeError(f"targets must hold integer symbol ids, got dtype {t.dtype}")
    if t.shape[0] != probs.shape[0]:
        raise ValidationError(f"targets must have one id per row of probs ({probs.shape[0]}), got {t.shape[0]}")
    if not per_row and t.size == 0:
        raise ValidationError("probs must have at least one row to average over, got 0")
    bad = np.flatnonzero((t < 0) | (t >= probs.shape[1]))
    if bad.size:
        raise ValidationError(f"targets[{bad[0]}]={t[bad[0]]} must be an outcome id in 0..{probs.shape[1] - 1}")
    with np.errstate(divide="ignore"):
        bits = -np.log2(probs[np.arange(t.size), t.astype(np.int64)])
    return bits if per_row else float(bits.mean())


def ndcg_at_k(p: Any, q: Any, *, k: int = 5) -> np.ndarray | float:
    """Normalised discounted cumulative gain at ``k`` of ``q``'s ranking, judged by ``p`` (SPiCe).

    For each row, ``q``'s outcomes are ranked by decreasing probability (ties: the lower id
    first) and its top ``k`` are scored with the reference probabilities ``p`` as gains::

        NDCG@k = sum_{i=1..k} p[a_i] / log2(i + 1)  /  sum_{i=1..k} p_(i) / log2(i + 1)

    where ``a_i`` is ``q``'s i-th ranked outcome and ``p_(1) >= p_(2) >= ...`` are the ``k``
    largest values of ``p`` (the ideal ranking's gains). This is the per-prefix score of the
    SPiCe competition (https://spice.lis-lab.fr/description.php; its ``score_computation.py``
    by R. Eyraud, kept in github.com/tech-srl/weighted_lstar ``spice_ndcg.py``), which Weiss,
    Goldberg & Yahav (NeurIPS 2019) use with ``p`` the RNN's distribution; a competition score
    is the mean over prefixes. ``k`` larger than the number of outcomes is cut to it. The value
    is in [0, 1]; it is 1 when ``q``'s top ``k`` collects the largest gains in the ideal order
    (e.g. ``q == p``), whatever the order among tied gains.

    Parameters
    ----------
    p : array-like of shape (n_rows, n_outcomes) or (n_outcomes,)
        The reference distributions (the net, or the true PDFA).
    q : array-like of the same shape
        The model whose ranking is scored (the extracted automaton).
    k : int, >= 1, default 5

    Returns
    -------
    ndarray of shape (n_rows,), float64; a float for 1-D input
    """
    p, q, one = _pair(p, q)
    k = min(check_int("k", k, min=1), p.shape[1])
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    ranked = np.argsort(-q, axis=1, kind="stable")[:, :k]
    dcg = (np.take_along_axis(p, ranked, axis=1) * discount).sum(axis=1)
    ideal = (-np.sort(-p, axis=1)[:, :k] * discount).sum(axis=1)  # > 0: a row sums to about 1
    return _out(np.clip(dcg / ideal, 0.0, 1.0), one)


def word_error_rate(p: Any, q: Any, *, per_row: bool = False) -> np.ndarray | float:
    """The fraction of prefixes where the most likely next outcomes of ``p`` and ``q`` differ.

    ``mean_i [argmax_j p[i, j] != argmax_j q[i, j]]`` (ties: the lower id is the argmax). This
    is the WER of Weiss, Goldberg & Yahav (NeurIPS 2019) as their code computes it against a
    gold model (``LanguageModel.WER`` in github.com/tech-srl/weighted_lstar): words are sampled
    from the reference, and at every prefix of every word (``len + 1`` per word, the full word
    included, where the end is the right answer) the model's top prediction is compared with the
    reference's. Rows are those prefixes, counted with repetition. To score against the symbols
    that actually came next instead (their WER without a gold model), pass one-hot rows as
    ``p``: ``np.eye(n_symbols + 1)[targets]``.

    Parameters
    ----------
    p, q : array-like of shape (n_rows, n_outcomes) or (n_outcomes,)
    per_row : bool, default False
        Return each row's 0/1 disagreement (float64) instead of their mean.

    Returns
    -------
    float, or ndarray of shape (n_rows,) with ``per_row``
    """
    p, q, one = _pair(p, q)
    per_row = check_bool("per_row", per_row)
    wrong = (p.argmax(axis=1) != q.argmax(axis=1)).astype(np.float64)
    if per_row:
        return _out(wrong, one)
    if wrong.size == 0:
        raise ValidationError("p must have at least one row to average over, got 0")
    return float(wrong.mean())


def mean_by_length(values: Any, lengths: Any, edges: Any) -> tuple[np.ndarray, np.ndarray]:
    """The mean of per-prefix values in bins of prefix length, to report a measure by length.

    Bin ``b`` holds the rows with ``edges[b] <= lengths[i] < edges[b + 1]``; rows outside
    ``[edges[0], edges[-1])`` are left out. ``edges`` may end with ``np.inf``.

    Parameters
    ----------
    values : array-like of shape (n_rows,), float
        E.g. ``total_variation(p, q)`` or ``word_error_rate(p, q, per_row=True)``; ``inf`` is
        allowed (a bin's mean is then ``inf``), NaN is not.
    lengths : array-like of shape (n_rows,), int
        The length of each row's prefix.
    edges : array-like of shape (n_bins + 1,)
        Strictly increasing, at least two.

    Returns
    -------
    means : ndarray of shape (n_bins,), float64
        NaN for an empty bin.
    counts : ndarray of shape (n_bins,), int64
    """
    v = np.asarray(values)
    if v.dtype.kind not in "biuf" or v.ndim != 1:
        raise ValidationError(f"values must be a 1-D array of numbers, got shape {v.shape} and dtype {v.dtype}")
    v = v.astype(np.float64)
    if np.isnan(v).any():
        raise ValidationError(f"values must not hold NaN, got {int(np.isnan(v).sum())}")
    n = check_finite_array("lengths", lengths, ndim=1)
    if n.dtype.kind not in "iu" or n.shape != v.shape:
        raise ValidationError(f"lengths must be integers, one per value ({v.size}), got {n.size} of dtype {n.dtype}")
    e = np.asarray(edges)
    if e.dtype.kind not in "iuf" or e.ndim != 1 or e.size < 2 or np.isnan(e).any() or not (np.diff(e) > 0).all():
        raise ValidationError(f"edges={edges!r} must be at least two strictly increasing numbers")
    bins = np.searchsorted(e, n, side="right") - 1
    keep = (bins >= 0) & (bins < e.size - 1)
    counts = np.bincount(bins[keep], minlength=e.size - 1).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        sums = np.bincount(bins[keep], weights=v[keep], minlength=e.size - 1)
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return means, counts
