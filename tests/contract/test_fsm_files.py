"""File fuzzing of ``load_fsm`` / ``ExtractedFSM.from_dict`` (JSON): only DataFormatError (or
MissingFileError) escapes, naming the file; a document that loads is a usable automaton."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fsm_extract as fx
from fsm_extract.automata.render import to_dot

from .conftest import FUZZ, FUZZ_SLOW, _JSON, _JSON_LEAF, _SPECIAL


_KEYS = ["format", "version", "alphabet", "initial", "transitions", "accepting", "transition_counts",
         "output_counts", "completed", "centroids", "cluster_map", "cluster_centroids", "metadata"]


def _lists_in(value, path=()):
    """Paths (tuples of indices) of every list inside ``value`` (itself included)."""
    if isinstance(value, list):
        yield path
        for i, v in enumerate(value):
            yield from _lists_in(v, path + (i,))


def _get(value, path):
    for i in path:
        value = value[i]
    return value


@st.composite
def _mutated_fsm_doc(draw, base: dict):
    doc = json.loads(json.dumps(base))  # a deep copy
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["drop", "add", "replace", "deep", "ragged", "shorten", "version", "format",
                                   "retype", "bump_int"]))
        keys = sorted(doc) if isinstance(doc, dict) else []
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        if op == "drop":
            del doc[key]
        elif op == "add":
            doc[draw(st.sampled_from(_KEYS + ["extra", "Format", ""]) | st.text(max_size=6))] = draw(_JSON)
        elif op == "replace":
            doc[key] = draw(_JSON)
        elif op == "deep" and isinstance(doc[key], list) and doc[key]:
            paths = [p for p in _lists_in(doc[key]) if _get(doc[key], p)]
            p = draw(st.sampled_from(paths))
            target = _get(doc[key], p)
            target[draw(st.integers(0, len(target) - 1))] = draw(_SPECIAL | _JSON_LEAF)
        elif op == "ragged" and isinstance(doc[key], list) and doc[key]:
            paths = [p for p in _lists_in(doc[key]) if p]  # rows, not the outer list
            if paths:
                row = _get(doc[key], draw(st.sampled_from(paths)))
                if row and draw(st.booleans()):
                    row.pop()
                else:
                    row.append(draw(_JSON_LEAF))
        elif op == "shorten" and isinstance(doc[key], list):
            doc[key] = doc[key][: draw(st.integers(0, max(0, len(doc[key]) - 1)))]
        elif op == "version":
            doc["version"] = draw(st.sampled_from([0, 2, -1, 1.0, "1", True, None, 10**100, [1], math.nan]))
        elif op == "format":
            doc["format"] = draw(st.sampled_from(["", "fsm-extract/model", "FSM-EXTRACT/FSM", None, 1, ["fsm-extract/fsm"]]))
        elif op == "retype":
            v = doc[key]
            doc[key] = draw(st.sampled_from([json.dumps(v), {"value": v}, [v], None, str(v)[:20]]))
        elif op == "bump_int" and key in ("initial", "transitions", "transition_counts", "cluster_map", "completed"):
            n = len(doc.get("transitions") or [1])
            delta = draw(st.sampled_from([n, n + 1, -1, -n - 1, 2**40]))
            if isinstance(doc[key], int) and not isinstance(doc[key], bool):
                doc[key] += delta
            elif isinstance(doc[key], list):
                paths = [p for p in _lists_in(doc[key]) if _get(doc[key], p)]
                if paths:
                    row = _get(doc[key], draw(st.sampled_from(paths)))
                    i = draw(st.integers(0, len(row) - 1))
                    if isinstance(row[i], int) and not isinstance(row[i], bool):
                        row[i] += delta
    return doc


@st.composite
def _fsm_file(draw, base: dict):
    """(raw bytes of a file, the parsed document or None)."""
    kind = draw(st.sampled_from(["random", "mutated", "mutated", "mutated", "truncated", "bytes", "bad_utf8",
                                 "bom", "utf16", "huge_number", "valid", "costly"]))
    if kind == "random":
        doc = draw(_JSON)
    elif kind == "costly":
        doc = draw(_costly_fsm_doc())
    elif kind == "valid":
        doc = json.loads(json.dumps(base))
    else:
        doc = draw(_mutated_fsm_doc(base))
    text = json.dumps(doc, allow_nan=True, ensure_ascii=draw(st.booleans()))
    if kind == "truncated":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))].encode("utf-8"), None
    if kind == "bytes":
        return draw(st.binary(max_size=300)), None
    if kind == "bad_utf8":
        raw = text.encode("utf-8")
        i = draw(st.integers(0, len(raw)))
        return raw[:i] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80\x80"])) + raw[i:], None
    if kind == "bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8"), None
    if kind == "utf16":
        return text.encode("utf-16"), None
    if kind == "huge_number":
        return text.replace("1", "9" * 5000, 1).encode("utf-8"), None
    return text.encode("utf-8"), doc


@st.composite
def _costly_fsm_doc(draw):
    """Well-formed documents that ask for much: many states (a dense table of GiBs), a wide
    alphabet, or counts whose sums pass int64."""
    n, k = draw(st.sampled_from([(4097, 2), (30_000, 2), (600, 100), (3, 2)]))
    alphabet = [f"s{i}" for i in range(k)]
    sparse = []
    outputs = [[0, 0]] * n
    if n == 3:  # counts summing past 2**63 - 1
        big = draw(st.sampled_from([2**62, 2**63 - 1]))
        if draw(st.booleans()):
            sparse = [[0, 0, 0, big], [0, 0, 1, big]]
        else:
            outputs = [[big, big], [0, 0], [0, 0]]
    return {"format": "fsm-extract/fsm", "version": 1, "alphabet": alphabet, "initial": 0,
            "transitions": [[(q + 1) % n] * k for q in range(n)], "accepting": [False] * n,
            "transition_counts": sparse, "output_counts": outputs, "completed": [], "centroids": None,
            "cluster_map": None, "metadata": {}}


def _check_loaded_fsm(fsm, tmp: Path) -> None:
    """A document that loads must describe a usable automaton: it runs, draws and round-trips."""
    assert isinstance(fsm, fx.ExtractedFSM)
    a = fsm.alphabet[0]
    fsm.predict([(), (a,), (a, a, a)])
    assert fsm.accepts([a] * 2) in (True, False)
    to_dot(fsm, show_support=True)
    again = fx.load_fsm(fsm.save(tmp / "roundtrip.json"))
    assert again.to_dict() == fsm.to_dict()


def _fuzz_fsm_files(ctx, tmp: Path, config) -> int:
    seen = []
    base = ctx.valid_fsm_dict

    @config
    @given(_fsm_file(base))
    def run(item):
        raw, doc = item
        path = tmp / "fsm.json"
        path.write_bytes(raw)
        try:
            fsm = fx.load_fsm(path)
        except (fx.DataFormatError, fx.MissingFileError) as exc:
            assert str(path) in str(exc)  # the message names the file
        else:
            _check_loaded_fsm(fsm, tmp)
        if doc is not None:
            try:
                fx.ExtractedFSM.from_dict(doc)
            except fx.DataFormatError:
                pass
        seen.append(1)

    run()
    return len(seen)


def test_fuzz_load_fsm(ctx, tmp_path):
    """>= 500 generated JSON documents: only DataFormatError (or MissingFileError) escapes."""
    assert _fuzz_fsm_files(ctx, tmp_path, FUZZ) >= 500


@pytest.mark.slow
def test_fuzz_load_fsm_slow(ctx, tmp_path):
    assert _fuzz_fsm_files(ctx, tmp_path, FUZZ_SLOW) >= 4000


def test_fuzz_from_dict_random_python_values(ctx):
    """from_dict on arbitrary JSON-like Python values (NaN included): DataFormatError only."""
    seen = []

    @FUZZ
    @given(st.one_of(_JSON, _mutated_fsm_doc(ctx.valid_fsm_dict)))
    def run(doc):
        try:
            fsm = fx.ExtractedFSM.from_dict(doc)
        except fx.DataFormatError:
            pass
        else:
            assert isinstance(fsm, fx.ExtractedFSM)
        seen.append(1)

    run()
    assert len(seen) >= 500


def test_load_fsm_valid_document_round_trips(ctx, tmp_path):
    fsm = fx.load_fsm(ctx.files.fsm)
    assert fsm.to_dict() == ctx.valid_fsm_dict


def test_load_fsm_json_nested_too_deep(ctx, tmp_path):
    p = tmp_path / "deep.json"
    p.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(fx.DataFormatError, match="path="):
        fx.load_fsm(p)


def test_from_dict_deeply_nested_metadata(ctx):
    deep: dict = {}
    cur = deep
    for _ in range(5000):
        cur["a"] = {}
        cur = cur["a"]
    with pytest.raises(fx.DataFormatError):
        fx.ExtractedFSM.from_dict(dict(ctx.valid_fsm_dict, metadata=deep))
