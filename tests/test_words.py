"""Tests of fsm_extract.words: alphabets, the CSR encoding of words, and word keys."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_extract.errors import ArgumentTypeError, UnknownSymbolError, ValidationError
from fsm_extract.words import (
    check_alphabet,
    check_ordered_words,
    decode_word,
    encode_ids,
    encode_word,
    encode_words,
    format_word,
    is_valid_text,
    word_keys,
    words_digest,
)

SINGLE = ("0", "1", "é", "😀")  # one character each, one of them beyond the BMP
MULTI = ("push", "pop", "x")


# ----------------------------------------------------------------------------- alphabets
def test_check_alphabet_normalises_strings_and_sequences():
    assert check_alphabet("01") == ("0", "1")
    assert check_alphabet(["ab", "c"]) == ("ab", "c")
    assert check_alphabet(iter(("x",))) == ("x",)


@pytest.mark.parametrize("alphabet, error, needle", [
    ("", ValidationError, "at least one symbol"),
    ("00", ValidationError, "repeated: ['0']"),
    (["a", ""], ArgumentTypeError, "non-empty string"),
    (["a", 1], ArgumentTypeError, "non-empty string"),
    (["a", "\ud800"], ValidationError, "lone surrogate"),
    (5, ArgumentTypeError, "got int"),
    ({"a": 1}, ArgumentTypeError, "got dict"),
    (b"01", ArgumentTypeError, "got bytes"),
])
def test_check_alphabet_refuses_bad_alphabets_naming_them(alphabet, error, needle):
    with pytest.raises(error) as info:
        check_alphabet(alphabet, name="sigma")
    assert str(info.value).startswith("sigma=") and needle in str(info.value)


def test_is_valid_text():
    assert is_valid_text("abc é 😀") and is_valid_text("")
    assert not is_valid_text("a\udc80")


# ----------------------------------------------------------------------------- encoding
def _words(alphabet, max_len=8):
    symbol = st.sampled_from(alphabet)
    if all(len(s) == 1 for s in alphabet):
        return st.lists(st.lists(symbol, max_size=max_len).map("".join), max_size=12)
    return st.lists(st.lists(symbol, max_size=max_len).map(tuple), max_size=12)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([SINGLE, MULTI]).flatmap(lambda a: st.tuples(st.just(a), _words(a))))
def test_encode_words_is_csr_and_decodes_back(case):
    alphabet, words = case
    symbols, offsets = encode_words(words, alphabet)
    assert symbols.dtype == np.int32 and offsets.dtype == np.int64
    assert offsets.tolist() == np.concatenate([[0], np.cumsum([len(w) for w in words], dtype=np.int64)]).tolist()
    for i, w in enumerate(words):
        part = symbols[offsets[i] : offsets[i + 1]]
        np.testing.assert_array_equal(part, encode_word(w, alphabet))  # the fast path is the plain one
        assert decode_word(part, alphabet) == w
    ids = [list(map(int, symbols[offsets[i] : offsets[i + 1]])) for i in range(len(words))]
    again = encode_ids(ids)
    np.testing.assert_array_equal(again[0], symbols)
    np.testing.assert_array_equal(again[1], offsets)


def test_encode_word_with_multi_character_symbols():
    alphabet = ("ab", "c", "a")
    np.testing.assert_array_equal(encode_word("ab", alphabet), [0])  # a str that is one symbol
    np.testing.assert_array_equal(encode_word(("ab", "c", "a"), alphabet), [0, 1, 2])
    np.testing.assert_array_equal(encode_word("ca", alphabet), [1, 2])  # otherwise one symbol per character
    assert decode_word([0, 1], alphabet) == ("ab", "c")


def test_unknown_symbols_are_named_with_word_and_position():
    with pytest.raises(UnknownSymbolError) as info:
        encode_words(["01", "0x1"], ("0", "1"))
    msg = str(info.value)
    assert "words[1]='0x1'" in msg and "'x' at position 1" in msg
    assert isinstance(info.value, ValidationError)
    with pytest.raises(UnknownSymbolError, match="position 0"):
        encode_words(["\ud800"], ("0", "1"))  # a lone surrogate is an unknown symbol, not a crash
    with pytest.raises(UnknownSymbolError, match="'😀'"):
        encode_words(["0😀"], ("0", "1"))  # beyond the lookup table of a BMP alphabet


@pytest.mark.parametrize("words, needle", [
    ("0101", "sequence of words"),
    (5, "sequence of words"),
    ({"01", "1"}, "sorted(words)"),
    (frozenset({"0"}), "sorted(words)"),
    ([5], "words[0]=5"),
])
def test_encode_words_refuses_what_is_not_an_ordered_sequence(words, needle):
    with pytest.raises(ArgumentTypeError) as info:
        encode_words(words, ("0", "1"))
    assert needle in str(info.value)


def test_check_ordered_words_accepts_sequences_and_refuses_sets():
    check_ordered_words(["b", "a"], "data")
    check_ordered_words(("a",), "data")
    with pytest.raises(ArgumentTypeError, match=r"data must be an ordered sequence.*sorted\(data\)"):
        check_ordered_words({"a"}, "data")


def test_empty_inputs():
    symbols, offsets = encode_words([], ("0", "1"))
    assert symbols.shape == (0,) and offsets.tolist() == [0]
    symbols, offsets = encode_words(["", ""], ("0", "1"))
    assert symbols.shape == (0,) and offsets.tolist() == [0, 0, 0]
    assert encode_ids([])[1].tolist() == [0]


# ----------------------------------------------------------------------------- keys and formats
def test_format_word():
    assert format_word("") == "ε" and format_word(()) == "ε"
    assert format_word("0110") == "0110"
    assert format_word(("a", "b")) == "ab"
    assert format_word(("push", "pop")) == "push pop"
    assert format_word(5) == "5"


def test_word_keys():
    assert word_keys(["01", ["a", "b"], ("c",)], "data") == ["01", ("a", "b"), ("c",)]
    with pytest.raises(ArgumentTypeError, match=r"data\[1\]=5"):
        word_keys(["0", 5], "data")
    with pytest.raises(ArgumentTypeError, match=r"data\[0\]=\('a', 1\) must hold string symbols"):
        word_keys([("a", 1)], "data")


def test_words_digest_is_an_order_independent_multiset_fingerprint():
    a = words_digest(["01", "1", ""])
    assert a == words_digest(["", "01", "1"]) == words_digest(("1", "", "01"))
    assert a != words_digest(["01", "1"]) and a != words_digest(["01", "1", "", ""])
    assert words_digest([("ab", "c")]) == words_digest([("ab", "c")]) != words_digest([("a", "bc")])
    assert len(a) == 64 and int(a, 16) >= 0


def test_stream_digest_is_a_multiset_fingerprint_that_adds_up_by_parts():
    from fsm_extract.words import stream_digest, word_hash_sum

    words = ["0110", "", "1", "0110", "10"]
    sym, off = encode_words(words, ("0", "1"))
    whole = word_hash_sum(sym, off)
    a_sym, a_off = encode_words(words[:2], ("0", "1"))
    b_sym, b_off = encode_words(words[2:], ("0", "1"))
    assert word_hash_sum(a_sym, a_off) + word_hash_sum(b_sym, b_off) == whole
    r_sym, r_off = encode_words(list(reversed(words)), ("0", "1"))
    assert stream_digest(word_hash_sum(r_sym, r_off), 5) == stream_digest(whole, 5)
    m_sym, m_off = encode_words(words[:-1] + ["01"], ("0", "1"))  # one word changed
    assert stream_digest(word_hash_sum(m_sym, m_off), 5) != stream_digest(whole, 5)
    assert stream_digest(whole, 5).startswith("multiset-blake2b:5:")
