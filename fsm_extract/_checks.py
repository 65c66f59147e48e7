"""Boundary checks shared by every public function, and atomic file writes.

Each check raises the package's own error with a message that names the argument, the rule
and the value, so callers never see a bare ``assert`` or a NumPy traceback.
"""

from __future__ import annotations

import errno
import json
import math
import numbers
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import (
    ArgumentTypeError,
    DataFormatError,
    FsmExtractError,
    MissingFileError,
    ValidationError,
    WriteError,
)

__all__ = [
    "check_int",
    "check_float",
    "check_bool",
    "check_choice",
    "check_seed",
    "check_existing_file",
    "check_out_path",
    "check_out_dir",
    "check_finite_array",
    "atomic_write",
    "read_json",
]


def check_int(name: str, value: Any, *, min: int | None = None, max: int | None = None) -> int:
    """Return ``value`` as an ``int`` or raise; bools are not integers here."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ArgumentTypeError(f"{name}={value!r} must be an integer, got {type(value).__name__}")
    value = int(value)
    if min is not None and value < min:
        raise ValidationError(f"{name}={value} must be >= {min}")
    if max is not None and value > max:
        raise ValidationError(f"{name}={value} must be <= {max}")
    return value


def check_float(
    name: str,
    value: Any,
    *,
    min: float | None = None,
    max: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite ``float`` or raise."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ArgumentTypeError(f"{name}={value!r} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValidationError(f"{name}={value} must be finite")
    if min is not None and (value < min or (not min_inclusive and value == min)):
        raise ValidationError(f"{name}={value} must be {'>=' if min_inclusive else '>'} {min}")
    if max is not None and (value > max or (not max_inclusive and value == max)):
        raise ValidationError(f"{name}={value} must be {'<=' if max_inclusive else '<'} {max}")
    return value


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"{name}={value!r} must be True or False, got {type(value).__name__}")
    return bool(value)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValidationError(f"{name}={value!r} must be one of {options}")
    return value


def check_seed(name: str, value: Any) -> int:
    """Seeds are non-negative integers below 2**32 (what NumPy and torch both accept)."""
    return check_int(name, value, min=0, max=2**32 - 1)


def _as_path(name: str, path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentTypeError(f"{name}={path!r} must be a path (str or os.PathLike), got {type(path).__name__}")
    try:
        p = Path(path)
    except TypeError as exc:  # an os.PathLike whose __fspath__ returns something else
        raise ArgumentTypeError(f"{name}={path!r} must be a path (str or os.PathLike): {exc}") from None
    if "\x00" in str(p):
        raise ValidationError(f"{name}={str(p)!r} must not contain a NUL character")
    return p


def _name_too_long(p: Path) -> bool:
    """Whether the last component of ``p`` is longer than its file system allows."""
    try:
        limit = os.pathconf(p.parent if str(p.parent) else ".", "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        limit = 255
    return len(os.fsencode(p.name)) > limit


def check_existing_file(name: str, path: Any) -> Path:
    p = _as_path(name, path)
    try:
        exists = p.exists()
    except OSError as exc:  # ENAMETOOLONG, EACCES, ...: Path.exists only ignores "not found" errors
        if exc.errno == errno.ENAMETOOLONG:
            raise MissingFileError(f"{name}={str(p)!r} must be an existing file, but the name is too long to exist") from None
        raise ValidationError(f"{name}={str(p)!r} must be a readable file, but it cannot be checked ({exc.strerror})") from None
    if not exists:
        raise MissingFileError(f"{name}={str(p)!r} must be an existing file, but nothing is there")
    if not p.is_file():
        raise ValidationError(f"{name}={str(p)!r} must be a file, but it is a directory or special file")
    return p


_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


def _kind(mode: int) -> str:
    return next((what for test, what in _KINDS if test(mode)), "a special file")


def _write_target(name: str, p: Path) -> Path:
    """Where writing ``p`` puts the data: ``p`` itself, or the regular file a symlink at ``p``
    points to (resolved, so the link stays a link). Anything else that exists is refused."""
    try:
        mode = os.lstat(p).st_mode
    except FileNotFoundError:
        return p
    except OSError as exc:  # ENAMETOOLONG on a parent, EACCES, ENOTDIR, ...
        raise ValidationError(f"{name}={str(p)!r} must be a writable file path ({exc.strerror})") from None
    if stat.S_ISREG(mode):
        return p
    if stat.S_ISDIR(mode):
        raise ValidationError(f"{name}={str(p)!r} must be a file path, but it is a directory")
    if not stat.S_ISLNK(mode):
        raise ValidationError(f"{name}={str(p)!r} is {_kind(mode)}, not a regular file; outputs never replace one")
    target = Path(os.path.realpath(p))
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        raise ValidationError(f"{name}={str(p)!r} is a symlink to {str(target)!r}, which does not exist; "
                              "outputs follow a symlink only to a regular file") from None
    except OSError as exc:
        raise ValidationError(f"{name}={str(p)!r} is a symlink that cannot be followed ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise ValidationError(f"{name}={str(p)!r} is a symlink to {_kind(mode)} {str(target)!r}, not to a regular "
                              "file; outputs never replace one")
    return target


def check_out_path(name: str, path: Any, *, suffixes: Iterable[str] | None = None) -> Path:
    """Check an output path before any work: a str/PathLike in an existing, writable folder.

    Only a regular file is ever replaced: a FIFO, device, socket or directory at ``path`` is
    refused. A symlink to a regular file is followed (writing replaces the file it points to,
    atomically, and the link stays a link); a dangling symlink or one to anything else is
    refused. The folder the file is written in (the target's, for a symlink) must be writable.
    """
    p = _as_path(name, path)
    if str(p) in ("", "."):
        raise ValidationError(f"{name}={str(path)!r} must name a file")
    if _name_too_long(p):
        raise ValidationError(f"{name}={str(p)!r} must have a file name the file system allows, but it is too long")
    target = _write_target(name, p)
    if suffixes is not None:
        suffixes = tuple(suffixes)
        if p.suffix.lower() not in suffixes:
            raise ValidationError(
                f"{name}={str(p)!r} must end in one of {', '.join(suffixes)}, got suffix {p.suffix!r}"
            )
    parent = p.parent if str(p.parent) else Path(".")
    try:
        parent_ok = parent.is_dir()
    except OSError as exc:
        raise ValidationError(f"{name}={str(p)!r} must be a writable file path ({exc.strerror})") from None
    if not parent_ok:
        raise MissingFileError(f"{name}={str(p)!r}: its directory {str(parent)!r} does not exist")
    folder = target.parent if str(target.parent) else Path(".")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValidationError(f"{name}={str(p)!r} cannot be written: its folder {str(folder)!r} is not writable")
    return p


def check_out_dir(name: str, path: Any, *, files: Iterable[str] = ()) -> Path:
    """Check an output folder: existing, or creatable (its nearest existing ancestor is a
    writable folder); ``files`` that the command writes in it are checked as by
    :func:`check_out_path`."""
    p = _as_path(name, path)
    if str(path) == "":
        raise ValidationError(f"{name}={str(path)!r} must name a folder")
    for folder in (p, *p.parents):
        try:
            exists, is_dir = folder.exists(), folder.is_dir()
        except OSError as exc:  # ENAMETOOLONG, EACCES, ...
            raise ValidationError(f"{name}={str(p)!r} must be a folder that can be created ({exc.strerror})") from None
        if exists and not is_dir:
            what = "it is a file" if folder == p else f"{str(folder)!r} is a file"
            raise ValidationError(f"{name}={str(p)!r} must be a folder, but {what}")
        if exists:
            if not os.access(folder, os.W_OK | os.X_OK):
                raise ValidationError(f"{name}={str(p)!r} cannot be written: the folder {str(folder)!r} is not writable")
            break
    if p.is_dir():
        for file in files:
            check_out_path(name, p / file)
    return p


def check_finite_array(name: str, value: Any, *, ndim: int | None = None, dtype: Any = None) -> np.ndarray:
    """Convert to an array, check its dimensionality and that every value is finite."""
    try:
        arr = np.asarray(value) if dtype is None else np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(f"{name} must be array-like of numbers: {exc}") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValidationError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise ArgumentTypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise ValidationError(f"{name} must be finite, but {bad} value(s) are NaN or infinite")
    return arr


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None], *, name: str = "path") -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it into place.

    ``path`` is checked again as by :func:`check_out_path` (only a regular file is replaced; a
    symlink to one is followed, so the file it points to is replaced and the link stays). If
    ``write`` or the rename fails, the temporary file is removed and ``path`` is left as it was,
    so a failed command never leaves a half-written output behind; an OSError (disk full,
    permission denied, ...) becomes one :class:`~fsm_extract.errors.WriteError` naming ``name``
    and the path. A path whose temporary file cannot be created (NUL byte, name too long, no
    such folder) raises ValidationError naming ``name``.
    """
    path = check_out_path(name, path)
    target = _write_target(name, path)
    try:  # a short prefix (<= 128 bytes): the temporary name fits in any folder ``path`` does
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:32]}.", suffix=".tmp", dir=target.parent or ".")
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValidationError(f"{name}={str(path)!r} cannot be written: no temporary file beside it ({reason})") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, target)
    except BaseException as exc:
        tmp_path.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, FsmExtractError):
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise WriteError(f"{name}={str(path)!r} could not be written ({reason}); any old file there is unchanged",
                             exc.errno) from None
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str, *, name: str = "path") -> Path:
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"), name=name)


__all__.append("atomic_write_text")


def read_json(path: str | os.PathLike) -> Any:
    """The JSON value in the UTF-8 file at ``path``; MissingFileError or DataFormatError (naming the
    path) otherwise."""
    p = check_existing_file("path", path)
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"path={str(p)!r} must be UTF-8 JSON: {exc.reason} at byte {exc.start}") from None
    except OSError as exc:
        raise DataFormatError(f"path={str(p)!r} could not be read: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"path={str(p)!r} must hold JSON, but it is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:
        raise DataFormatError(f"path={str(p)!r} must hold JSON, but it could not be parsed ({exc})") from None
