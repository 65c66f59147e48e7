"""Alphabets and words.

An alphabet is a tuple of distinct non-empty string symbols. A word is a ``str`` whose
characters are symbols (when every symbol is one character), or any sequence of symbols.
Words are encoded as CSR arrays: ``symbols`` (n_steps,) int32 and ``offsets`` (n_words + 1,)
int64, the layout every later stage uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Union

import numpy as np

from .errors import ArgumentTypeError, UnknownSymbolError, ValidationError

__all__ = ["Word", "Alphabet", "check_ordered_words", "check_alphabet", "is_valid_text", "encode_word", "encode_words", "decode_word", "format_word", "word_keys", "words_digest", "encode_ids", "word_hash_sum", "stream_digest", "STREAM_DIGEST"]

Word = Union[str, Sequence[str]]
Alphabet = tuple  # tuple[str, ...]


def check_alphabet(alphabet: Any, *, name: str = "alphabet") -> tuple[str, ...]:
    """Normalise an alphabet to a tuple of distinct non-empty strings.

    A ``str`` is read as one symbol per character (``"01"`` -> ``("0", "1")``).
    """
    if isinstance(alphabet, str):
        symbols = tuple(alphabet)
    elif isinstance(alphabet, Iterable) and not isinstance(alphabet, (bytes, dict)):
        symbols = tuple(alphabet)
    else:
        raise ArgumentTypeError(
            f"{name}={alphabet!r} must be a string of symbols or a sequence of symbol strings, "
            f"got {type(alphabet).__name__}"
        )
    if not symbols:
        raise ValidationError(f"{name}={alphabet!r} must hold at least one symbol")
    for s in symbols:
        if not isinstance(s, str) or not s:
            raise ArgumentTypeError(f"{name}={alphabet!r}: every symbol must be a non-empty string, got {s!r}")
        if not is_valid_text(s):
            raise ValidationError(f"{name}={alphabet!r}: every symbol must be valid Unicode text, but {s!r} holds a lone surrogate")
    if len(set(symbols)) != len(symbols):
        dup = sorted({s for s in symbols if symbols.count(s) > 1})
        raise ValidationError(f"{name}={alphabet!r} must have distinct symbols, repeated: {dup}")
    return symbols


def is_valid_text(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (holds no lone surrogate such as ``"\\ud800"``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _single_char(alphabet: tuple[str, ...]) -> bool:
    return all(len(s) == 1 for s in alphabet)


def encode_word(word: Any, alphabet: tuple[str, ...], *, name: str = "word") -> np.ndarray:
    """Encode one word as an int32 array of symbol indices."""
    index = {s: i for i, s in enumerate(alphabet)}
    if isinstance(word, str):
        if not _single_char(alphabet) and word:
            # multi-character symbols: a str is only valid when it is a single symbol
            items: Sequence[Any] = (word,) if word in index else tuple(word)
        else:
            items = word
    elif isinstance(word, Iterable) and not isinstance(word, (bytes, dict)):
        items = tuple(word)
    else:
        raise ArgumentTypeError(f"{name}={word!r} must be a string or a sequence of symbols, got {type(word).__name__}")
    out = np.empty(len(items), dtype=np.int32)
    for i, s in enumerate(items):
        j = index.get(s) if isinstance(s, str) else None
        if j is None:
            raise UnknownSymbolError(
                f"{name}={format_word(word)!r} holds symbol {s!r} at position {i}, "
                f"which must be in the alphabet {list(alphabet)}"
            )
        out[i] = j
    return out


def check_ordered_words(words: Any, name: str) -> None:
    """Refuse a ``set`` (or ``frozenset``, or any other :class:`collections.abc.Set`) of words.

    A set has no order of its own: Python iterates a set of strings in an order that changes
    with ``PYTHONHASHSEED``, so the trace, the k-means subsample and finally the automaton would
    change from one process to the next with the same seed. Every public function that takes
    words refuses one (ArgumentTypeError naming the argument) rather than sorting it silently:
    ``sorted(words)`` says what order is meant. (``fit_data`` of :func:`fsm_extract.analysis.fidelity`
    is only used for membership, so a set is fine there.)
    """
    if isinstance(words, AbstractSet):
        raise ArgumentTypeError(
            f"{name} must be an ordered sequence of words, got a {type(words).__name__}: a set's order changes "
            f"with PYTHONHASHSEED, and so would the result; pass sorted({name}) or a list"
        )


def encode_words(words: Any, alphabet: tuple[str, ...], *, name: str = "words") -> tuple[np.ndarray, np.ndarray]:
    """Encode words as CSR arrays ``(symbols int32 (n_steps,), offsets int64 (n_words + 1,))``.

    A set of words is refused (:func:`check_ordered_words`)."""
    if isinstance(words, (str, bytes)) or not isinstance(words, Iterable):
        raise ArgumentTypeError(
            f"{name} must be a sequence of words (e.g. a list of strings), got {type(words).__name__}"
        )
    check_ordered_words(words, name)
    if _single_char(alphabet):
        # Fast path: a lookup table over code points.
        lut = np.full(0x110000 if max(map(ord, alphabet)) > 0xFFFF else 0x10000, -1, dtype=np.int32)
        for i, s in enumerate(alphabet):
            lut[ord(s)] = i
    else:
        lut = None
    if lut is not None and isinstance(words, (list, tuple)) and all(type(w) is str for w in words):
        # Fastest path: every word a str, all encoded at once (no loop per word unless one fails)
        cps = np.frombuffer("".join(words).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        if not cps.size or int(cps.max()) < lut.size:
            enc = lut[cps]
            if not (enc < 0).any():
                offsets = np.zeros(len(words) + 1, dtype=np.int64)
                np.cumsum(np.fromiter(map(len, words), dtype=np.int64, count=len(words)), out=offsets[1:])
                return enc.astype(np.int32, copy=False), offsets
    parts: list[np.ndarray] = []
    lengths: list[int] = []
    for k, w in enumerate(words):
        if lut is not None and isinstance(w, str):
            # surrogatepass: a lone surrogate becomes its code point, an unknown symbol below
            cps = np.frombuffer(w.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            if cps.size and int(cps.max()) >= lut.size:
                enc = encode_word(w, alphabet, name=f"{name}[{k}]")
            else:
                enc = lut[cps]
                if cps.size and (enc < 0).any():
                    enc = encode_word(w, alphabet, name=f"{name}[{k}]")  # raises with the position
        else:
            enc = encode_word(w, alphabet, name=f"{name}[{k}]")
        parts.append(enc)
        lengths.append(enc.size)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    if lengths:
        np.cumsum(lengths, out=offsets[1:])
    symbols = np.concatenate(parts).astype(np.int32, copy=False) if parts else np.zeros(0, dtype=np.int32)
    return symbols, offsets


def decode_word(ids: Iterable[int], alphabet: tuple[str, ...]) -> Word:
    """Turn symbol indices back into a word: a ``str`` for one-character alphabets, else a tuple."""
    symbols = [alphabet[int(i)] for i in ids]
    return "".join(symbols) if _single_char(alphabet) else tuple(symbols)


def format_word(word: Any) -> str:
    """A readable form of a word for messages and tables (``ε`` for the empty word)."""
    if isinstance(word, str):
        return word if word else "ε"
    try:
        items = list(word)
    except TypeError:
        return repr(word)
    if not items:
        return "ε"
    return " ".join(map(str, items)) if any(len(str(s)) != 1 for s in items) else "".join(map(str, items))


def word_keys(words: Iterable[Any], name: str) -> list:
    """Each word as a hashable key (a str, or a tuple of str symbols); ArgumentTypeError naming ``name``
    for anything else."""
    keys = []
    for i, w in enumerate(words):
        if not isinstance(w, str):
            if not isinstance(w, Iterable) or isinstance(w, (bytes, dict)):
                raise ArgumentTypeError(f"{name}[{i}]={w!r} must be a string or a sequence of symbols, got {type(w).__name__}")
            w = tuple(w)
            for s in w:
                if not isinstance(s, str):
                    raise ArgumentTypeError(f"{name}[{i}]={w!r} must hold string symbols, got {s!r} ({type(s).__name__})")
        keys.append(w)
    return keys


def encode_ids(words: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """CSR arrays of words already given as lists of symbol ids (no alphabet check)."""
    offsets = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum([len(w) for w in words], out=offsets[1:])
    symbols = np.fromiter((a for w in words for a in w), dtype=np.int32, count=int(offsets[-1]))
    return symbols, offsets


#: The prefix of :func:`stream_digest`'s fingerprints.
STREAM_DIGEST = "multiset-blake2b:"


def word_hash_sum(symbols: np.ndarray, offsets: np.ndarray) -> int:
    """The sum of the 128-bit BLAKE2b hashes of the encoded words (CSR ``symbols`` int32 and
    ``offsets``): sums of two parts add up to the sum of the whole, in any order."""
    import hashlib

    data = np.ascontiguousarray(symbols, dtype=np.int32)
    total = 0
    for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist()):
        total += int.from_bytes(hashlib.blake2b(data[a:b].tobytes(), digest_size=16).digest(), "little")
    return total


def stream_digest(hash_sum: int, n_words: int) -> str:
    """An order-independent fingerprint of a multiset of words, from :func:`word_hash_sum` over
    all of them (which a corpus read chunk by chunk adds up as it goes)."""
    return f"{STREAM_DIGEST}{n_words}:{hash_sum % 2**128:032x}"


def words_digest(words: Iterable[Any]) -> str:
    """An order-independent SHA-256 of a collection of words (a multiset fingerprint).

    Used to recognise, later, that data is exactly the data an automaton was fitted on."""
    import hashlib

    keys = sorted("\x1e".join(w) if not isinstance(w, str) else w for w in words)
    h = hashlib.sha256()
    for k in keys:
        h.update(k.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()
