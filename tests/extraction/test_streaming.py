"""Streamed extraction (fsm_extract.extraction.streaming) through fx.extract.

Data holding more than ``sample_steps`` steps, or ``engine="dask"``, is streamed: the abstraction
is fitted on a seeded sample of whole words and every word is counted chunk by chunk. The
contract: the automaton depends on the words and the seed, not on whether they came as a list, a
generator or a file, nor on where the chunks ran or how the corpus was cut into chunks.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import fsm_extract as fx
from fsm_extract.errors import ArgumentTypeError, ValidationError
from fsm_extract.extraction import streaming

N_WORDS, LENGTH, SAMPLE = 2000, 15, 5000
STREAM_KEYS = {"words", "steps", "sample_words", "sample_steps", "engine"}


def _words(n=N_WORDS, length=LENGTH, seed=0):
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("01"), length)) for _ in range(n)]


WORDS = _words()
MODEL = Path(__file__).resolve().parents[2] / "datasets" / "models" / "tomita4.pt"


@pytest.fixture(scope="module")
def model():
    return fx.load_model(MODEL)


@pytest.fixture(scope="module")
def jsonl(tmp_path_factory):
    path = tmp_path_factory.mktemp("stream") / "words.jsonl"
    path.write_text("".join(json.dumps({"word": w}) + "\n" for w in WORDS), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def plain(model):
    """Streamed plain extraction of WORDS, from a list."""
    return fx.extract(model, WORDS, sample_steps=SAMPLE, refine=False)


@pytest.fixture(scope="module")
def refined(model):
    """Streamed default (refined) extraction of WORDS, from a list."""
    return fx.extract(model, WORDS, sample_steps=SAMPLE)


def _source(kind, jsonl):
    return {"list": lambda: list(WORDS), "generator": lambda: (w for w in WORDS), "jsonl": lambda: jsonl,
            "jsonl_str": lambda: str(jsonl)}[kind]()


def _same(a, b):
    assert a.to_dict(timing=False) == b.to_dict(timing=False)


def _engine_free(fsm):
    d = fsm.to_dict(timing=False)
    d["metadata"]["stream"].pop("engine")
    return d


# ----------------------------------------------------------------------------- list = generator = file
@pytest.mark.parametrize("kind", ["generator", "jsonl", "jsonl_str"])
def test_plain_streamed_extraction_is_the_same_from_every_source(model, plain, jsonl, kind):
    fsm = fx.extract(model, _source(kind, jsonl), sample_steps=SAMPLE, refine=False)
    _same(fsm, plain)
    assert fsm.metadata["stream"]["words"] == N_WORDS


@pytest.mark.parametrize("kind", ["generator", "jsonl"])
def test_refined_streamed_extraction_is_the_same_from_every_source(model, refined, jsonl, kind):
    fsm = fx.extract(model, _source(kind, jsonl), sample_steps=SAMPLE)
    _same(fsm, refined)


def test_streamed_metadata(plain, refined):
    for fsm in (plain, refined):
        stream = fsm.metadata["stream"]
        assert STREAM_KEYS <= set(stream)
        assert stream["words"] == N_WORDS and stream["steps"] == N_WORDS * LENGTH
        assert stream["engine"] == "local"
        # a sample of whole words holding about sample_steps steps, not the whole corpus
        assert stream["sample_steps"] == stream["sample_words"] * LENGTH
        assert SAMPLE <= stream["sample_steps"] < SAMPLE + LENGTH
        assert fsm.metadata["n_fit_words"] == N_WORDS and fsm.metadata["n_fit_steps"] == N_WORDS * LENGTH
        assert fsm.metadata["fit_digest"].startswith(f"multiset-blake2b:{N_WORDS}:") and fsm.metadata["seed"] == 0
    # an acceptor's plain extraction checks nothing over the corpus; refined extraction does
    assert "check" not in plain.metadata["stream"]
    check = refined.metadata["stream"]["check"]
    assert check["words"] == N_WORDS and check["prefixes"] == N_WORDS * LENGTH
    assert refined.metadata["stream"]["check_rounds"] in range(streaming.CHECK_ROUNDS + 1)


def test_the_seed_reaches_the_sample(model, plain):
    other = fx.extract(model, WORDS, sample_steps=SAMPLE, refine=False, seed=1)
    assert other.metadata["seed"] == 1
    assert other.metadata["stream"]["sample_words"] * LENGTH == other.metadata["stream"]["sample_steps"]
    # another sample, another clustering: the centroids move (the language may not)
    assert not np.array_equal(np.asarray(other.cluster_centroids), np.asarray(plain.cluster_centroids))


# ----------------------------------------------------------------------------- the in-memory path
def test_a_small_dataset_stays_in_memory(model, tmp_path):
    words = _words(n=120, length=8, seed=5)
    path = tmp_path / "small.jsonl"
    path.write_text("".join(json.dumps({"word": w}) + "\n" for w in words), encoding="utf-8")
    for refine in (False, True):
        from_list = fx.extract(model, words, refine=refine)
        assert "stream" not in from_list.metadata
        assert from_list.metadata["fit_digest"] is not None  # the in-memory path fingerprints its words
        for source in ((w for w in words), path):
            again = fx.extract(model, source, refine=refine)
            assert "stream" not in again.metadata
            _same(again, from_list)


def test_sample_steps_is_the_threshold(model):
    words = _words(n=100, length=10, seed=6)  # 1000 steps
    at = fx.extract(model, words, sample_steps=1000, refine=False)
    assert "stream" not in at.metadata
    below = fx.extract(model, words, sample_steps=999, refine=False)
    assert below.metadata["stream"]["words"] == 100 and below.metadata["stream"]["steps"] == 1000
    assert 999 <= below.metadata["stream"]["sample_steps"] <= 1000


# ----------------------------------------------------------------------------- what it extracts
def test_streamed_tomita4_is_the_language(plain, refined):
    t4 = fx.languages.tomita(4)
    for fsm in (plain, refined):
        assert fsm.n_states == 4
        assert fsm.equivalent(t4)
        assert fsm.metadata["stream"]["words"] == len(WORDS)
    assert refined.metadata["stream"]["check"]["prefix_agreement"] == 1.0


def test_the_recorded_check_is_the_agreement_over_every_word(model):
    # two states cannot hold Tomita 4: the check must count real disagreements
    fsm = fx.extract(model, WORDS, sample_steps=SAMPLE, n_states=2, max_states=2)
    check = fsm.metadata["stream"]["check"]
    prefixes = [w[:i] for w in WORDS for i in range(1, len(w) + 1)]
    prefix_ok = np.asarray(model.predict(prefixes)) == np.asarray(fsm.predict(prefixes))
    word_ok = np.asarray(model.predict(WORDS)) == np.asarray(fsm.predict(WORDS))
    assert 0 < prefix_ok.mean() < 1
    assert check["words"] == N_WORDS and check["prefixes"] == len(prefixes)
    assert check["prefix_agreement"] == pytest.approx(prefix_ok.mean(), abs=1e-6)
    assert check["word_agreement"] == pytest.approx(word_ok.mean(), abs=1e-6)
    assert check["disagreeing_prefixes"] == int((~prefix_ok).sum())


def test_the_cut_into_chunks_does_not_change_the_automaton(model, plain, refined, monkeypatch):
    engine = sys.modules[streaming.count_corpus.__module__]
    monkeypatch.setattr(engine, "CHUNK_STEPS", 1024)  # 30 chunks instead of one
    assert engine.chunk_steps_for(32) == 1024
    _same(fx.extract(model, WORDS, sample_steps=SAMPLE, refine=False), plain)
    _same(fx.extract(model, WORDS, sample_steps=SAMPLE), refined)


# ----------------------------------------------------------------------------- Dask
@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    # two worker processes: startup measured at about 4 s on the 2-core machine
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    yield cluster, client
    client.close()
    cluster.close()


def test_dask_gives_the_automaton_the_local_engine_gives(model, plain, refined, dask_cluster, monkeypatch):
    cluster, client = dask_cluster
    engine = sys.modules[streaming.count_corpus.__module__]
    # several chunks (cut on this side), so more than one task per worker and in-order adding matter
    monkeypatch.setattr(engine, "CHUNK_STEPS", 4096)
    assert engine.chunk_steps_for(32) == 4096  # 8 chunks of WORDS
    for local, kw in ((plain, {"refine": False}), (refined, {})):
        for scheduler in (client, cluster.scheduler_address):
            fsm = fx.extract(model, WORDS, sample_steps=SAMPLE, engine="dask", scheduler=scheduler, **kw)
            assert fsm.metadata["stream"]["engine"] == "dask"
            assert _engine_free(fsm) == _engine_free(local)
            np.testing.assert_array_equal(fsm.transitions, local.transitions)
            np.testing.assert_array_equal(fsm.accepting, local.accepting)
            np.testing.assert_array_equal(fsm.centroids, local.centroids)
            assert fsm.initial == local.initial
    # engine="dask" always streams, even data below sample_steps
    small = fx.extract(model, WORDS[:50], refine=False, engine="dask", scheduler=client)
    stream = small.metadata["stream"]
    assert (stream["words"], stream["sample_words"], stream["engine"]) == (50, 50, "dask")  # every word sampled
    assert small.equivalent(fx.languages.tomita(4))


# ----------------------------------------------------------------------------- errors
def test_an_unknown_engine_is_refused(model):
    with pytest.raises(ValidationError, match="engine"):
        fx.extract(model, WORDS[:20], engine="spark")


def test_a_scheduler_needs_the_dask_engine(model):
    with pytest.raises(ValidationError, match="scheduler") as err:
        fx.extract(model, WORDS[:20], scheduler="tcp://127.0.0.1:8786")
    assert "engine='dask'" in str(err.value)
    with pytest.raises(ArgumentTypeError, match="scheduler"):
        fx.extract(model, WORDS[:20], engine="dask", scheduler=8786)


@pytest.mark.parametrize("bad", [0, -5])
def test_sample_steps_must_be_positive(model, bad):
    with pytest.raises(ValidationError, match="sample_steps"):
        fx.extract(model, WORDS[:20], sample_steps=bad)


def test_auto_n_states_refuses_streamed_data(model, jsonl):
    for data in (WORDS, jsonl):
        with pytest.raises(ValidationError, match="sample_steps") as err:
            fx.extract(model, data, n_states="auto", sample_steps=SAMPLE)
        assert "auto" in str(err.value)
    with pytest.raises(ValidationError, match="sample_steps"):
        fx.extract(model, WORDS[:20], n_states="auto", engine="dask")


def test_streamed_only_empty_words_are_refused(model):
    with pytest.raises(ValidationError, match="empty"):
        fx.extract(model, (w for w in [""] * 10), sample_steps=1, refine=False, engine="local")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal of cuda on a machine without it")
def test_cuda_without_a_gpu_is_refused(model):
    with pytest.raises(ValidationError, match="device"):
        fx.extract(model, WORDS, sample_steps=SAMPLE, refine=False, device="cuda")


def test_device_cpu_works(model, plain):
    _same(fx.extract(model, WORDS, sample_steps=SAMPLE, refine=False, device="cpu"), plain)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_streamed_extraction_on_cuda_matches_cpu(plain):
    net = fx.load_model(MODEL)  # its own copy: extract moves the model to the device
    fsm = fx.extract(net, WORDS, sample_steps=SAMPLE, refine=False, device="cuda")
    assert fsm.metadata["stream"]["words"] == N_WORDS
    np.testing.assert_array_equal(fsm.transitions, plain.transitions)
    np.testing.assert_array_equal(fsm.accepting, plain.accepting)
    assert fsm.equivalent(fx.languages.tomita(4))
