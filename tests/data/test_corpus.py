"""fsm_extract.data.corpus: words spooled once from a list, an iterable, a Dataset or a file, then
read chunk by chunk.

The contract checked here: every source holding the same words gives the same chunks and the same
seeded sample (that is what makes a streamed extraction independent of where its words came from);
chunks cover every word once, in order, cut only at word ends; errors name the argument, the word
or the line; the spool folder goes away with the Corpus.
"""

from __future__ import annotations

import gc
import json
import os
import tempfile

import numpy as np
import pytest

import fsm_extract as fx
from fsm_extract.data import corpus as corpus_mod
from fsm_extract.data.corpus import Corpus, is_corpus_source
from fsm_extract.errors import (ArgumentTypeError, DataFormatError, MissingFileError, UnknownSymbolError,
                                ValidationError)
from tests.helpers import _alphabet

AB = ("0", "1")
LONG = "01" * 20  # 40 steps: longer than the chunk size used below
MAX_STEPS = 25


def _make_words() -> list[str]:
    rng = np.random.default_rng(7)
    words = ["".join(rng.choice(list("01"), rng.integers(0, 13))) for _ in range(300)]
    words[0] = ""  # an empty first word
    words[5:5] = ["", "", LONG, ""]  # empty words around a word longer than a chunk
    words[120] = LONG
    words.append("")  # an empty last word
    return words


WORDS = _make_words()
LABELS = np.array([len(w) % 3 == 0 for w in WORDS])  # any labels: the corpus only carries them


def _reference(words):
    """CSR encoding of binary words, computed without the package ("0" -> 0, "1" -> 1)."""
    symbols = np.array([int(c) for w in words for c in w], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(w) for w in words])]).astype(np.int64)
    return symbols, offsets


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    plain, labelled, txt = d / "words.jsonl", d / "labelled.jsonl", d / "words.txt"
    plain.write_text("".join(json.dumps({"word": w}) + "\n" for w in WORDS), encoding="utf-8")
    labelled.write_text("".join(json.dumps({"word": w, "label": bool(y)}) + "\n" for w, y in zip(WORDS, LABELS)),
                        encoding="utf-8")
    txt.write_text("".join(w + "\n" for w in WORDS), encoding="utf-8")
    return {"jsonl": plain, "jsonl_labels": labelled, "txt": txt}


SOURCES = ["list", "generator", "dataset", "jsonl", "jsonl_labels", "txt", "txt_str"]


def _source(kind, files):
    if kind == "list":
        return list(WORDS)
    if kind == "generator":
        return (w for w in WORDS)
    if kind == "dataset":
        return fx.Dataset(tuple(WORDS), LABELS, AB)
    if kind == "txt_str":
        return str(files["txt"])  # a path given as str
    return files[kind]


@pytest.fixture(scope="module")
def reference_corpus():
    return Corpus(list(WORDS), AB)


# ----------------------------------------------------------------------------- every source alike
@pytest.mark.parametrize("kind", SOURCES)
def test_every_source_gives_the_same_words_chunks_and_sample(kind, files, reference_corpus):
    c = Corpus(_source(kind, files), AB)
    symbols, offsets = _reference(WORDS)
    assert (c.n_words, c.n_steps, c.max_length) == (len(WORDS), symbols.size, len(LONG))
    assert c.words() == WORDS
    np.testing.assert_array_equal(c.lengths(), [len(w) for w in WORDS])
    labelled = kind in ("dataset", "jsonl_labels")
    assert c.has_labels is labelled
    if labelled:
        np.testing.assert_array_equal(c.labels(), LABELS.astype(np.int64))
        assert c.labels().dtype == np.int64
    else:
        assert c.labels() is None

    chunks = list(c.chunks(MAX_STEPS))
    ref = list(reference_corpus.chunks(MAX_STEPS))
    assert len(chunks) == len(ref) > 5
    for got, want in zip(chunks, ref):
        assert got.first == want.first
        np.testing.assert_array_equal(got.symbols, want.symbols)
        np.testing.assert_array_equal(got.offsets, want.offsets)
        assert got.symbols.dtype == np.int32 and got.offsets.dtype == np.int64
        if labelled:
            np.testing.assert_array_equal(got.labels, LABELS[got.first:got.first + got.n_words].astype(np.int64))
        else:
            assert got.labels is None
    # the chunks, put back together, are the words' encoding computed independently
    np.testing.assert_array_equal(np.concatenate([ch.symbols for ch in chunks]), symbols)
    assert c.bounds(MAX_STEPS) == reference_corpus.bounds(MAX_STEPS)

    for seed in (0, 1, 2):
        np.testing.assert_array_equal(c.sample(300, seed=seed), reference_corpus.sample(300, seed=seed))


# ----------------------------------------------------------------------------- chunks
@pytest.mark.parametrize("max_steps", [1, 7, MAX_STEPS, 100, 10**9])
def test_chunks_cover_every_word_once_in_order_cut_at_word_ends(reference_corpus, max_steps):
    chunks = list(reference_corpus.chunks(max_steps))
    assert chunks[0].first == 0
    for a, b in zip(chunks, chunks[1:]):
        assert b.first == a.first + a.n_words  # contiguous: no word skipped or repeated
    assert sum(ch.n_words for ch in chunks) == len(WORDS)
    rebuilt = []
    for ch in chunks:
        assert ch.offsets[0] == 0 and ch.offsets[-1] == ch.n_steps
        assert ch.n_words >= 1
        assert ch.n_steps <= max_steps or ch.n_words == 1  # only a single word may be longer
        words = ["".join(str(s) for s in ch.symbols[ch.offsets[i]:ch.offsets[i + 1]]) for i in range(ch.n_words)]
        assert words == WORDS[ch.first:ch.first + ch.n_words]
        end = ch.first + ch.n_words
        if end < len(WORDS):  # greedy: the next word would not have fitted
            assert ch.n_steps + len(WORDS[end]) > max_steps
        rebuilt += words
    assert rebuilt == WORDS
    assert [(ch.first, ch.first + ch.n_words) for ch in chunks] == reference_corpus.bounds(max_steps)
    if max_steps >= len(reference_corpus.words()) * 100:
        assert len(chunks) == 1


def test_a_word_longer_than_a_chunk_is_a_chunk_of_its_own(reference_corpus):
    long_at = [i for i, w in enumerate(WORDS) if w == LONG]
    assert long_at == [7, 120]
    chunks = {ch.first: ch for ch in reference_corpus.chunks(MAX_STEPS)}
    for i in long_at:
        assert i in chunks
        ch = chunks[i]
        # alone, except for the empty words that follow it (they add no steps)
        assert ch.n_steps == len(LONG) > MAX_STEPS
        assert all(w == "" for w in WORDS[i + 1:i + ch.n_words])
    # a chunk of exactly one step per word when max_steps=1: every non-empty word alone
    ones = list(reference_corpus.chunks(1))
    assert all(ch.n_words == 1 or ch.n_steps <= 1 for ch in ones)


def test_chunk_and_take_read_the_words_asked_for(reference_corpus):
    ch = reference_corpus.chunk(3, 11)
    assert ch.first == 3 and ch.n_words == 8
    np.testing.assert_array_equal(ch.symbols, _reference(WORDS[3:11])[0])
    np.testing.assert_array_equal(ch.offsets, _reference(WORDS[3:11])[1])
    index = np.array([0, 7, 8, 120, 299])
    t = reference_corpus.take(index)
    assert t.first == -1 and t.n_words == 5
    want = [WORDS[i] for i in index]
    np.testing.assert_array_equal(t.symbols, _reference(want)[0])
    np.testing.assert_array_equal(t.offsets, _reference(want)[1])
    assert reference_corpus.words(index) == want
    empty = reference_corpus.take(np.zeros(0, dtype=np.int64))
    assert empty.n_words == 0 and empty.n_steps == 0


def test_empty_words_are_kept():
    c = Corpus(["", "01", "", "", "1", ""], AB)
    assert c.n_words == 6 and c.n_steps == 3 and c.max_length == 2
    assert c.words() == ["", "01", "", "", "1", ""]
    np.testing.assert_array_equal(c.lengths(), [0, 2, 0, 0, 1, 0])
    (only,) = list(c.chunks(100))
    np.testing.assert_array_equal(only.offsets, [0, 0, 2, 2, 2, 3, 3])
    np.testing.assert_array_equal(only.symbols, [0, 1, 1])
    # only empty words: all of them, no steps
    c = Corpus(["", "", ""], AB)
    assert (c.n_words, c.n_steps, c.max_length) == (3, 0, 0)
    assert c.words() == ["", "", ""]
    (only,) = list(c.chunks(5))
    assert only.n_words == 3 and only.n_steps == 0


def test_txt_blank_lines_are_empty_words_and_jsonl_blank_lines_are_skipped(tmp_path):
    txt = tmp_path / "w.txt"
    txt.write_bytes(b"01\n\n1\r\n110\n")
    assert Corpus(txt, AB).words() == ["01", "", "1", "110"]
    jl = tmp_path / "w.jsonl"
    jl.write_text('{"word": "01"}\n\n   \n{"word": ""}\n{"word": ["1", "0"]}\n', encoding="utf-8")
    c = Corpus(jl, AB)
    assert c.words() == ["01", "", "10"]
    assert not c.has_labels


def test_a_jsonl_file_with_only_some_labels_has_none(tmp_path):
    jl = tmp_path / "w.jsonl"
    jl.write_text('{"word": "01", "label": 1}\n{"word": "0"}\n', encoding="utf-8")
    c = Corpus(jl, AB)
    assert c.has_labels is False and c.labels() is None
    assert c.chunk(0, 2).labels is None


def test_an_empty_source():
    c = Corpus([], AB)
    assert (c.n_words, c.n_steps, c.max_length, c.has_labels) == (0, 0, 0, False)
    assert list(c.chunks()) == [] and c.bounds() == [] and c.words() == []
    assert c.sample(10, seed=0).size == 0


# ----------------------------------------------------------------------------- sample
def test_sample_of_a_small_corpus_is_every_word(reference_corpus):
    n = reference_corpus.n_steps
    for max_steps in (n, n + 1, 10**9):
        s = reference_corpus.sample(max_steps, seed=3)
        np.testing.assert_array_equal(s, np.arange(len(WORDS)))
        assert s.dtype == np.int64


@pytest.mark.parametrize("max_steps", [1, 50, 300, 1000])
def test_sample_is_a_sorted_subset_whose_steps_just_reach_max_steps(reference_corpus, max_steps):
    lengths = reference_corpus.lengths()
    s = reference_corpus.sample(max_steps, seed=11)
    assert s.ndim == 1 and 0 < s.size < len(WORDS)
    assert np.all(np.diff(s) > 0)  # sorted, no word twice
    assert s.min() >= 0 and s.max() < len(WORDS)
    steps = int(lengths[s].sum())
    assert steps >= max_steps
    # drawing stops at the word that reaches max_steps: without the longest word drawn it falls short
    assert steps - int(lengths[s].max()) < max_steps
    np.testing.assert_array_equal(reference_corpus.sample(max_steps, seed=11), s)  # same seed, same sample


def test_different_seeds_give_different_samples(reference_corpus):
    samples = {tuple(reference_corpus.sample(400, seed=seed).tolist()) for seed in range(5)}
    assert len(samples) == 5


def test_sample_and_chunks_check_their_arguments(reference_corpus):
    with pytest.raises(ValidationError, match="max_steps"):
        reference_corpus.sample(0, seed=0)
    with pytest.raises(ValidationError, match="max_steps"):
        list(reference_corpus.chunks(0))
    with pytest.raises((ValidationError, ArgumentTypeError), match="seed"):
        reference_corpus.sample(10, seed=-1)


# ----------------------------------------------------------------------------- alphabets
def test_multi_character_symbols_round_trip_as_tuples(tmp_path):
    alphabet = ("ab", "c")
    words = [("ab", "c", "ab"), (), ("c",), ("ab", "ab", "ab", "c")]
    c = Corpus(words, alphabet)
    assert c.alphabet == alphabet
    assert (c.n_words, c.n_steps, c.max_length) == (4, 8, 4)
    assert c.words() == words
    assert c.words([3, 0]) == [words[3], words[0]]
    np.testing.assert_array_equal(c.chunk(0, 4).symbols, [0, 1, 0, 1, 0, 0, 0, 1])
    # the same words from a generator and from a JSONL file of symbol lists
    assert Corpus(iter(words), alphabet).words() == words
    jl = tmp_path / "w.jsonl"
    jl.write_text("".join(json.dumps({"word": list(w)}) + "\n" for w in words), encoding="utf-8")
    from_file = Corpus(jl, alphabet)
    assert from_file.words() == words
    np.testing.assert_array_equal(from_file.chunk(0, 4).symbols, c.chunk(0, 4).symbols)


def test_an_alphabet_of_more_than_256_symbols_round_trips():
    alphabet = tuple(_alphabet(300))
    rng = np.random.default_rng(0)
    words = ["".join(alphabet[i] for i in rng.integers(0, 300, rng.integers(0, 20))) for _ in range(50)]
    words.append(alphabet[299] * 3)  # the last symbols do not fit a byte
    c = Corpus(words, alphabet)
    assert c.words() == words
    ch = c.chunk(c.n_words - 1, c.n_words)
    np.testing.assert_array_equal(ch.symbols, [299, 299, 299])


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("as_generator", [False, True])
def test_an_unknown_symbol_names_the_word(as_generator):
    words = ["01", "", "0", "0x1", "1"]
    source = iter(words) if as_generator else words
    with pytest.raises(UnknownSymbolError) as err:
        Corpus(source, AB)
    msg = str(err.value)
    assert "'0x1'" in msg and "'x'" in msg and "data[3]" in msg
    with pytest.raises(UnknownSymbolError, match=r"words\[3\]='0x1'"):
        Corpus(words, AB, name="words")


def test_an_unknown_symbol_after_the_first_spool_batch_names_the_words_place_in_the_source():
    words = ["01"] * 9000 + ["0x"]
    for source in (words, iter(words)):
        with pytest.raises(UnknownSymbolError) as err:
            Corpus(source, AB)
        assert "data[9000]='0x'" in str(err.value)


def test_a_str_that_is_not_a_file_is_refused():
    with pytest.raises(ArgumentTypeError, match=r"data='0110'") as err:
        Corpus("0110", AB)
    assert "path" in str(err.value)
    with pytest.raises(ArgumentTypeError, match=r"fit='no-such-file.jsonl'"):
        Corpus("no-such-file.jsonl", AB, name="fit")


def test_a_missing_path_object_is_a_missing_file(tmp_path):
    with pytest.raises(MissingFileError, match="nope.jsonl"):
        Corpus(tmp_path / "nope.jsonl", AB)


@pytest.mark.parametrize("source, what", [({"01", "1"}, "set"), (frozenset({"01"}), "set"), (12, "int"),
                                          (b"0101", "bytes"), ({"01": 1}, "dict")])
def test_a_set_or_a_non_iterable_is_refused(source, what):
    with pytest.raises(ArgumentTypeError, match=what) as err:
        Corpus(source, AB)
    assert str(err.value).startswith("data ")


def test_a_bad_jsonl_line_names_its_number(tmp_path):
    jl = tmp_path / "bad.jsonl"
    jl.write_text('{"word": "01"}\n{"word": "1"}\n{"word": "0"\n{"word": "1"}\n', encoding="utf-8")
    with pytest.raises(DataFormatError) as err:
        Corpus(jl, AB)
    assert f"{jl}:3:" in str(err.value) and "JSON" in str(err.value)


def test_a_jsonl_line_without_word_is_refused(tmp_path):
    jl = tmp_path / "nokey.jsonl"
    jl.write_text('{"word": "01"}\n{"label": true, "w": "0"}\n', encoding="utf-8")
    with pytest.raises(DataFormatError) as err:
        Corpus(jl, AB)
    assert f"{jl}:2:" in str(err.value) and "'word'" in str(err.value)


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    txt = tmp_path / "latin.txt"
    txt.write_bytes(b"01\n\xff\xfe0\n")
    with pytest.raises(DataFormatError, match="UTF-8"):
        Corpus(txt, AB)


def test_a_dataset_over_another_alphabet_is_refused():
    ds = fx.Dataset(("ab", "b"), np.array([True, False]), ("a", "b"))
    with pytest.raises(ValidationError, match="alphabet"):
        Corpus(ds, AB)


# ----------------------------------------------------------------------------- is_corpus_source
def test_is_corpus_source(tmp_path):
    assert is_corpus_source("words.jsonl") and is_corpus_source(tmp_path / "w.txt")
    assert is_corpus_source(w for w in WORDS) and is_corpus_source(iter(WORDS)) and is_corpus_source(map(str, "01"))
    for held in (list(WORDS), tuple(WORDS), fx.Dataset(("0",), np.array([True]), AB), {"0"}, {"0": 1},
                 np.array(["0", "1"]), b"01", range(3)):
        assert not is_corpus_source(held), type(held)


# ----------------------------------------------------------------------------- the spool folder
def test_the_spool_folder_goes_away_with_the_corpus():
    c = Corpus(iter(WORDS), AB)
    folder = c._dir
    assert os.path.isdir(folder) and os.listdir(folder)
    ch = c.chunk(0, 20)
    words = c.words()
    del c
    gc.collect()
    assert not os.path.exists(folder)
    # what was read out of it is independent of it
    np.testing.assert_array_equal(ch.symbols, _reference(WORDS[:20])[0])
    assert words == WORDS


def test_the_spool_folder_goes_away_when_reading_the_source_fails(monkeypatch):
    made = []
    real = tempfile.mkdtemp

    def recording_mkdtemp(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(corpus_mod.tempfile, "mkdtemp", recording_mkdtemp)
    with pytest.raises(UnknownSymbolError):
        Corpus(["01"] * 10 + ["2"], AB)
    assert len(made) == 1 and not os.path.exists(made[0])
