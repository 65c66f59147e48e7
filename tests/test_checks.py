"""Tests of fsm_extract._checks: the boundary checks every public function uses, atomic writes and
reading JSON."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_extract._checks import (
    atomic_write,
    atomic_write_text,
    check_bool,
    check_choice,
    check_existing_file,
    check_finite_array,
    check_float,
    check_int,
    check_out_dir,
    check_out_path,
    check_seed,
    read_json,
)
from fsm_extract.errors import ArgumentTypeError, DataFormatError, MissingFileError, ValidationError, WriteError


# ----------------------------------------------------------------------------- numbers and choices
@settings(max_examples=200, deadline=None)
@given(st.integers(-50, 50), st.one_of(st.none(), st.integers(-20, 20)), st.one_of(st.none(), st.integers(-20, 20)))
def test_check_int_accepts_exactly_the_integers_in_range(value, lo, hi):
    ok = (lo is None or value >= lo) and (hi is None or value <= hi)
    if ok:
        assert check_int("n", value, min=lo, max=hi) == value
        assert check_int("n", np.int16(value), min=lo, max=hi) == value
    else:
        with pytest.raises(ValidationError, match=rf"^n={value} must be [<>]="):
            check_int("n", value, min=lo, max=hi)


@pytest.mark.parametrize("value", [True, 1.0, "1", None, np.float64(1.0)])
def test_check_int_refuses_non_integers_and_bools(value):
    with pytest.raises(ArgumentTypeError, match="must be an integer"):
        check_int("n", value)


def test_check_float():
    assert check_float("lr", 1) == 1.0 and type(check_float("lr", np.float32(0.5))) is float
    assert check_float("p", 0.0, min=0.0) == 0.0
    with pytest.raises(ValidationError, match=r"p=0.0 must be > 0.0"):
        check_float("p", 0.0, min=0.0, min_inclusive=False)
    with pytest.raises(ValidationError, match=r"p=1.0 must be < 1.0"):
        check_float("p", 1.0, max=1.0, max_inclusive=False)
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValidationError, match="must be finite"):
            check_float("p", bad)
    for bad in (True, "0.5", None):
        with pytest.raises(ArgumentTypeError, match="must be a number"):
            check_float("p", bad)


def test_check_bool_choice_and_seed():
    assert check_bool("flag", np.bool_(True)) is True
    with pytest.raises(ArgumentTypeError, match="flag=1 must be True or False"):
        check_bool("flag", 1)
    assert check_choice("method", "gmm", ["kmeans", "gmm"]) == "gmm"
    with pytest.raises(ValidationError, match="method='GMM' must be one of 'kmeans', 'gmm'"):
        check_choice("method", "GMM", ["kmeans", "gmm"])
    with pytest.raises(ValidationError):
        check_choice("method", ["gmm"], ["kmeans", "gmm"])
    assert check_seed("seed", 0) == 0 and check_seed("seed", 2**32 - 1) == 2**32 - 1
    with pytest.raises(ValidationError, match="seed=4294967296 must be <= 4294967295"):
        check_seed("seed", 2**32)
    with pytest.raises(ValidationError, match="seed=-1 must be >= 0"):
        check_seed("seed", -1)


def test_check_finite_array():
    arr = check_finite_array("x", [[1, 2], [3, 4]], ndim=2)
    assert arr.shape == (2, 2)
    with pytest.raises(ValidationError, match="x must have 1 dimension"):
        check_finite_array("x", [[1.0]], ndim=1)
    with pytest.raises(ValidationError, match="1 value"):
        check_finite_array("x", [1.0, np.nan])
    with pytest.raises(ArgumentTypeError, match="must hold numbers"):
        check_finite_array("x", ["a", "b"])
    with pytest.raises(ArgumentTypeError, match="array-like"):
        check_finite_array("x", [[1.0], [1.0, 2.0]])


# ----------------------------------------------------------------------------- paths
def test_check_existing_file(tmp_path):
    f = tmp_path / "a.json"
    f.write_text("{}")
    assert check_existing_file("path", str(f)) == f
    with pytest.raises(MissingFileError, match="nothing is there"):
        check_existing_file("path", tmp_path / "missing.json")
    with pytest.raises(ValidationError, match="directory"):
        check_existing_file("path", tmp_path)
    with pytest.raises(ValidationError, match="NUL"):
        check_existing_file("path", str(tmp_path / "a\x00b"))
    with pytest.raises(ArgumentTypeError, match="path=5 must be a path"):
        check_existing_file("path", 5)
    with pytest.raises(MissingFileError, match="too long"):
        check_existing_file("path", tmp_path / ("a" * 300))


def test_check_out_path(tmp_path):
    assert check_out_path("out", tmp_path / "f.json", suffixes=(".json",)) == tmp_path / "f.json"
    assert check_out_path("out", tmp_path / "F.JSON", suffixes=(".json",))  # suffixes ignore case
    with pytest.raises(ValidationError, match=r"must end in one of \.json, got suffix '\.txt'"):
        check_out_path("out", tmp_path / "f.txt", suffixes=(".json",))
    with pytest.raises(MissingFileError, match="does not exist"):
        check_out_path("out", tmp_path / "nope" / "f.json")
    with pytest.raises(ValidationError, match="directory"):
        check_out_path("out", tmp_path)
    with pytest.raises(ValidationError, match="must name a file"):
        check_out_path("out", "")
    (tmp_path / "f.json").write_text("old")  # an existing regular file may be replaced
    assert check_out_path("out", tmp_path / "f.json") == tmp_path / "f.json"


def test_check_out_dir(tmp_path):
    assert check_out_dir("out", tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"  # creatable
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValidationError, match="it is a file"):
        check_out_dir("out", tmp_path / "file")
    with pytest.raises(ValidationError, match="is a file"):
        check_out_dir("out", tmp_path / "file" / "sub")
    with pytest.raises(ValidationError, match="must name a folder"):
        check_out_dir("out", "")
    os.mkfifo(tmp_path / "fsm.svg")
    with pytest.raises(ValidationError, match="FIFO"):
        check_out_dir("out", tmp_path, files=["fsm.svg"])


# ----------------------------------------------------------------------------- atomic writes
def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("OLD")
    assert atomic_write_text(target, "NEW") == target
    assert target.read_text() == "NEW" and _temporaries(tmp_path) == []
    seen = []
    atomic_write(tmp_path / "b.bin", lambda p: (seen.append(p), p.write_bytes(b"\x00")))
    assert seen[0].parent == tmp_path and seen[0] != tmp_path / "b.bin"  # written beside, then renamed
    assert (tmp_path / "b.bin").read_bytes() == b"\x00"


def test_a_failed_write_leaves_the_old_file_and_raises_one_write_error(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("OLD")

    def half(path):
        path.write_text("HALF")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(WriteError) as info:
        atomic_write(target, half, name="out")
    assert info.value.errno == errno.ENOSPC and isinstance(info.value, OSError)
    assert str(info.value).startswith("out=") and "No space left on device" in str(info.value)
    assert target.read_text() == "OLD" and _temporaries(tmp_path) == []


def test_other_errors_of_the_writer_pass_through_unchanged(tmp_path):
    def boom(path):
        raise KeyError("not an OSError")

    with pytest.raises(KeyError):
        atomic_write(tmp_path / "x.txt", boom)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- JSON
def test_read_json(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"a": [1, 2]}))
    assert read_json(good) == {"a": [1, 2]}
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1,\n "b": }')
    with pytest.raises(DataFormatError, match=r"bad\.json.*not valid JSON.*line 2, column"):
        read_json(bad)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(DataFormatError, match="must be UTF-8 JSON"):
        read_json(binary)
    with pytest.raises(MissingFileError):
        read_json(tmp_path / "missing.json")
