"""Tests of fsm_extract.automata.fsm_io: the JSON schema of an ExtractedFSM (round trips, sparse
counts), the checks on reading (only DataFormatError), and the state limit of FSM files."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

import fsm_extract as fx
from fsm_extract.errors import DataFormatError, ValidationError


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
