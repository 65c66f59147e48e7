"""Labelled word datasets: the :class:`Dataset` object, JSONL files, and the bundled splits.

A JSONL dataset holds one JSON object per line, ``{"word": "0110", "label": true}``; a word over
an alphabet with multi-character symbols is a list of symbols (``{"word": ["(", ")"], ...}``).
Blank lines are skipped. The bundled Tomita splits live in the repository's ``datasets/``
folder (or the folder named by the ``FSM_EXTRACT_DATASETS`` environment variable).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._checks import atomic_write, check_choice, check_existing_file, check_int, check_out_path
from ..errors import (
    ArgumentTypeError,
    DataFormatError,
    MissingFileError,
    ValidationError,
)
from ..words import check_alphabet, check_ordered_words, encode_words, is_valid_text

__all__ = ["Dataset", "load", "load_jsonl", "parse_line", "bundled_names", "bundled_dir", "SPLITS", "TOMITA"]

SPLITS = ("train", "validation", "test")
TOMITA = tuple(f"tomita{i}" for i in range(1, 8))
# line breaks json.dumps(ensure_ascii=False) leaves raw, but str.splitlines() splits on
_LINE_BREAKS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}


@dataclass(frozen=True, eq=False)
class Dataset:
    """Words with labels over a fixed alphabet: acceptance (booleans) or class ids.

    Attributes
    ----------
    words : tuple of words
        Each a ``str`` (one-character symbols) or a tuple of symbols.
    labels : ndarray of shape (n_words,), dtype bool or int64
        Read-only. Booleans (acceptance; 0/1 become booleans) unless ``n_classes`` is given or a
        label is above 1: then class ids in ``[0, n_classes)``.
    alphabet : tuple of str
    n_classes : int or None
        The number of classes of class-id labels (default: the largest label + 1, when one is
        above 1); None for acceptance labels. Give it when a sample may miss the last classes.
    """

    words: tuple
    labels: np.ndarray
    alphabet: tuple
    name: str = field(default="", compare=False)
    n_classes: int | None = None

    def __post_init__(self) -> None:
        alphabet = check_alphabet(self.alphabet)
        words = _as_words(self.words)
        labels, n_classes = _checked_labels(self.labels, self.n_classes)
        object.__setattr__(self, "n_classes", n_classes)
        if labels.shape[0] != len(words):
            raise ValidationError(f"labels has {labels.shape[0]} entries but there are {len(words)} words; they must match")
        encode_words(words, alphabet)  # raises UnknownSymbolError naming the word and position
        object.__setattr__(self, "alphabet", alphabet)
        object.__setattr__(self, "words", words)
        object.__setattr__(self, "labels", labels)

    def __len__(self) -> int:
        return len(self.words)

    def __repr__(self) -> str:
        name = f"{self.name!r}, " if self.name else ""
        return (
            f"Dataset({name}n_words={len(self)}, "
            + (f"accepted={int(self.labels.sum())}, " if self.n_classes is None else f"n_classes={self.n_classes}, ")
            + 
            f"alphabet={''.join(self.alphabet) if all(len(s) == 1 for s in self.alphabet) else self.alphabet}, "
            f"lengths={self.lengths.min() if len(self) else 0}..{self.lengths.max() if len(self) else 0})"
        )

    @property
    def lengths(self) -> np.ndarray:
        """ndarray of shape (n_words,), int64: the length of each word."""
        return np.fromiter((len(w) for w in self.words), dtype=np.int64, count=len(self.words))

    def encode(self) -> tuple[np.ndarray, np.ndarray]:
        """CSR encoding ``(symbols int32 (n_steps,), offsets int64 (n_words + 1,))``."""
        return encode_words(self.words, self.alphabet)

    def subset(self, mask_or_index: Any) -> "Dataset":
        """A dataset of the selected words (boolean mask or integer index array)."""
        idx = _selection(mask_or_index, len(self))
        return Dataset(tuple(self.words[i] for i in idx), self.labels[idx], self.alphabet, name=self.name,
                       n_classes=self.n_classes)

    @property
    def output_kind(self) -> str:
        """``"accept"`` (boolean labels) or ``"classes"`` (class ids)."""
        return "accept" if self.n_classes is None else "classes"

    def check_nonempty(self, name: str = "data", *, both_classes: bool = False) -> "Dataset":
        """Raise unless the dataset has words (and, with ``both_classes``, both labels)."""
        if len(self) == 0:
            raise ValidationError(f"{name} must hold at least one word, got an empty dataset")
        if both_classes and self.n_classes is not None:
            if np.unique(self.labels).size < 2:
                raise ValidationError(f"{name} must hold at least two classes, but all {len(self)} words have class "
                                      f"{int(self.labels[0])}")
        elif both_classes:
            n_acc = int(self.labels.sum())
            if n_acc in (0, len(self)):
                only = "accepted" if n_acc else "rejected"
                raise ValidationError(
                    f"{name} must hold both accepted and rejected words, but all {len(self)} are {only}"
                )
        return self

    def to_jsonl(self, path: str | os.PathLike) -> Path:
        """Write the dataset as JSONL, atomically; returns the path."""
        path = check_out_path("path", path)
        single = all(len(s) == 1 for s in self.alphabet)
        lines = []
        for w, y in zip(self.words, self.labels):
            word = w if single else list(w)
            label = bool(y) if self.n_classes is None else int(y)
            line = json.dumps({"word": word, "label": label}, ensure_ascii=False)
            lines.append(line.translate(_LINE_BREAKS))  # any reader that splits lines reads it back
        text = "\n".join(lines) + ("\n" if lines else "")
        return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


_MAX_CLASS = 65535  # the largest class id a label may have


def _checked_labels(labels: Any, n_classes: Any) -> tuple[np.ndarray, int | None]:
    """Labels as booleans or int64 class ids (read-only copy), and their number of classes."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValidationError(f"labels must be 1-dimensional, got shape {labels.shape}")
    if n_classes is not None:
        n_classes = check_int("n_classes", n_classes, min=2, max=_MAX_CLASS + 1)
    if labels.dtype == np.bool_ and n_classes is None:
        out = labels.copy()
    else:
        if labels.size and (labels.dtype.kind not in "biu" and not (labels.dtype.kind == "f" and
                                                                   np.all(np.mod(labels, 1) == 0))):
            raise ValidationError(f"labels must be booleans or integer class ids, got dtype {labels.dtype}")
        ids = labels.astype(np.int64)
        top = int(ids.max()) if ids.size else 0
        if ids.size and ids.min() < 0:
            raise ValidationError(f"labels must be booleans or class ids >= 0, got {int(ids.min())}")
        if n_classes is None and top > 1:
            if top > _MAX_CLASS:
                raise ValidationError(f"labels must be class ids <= {_MAX_CLASS}, got {top}")
            n_classes = top + 1
        if n_classes is None:
            out = ids.astype(bool)
        else:
            if top >= n_classes:
                raise ValidationError(f"labels must be class ids in [0, n_classes={n_classes}), got {top}")
            out = ids
    out.setflags(write=False)
    return out, n_classes


def _as_words(words: Any) -> tuple:
    """``words`` as a tuple of words (``str`` or tuple of symbols), or ArgumentTypeError naming it."""
    if isinstance(words, (str, bytes, dict)) or not isinstance(words, Iterable):
        raise ArgumentTypeError(f"words={words!r} must be a sequence of words (e.g. a list of strings), got {type(words).__name__}")
    check_ordered_words(words, "words")
    out = []
    for i, w in enumerate(words):
        if isinstance(w, str):
            out.append(w)
        elif isinstance(w, Iterable) and not isinstance(w, (bytes, dict)):
            out.append(tuple(w))
        else:
            raise ArgumentTypeError(f"words[{i}]={w!r} must be a string or a sequence of symbols, got {type(w).__name__}")
    return tuple(out)


def _selection(mask_or_index: Any, n: int) -> np.ndarray:
    """Integer positions selected by a boolean mask of length ``n`` or an array of indices."""
    try:
        sel = np.asarray(mask_or_index)
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(f"mask_or_index must be a boolean mask or an integer index array: {exc}") from None
    if sel.dtype == np.bool_:
        if sel.shape != (n,):
            raise ValidationError(f"mask_or_index: a boolean mask must have shape ({n},), one entry per word, got shape {sel.shape}")
        return np.flatnonzero(sel)
    if sel.size == 0 and sel.ndim == 1:
        return np.zeros(0, dtype=np.int64)
    if sel.dtype.kind not in "iu":
        raise ArgumentTypeError(
            f"mask_or_index must be a boolean mask or an integer index array, got dtype {sel.dtype}"
        )
    if sel.ndim != 1:
        raise ValidationError(f"mask_or_index: an index array must be 1-dimensional, got shape {sel.shape}")
    bad = sel[(sel < -n) | (sel >= n)]
    if bad.size:
        raise ValidationError(f"mask_or_index: every index must be in [-{n}, {n}) for {n} words, got {int(bad[0])}")
    return np.arange(n)[sel]


def parse_line(path: Any, lineno: int, line: str, *, need_label: bool = True) -> tuple[Any, Any]:
    """The word (a str, or a tuple of symbols) and label of one JSONL line (``need_label=False``:
    the label may be missing, then None); DataFormatError naming the line."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path}:{lineno}: line must be a JSON object, but it is not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise DataFormatError(f"{path}:{lineno}: line must be a JSON object, but it is nested too deeply to read") from None
    if not isinstance(obj, dict) or "word" not in obj or (need_label and "label" not in obj):
        keys = "keys 'word' and 'label'" if need_label else "key 'word'"
        raise DataFormatError(f"{path}:{lineno}: line must be an object with {keys}, got {line.strip()[:80]!r}")
    word, label = obj["word"], obj.get("label")
    if isinstance(word, list) and all(isinstance(s, str) for s in word):
        word = tuple(word)
    elif not isinstance(word, str):
        raise DataFormatError(f"{path}:{lineno}: 'word' must be a string or a list of strings, got {word!r}")
    if isinstance(word, tuple) and not all(word):
        raise DataFormatError(f"{path}:{lineno}: 'word' must be a list of non-empty symbols, got {list(word)!r}")
    if not all(is_valid_text(s) for s in ((word,) if isinstance(word, str) else word)):
        raise DataFormatError(f"{path}:{lineno}: 'word' must be valid Unicode text, got {word!r} (a lone surrogate)")
    if isinstance(label, bool) or (label is None and not need_label):
        pass
    elif isinstance(label, int) and 0 <= label <= _MAX_CLASS:
        pass
    else:
        raise DataFormatError(f"{path}:{lineno}: 'label' must be true/false or a class id in [0, {_MAX_CLASS}], "
                              f"got {label!r}")
    return word, label


def load_jsonl(path: str | os.PathLike, *, alphabet: Any = None, name: str = "") -> Dataset:
    """Read a JSONL dataset.

    Parameters
    ----------
    path : path of the file.
    alphabet : str or sequence of str, optional
        The alphabet. If omitted, the sorted set of symbols seen in the file.

    Raises
    ------
    MissingFileError, DataFormatError (naming the line), UnknownSymbolError
    """
    path = check_existing_file("path", path)
    words: list = []
    labels: list[bool] = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"path={str(path)!r} must be UTF-8 text: {exc.reason} at byte {exc.start}") from None
    # split on "\n" only: U+2028 and friends may stand raw inside a JSON string
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        word, label = parse_line(path, lineno, line)
        words.append(word)
        labels.append(label)
    if alphabet is None:
        seen = sorted({s for w in words for s in w})
        if not seen:
            raise DataFormatError(f"path={str(path)!r} must hold at least one non-empty word to infer the alphabet; pass alphabet=")
        alphabet = tuple(seen)
    classes = any(not isinstance(y, bool) and y > 1 for y in labels)
    return Dataset(tuple(words), np.array(labels, dtype=np.int64 if classes else bool), check_alphabet(alphabet),
                   name=name or path.stem)


def bundled_dir() -> Path:
    """The folder of bundled splits and models (``FSM_EXTRACT_DATASETS`` overrides it)."""
    env = os.environ.get("FSM_EXTRACT_DATASETS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "datasets"


def bundled_names() -> tuple[str, ...]:
    """Names of the bundled languages (``tomita1`` .. ``tomita7``)."""
    return TOMITA


def load(name: str | os.PathLike, *, split: Literal["train", "validation", "test"] = "train") -> Dataset:
    """Load a bundled split (``load("tomita3", split="test")``) or a user's JSONL file.

    A path (or any name ending in ``.jsonl``) is read with :func:`load_jsonl`; ``split`` is
    then ignored.
    """
    if isinstance(name, os.PathLike) or (isinstance(name, str) and (name.endswith(".jsonl") or os.sep in name)):
        return load_jsonl(name)
    if not isinstance(name, str):
        raise ArgumentTypeError(f"name={name!r} must be a bundled dataset name or a path, got {type(name).__name__}")
    check_choice("name", name, TOMITA)
    check_choice("split", split, SPLITS)
    path = bundled_dir() / name / f"{split}.jsonl"
    if not path.exists():
        raise MissingFileError(f"name={name!r}, split={split!r}: bundled file {str(path)!r} is missing; see datasets/README.md to regenerate it")
    return load_jsonl(path, alphabet=("0", "1"), name=f"{name}/{split}")


