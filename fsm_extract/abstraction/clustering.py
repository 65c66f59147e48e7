"""State abstraction: estimators that map continuous hidden states to discrete states.

scikit-learn style: keyword-only parameters stored in ``__init__``, validated in ``fit``,
fitted attributes end in ``_``. The initial state ``h0`` is part of the abstraction: it is
fitted with a weight of one visit per word, and ``initial_label_`` is its cluster.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
from threadpoolctl import threadpool_limits

from .._checks import check_choice, check_finite_array, check_int, check_seed
from ..errors import (
    ArgumentTypeError,
    FewerClustersWarning,
    NotFittedError,
    ValidationError,
)
from ..nets.trace import Trace

__all__ = ["KMeansAbstraction", "GaussianMixtureAbstraction", "make_abstraction", "Method", "count_distinct_rows"]

Method = Literal["kmeans", "gmm"]


def count_distinct_rows(x: np.ndarray, *, decimals: int = 6) -> int:
    """Number of distinct rows of ``x`` after rounding to ``decimals``."""
    if x.shape[0] == 0:
        return 0
    return int(np.unique(np.round(x, decimals), axis=0).shape[0])


class _Abstraction:
    """Shared fit/predict logic; subclasses build the scikit-learn estimator."""

    def __init__(self, *, n_states: int = 16, seed: int = 0, max_fit_points: int = 100_000, chunk_size: int = 262_144) -> None:
        self.n_states = n_states
        self.seed = seed
        self.max_fit_points = max_fit_points
        self.chunk_size = chunk_size

    def get_params(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # --- to implement -----------------------------------------------------------------
    def _fit_estimator(self, x: np.ndarray, weights: np.ndarray, n_clusters: int) -> None:  # pragma: no cover
        raise NotImplementedError

    def _predict_chunk(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    # --- public ----------------------------------------------------------------------
    def _validate_params(self) -> None:
        check_int("n_states", self.n_states, min=1)
        check_seed("seed", self.seed)
        check_int("max_fit_points", self.max_fit_points, min=1)
        check_int("chunk_size", self.chunk_size, min=1)

    def fit(self, trace: Trace) -> "_Abstraction":
        """Fit on the hidden states of ``trace`` (and its initial state).

        At most ``max_fit_points`` steps, drawn uniformly with ``seed``, are used for fitting.

        When the points hold fewer distinct states than ``n_states`` (an exactly-built net, a
        tiny dataset), every distinct state becomes a cluster of its own: ``n_states_`` is then
        below ``n_states``, and a :class:`~fsm_extract.errors.FewerClustersWarning` says so.

        Raises
        ------
        ValidationError
            If ``n_states`` is above the number of fitted points (as in scikit-learn), or
            states are not finite.
        """
        if not isinstance(trace, Trace):
            raise ArgumentTypeError(f"trace must be an fsm_extract Trace, got {type(trace).__name__}")
        self._validate_params()
        hidden = trace.hidden
        rng = np.random.default_rng(self.seed)
        n = hidden.shape[0]
        if n > self.max_fit_points:
            idx = np.sort(rng.choice(n, size=self.max_fit_points, replace=False))
            sample = hidden[idx]
            h0_weight = max(1.0, trace.n_words * self.max_fit_points / n)
        else:
            sample = hidden
            h0_weight = float(max(trace.n_words, 1))
        x = np.concatenate([np.asarray(trace.h0, dtype=np.float32)[None, :], sample]).astype(np.float32, copy=False)
        weights = np.ones(x.shape[0], dtype=np.float64)
        weights[0] = h0_weight
        if self.n_states > x.shape[0]:  # as scikit-learn: no more clusters than points
            raise ValidationError(
                f"n_states={self.n_states} must be <= {x.shape[0]}, the number of fitted points "
                f"(h0 and {sample.shape[0]} steps)"
            )
        distinct = count_distinct_rows(x)
        n_clusters = min(int(self.n_states), distinct)
        if n_clusters < self.n_states:
            warnings.warn(
                f"n_states={self.n_states} is more than the {distinct} distinct hidden states (h0 and "
                f"{sample.shape[0]} fitted steps): using {distinct} clusters, one per distinct state",
                FewerClustersWarning, stacklevel=2,
            )
        # one BLAS/OpenMP thread while fitting: scikit-learn's k-means sums its centres per
        # thread, so another thread count gives other float centres (same seed, other bytes)
        with threadpool_limits(limits=1):
            self._fit_estimator(x, weights, n_clusters)
        self.n_features_in_ = x.shape[1]
        self.n_fit_points_ = int(x.shape[0])
        self.n_states_ = n_clusters
        self.initial_label_ = int(self.predict(np.asarray(trace.h0)[None, :])[0])
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_states_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(trace) first")

    def predict(self, hidden: Any) -> np.ndarray:
        """Abstract state of each hidden state.

        Parameters
        ----------
        hidden : array-like of shape (n, dim)

        Returns
        -------
        ndarray of shape (n,), int32
        """
        self._check_fitted()
        x = check_finite_array("hidden", hidden, ndim=2)
        if x.shape[1] != self.n_features_in_:
            raise ValidationError(f"hidden must have {self.n_features_in_} columns (as fitted), got shape {x.shape}")
        with np.errstate(over="ignore"):  # values beyond float32 become inf, and are refused
            x = check_finite_array("hidden", x.astype(np.float32), ndim=2)
        out = np.empty(x.shape[0], dtype=np.int32)
        for s in range(0, x.shape[0], self.chunk_size):
            out[s : s + self.chunk_size] = self._predict_chunk(x[s : s + self.chunk_size])
        return out

    @property
    def centroids_(self) -> np.ndarray:
        """ndarray of shape (n_states, dim): the centre of each abstract state."""
        self._check_fitted()
        return self._centroids()


class KMeansAbstraction(_Abstraction):
    """k-means over hidden states.

    Parameters
    ----------
    n_states : int, default 16
        Number of clusters.
    seed : int, default 0
    max_fit_points : int, default 100_000
        Fit on a uniform subsample of at most this many steps; predict on all.
    minibatch_threshold : int, default 200_000
        Above this many fitting points, use ``MiniBatchKMeans``.
    n_init : int, default 4
    chunk_size : int
        Rows per ``predict`` call (bounds memory).

    Attributes
    ----------
    estimator_ : KMeans or MiniBatchKMeans
    initial_label_ : int
    n_states_ : int
    """

    def __init__(
        self,
        *,
        n_states: int = 16,
        seed: int = 0,
        max_fit_points: int = 100_000,
        minibatch_threshold: int = 200_000,
        n_init: int = 4,
        chunk_size: int = 262_144,
    ) -> None:
        super().__init__(n_states=n_states, seed=seed, max_fit_points=max_fit_points, chunk_size=chunk_size)
        self.minibatch_threshold = minibatch_threshold
        self.n_init = n_init

    def _validate_params(self) -> None:
        super()._validate_params()
        check_int("minibatch_threshold", self.minibatch_threshold, min=1)
        check_int("n_init", self.n_init, min=1)

    def _fit_estimator(self, x: np.ndarray, weights: np.ndarray, n_clusters: int) -> None:
        from sklearn.cluster import KMeans, MiniBatchKMeans

        if x.shape[0] > self.minibatch_threshold:
            est = MiniBatchKMeans(n_clusters=n_clusters, random_state=self.seed, n_init=self.n_init, batch_size=4096)
        else:
            est = KMeans(n_clusters=n_clusters, random_state=self.seed, n_init=self.n_init)
        with warnings.catch_warnings():
            # duplicate points can make sklearn warn that fewer clusters were found; n_states was
            # already checked against the number of distinct points
            warnings.simplefilter("ignore", category=Warning)
            est.fit(x, sample_weight=weights)
        self.estimator_ = est

    def _predict_chunk(self, x: np.ndarray) -> np.ndarray:
        return self.estimator_.predict(x)

    def _centroids(self) -> np.ndarray:
        return np.asarray(self.estimator_.cluster_centers_, dtype=np.float64)


class GaussianMixtureAbstraction(_Abstraction):
    """Gaussian mixture over hidden states (``covariance_type="diag"`` by default: ``"full"``
    is ~5x slower on large traces).

    The initial state is fitted with repeated copies (capped at 10% of the points), since
    ``GaussianMixture`` takes no sample weights.
    """

    def __init__(
        self,
        *,
        n_states: int = 16,
        seed: int = 0,
        max_fit_points: int = 100_000,
        covariance_type: Literal["full", "tied", "diag", "spherical"] = "diag",
        chunk_size: int = 262_144,
    ) -> None:
        super().__init__(n_states=n_states, seed=seed, max_fit_points=max_fit_points, chunk_size=chunk_size)
        self.covariance_type = covariance_type

    def _validate_params(self) -> None:
        super()._validate_params()
        check_choice("covariance_type", self.covariance_type, ("full", "tied", "diag", "spherical"))

    def _fit_estimator(self, x: np.ndarray, weights: np.ndarray, n_clusters: int) -> None:
        from sklearn.mixture import GaussianMixture

        copies = int(min(weights[0], max(1, 0.1 * x.shape[0])))
        copies = max(copies, 2 - (x.shape[0] - 1))  # GaussianMixture needs two rows, even for a trace of empty words
        x = np.concatenate([np.repeat(x[:1], copies, axis=0), x[1:]])
        est = GaussianMixture(
            n_components=n_clusters, covariance_type=self.covariance_type, random_state=self.seed, reg_covar=1e-5
        )
        est.fit(x)
        self.estimator_ = est

    def _predict_chunk(self, x: np.ndarray) -> np.ndarray:
        return self.estimator_.predict(x)

    def _centroids(self) -> np.ndarray:
        return np.asarray(self.estimator_.means_, dtype=np.float64)


def make_abstraction(method: Method = "kmeans", **params: Any) -> _Abstraction:
    """Build an abstraction by name: ``"kmeans"`` or ``"gmm"``."""
    check_choice("method", method, ("kmeans", "gmm"))
    cls = KMeansAbstraction if method == "kmeans" else GaussianMixtureAbstraction
    try:
        return cls(**params)
    except TypeError as exc:
        raise ArgumentTypeError(f"method={method!r} got an unknown option: {exc}") from None
