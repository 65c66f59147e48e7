"""Corpora read chunk by chunk: words from a list, any iterable, or a JSONL / text file, in
memory bounded by the chunk size rather than by the number of words.

A :class:`Corpus` is read once from its source and *spooled*: every word encoded (one byte per
symbol for alphabets up to 256 symbols) into a temporary folder, its length and label kept
beside it. Every later pass (sampling, tracing, counting) reads the spool through memory maps, so
a generator can be read as often as a pipeline needs, and a list, a generator and a file holding
the same words give the same chunks, the same sample and so the same automaton.

Sources:

- a sequence of words or a :class:`~fsm_extract.data.datasets.Dataset` (its labels kept);
- any other iterable of words (a generator: read once, spooled);
- a path (``str`` or ``os.PathLike``): ``.jsonl`` holds one object per line with ``"word"``
  (and optionally ``"label"``), any other file one word per line (``.txt``; the line's characters
  are the symbols, the newline is not part of the word).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_existing_file, check_int, check_seed
from ..errors import ArgumentTypeError, DataFormatError, FsmExtractError, ValidationError
from ..words import check_alphabet, decode_word, encode_words, stream_digest, word_hash_sum
from .datasets import Dataset, parse_line

__all__ = ["Corpus", "Chunk", "is_corpus_source", "in_memory", "CHUNK_STEPS"]

#: Steps per chunk a pass reads at most (a chunk ends at a word's end; one longer word is a chunk
#: of its own).
CHUNK_STEPS = 2**18
#: Words encoded per write while spooling.
_SPOOL_WORDS = 8192


@dataclass(frozen=True)
class Chunk:
    """Whole words ``first .. first + n_words - 1`` of a corpus, CSR-encoded.

    Attributes
    ----------
    first : int
        Index of the chunk's first word in the corpus.
    symbols : ndarray of shape (n_steps,), int32
    offsets : ndarray of shape (n_words + 1,), int64
    labels : ndarray of shape (n_words,), int64, or None
        Labels, where the source had them (booleans as 0/1).
    """

    first: int
    symbols: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray | None = None

    @property
    def n_words(self) -> int:
        return int(self.offsets.size - 1)

    @property
    def n_steps(self) -> int:
        return int(self.symbols.size)


def is_corpus_source(data: Any) -> bool:
    """Whether ``data`` is a path or a one-shot iterable (not a sequence held in memory)."""
    if isinstance(data, (str, os.PathLike)):
        return True
    if isinstance(data, (Dataset, list, tuple, bytes, AbstractSet, dict, np.ndarray)):
        return False
    return isinstance(data, Iterable) and not hasattr(data, "__getitem__")


def in_memory(data: Any, alphabet: Any, *, sample_steps: int, engine: str = "local", name: str = "data",
              progress: bool = False) -> Any:
    """``data`` as it is when it is held in memory and holds at most ``sample_steps`` steps (or is
    not a collection of words at all: the caller names the problem); else a :class:`Corpus` of it
    (always with ``engine="dask"``). A file or an iterable that turns out small comes back as its
    list of words, or as a Dataset when every word had a label."""
    if not is_corpus_source(data) and engine == "local":
        words = data.words if isinstance(data, Dataset) else data
        if isinstance(words, (str, bytes, AbstractSet)) or not isinstance(words, Iterable):
            return data
        if sum(len(w) if hasattr(w, "__len__") else 0 for w in words) <= sample_steps:
            return data
    corpus = Corpus(data, alphabet, name=name, progress=progress)
    if engine == "local" and corpus.n_steps <= sample_steps:
        if corpus.has_labels:
            return Dataset(tuple(corpus.words()), corpus.labels(), corpus.alphabet)
        return corpus.words()
    return corpus


def _path_of(data: Any, name: str) -> Path:
    if isinstance(data, str) and not os.path.exists(data):
        raise ArgumentTypeError(f"{name}={data[:60]!r} is a str: pass a list of words, or the path of a .jsonl or "
                                f".txt file (no file is there)")
    return check_existing_file(name, data)


class Corpus:
    """Words spooled to disk once, then read chunk by chunk (see the module docstring).

    Parameters
    ----------
    source : sequence of words, Dataset, iterable of words, or path
    alphabet : sequence of str
        The symbols; a word with another symbol raises ``UnknownSymbolError`` naming it.
    name : str
        The argument's name in error messages.
    progress : bool
        A progress bar (words per second) while reading the source.

    Attributes
    ----------
    n_words, n_steps, max_length : int
    digest : str
        An order-independent fingerprint of the words (:func:`~fsm_extract.words.stream_digest`).
    has_labels : bool
        Every word came with a label (a Dataset, or a JSONL file whose lines all have one).
    """

    def __init__(self, source: Any, alphabet: Any, *, name: str = "data", progress: bool = False) -> None:
        self.alphabet = check_alphabet(alphabet)
        self.name = name
        self._dir = tempfile.mkdtemp(prefix="fsm-extract-corpus-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._dir, True)
        self._dtype = np.uint8 if len(self.alphabet) <= 256 else np.int32
        try:
            self._spool(source, progress)
        except BaseException:
            self._cleanup()
            raise

    # ------------------------------------------------------------------ reading the source
    def _words(self, source: Any) -> Iterator[tuple[Any, Any]]:
        """(word, label or None) of every word of the source."""
        if isinstance(source, Dataset):
            if tuple(source.alphabet) != self.alphabet:
                raise ValidationError(f"{self.name}.alphabet={list(source.alphabet)} must equal the model's alphabet "
                                      f"{list(self.alphabet)}")
            yield from zip(source.words, source.labels.tolist())
            return
        if isinstance(source, (str, os.PathLike)):
            path = _path_of(source, self.name)
            jsonl = path.suffix.lower() == ".jsonl"
            try:
                with open(path, encoding="utf-8", newline="") as fh:
                    for lineno, line in enumerate(fh, start=1):
                        line = line.removesuffix("\n").removesuffix("\r")
                        if jsonl:
                            if line.strip():
                                yield parse_line(path, lineno, line, need_label=False)
                        else:
                            yield line, None
            except UnicodeDecodeError as exc:
                raise DataFormatError(f"{self.name}={str(path)!r} must be UTF-8 text: {exc.reason}") from None
            return
        if isinstance(source, (bytes, AbstractSet, dict)) or not isinstance(source, Iterable):
            what = "a set (its order changes with PYTHONHASHSEED: pass sorted(...))" if isinstance(source, AbstractSet) \
                else type(source).__name__
            raise ArgumentTypeError(f"{self.name} must be a sequence or iterable of words, a Dataset, or the path of a "
                                    f".jsonl or .txt file, got {what}")
        for word in source:
            yield word, None

    def _spool(self, source: Any, progress: bool = False) -> None:
        sym_path, len_path = os.path.join(self._dir, "symbols"), os.path.join(self._dir, "lengths")
        labels: list[Any] = []
        n_words = n_steps = max_len = hash_sum = 0
        with open(sym_path, "wb") as fs, open(len_path, "wb") as fl:
            batch: list = []

            def flush() -> None:
                nonlocal n_words, n_steps, max_len, hash_sum
                if not batch:
                    return
                try:
                    symbols, offsets = encode_words(batch, self.alphabet, name=self.name)
                except FsmExtractError as exc:  # name the word by its place in the whole source
                    raise type(exc)(re.sub(rf"{re.escape(self.name)}\[(\d+)\]",
                                           lambda m: f"{self.name}[{int(m.group(1)) + n_words}]", str(exc))) from None
                lengths = np.diff(offsets).astype(np.int64)
                hash_sum += word_hash_sum(symbols, offsets)
                fs.write(symbols.astype(self._dtype).tobytes())
                fl.write(lengths.tobytes())
                n_words += len(batch)
                n_steps += int(symbols.size)
                max_len = max(max_len, int(lengths.max(initial=0)))
                batch.clear()

            words: Any = self._words(source)
            if progress:
                from tqdm.auto import tqdm

                words = tqdm(words, desc=f"read {self.name}", unit="word", unit_scale=True, leave=False)
            for word, label in words:
                batch.append(word)
                labels.append(label)
                if len(batch) >= _SPOOL_WORDS:
                    flush()
            flush()
        self.n_words, self.n_steps, self.max_length = n_words, n_steps, max_len
        self.digest = stream_digest(hash_sum, n_words)
        self.has_labels = bool(labels) and all(y is not None for y in labels)
        self._labels = np.asarray([int(y) for y in labels], dtype=np.int64) if self.has_labels else None
        del labels
        self._symbols = (np.memmap(sym_path, dtype=self._dtype, mode="r") if n_steps
                         else np.zeros(0, dtype=self._dtype))
        lengths = np.memmap(len_path, dtype=np.int64, mode="r") if n_words else np.zeros(0, dtype=np.int64)
        self._offsets = np.zeros(n_words + 1, dtype=np.int64)
        np.cumsum(lengths, out=self._offsets[1:])

    # ------------------------------------------------------------------ passes
    def chunks(self, max_steps: int = CHUNK_STEPS) -> Iterator[Chunk]:
        """The corpus in order, whole words at a time, each chunk at most ``max_steps`` steps
        (a longer word alone). The cut depends only on the words, not on where they came from."""
        max_steps = check_int("max_steps", max_steps, min=1)
        for lo, hi in self.bounds(max_steps):
            yield self.chunk(lo, hi)

    def bounds(self, max_steps: int = CHUNK_STEPS) -> list[tuple[int, int]]:
        """The (first word, end word) of each chunk of :meth:`chunks`."""
        out, lo, off = [], 0, self._offsets
        while lo < self.n_words:
            hi = int(np.searchsorted(off, off[lo] + max_steps, side="right")) - 1
            hi = min(max(hi, lo + 1), self.n_words)
            out.append((lo, hi))
            lo = hi
        return out

    def chunk(self, lo: int, hi: int) -> Chunk:
        """Words ``lo .. hi - 1`` as a :class:`Chunk`."""
        off = self._offsets[lo:hi + 1]
        symbols = np.asarray(self._symbols[off[0]:off[-1]], dtype=np.int32)
        labels = None if self._labels is None else self._labels[lo:hi].copy()
        return Chunk(lo, symbols, off - off[0], labels)

    def take(self, index: np.ndarray) -> Chunk:
        """The words at ``index`` (sorted word indices), CSR-encoded (``first`` is -1)."""
        index = np.asarray(index, dtype=np.int64)
        starts, ends = self._offsets[index], self._offsets[index + 1]
        offsets = np.zeros(index.size + 1, dtype=np.int64)
        np.cumsum(ends - starts, out=offsets[1:])
        parts = [np.asarray(self._symbols[s:e], dtype=np.int32) for s, e in zip(starts.tolist(), ends.tolist())]
        symbols = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
        labels = None if self._labels is None else self._labels[index].copy()
        return Chunk(-1, symbols, offsets, labels)

    def words(self, index: Any = None) -> list:
        """The words at ``index`` (default: all), decoded: a ``str`` per word for single-character
        alphabets, else a tuple of symbols."""
        index = np.arange(self.n_words) if index is None else np.asarray(index, dtype=np.int64)
        return [decode_word(self._symbols[self._offsets[i]:self._offsets[i + 1]].tolist(), self.alphabet)
                for i in index.tolist()]

    def labels(self, index: Any = None) -> np.ndarray | None:
        if self._labels is None:
            return None
        return self._labels.copy() if index is None else self._labels[np.asarray(index, dtype=np.int64)]

    def lengths(self) -> np.ndarray:
        """ndarray of shape (n_words,), int64."""
        return np.diff(self._offsets)

    def sample(self, max_steps: int, *, seed: int) -> np.ndarray:
        """A seeded sample of whole words holding about ``max_steps`` steps (all words when the
        corpus is no larger): sorted word indices. The words are drawn uniformly without
        replacement, in a seeded random order, until their steps reach ``max_steps``."""
        max_steps = check_int("max_steps", max_steps, min=1)
        seed = check_seed("seed", seed)
        if self.n_steps <= max_steps:
            return np.arange(self.n_words, dtype=np.int64)
        rng = np.random.default_rng(seed)
        lengths = self.lengths()
        mean = max(self.n_steps / max(self.n_words, 1), 1e-9)
        take = min(self.n_words, int(2 * max_steps / mean) + 16)
        while True:
            order = rng.choice(self.n_words, size=take, replace=False) if take < self.n_words else rng.permutation(self.n_words)
            reach = np.cumsum(lengths[order])
            if reach[-1] >= max_steps or take >= self.n_words:
                stop = int(np.searchsorted(reach, max_steps)) + 1
                return np.sort(order[:stop])
            take = min(self.n_words, 2 * take)
            rng = np.random.default_rng(seed)

    def __repr__(self) -> str:
        return f"Corpus(n_words={self.n_words}, n_steps={self.n_steps}, alphabet={self.alphabet})"
