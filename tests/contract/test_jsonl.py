"""File fuzzing of ``datasets.load_jsonl``: only ValueError-derived package errors escape (an
ArgumentTypeError only for a wrongly typed ``alphabet=``)."""

from __future__ import annotations

import json
import math
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fsm_extract as fx

from .conftest import FUZZ, FUZZ_SLOW, _JSON, _JSON_LEAF


_WORD_TEXT = st.text(alphabet=st.sampled_from(list("01ab()") + ["é", "\u2028", "😀", " "]), max_size=6)


@st.composite
def _jsonl_line(draw):
    kind = draw(st.sampled_from(["valid", "valid", "valid", "list_word", "missing", "wrong_word", "wrong_label",
                                 "extra_key", "not_object", "malformed", "blank", "random_text"]))
    word = draw(_WORD_TEXT)
    label = draw(st.booleans() | st.sampled_from([0, 1]))
    ensure_ascii = draw(st.booleans())
    dump = lambda o: json.dumps(o, ensure_ascii=ensure_ascii, allow_nan=True)  # noqa: E731
    if kind == "valid":
        return dump({"word": word, "label": label})
    if kind == "list_word":
        # non-empty symbols: an empty symbol with no alphabet= is a known bug (test_load_jsonl_empty_symbol)
        return dump({"word": draw(st.lists(st.text(min_size=1, max_size=3), max_size=4)), "label": label})
    if kind == "missing":
        return dump(draw(st.sampled_from([{"word": word}, {"label": label}, {}])))
    if kind == "wrong_word":
        return dump({"word": draw(st.sampled_from([5, None, 1.5, math.nan, True, {"a": 1}, [1, 2], ["0", None],
                                                   [["0"]]])), "label": label})
    if kind == "wrong_label":
        return dump({"word": word, "label": draw(st.sampled_from([2, -1, "true", None, 1.0, math.nan, math.inf,
                                                                  [True], {}]))})
    if kind == "extra_key":
        return dump({"word": word, "label": label, draw(st.text(max_size=5)): draw(_JSON_LEAF)})
    if kind == "not_object":
        return dump(draw(_JSON))
    if kind == "malformed":
        text = dump({"word": word, "label": label})
        return text[: draw(st.integers(0, len(text) - 1))]
    if kind == "blank":
        return draw(st.sampled_from(["", "   ", "\t"]))
    return draw(st.text(alphabet=string.printable, max_size=20))


@st.composite
def _jsonl_file(draw):
    lines = draw(st.lists(_jsonl_line(), max_size=8))
    raw = draw(st.sampled_from(["\n", "\r\n"])).join(lines).encode("utf-8")
    mangle = draw(st.sampled_from(["none", "none", "none", "bad_utf8", "bom", "truncate"]))
    if mangle == "bad_utf8":
        i = draw(st.integers(0, len(raw)))
        raw = raw[:i] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\x80"])) + raw[i:]
    elif mangle == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif mangle == "truncate" and raw:
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    alphabet = draw(st.sampled_from([None, None, "01", ("0", "1"), ("ab", "c"), "", 5]))
    return raw, alphabet


def _fuzz_jsonl(tmp: Path, config) -> int:
    seen = []

    @config
    @given(_jsonl_file())
    def run(item):
        raw, alphabet = item
        path = tmp / "data.jsonl"
        path.write_bytes(raw)
        try:
            ds = fx.datasets.load_jsonl(path, alphabet=alphabet)
        except (fx.DataFormatError, fx.ValidationError) as exc:  # UnknownSymbolError is a ValidationError
            assert isinstance(exc, ValueError)
        except fx.ArgumentTypeError as exc:
            # only the alphabet= argument itself may be of the wrong type
            assert alphabet in ("", 5) or not isinstance(alphabet, (str, tuple, type(None))), exc
            assert "alphabet=" in str(exc)
        else:
            assert isinstance(ds, fx.Dataset)
            assert len(ds.words) == len(ds.labels)
        seen.append(1)

    run()
    return len(seen)


def test_fuzz_load_jsonl(tmp_path):
    """>= 500 generated JSONL files: only ValueError-derived package errors escape."""
    assert _fuzz_jsonl(tmp_path, FUZZ) >= 500


@pytest.mark.slow
def test_fuzz_load_jsonl_slow(tmp_path):
    assert _fuzz_jsonl(tmp_path, FUZZ_SLOW) >= 4000


def test_load_jsonl_deeply_nested_line(tmp_path):
    p = tmp_path / "deep.jsonl"
    p.write_text("[" * 100_000 + "\n")
    with pytest.raises(fx.DataFormatError):
        fx.datasets.load_jsonl(p)


@pytest.mark.parametrize("alphabet", [None, "01"])
def test_load_jsonl_lone_surrogate(tmp_path, alphabet):
    p = tmp_path / "s.jsonl"
    p.write_text('{"word": "0\\ud800", "label": true}\n{"word": "1", "label": false}\n')
    with pytest.raises((fx.DataFormatError, fx.UnknownSymbolError)):
        fx.datasets.load_jsonl(p, alphabet=alphabet)


def test_load_jsonl_empty_symbol(tmp_path):
    p = tmp_path / "e.jsonl"
    p.write_text('{"word": ["0", ""], "label": true}\n')
    with pytest.raises(fx.DataFormatError):
        fx.datasets.load_jsonl(p)


def test_jsonl_round_trip_of_line_separator_symbol(tmp_path):
    ds = fx.Dataset([("a\u2028b",)], [True], ("a\u2028b",))
    again = fx.datasets.load_jsonl(ds.to_jsonl(tmp_path / "ls.jsonl"), alphabet=("a\u2028b",))
    assert again.words == ds.words
