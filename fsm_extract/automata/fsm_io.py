"""Data conversion for :class:`~fsm_extract.automata.automaton.ExtractedFSM`: the array and metadata
checks its constructor uses, and JSON (de)serialisation.

Schema ``fsm-extract/fsm`` version 2, a JSON object with exactly these keys::

    format             "fsm-extract/fsm"
    version            2 (version-1 files, without the last two keys, still load)
    alphabet           list of str
    initial            int
    transitions        list of n_states lists of n_symbols ints
    accepting          list of n_states bools (null unless output_kind is "accept")
    transition_counts  sparse: list of [q, a, q2, count] for each nonzero count
    output_counts      list of n_states lists of n_outputs ints ([reject, accept] for an acceptor)
    completed          list of [q, a] pairs
    centroids          list of n_states lists of d numbers, or null
    cluster_map        list of ints, or null
    cluster_centroids  list of n_clusters lists of d numbers, or null (optional key in version 1)
    metadata           object
    abstraction        {"state": "h" or "hc", "features": {...} or null}, or null
                       (version 1: read from the metadata keys "state" and "features")
    output_kind        "accept", "classes" or "next-symbol" (the kind of outputs the states give)
    classes            list of n_states ints, the class of each state, or null (an acceptor's
                       are its accepting flags) (optional key)
    output_probs       list of n_states lists of the mean class probabilities the net gave in
                       each state (next-symbol: over each symbol, end-of-word last), or null
                       (optional key)
    codebook           next-symbol only: list of n_outputs next-symbol distributions, the output
                       classes of the net's steps (nearest row), or null (optional key)

Reading never raises anything but DataFormatError (MissingFileError for a missing file).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import check_int, read_json
from .._limits import MAX_FSM_STATES, check_fsm_size, fsm_table_cells
from ..errors import ArgumentTypeError, DataFormatError, ValidationError
from ..words import check_alphabet
from .state_map import StateAbstraction

if TYPE_CHECKING:  # pragma: no cover
    from .automaton import ExtractedFSM

__all__ = [
    "FORMAT", "VERSION", "as_int_array", "as_bool_array", "check_shape", "check_range", "freeze_metadata",
    "check_total", "checked_fields", "fsm_to_dict", "fsm_from_dict", "dumps", "read_json",
]

FORMAT = "fsm-extract/fsm"
VERSION = 2
_KEYS_V1 = ("format", "version", "alphabet", "initial", "transitions", "accepting", "transition_counts",
            "output_counts", "completed", "centroids", "cluster_map", "metadata")
_KEYS = _KEYS_V1 + ("cluster_centroids", "abstraction", "output_kind")
_OPTIONAL_KEYS_V1 = ("cluster_centroids",)
_OPTIONAL_KEYS = ("classes", "output_probs", "codebook")
OUTPUT_KINDS = ("accept", "classes", "next-symbol")


# ----------------------------------------------------------------------------- checks used on construction
def as_int_array(name: str, value: Any, shape: tuple[int | None, ...], *, min: int | None = None) -> np.ndarray:
    """A copy of ``value`` as a read-only int64 array of ``shape`` (None = any length)."""
    try:
        arr = np.array(value)
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(f"{name} must be an array of integers: {exc}") from None
    if arr.dtype.kind == "f" and (arr.size == 0 or (np.isfinite(arr).all() and (arr == np.round(arr)).all())):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise ArgumentTypeError(f"{name} must be an array of integers, got dtype {arr.dtype}")
    check_shape(name, arr, shape)
    arr = arr.astype(np.int64, copy=False)  # np.array above already copied
    if min is not None and arr.size and arr.min() < min:
        idx = tuple(int(i) for i in np.argwhere(arr < min)[0])
        raise ValidationError(f"{name}{list(idx)}={int(arr[idx])} must be >= {min}")
    arr.setflags(write=False)
    return arr


def as_bool_array(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    try:
        arr = np.array(value)
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(f"{name} must be an array of booleans: {exc}") from None
    if arr.dtype != np.bool_:
        if arr.dtype.kind not in "iuf" or not np.isin(arr, (0, 1)).all():
            raise ArgumentTypeError(f"{name} must be an array of booleans (or 0/1), got dtype {arr.dtype}")
        arr = arr.astype(bool)
    check_shape(name, arr, shape)
    arr.setflags(write=False)
    return arr


def check_shape(name: str, arr: np.ndarray, shape: tuple[int | None, ...]) -> None:
    ok = arr.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, arr.shape))
    if not ok:
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise ValidationError(f"{name} must have shape {want}, got shape {arr.shape}")


def check_range(name: str, arr: np.ndarray, low: int, high: int) -> None:
    bad = (arr < low) | (arr >= high)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValidationError(f"{name}{list(idx)}={int(arr[idx])} must be in [{low}, {high})")


_INT64_MAX = 2**63 - 1


def check_total(name: str, arr: np.ndarray) -> None:
    """Refuse non-negative int64 counts whose sum does not fit in int64 (their supports and
    totals would wrap to negative numbers)."""
    if arr.size and float(arr.sum(dtype=np.float64)) >= 2.0**62:  # near the edge: sum exactly
        total = sum(int(x) for x in arr[arr > 0].tolist())
        if total > _INT64_MAX:
            raise ValidationError(f"{name} must sum to at most 2**63 - 1 (they are int64), but they sum to {total}")


def _float_array(name: str, value: Any, shape: tuple[int | None, ...]) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(f"{name} must be an array of numbers: {exc}") from None
    check_shape(name, arr, shape)
    if not np.isfinite(arr).all():
        raise ValidationError(f"{name} must be finite, but {int((~np.isfinite(arr)).sum())} value(s) are not")
    arr.setflags(write=False)
    return arr


def checked_fields(fsm: ExtractedFSM) -> dict[str, Any]:
    """The fields of ``fsm`` checked and normalised (what :class:`ExtractedFSM` stores).

    ``transition_counts=None`` allocates a dense zero table, so its size is checked first
    against the default state limit (:data:`~fsm_extract._limits.MAX_FSM_STATES`)."""
    alphabet = check_alphabet(fsm.alphabet)
    k = len(alphabet)
    transitions = as_int_array("transitions", fsm.transitions, (None, k))
    n = transitions.shape[0]
    if n < 1:
        raise ValidationError("transitions must have at least one state (row), got 0")
    check_range("transitions", transitions, 0, n)
    initial = check_int("initial", fsm.initial, min=0, max=n - 1)
    kind, accepting, classes, output_probs, codebook, n_out = _outputs(fsm, n, k)
    if fsm.transition_counts is None and n * k * n > fsm_table_cells(MAX_FSM_STATES):
        raise ValidationError(
            f"transition_counts=None makes a dense table of zeros of {n} x {k} x {n} = {n * k * n:,} counts "
            f"({n * k * n * 8 / 2**30:,.1f} GiB), which must be <= {fsm_table_cells(MAX_FSM_STATES):,} (what "
            f"{MAX_FSM_STATES} states need on 2 symbols); pass transition_counts explicitly to build a larger automaton"
        )
    counts = np.zeros((n, k, n), np.int64) if fsm.transition_counts is None else fsm.transition_counts
    counts = as_int_array("transition_counts", counts, (n, k, n), min=0)
    check_total("transition_counts", counts)
    outputs = np.zeros((n, n_out), np.int64) if fsm.output_counts is None else fsm.output_counts
    outputs = as_int_array("output_counts", outputs, (n, n_out), min=0)
    check_total("output_counts", outputs)
    completed = np.zeros((n, k), bool) if fsm.completed is None else fsm.completed
    completed = as_bool_array("completed", completed, (n, k))
    observed = completed & (counts.sum(-1) > 0)
    if observed.any():
        q, a = (int(i) for i in np.argwhere(observed)[0])
        raise ValidationError(
            f"completed[{q}, {a}]=True must mean the pair was never observed, but "
            f"transition_counts[{q}, {a}] sums to {int(counts[q, a].sum())}"
        )
    centroids = None if fsm.centroids is None else _float_array("centroids", fsm.centroids, (n, None))
    cluster_map = fsm.cluster_map
    if cluster_map is not None:
        cluster_map = as_int_array("cluster_map", cluster_map, (None,))
        check_range("cluster_map", cluster_map, -1, n)
    cluster_centroids = fsm.cluster_centroids
    if cluster_centroids is not None:
        if cluster_map is None:
            raise ValidationError("cluster_centroids needs cluster_map (which state each cluster became), got cluster_map=None")
        cluster_centroids = _float_array("cluster_centroids", cluster_centroids, (cluster_map.shape[0], None))
    return {
        "alphabet": alphabet, "transitions": transitions, "initial": initial, "accepting": accepting,
        "transition_counts": counts, "output_counts": outputs, "completed": completed, "centroids": centroids,
        "cluster_map": cluster_map, "metadata": freeze_metadata(fsm.metadata), "cluster_centroids": cluster_centroids,
        "abstraction": _abstraction(fsm.abstraction), "output_kind": kind, "classes": classes,
        "output_probs": output_probs, "codebook": codebook,
    }


def _distributions(name: str, value: Any, shape: tuple[int | None, ...]) -> np.ndarray:
    arr = _float_array(name, value, shape)
    if arr.size and (arr.min() < 0 or np.abs(arr.sum(1) - 1.0).max() > 1e-3):
        raise ValidationError(f"{name} must hold probability distributions (rows >= 0 summing to 1)")
    return arr


def _outputs(fsm: ExtractedFSM, n: int, k: int) -> tuple:
    """The checked output fields: (output_kind, accepting, classes, output_probs, codebook,
    n_outputs: the width of output_counts)."""
    kind = fsm.output_kind
    if kind not in OUTPUT_KINDS:
        raise ValidationError(f"output_kind={kind!r} must be one of {list(OUTPUT_KINDS)}")
    if kind == "accept":
        accepting = as_bool_array("accepting", fsm.accepting, (n,))
        if fsm.codebook is not None:
            raise ValidationError("codebook must be None unless output_kind='next-symbol'")
        classes = accepting.astype(np.int64)
        classes.setflags(write=False)
        probs = None if fsm.output_probs is None else _distributions("output_probs", fsm.output_probs, (n, 2))
        return kind, accepting, classes, probs, None, 2
    if fsm.accepting is not None:
        raise ValidationError(f"accepting must be None for output_kind={kind!r} (the states carry classes=)")
    if fsm.classes is None:
        raise ValidationError(f"classes=None, but output_kind={kind!r} needs the class of each state")
    classes = as_int_array("classes", fsm.classes, (n,), min=0)
    if kind == "classes":
        codebook = None
        if fsm.codebook is not None:
            raise ValidationError("codebook must be None unless output_kind='next-symbol'")
        counts_shape, probs_shape = np.shape(fsm.output_counts), np.shape(fsm.output_probs)
        width = (counts_shape[1] if fsm.output_counts is not None and len(counts_shape) == 2
                 else probs_shape[1] if fsm.output_probs is not None and len(probs_shape) == 2
                 else max(2, int(classes.max()) + 1))
        probs = None if fsm.output_probs is None else _distributions("output_probs", fsm.output_probs, (n, width))
        n_out = width
    else:
        if fsm.codebook is None or fsm.output_probs is None:
            raise ValidationError("output_kind='next-symbol' needs codebook= (the output classes) and output_probs= "
                                  "(each state's next-symbol distribution)")
        codebook = _distributions("codebook", fsm.codebook, (None, k + 1))
        probs = _distributions("output_probs", fsm.output_probs, (n, k + 1))
        n_out = codebook.shape[0]
    check_range("classes", classes, 0, n_out)
    return kind, None, classes, probs, codebook, n_out


def _abstraction(value: Any) -> StateAbstraction | None:
    if value is not None and not isinstance(value, StateAbstraction):
        raise ArgumentTypeError(f"abstraction must be a StateAbstraction or None, got {type(value).__name__}")
    return value


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def freeze_metadata(metadata: Any) -> Mapping[str, Any]:
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, Mapping):
        raise ArgumentTypeError(f"metadata={metadata!r} must be a dict, got {type(metadata).__name__}")
    for key in metadata:
        if not isinstance(key, str):
            raise ArgumentTypeError(f"metadata keys must be strings, got {key!r}")
    depth = _depth(metadata, _MAX_DEPTH)
    if depth > _MAX_DEPTH:
        raise ValidationError(f"metadata must be nested at most {_MAX_DEPTH} levels deep, but it is nested deeper")
    try:
        text = json.dumps(dict(metadata), allow_nan=False, default=_json_default, ensure_ascii=False)
        text.encode("utf-8")  # a lone surrogate could not be saved
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(f"metadata must hold only JSON-serialisable, finite values and valid text: {exc}") from None
    return MappingProxyType(json.loads(text))


_MAX_DEPTH = 64  # metadata nesting; far below any recursion limit of json, copy or repr


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of dicts, lists and tuples in ``value``, counted without recursion and
    only up to ``limit + 1``."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (Mapping, list, tuple)):
            d += 1
            deepest = max(deepest, d)
            if d > limit:
                return d
            stack.extend((x, d) for x in (v.values() if isinstance(v, Mapping) else v))
    return deepest


# ----------------------------------------------------------------------------- JSON
def fsm_to_dict(fsm: ExtractedFSM) -> dict[str, Any]:
    """The JSON-ready dict (an acceptor without output distributions leaves out the optional
    keys, so older readers read it)."""
    nz = np.argwhere(fsm.transition_counts > 0)
    sparse = np.column_stack([nz, fsm.transition_counts[tuple(nz.T)]]) if nz.size else np.zeros((0, 4), np.int64)
    out = {
        "format": FORMAT,
        "version": VERSION,
        "alphabet": list(fsm.alphabet),
        "initial": fsm.initial,
        "transitions": fsm.transitions.tolist(),
        "accepting": None if fsm.accepting is None else fsm.accepting.tolist(),
        "transition_counts": sparse.tolist(),
        "output_counts": fsm.output_counts.tolist(),
        "completed": np.argwhere(fsm.completed).tolist(),
        "centroids": None if fsm.centroids is None else fsm.centroids.tolist(),
        "cluster_map": None if fsm.cluster_map is None else fsm.cluster_map.tolist(),
        "metadata": copy.deepcopy(dict(fsm.metadata)),
        "cluster_centroids": None if fsm.cluster_centroids is None else fsm.cluster_centroids.tolist(),
        "abstraction": None if fsm.abstraction is None else fsm.abstraction.to_dict(),
        "output_kind": fsm.output_kind,
        "classes": None if fsm.output_kind == "accept" else fsm.classes.tolist(),
        "output_probs": None if fsm.output_probs is None else fsm.output_probs.tolist(),
        "codebook": None if fsm.codebook is None else fsm.codebook.tolist(),
    }
    return {k: v for k, v in out.items() if v is not None or k not in _OPTIONAL_KEYS}


def dumps(data: dict[str, Any]) -> str:
    """One top-level key per line, each value compact: readable and small."""
    lines = [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False, allow_nan=False)}" for k, v in data.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _nested(value: Any, name: str, ndim: int, leaf: Any, what: str) -> list:
    """Check ``value`` is a rectangular ``ndim``-deep list whose leaves pass ``leaf``."""
    def walk(v: Any, depth: int, path: str) -> int | None:
        if depth == ndim:
            if not leaf(v):
                raise DataFormatError(f"{name}{path} must be {what}, got {v!r}"[:300])
            return None
        if not isinstance(v, list):
            raise DataFormatError(f"{name}{path} must be a list, got {type(v).__name__}")
        widths = {walk(x, depth + 1, f"{path}[{i}]") for i, x in enumerate(v)}
        if len(widths) > 1:
            raise DataFormatError(f"{name}{path} must be a rectangular (non-ragged) list, got rows of lengths {sorted(widths)}")
        return len(v) if depth + 1 == ndim else (len(v), *widths)  # type: ignore[return-value]

    walk(value, 0, "")
    return value


def _array(value: Any, name: str, ndim: int, leaf: Any, what: str, dtype: Any, width: int = 0) -> np.ndarray:
    _nested(value, name, ndim, leaf, what)
    try:
        arr = np.array(value, dtype=dtype)
    except (OverflowError, ValueError, TypeError) as exc:
        raise DataFormatError(f"{name} holds values out of range: {exc}") from None
    if ndim == 2 and arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, width)
    return arr


def fsm_from_dict(cls: type[ExtractedFSM], data: Any, *, where: str = "", max_states: int = MAX_FSM_STATES) -> ExtractedFSM:
    """Validate and convert; every problem is a DataFormatError prefixed with ``where``.

    The number of states and the dense evidence table they need are checked against
    ``max_states`` (see :func:`~fsm_extract._limits.check_fsm_size`) before the table is built."""
    max_states = check_int("max_states", max_states, min=1)
    try:
        return _from_dict(cls, data, max_states)
    except DataFormatError as exc:
        raise DataFormatError(f"{where}{exc}") from None


def _from_dict(cls: type[ExtractedFSM], data: Any, max_states: int) -> ExtractedFSM:
    if not isinstance(data, dict):
        raise DataFormatError(f"an FSM must be a JSON object with format {FORMAT!r}, got {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise DataFormatError(f"format={data.get('format')!r} must be {FORMAT!r}; this is not an fsm-extract FSM")
    version = data.get("version")
    if version not in (1, VERSION) or not _is_int(version):
        newer = " (written by a newer fsm_extract? upgrade it)" if _is_int(version) and version > VERSION else ""
        raise DataFormatError(f"version={version!r} is not supported: found version {version!r}, but this fsm_extract reads only versions 1 and {VERSION}{newer}")
    keys, optional = (_KEYS_V1, _OPTIONAL_KEYS_V1) if version == 1 else (_KEYS, _OPTIONAL_KEYS)
    missing = [k for k in keys if k not in data]
    extra = sorted(k for k in data if k not in keys + optional)
    if missing or extra:
        raise DataFormatError(f"an FSM object must have exactly the keys {list(keys)}; missing {missing}, unexpected {extra}")
    alphabet = data["alphabet"]
    if not isinstance(alphabet, list) or not all(isinstance(s, str) for s in alphabet):
        raise DataFormatError(f"alphabet must be a list of strings, got {alphabet!r}"[:300])
    if not _is_int(data["initial"]):
        raise DataFormatError(f"initial must be an integer, got {data['initial']!r}"[:300])
    k = len(alphabet)
    ints = (_is_int, "an integer")
    transitions = _array(data["transitions"], "transitions", 2, *ints, np.int64, k)
    n = transitions.shape[0]
    check_fsm_size(n, k, max_states, what="transitions", exc=DataFormatError)
    kind = data.get("output_kind", "accept")
    if kind not in OUTPUT_KINDS:
        raise DataFormatError(f"output_kind={kind!r} must be one of {list(OUTPUT_KINDS)}"[:300])
    accepting = None if data["accepting"] is None and kind != "accept" else \
        _array(data["accepting"], "accepting", 1, lambda x: isinstance(x, bool), "true or false", bool)
    sparse = _array(data["transition_counts"], "transition_counts", 2, *ints, np.int64, 4)
    if sparse.shape[1] != 4:
        raise DataFormatError(f"transition_counts must be a list of [q, a, q2, count] entries, got entries of length {sparse.shape[1]}")
    for col, (label, high) in enumerate([("q", n), ("a", k), ("q2", n), ("count", None)]):
        vals = sparse[:, col]
        bad = (vals < (1 if label == "count" else 0)) | (False if high is None else vals >= high)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            rule = "a positive count" if high is None else f"in [0, {high})"
            raise DataFormatError(f"transition_counts[{i}]: {label}={int(vals[i])} must be {rule}")
    counts = np.zeros((n, k, n), np.int64)
    if len(sparse):
        flat = np.ravel_multi_index(tuple(sparse[:, :3].T), counts.shape)
        if np.unique(flat).size != flat.size:
            raise DataFormatError("transition_counts must list each (q, a, q2) at most once, but some appear twice")
        counts.ravel()[flat] = sparse[:, 3]
    outputs = _array(data["output_counts"], "output_counts", 2, *ints, np.int64, 2)
    classes = None if data.get("classes") is None else _array(data["classes"], "classes", 1, *ints, np.int64)
    pairs = _array(data["completed"], "completed", 2, *ints, np.int64, 2)
    if pairs.shape[1] != 2:
        raise DataFormatError(f"completed must be a list of [q, a] pairs, got entries of length {pairs.shape[1]}")
    bad = (pairs < 0) | (pairs >= np.array([n, k]))
    if bad.any():
        i = int(np.argwhere(bad)[0, 0])
        raise DataFormatError(f"completed[{i}]={pairs[i].tolist()} must be a pair [q, a] with q in [0, {n}) and a in [0, {k})")
    completed = np.zeros((n, k), bool)
    completed[tuple(pairs.T)] = True
    number = (lambda x: isinstance(x, (int, float)) and not isinstance(x, bool), "a number")
    centroids = None if data["centroids"] is None else _array(data["centroids"], "centroids", 2, *number, np.float64)
    cluster_map = None if data["cluster_map"] is None else _array(data["cluster_map"], "cluster_map", 1, *ints, np.int64)
    cc = data.get("cluster_centroids")
    cluster_centroids = None if cc is None else _array(cc, "cluster_centroids", 2, *number, np.float64)
    extra_arrays = {key: None if data.get(key) is None else _array(data[key], key, 2, *number, np.float64)
                    for key in ("output_probs", "codebook")}
    if not isinstance(data["metadata"], dict):
        raise DataFormatError(f"metadata must be a JSON object, got {type(data['metadata']).__name__}")
    if version == 1:  # the abstraction was described by metadata keys
        meta = data["metadata"]
        raw = {"state": meta.get("state", "h"), "features": meta.get("features")} if cluster_centroids is not None else None
    else:
        raw = data["abstraction"]
    abstraction = None if raw is None else StateAbstraction.from_dict(raw)
    try:
        return cls(tuple(alphabet), transitions, accepting, data["initial"], counts, outputs, completed,
                   centroids, cluster_map, data["metadata"], cluster_centroids, abstraction, output_kind=kind,
                   classes=classes, **extra_arrays)
    except (ValidationError, ArgumentTypeError) as exc:
        raise DataFormatError(f"does not describe a valid FSM: {exc}") from None
