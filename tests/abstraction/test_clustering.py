"""State abstraction: KMeansAbstraction, GaussianMixtureAbstraction, make_abstraction."""

import warnings
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import fsm_extract as fx
from fsm_extract.abstraction.clustering import GaussianMixtureAbstraction, KMeansAbstraction, make_abstraction
from fsm_extract.errors import FewerClustersWarning, ArgumentTypeError, NotFittedError, ValidationError

from ..conftest import random_words



@pytest.fixture(scope="module")
def trace():
    """A trace of a small untrained LSTM: ~750 steps of 8-dimensional, unclustered states."""
    torch.manual_seed(0)
    model = fx.RNNClassifier("01", hidden_size=8)
    words = random_words(np.random.default_rng(0), 100, max_len=14) + [""]
    return fx.collect_trace(model, words)


def _hand_trace(hidden, h0=None):
    """A Trace built by hand: words of two steps each."""
    hidden = np.asarray(hidden, dtype=np.float32)
    n, d = hidden.shape
    assert n % 2 == 0
    return fx.Trace(
        hidden=hidden,
        symbols=np.arange(n) % 2,
        offsets=np.arange(0, n + 1, 2),
        h0=np.zeros(d, np.float32) if h0 is None else np.asarray(h0, np.float32),
        outputs=np.full(n, 0.5, np.float32),
        h0_output=0.5,
        alphabet="01",
    )


# ----------------------------------------------------------------------------- fit / predict
@pytest.mark.parametrize("cls", [KMeansAbstraction, GaussianMixtureAbstraction])
def test_fit_predict_shapes_and_dtype(trace, cls):
    a = cls(n_states=5, seed=0)
    assert a.fit(trace) is a
    labels = a.predict(trace.hidden)
    assert labels.shape == (trace.n_steps,)
    assert labels.dtype == np.int32
    assert labels.min() >= 0 and labels.max() < 5
    assert a.n_states_ == 5
    assert a.n_features_in_ == trace.dim
    assert a.centroids_.shape == (5, trace.dim)
    assert np.isfinite(a.centroids_).all()
    # a list of lists is accepted too, and gives the same labels
    np.testing.assert_array_equal(a.predict(trace.hidden[:7].tolist()), labels[:7])
    # an empty batch predicts to an empty array
    empty = a.predict(np.zeros((0, trace.dim), np.float32))
    assert empty.shape == (0,) and empty.dtype == np.int32


@pytest.mark.parametrize("cls", [KMeansAbstraction, GaussianMixtureAbstraction])
def test_initial_label_is_cluster_of_h0(trace, cls):
    a = cls(n_states=4, seed=3).fit(trace)
    assert isinstance(a.initial_label_, int)
    assert a.initial_label_ == int(a.predict(trace.h0[None, :])[0])


def test_kmeans_labels_are_nearest_centroids(trace):
    a = KMeansAbstraction(n_states=6, seed=0).fit(trace)
    c = a.centroids_
    d = ((trace.hidden[:, None, :].astype(np.float64) - c[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(a.predict(trace.hidden), d.argmin(1))
    d0 = ((trace.h0.astype(np.float64) - c) ** 2).sum(-1)
    assert a.initial_label_ == int(d0.argmin())


def test_h0_gets_its_own_cluster_when_it_is_far_away():
    # h0 sits far from two tight groups; with 3 states h0 is its own cluster
    rng = np.random.default_rng(1)
    groups = np.concatenate([rng.normal(0, 0.01, (20, 2)) + [5, 5], rng.normal(0, 0.01, (20, 2)) + [-5, 5]])
    tr = _hand_trace(groups, h0=[0, -20])
    a = KMeansAbstraction(n_states=3, seed=0).fit(tr)
    labels = a.predict(tr.hidden)
    assert a.initial_label_ not in set(labels.tolist())
    assert len(set(labels[:20].tolist())) == 1 and len(set(labels[20:].tolist())) == 1
    assert labels[0] != labels[20]


@pytest.mark.parametrize("method", ["kmeans", "gmm"])
def test_same_seed_same_labels(trace, method):
    a = make_abstraction(method, n_states=5, seed=11).fit(trace)
    b = make_abstraction(method, n_states=5, seed=11).fit(trace)
    np.testing.assert_array_equal(a.predict(trace.hidden), b.predict(trace.hidden))
    np.testing.assert_array_equal(a.centroids_, b.centroids_)
    assert a.initial_label_ == b.initial_label_


@pytest.mark.parametrize("method", ["kmeans", "gmm"])
def test_different_seeds_may_differ(trace, method):
    # on unclustered data the labelling depends on the initialisation, hence on the seed
    labelings = {make_abstraction(method, n_states=5, seed=s).fit(trace).predict(trace.hidden).tobytes() for s in range(3)}
    assert len(labelings) > 1


def test_same_seed_same_subsample(trace):
    a = KMeansAbstraction(n_states=4, seed=5, max_fit_points=60).fit(trace)
    b = KMeansAbstraction(n_states=4, seed=5, max_fit_points=60).fit(trace)
    np.testing.assert_array_equal(a.centroids_, b.centroids_)


def test_minibatch_kmeans_above_threshold(trace):
    from sklearn.cluster import KMeans, MiniBatchKMeans

    n_fit = trace.n_steps + 1  # every step plus h0
    small = KMeansAbstraction(n_states=4, minibatch_threshold=n_fit).fit(trace)  # not above: KMeans
    assert type(small.estimator_) is KMeans
    big = KMeansAbstraction(n_states=4, minibatch_threshold=n_fit - 1).fit(trace)
    assert type(big.estimator_) is MiniBatchKMeans
    labels = big.predict(trace.hidden)
    assert labels.dtype == np.int32 and labels.min() >= 0 and labels.max() < 4
    assert big.initial_label_ == int(big.predict(trace.h0[None])[0])


def test_default_uses_kmeans(trace):
    from sklearn.cluster import KMeans

    a = KMeansAbstraction(n_states=3).fit(trace)
    assert type(a.estimator_) is KMeans


def test_max_fit_points_subsampling(trace):
    a = KMeansAbstraction(n_states=4, max_fit_points=50).fit(trace)
    assert a.n_fit_points_ == 50 + 1  # 50 sampled steps and h0
    full = KMeansAbstraction(n_states=4).fit(trace)
    assert full.n_fit_points_ == trace.n_steps + 1
    # fitted on a subsample, it still predicts every step
    assert a.predict(trace.hidden).shape == (trace.n_steps,)
    g = GaussianMixtureAbstraction(n_states=3, max_fit_points=80).fit(trace)
    assert g.n_fit_points_ == 80 + 1


@pytest.mark.parametrize("cls", [KMeansAbstraction, GaussianMixtureAbstraction])
def test_chunked_predict_equals_unchunked(trace, cls):
    a = cls(n_states=5, seed=0, chunk_size=7).fit(trace)
    b = cls(n_states=5, seed=0).fit(trace)
    np.testing.assert_array_equal(a.predict(trace.hidden), b.predict(trace.hidden))


@pytest.fixture(scope="module")
def kmeans5(trace):
    return KMeansAbstraction(n_states=5, seed=0).fit(trace)


@given(chunk=st.integers(1, 400), n=st.integers(0, 300))
@settings(max_examples=20)
def test_chunk_size_property(trace, kmeans5, chunk, n):
    # one fitted estimator, chunk_size changed after fitting: labels must not depend on it
    a = kmeans5
    x = trace.hidden[:n]
    ref = a.predict(x)
    a.chunk_size = chunk
    try:
        np.testing.assert_array_equal(a.predict(x), ref)
    finally:
        a.chunk_size = 262_144


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("cls", [KMeansAbstraction, GaussianMixtureAbstraction])
@pytest.mark.parametrize("bad", [0, -3])
def test_n_states_below_one(trace, cls, bad):
    with pytest.raises(ValidationError, match=rf"n_states={bad} must be >= 1"):
        cls(n_states=bad).fit(trace)


def test_n_states_wrong_type(trace):
    with pytest.raises(ArgumentTypeError, match="n_states"):
        KMeansAbstraction(n_states=2.5).fit(trace)
    with pytest.raises(ArgumentTypeError, match="n_states"):
        KMeansAbstraction(n_states=True).fit(trace)


def test_bad_seed(trace):
    with pytest.raises(ValidationError, match="seed=-1"):
        KMeansAbstraction(n_states=2, seed=-1).fit(trace)


@pytest.mark.parametrize("cls", [KMeansAbstraction, GaussianMixtureAbstraction])
def test_n_states_above_distinct_states(cls):
    # three distinct rows and h0 (zeros): four distinct hidden states
    tr = _hand_trace([[1, 0], [0, 1], [1, 0], [1, 1]])
    with pytest.warns(FewerClustersWarning, match=r"n_states=5 is more than the 4 distinct hidden states .*using 4 clusters"):
        a = cls(n_states=5).fit(tr)  # every distinct state becomes a cluster, with a warning
    assert a.n_states_ == 4 and a.n_states == 5 and a.centroids_.shape == (4, 2)
    assert len(set(a.predict(np.array([[1, 0], [0, 1], [1, 1], [0, 0]], np.float32)).tolist())) == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = cls(n_states=4, seed=0).fit(tr)  # exactly the number of distinct states: no warning
    assert a.n_states_ == 4


def test_n_states_equal_distinct_separates_every_point():
    tr = _hand_trace([[1, 0], [0, 1], [1, 0], [1, 1]])
    a = KMeansAbstraction(n_states=4, seed=0).fit(tr)
    labels = a.predict(tr.hidden)
    assert labels[0] == labels[2]
    assert len({int(labels[0]), int(labels[1]), int(labels[3]), a.initial_label_}) == 4


def test_n_states_above_distinct_uses_every_distinct_state():
    tr = _hand_trace([[1, 0], [1, 0]], h0=[1, 0])  # one distinct state in all
    with pytest.warns(FewerClustersWarning, match=r"using 1 clusters"):
        a = KMeansAbstraction(n_states=2).fit(tr)
    assert a.n_states_ == 1 and a.predict(tr.hidden).tolist() == [0, 0] and a.initial_label_ == 0


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_predict_non_finite(trace, bad_value):
    a = KMeansAbstraction(n_states=3).fit(trace)
    x = trace.hidden[:5].copy()
    x[2, 1] = bad_value
    with pytest.raises(ValidationError, match="hidden must be finite"):
        a.predict(x)


def test_predict_wrong_column_count(trace):
    a = KMeansAbstraction(n_states=3).fit(trace)
    with pytest.raises(ValidationError, match=rf"hidden must have {trace.dim} columns"):
        a.predict(np.zeros((4, trace.dim + 1), np.float32))
    with pytest.raises(ValidationError, match="dimension"):
        a.predict(np.zeros(trace.dim, np.float32))


def test_predict_non_numeric(trace):
    a = KMeansAbstraction(n_states=3).fit(trace)
    with pytest.raises(ArgumentTypeError):
        a.predict(np.array([["a"] * trace.dim]))


@pytest.mark.parametrize("cls", [KMeansAbstraction, GaussianMixtureAbstraction])
def test_predict_before_fit(cls):
    a = cls(n_states=3)
    with pytest.raises(NotFittedError, match="not fitted"):
        a.predict(np.zeros((2, 8), np.float32))
    with pytest.raises(NotFittedError):
        a.centroids_
    with pytest.raises(AttributeError):  # NotFittedError is also an AttributeError
        a.predict(np.zeros((2, 8), np.float32))


def test_make_abstraction_builds_by_name():
    a = make_abstraction("kmeans", n_states=7, seed=3)
    assert type(a) is KMeansAbstraction and a.n_states == 7 and a.seed == 3
    g = make_abstraction("gmm", n_states=2, covariance_type="full")
    assert type(g) is GaussianMixtureAbstraction and g.covariance_type == "full"
    assert make_abstraction().get_params()["n_states"] == 16


def test_unknown_method():
    with pytest.raises(ValidationError, match=r"method='dbscan'"):
        make_abstraction("dbscan", n_states=3)


def test_unknown_option_for_method():
    with pytest.raises(ArgumentTypeError, match="method='kmeans'"):
        make_abstraction("kmeans", covariance_type="diag")


def test_bad_covariance_type(trace):
    with pytest.raises(ValidationError, match="covariance_type"):
        GaussianMixtureAbstraction(n_states=2, covariance_type="round").fit(trace)


@pytest.mark.parametrize("not_a_trace", [np.zeros((5, 8), np.float32), [[0.0] * 8], None])
def test_fit_on_non_trace(not_a_trace):
    with pytest.raises(ArgumentTypeError, match="must be an fsm_extract Trace"):
        KMeansAbstraction(n_states=2).fit(not_a_trace)


# ----------------------------------------------------------------------------- known bugs
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("cls", [KMeansAbstraction, GaussianMixtureAbstraction])
def test_predict_value_overflowing_float32(cls):
    a = cls(n_states=3, seed=0).fit(_hand_trace([[1, 0], [0, 1], [1, 0], [1, 1]]))
    with pytest.raises(ValidationError, match="hidden"):
        a.predict(np.array([[1e39, 0.0]]))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_trace_with_float32_overflow_is_refused():
    with pytest.raises(ValidationError, match="hidden"):
        tr = fx.Trace(hidden=np.array([[1e39, 0.0], [0.0, 1.0]]), symbols=[0, 1], offsets=[0, 2],  # float64
                      h0=np.zeros(2), outputs=[0.5, 0.5], h0_output=0.5, alphabet="01")
        KMeansAbstraction(n_states=2).fit(tr)


def test_gmm_on_a_trace_of_only_empty_words():
    tr = fx.Trace(hidden=np.zeros((0, 2), np.float32), symbols=np.zeros(0, np.int32), offsets=[0, 0, 0],
                  h0=np.zeros(2, np.float32), outputs=np.zeros(0, np.float32), h0_output=0.5, alphabet="01")
    assert KMeansAbstraction(n_states=1).fit(tr).initial_label_ == 0
    try:
        a = GaussianMixtureAbstraction(n_states=1).fit(tr)
    except Exception as exc:  # a refusal is fine, but it must be the package's own error
        assert isinstance(exc, fx.FsmExtractError), f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
    else:
        assert a.initial_label_ == 0
