"""Tests of fsm_extract.automata.fsm_io: the JSON schema of an ExtractedFSM (round trips, sparse
counts), the checks on reading (only DataFormatError), and the state limit of FSM files."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fsm_extract as fx
from fsm_extract.automata import fsm_io
from fsm_extract.automata.automaton import ExtractedFSM, load_fsm
from fsm_extract.errors import ArgumentTypeError, DataFormatError, MissingFileError, ValidationError

from .conftest import _observed, random_fsms


def _same(a: ExtractedFSM, b: ExtractedFSM) -> None:
    assert a.alphabet == b.alphabet and a.initial == b.initial and a.metadata == b.metadata
    for name in ("transitions", "accepting", "transition_counts", "output_counts", "completed",
                 "centroids", "cluster_map"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None and y is None) or (np.array_equal(x, y) and x.dtype == y.dtype)


def test_version_1_documents_still_load(observed):
    """Schema version 1 had no abstraction, output_kind (and optionally no cluster_centroids)
    keys: the abstraction was read from the metadata keys "state" and "features"."""
    d = observed.to_dict()
    v1 = {k: v for k, v in d.items() if k not in ("abstraction", "output_kind", "cluster_centroids")}
    v1["version"] = 1
    loaded = ExtractedFSM.from_dict(json.loads(json.dumps(v1)))
    _same(loaded, observed)
    assert loaded.abstraction is None and loaded.cluster_centroids is None
    with_centres = dict(v1, cluster_map=[0, 1, 2], cluster_centroids=[[0.0], [1.0], [2.0]],
                        metadata={"state": "hc", "features": {"features": "hidden", "depth": 0, "hidden_weight": 1.0,
                                                               "behaviour_weight": 1.0, "hidden_columns": 1,
                                                               "hidden_scale": 1.0, "state": "hc"}})
    loaded = ExtractedFSM.from_dict(with_centres)
    assert loaded.abstraction.state == "hc" and loaded.abstraction.features.features == "hidden"
    again = ExtractedFSM.from_dict(json.loads(json.dumps(loaded.to_dict())))
    assert again.to_dict()["version"] == 2 and again.abstraction == loaded.abstraction


def test_dict_round_trip(observed, parity):
    d = observed.to_dict()
    assert d["format"] == "fsm-extract/fsm" and d["version"] == 2
    assert d["completed"] == [[2, 0]] and [0, 1, 2, 1] in d["transition_counts"]
    _same(ExtractedFSM.from_dict(json.loads(json.dumps(d))), observed)
    d["metadata"]["undecided_outputs"].append(0)  # a copy: the FSM is unchanged
    assert observed.metadata["undecided_outputs"] == [2]
    assert parity.to_dict()["centroids"] is None
    _same(ExtractedFSM.from_dict(parity.to_dict()), parity)


@settings(max_examples=30, deadline=None)
@given(random_fsms(evidence=True))
def test_dict_round_trip_random(fsm):
    _same(ExtractedFSM.from_dict(json.loads(json.dumps(fsm.to_dict()))), fsm)


def test_save_and_load(observed, tmp_path):
    path = observed.save(tmp_path / "m.json")
    assert path == tmp_path / "m.json" and [p.name for p in tmp_path.iterdir()] == ["m.json"]
    _same(load_fsm(path), observed)
    _same(load_fsm(str(path)), observed)
    with pytest.raises(MissingFileError):
        load_fsm(tmp_path / "nope.json")
    with pytest.raises(MissingFileError):
        observed.save(tmp_path / "no_dir" / "m.json")


@pytest.mark.parametrize(
    "content, words",
    [
        (b"{not json", ["not valid JSON", "bad.json"]),
        (b"\xff\xfe\x00", ["UTF-8", "bad.json"]),
        (b"[1, 2]", ["JSON object"]),
        (b'{"format": "other"}', ["format='other'", "fsm-extract/fsm"]),
    ],
)
def test_load_corrupted_files(tmp_path, content, words):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(DataFormatError) as info:
        load_fsm(path)
    for w in words:
        assert w in str(info.value)


def _broken(d, **changes):
    return {**d, **changes}


@pytest.mark.parametrize(
    "changes, words",
    [
        (dict(version=3), ["found version 3", "reads only versions 1 and 2", "newer"]),
        (dict(version=0), ["found version 0", "reads only versions 1 and 2"]),
        (dict(version="1"), ["version='1'"]),
        (dict(transitions=[[0, 1], [1, 2], [2, 7]]), ["transitions[2, 1]=7", "[0, 3)"]),
        (dict(transitions=[[0, 1], [1], [2, 1]]), ["transitions", "ragged"]),
        (dict(transitions=[[0, 1], [1, 2.5], [2, 1]]), ["transitions[1][1]", "integer"]),
        (dict(transitions=[[0, 1], [1, True], [2, 1]]), ["transitions[1][1]", "integer"]),
        (dict(transitions="01"), ["transitions", "list"]),
        (dict(accepting=[1, 0, 0]), ["accepting[0]", "true or false"]),
        (dict(accepting=[True]), ["accepting", "shape"]),
        (dict(initial=3), ["initial=3"]),
        (dict(initial=None), ["initial", "integer"]),
        (dict(alphabet=["0", 1]), ["alphabet"]),
        (dict(alphabet=["0", "0"]), ["alphabet", "distinct"]),
        (dict(transition_counts=[[0, 0, 0, 5, 1]]), ["transition_counts", "[q, a, q2, count]"]),
        (dict(transition_counts=[[0, 2, 0, 5]]), ["transition_counts[0]", "a=2"]),
        (dict(transition_counts=[[0, 0, 0, 0]]), ["count=0", "positive"]),
        (dict(transition_counts=[[0, 0, 0, 1], [0, 0, 0, 2]]), ["at most once"]),
        (dict(transition_counts=[[0, 0, 0, 10**30]]), ["transition_counts", "out of range"]),
        (dict(completed=[[0, 0]]), ["completed[0, 0]", "never observed"]),
        (dict(completed=[[5, 0]]), ["completed[0]", "[q, a]"]),
        (dict(output_counts=[[0, -1], [0, 0], [0, 0]]), ["output_counts[0, 1]=-1"]),
        (dict(centroids=[[1.0], [2.0]]), ["centroids", "shape"]),
        (dict(centroids=[[1.0], ["x"], [2.0]]), ["centroids[1][0]", "number"]),
        (dict(cluster_map=[0, 9]), ["cluster_map[1]=9"]),
        (dict(metadata=[1]), ["metadata", "object"]),
        (dict(extra=1), ["unexpected ['extra']"]),
    ],
)
def test_from_dict_rejects_invalid_content(observed, changes, words):
    d = _broken(observed.to_dict(), **changes)
    with pytest.raises(DataFormatError) as info:
        ExtractedFSM.from_dict(d)
    for w in words:
        assert w in str(info.value)


def test_load_names_the_path_for_invalid_automata(observed, tmp_path):
    d = observed.to_dict()
    del d["completed"]
    (tmp_path / "x.json").write_text(json.dumps(d))
    with pytest.raises(DataFormatError, match=r"x\.json.*missing \['completed'\]"):
        load_fsm(tmp_path / "x.json")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 5) | st.floats(allow_nan=True) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(key=st.sampled_from(list(ExtractedFSM("a", [[0]], [True], 0).to_dict())), value=json_values)
def test_from_dict_only_raises_data_format_error(key, value):
    d = _observed().to_dict()
    d[key] = value
    try:
        ExtractedFSM.from_dict(d)
    except DataFormatError:
        pass


def _fsm_doc(n: int, alphabet=("0", "1"), *, sparse=(), outputs=None) -> dict:
    """A valid FSM document of ``n`` states: a cycle on the first symbol, self-loops on the rest."""
    return {
        "format": "fsm-extract/fsm", "version": 1, "alphabet": list(alphabet), "initial": 0,
        "transitions": [[(q + 1) % n] + [q] * (len(alphabet) - 1) for q in range(n)],
        "accepting": [q % 2 == 0 for q in range(n)], "transition_counts": [list(e) for e in sparse],
        "output_counts": outputs if outputs is not None else [[0, 0]] * n, "completed": [],
        "centroids": None, "cluster_map": None, "metadata": {},
    }


def _write_doc(path: Path, doc: dict) -> Path:
    import json

    path.write_text(json.dumps(doc, separators=(",", ":")))
    return path


def test_fsm_json_with_30000_states_is_refused_fast(tmp_path):
    """Issue 18, 2: 743 KB of JSON asked for a dense 13.4 GiB table (bare MemoryError)."""
    path = _write_doc(tmp_path / "big.json", _fsm_doc(30_000))
    assert path.stat().st_size < 800_000
    t0 = time.perf_counter()
    with pytest.raises(DataFormatError) as info:
        fx.load_fsm(path)
    assert time.perf_counter() - t0 < 10
    msg = str(info.value)
    assert "big.json" in msg and "30000 states" in msg and "max_states=4096" in msg and "\n" not in msg


def test_fsm_state_limit_can_be_raised_by_keyword(tmp_path):
    path = _write_doc(tmp_path / "m.json", _fsm_doc(100))
    with pytest.raises(DataFormatError, match="100 states.*max_states=50"):
        fx.load_fsm(path, max_states=50)
    assert fx.load_fsm(path, max_states=100).n_states == 100
    assert fx.ExtractedFSM.from_dict(_fsm_doc(100), max_states=100).n_states == 100
    with pytest.raises(DataFormatError, match="max_states=99"):
        fx.ExtractedFSM.from_dict(_fsm_doc(100), max_states=99)
    with pytest.raises(ValidationError, match="max_states=0 must be >= 1"):
        fx.load_fsm(path, max_states=0)


def test_fsm_table_limit_counts_the_alphabet(tmp_path):
    """The dense table is states x symbols x states: 600 states on 100 symbols is 36 million counts."""
    alphabet = [f"s{i}" for i in range(100)]
    path = _write_doc(tmp_path / "wide.json", _fsm_doc(600, alphabet))
    with pytest.raises(DataFormatError, match=r"600 x 100 x 600 = 36,000,000 counts.*max_states=4096"):
        fx.load_fsm(path)
    assert fx.load_fsm(path, max_states=8192).n_states == 600


@pytest.mark.parametrize("where", ["transition_counts", "output_counts"])
def test_counts_summing_past_int64_are_refused(tmp_path, where):
    """Two counts of 2**62 load today and give a support of -2**63."""
    big = 2**62
    doc = (_fsm_doc(2, sparse=[(0, 0, 1, big), (0, 0, 0, big)]) if where == "transition_counts"
           else _fsm_doc(2, outputs=[[big, big], [0, 0]]))
    with pytest.raises(DataFormatError, match=rf"{where} must sum to at most 2\*\*63 - 1"):
        fx.load_fsm(_write_doc(tmp_path / "over.json", doc))
    counts = np.zeros((2, 2, 2), np.int64)
    counts[0, 0] = big
    outputs = np.array([[big, big], [0, 0]], np.int64)
    with pytest.raises(ValidationError, match=rf"{where} must sum to at most 2\*\*63 - 1"):
        if where == "transition_counts":
            fx.ExtractedFSM("01", [[1, 0], [1, 1]], [False, True], 0, counts)
        else:
            fx.ExtractedFSM("01", [[1, 0], [1, 1]], [False, True], 0, output_counts=outputs)


def test_counts_just_below_int64_load(tmp_path):
    big = 2**62
    doc = _fsm_doc(2, sparse=[(0, 0, 1, big), (0, 0, 0, big - 1)])
    fsm = fx.load_fsm(_write_doc(tmp_path / "ok.json", doc))
    assert int(fsm.support[0, 0]) == 2**63 - 1 and int(fsm.transition_counts.sum()) == 2**63 - 1


def test_constructing_a_huge_fsm_without_counts_is_refused_before_allocating():
    """transition_counts=None means a dense zero table: 200,000 states would be 640 GB."""
    n = 200_000
    t0 = time.perf_counter()
    with pytest.raises(ValidationError) as info:
        fx.ExtractedFSM("01", np.zeros((n, 2), np.int64), np.zeros(n, bool), 0)
    assert time.perf_counter() - t0 < 10
    msg = str(info.value)
    assert "transition_counts=None" in msg and "200000 x 2 x 200000" in msg


# ----------------------------------------------------------------------------- the schema itself
def test_counts_are_stored_sparse_and_read_back_dense():
    counts = np.zeros((2, 2, 2), np.int64)
    counts[0, 1, 1] = 7
    counts[1, 0, 0] = 2
    counts[1, 0, 1] = 1
    fsm = ExtractedFSM("ab", [[0, 1], [0, 1]], [False, True], 0, counts, [[3, 0], [0, 4]], [[True, False], [False, False]])
    d = fsm_io.fsm_to_dict(fsm)
    assert d["transition_counts"] == [[0, 1, 1, 7], [1, 0, 0, 2], [1, 0, 1, 1]]  # nonzero entries only
    assert d["completed"] == [[0, 0]] and d["output_counts"] == [[3, 0], [0, 4]]
    assert list(d) == list(fsm_io._KEYS)  # schema 2: every key, in order
    back = fsm_io.fsm_from_dict(ExtractedFSM, json.loads(fsm_io.dumps(d)))
    np.testing.assert_array_equal(back.transition_counts, counts)
    np.testing.assert_array_equal(back.completed, fsm.completed)
    empty = fsm_io.fsm_to_dict(ExtractedFSM("ab", [[0, 0]], [True], 0))
    assert empty["transition_counts"] == [] and empty["centroids"] is None


def test_dumps_writes_one_top_level_key_per_line():
    d = fsm_io.fsm_to_dict(ExtractedFSM("ab", [[1, 0], [0, 1]], [False, True], 0, metadata={"note": "é"}))
    text = fsm_io.dumps(d)
    lines = text.splitlines()
    assert lines[0] == "{" and lines[-1] == "}" and len(lines) == len(d) + 2
    assert lines[1] == '  "format": "fsm-extract/fsm",' and '"note": "é"' in text  # not escaped
    assert json.loads(text) == d


def test_cluster_centroids_are_optional_when_reading():
    d = fsm_io.fsm_to_dict(ExtractedFSM("ab", [[1, 0], [0, 1]], [False, True], 0))
    d = {k: v for k, v in d.items() if k not in ("abstraction", "output_kind")}
    d["version"] = 1  # optional in version-1 documents; version 2 writes every key
    del d["cluster_centroids"]
    assert ExtractedFSM.from_dict(d).cluster_centroids is None
    with pytest.raises(DataFormatError, match="cluster_map"):
        ExtractedFSM.from_dict(dict(d, cluster_centroids=[[0.0]]))  # centres need the cluster map


def test_freeze_metadata_normalises_and_refuses():
    meta = fsm_io.freeze_metadata({"seed": np.int64(3), "pair": (1, 2), "x": np.float32(0.5), "a": np.arange(2)})
    assert meta == {"seed": 3, "pair": [1, 2], "x": 0.5, "a": [0, 1]}
    with pytest.raises(TypeError):
        meta["seed"] = 4  # read-only
    assert fsm_io.freeze_metadata(None) == {}
    with pytest.raises(ArgumentTypeError, match="keys must be strings"):
        fsm_io.freeze_metadata({1: "a"})
    with pytest.raises(ValidationError, match="finite"):
        fsm_io.freeze_metadata({"x": float("inf")})
    deep = cur = {}
    for _ in range(70):
        cur["a"] = {}
        cur = cur["a"]
    with pytest.raises(ValidationError, match="nested at most 64 levels"):
        fsm_io.freeze_metadata(deep)


def test_array_checks():
    arr = fsm_io.as_int_array("t", [[1.0, 2.0]], (1, None))
    assert arr.dtype == np.int64 and not arr.flags.writeable and arr.tolist() == [[1, 2]]
    with pytest.raises(ArgumentTypeError, match="t must be an array of integers"):
        fsm_io.as_int_array("t", [[1.5]], (1, 1))
    with pytest.raises(ValidationError, match=r"t\[0, 1\]=-1 must be >= 0"):
        fsm_io.as_int_array("t", [[0, -1]], (1, 2), min=0)
    with pytest.raises(ValidationError, match=r"t must have shape \(2,\), got shape \(3,\)"):
        fsm_io.as_int_array("t", [1, 2, 3], (2,))
    assert fsm_io.as_bool_array("b", [1, 0], (2,)).tolist() == [True, False]
    with pytest.raises(ArgumentTypeError, match="booleans"):
        fsm_io.as_bool_array("b", [2, 0], (2,))
    fsm_io.check_total("c", np.array([2**62, 2**62 - 1], np.int64))
    with pytest.raises(ValidationError, match="must sum to at most"):
        fsm_io.check_total("c", np.array([2**62, 2**62], np.int64))
