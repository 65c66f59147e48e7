"""Recurrent classifiers: the toolkit's own :class:`RNNClassifier`, an adapter for a user's
own torch model, checkpoints.

Every model the later stages see exposes four parts (see :class:`RecurrentAdapter`):
``embedding`` (symbol ids (B, T) -> inputs (B, T, E)), ``rnn`` (a ``batch_first`` ``nn.LSTM``,
``nn.GRU`` or ``nn.RNN``), ``head`` (hidden states (..., H) -> acceptance logit(s)) and
``alphabet``. The net's acceptance of a prefix is ``sigmoid(head(h_t)) > 0.5`` (or, for a head
with two outputs, ``argmax == 1``); the empty prefix uses the zero initial state.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from . import _checkpoint
from .._limits import MAX_PARAMETERS
from .._checks import atomic_write, check_choice, check_existing_file, check_int, check_out_path
from .determinism import check_deterministic
from ..errors import ArgumentTypeError, DataFormatError, ValidationError, WriteError
from ..words import check_alphabet
from .trace import collect_trace

__all__ = ["RNNClassifier", "RecurrentAdapter", "as_recurrent", "load_model", "check_device", "CHECKPOINT_FORMAT",
           "CheckpointWriteError"]

CHECKPOINT_FORMAT = "fsm-extract/model"
CHECKPOINT_VERSION = 1
CellKind = Literal["lstm", "gru", "rnn"]
_CELLS: dict[str, type[nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def _cell_kind(rnn: nn.Module) -> str:
    for kind, cls in _CELLS.items():
        if isinstance(rnn, cls):
            return kind
    raise ArgumentTypeError(f"rnn={type(rnn).__name__} must be an nn.LSTM, nn.GRU or nn.RNN")


class _RecurrentParts:
    """Shared behaviour of anything with ``embedding``, ``rnn``, ``head`` and ``alphabet``."""

    embedding: Callable[[torch.Tensor], torch.Tensor]
    rnn: nn.RNNBase
    head: Callable[[torch.Tensor], torch.Tensor]
    alphabet: tuple[str, ...]

    @property
    def cell(self) -> str:
        """``"lstm"``, ``"gru"`` or ``"rnn"``."""
        return _cell_kind(self.rnn)

    @property
    def hidden_size(self) -> int:
        return int(self.rnn.hidden_size)

    @property
    def num_layers(self) -> int:
        return int(self.rnn.num_layers)

    def _device(self) -> torch.device:
        try:
            return next(self.rnn.parameters()).device
        except StopIteration:  # pragma: no cover - an RNN always has parameters
            return torch.device("cpu")

    def _dtype(self) -> torch.dtype:
        """The dtype of the recurrent weights (float32, float64, bfloat16, ...): states and
        inputs are computed in it; traces convert the results to float32."""
        try:
            return next(self.rnn.parameters()).dtype
        except StopIteration:  # pragma: no cover - an RNN always has parameters
            return torch.float32

    def _inputs(self, ids: torch.Tensor) -> torch.Tensor:
        """The RNN's inputs for symbol ids (B, T), in the RNN's dtype (a one-hot embedding
        giving float32 feeds a float64 net)."""
        return self.embedding(ids).to(self._dtype())

    def accept_logit(self, h: torch.Tensor) -> torch.Tensor:
        """Acceptance logit from top-layer hidden states ``h`` of shape (..., H) -> (...).

        ``h`` is given to the head in the dtype of the head's weights (the RNN's for a head
        without weights). The head must keep every leading dimension: (..., H) -> (..., 1),
        (..., 2) or (...); anything else raises ValidationError naming ``head``.
        """
        head_dtype = next((p.dtype for p in self.head.parameters() if p.is_floating_point()), None) \
            if isinstance(self.head, nn.Module) else None
        out = self.head(h.to(head_dtype) if head_dtype is not None else h)
        lead = tuple(h.shape[:-1])
        if isinstance(out, torch.Tensor) and out.is_floating_point():
            if tuple(out.shape) == lead:
                return out
            if tuple(out.shape) == (*lead, 1):
                return out[..., 0]
            if tuple(out.shape) == (*lead, 2):
                return out[..., 1] - out[..., 0]
        got = f"shape {tuple(out.shape)}, dtype {out.dtype}" if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValidationError(
            f"head must map hidden states (..., H) to float logits of shape (..., 1), (..., 2) or (...), keeping "
            f"every leading dimension (a squeeze() drops those of size 1), but hidden states of shape "
            f"{tuple(h.shape)} gave {got}"
        )

    def zero_state(self, batch_size: int) -> Any:
        """The initial recurrent state (zeros) in the RNN's dtype, in ``nn.LSTM``/``nn.GRU`` layout."""
        shape = (self.num_layers, batch_size, self.hidden_size)
        dev, dtype = self._device(), self._dtype()
        h = torch.zeros(shape, device=dev, dtype=dtype)
        return (h, torch.zeros(shape, device=dev, dtype=dtype)) if self.cell == "lstm" else h

    @torch.no_grad()
    def predict_proba(self, words: Any, *, batch_size: int = 1024) -> np.ndarray:
        """Acceptance probability of each whole word, ndarray of shape (n_words,), float32."""

        trace = collect_trace(self, words, batch_size=batch_size)
        return trace.final_outputs()

    def predict(self, words: Any, *, batch_size: int = 1024) -> np.ndarray:
        """Word-level acceptance, ndarray of shape (n_words,), bool."""
        return self.predict_proba(words, batch_size=batch_size) > 0.5


class RNNClassifier(_RecurrentParts, nn.Module):
    """Embedding, a recurrent layer stack and a linear head giving an acceptance logit after
    every symbol.

    Parameters
    ----------
    alphabet : str or sequence of str
    cell : {"lstm", "gru", "rnn"}
    hidden_size : int, default 32
    num_layers : int, default 1
    embedding_dim : int, optional
        Defaults to ``max(4, n_symbols)``.
    """

    def __init__(
        self,
        alphabet: Any,
        *,
        cell: CellKind = "lstm",
        hidden_size: int = 32,
        num_layers: int = 1,
        embedding_dim: int | None = None,
    ) -> None:
        nn.Module.__init__(self)
        self.alphabet = check_alphabet(alphabet)
        check_choice("cell", cell, _CELLS)
        hidden_size = check_int("hidden_size", hidden_size, min=1, max=65536)
        num_layers = check_int("num_layers", num_layers, min=1, max=64)
        if embedding_dim is None:
            embedding_dim = max(4, len(self.alphabet))
        embedding_dim = check_int("embedding_dim", embedding_dim, min=1, max=65536)
        self.config = {
            "alphabet": list(self.alphabet),
            "cell": cell,
            "hidden_size": hidden_size,
            "num_layers": num_layers,
            "embedding_dim": embedding_dim,
        }
        self.embedding = nn.Embedding(len(self.alphabet), embedding_dim)
        self.rnn = _CELLS[cell](embedding_dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Acceptance logits after every symbol: ids (B, T) long -> logits (B, T)."""
        out, _ = self.rnn(self.embedding(ids))
        return self.head(out)[..., 0]

    def empty_logit(self) -> torch.Tensor:
        """The acceptance logit of the empty word (head applied to the zero state)."""
        return self.head(torch.zeros(self.hidden_size, device=self._device(), dtype=self._dtype()))[0]

    def extra_repr(self) -> str:
        return f"alphabet={''.join(self.alphabet) if all(len(s) == 1 for s in self.alphabet) else self.alphabet}"

    def save(self, path: str | os.PathLike) -> Path:
        """Save weights, alphabet and configuration (atomically); load with :func:`load_model`."""
        path = check_out_path("path", path)
        payload = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "config": self.config,
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
            "metadata": dict(getattr(self, "metadata", {}) or {}),
        }

        def write(tmp: Path) -> None:
            try:
                torch.save(payload, tmp)
            except RuntimeError as exc:  # how torch reports a failed write (a full disk)
                detail = str(exc).splitlines()[0][:160] if str(exc) else "no detail"
                raise CheckpointWriteError(f"path={str(path)!r} could not be written (torch.save: {detail}); "
                                           "any old file there is unchanged", errno.EIO) from None

        return atomic_write(path, write)


class CheckpointWriteError(WriteError, RuntimeError):
    """``torch.save`` could not write a checkpoint (torch reports a full disk as RuntimeError):
    a :class:`~fsm_extract.errors.WriteError` that is also the RuntimeError torch users expect."""


class RecurrentAdapter(_RecurrentParts):
    """Lets a user's own torch model (not built by this toolkit) be traced and extracted.

    Parameters
    ----------
    embedding : callable
        Maps symbol ids, a LongTensor of shape (B, T), to RNN inputs (B, T, E): an
        ``nn.Embedding``, or e.g. ``lambda ids: F.one_hot(ids, 2).float()``.
    rnn : nn.LSTM, nn.GRU or nn.RNN
        Must be ``batch_first=True`` and unidirectional.
    head : callable
        Maps top-layer hidden states (..., H) to one acceptance logit (..., 1) or (...), or two
        class logits (..., 2) (class 1 = accept).
    alphabet : str or sequence of str
        Symbol ``alphabet[i]`` has id ``i``.

    Notes
    -----
    Construction runs a small probe batch through the parts twice. If the two passes differ
    (dropout left on inside a function, such as ``lambda ids: drop(emb(ids))``), every
    ``nn.Module`` reachable from the parts is put in eval mode with a ``UserWarning`` naming
    each; if they still differ, ``ValidationError``. ``fx.extract``, ``fx.fidelity``,
    ``fx.sweep`` and ``fx.collect_trace`` check again (a model
    put back in train mode later).

    Examples
    --------
    >>> adapter = fx.RecurrentAdapter(embedding=net.emb, rnn=net.lstm, head=net.out, alphabet="01")
    >>> trace = fx.collect_trace(adapter, ["0101", "11"])
    """

    def __init__(self, *, embedding: Callable, rnn: nn.Module, head: Callable, alphabet: Any) -> None:
        if not callable(embedding):
            raise ArgumentTypeError(f"embedding={embedding!r} must be callable (ids (B, T) -> inputs (B, T, E))")
        if not callable(head):
            raise ArgumentTypeError(f"head={head!r} must be callable (hidden (..., H) -> logits)")
        _cell_kind(rnn)
        if not getattr(rnn, "batch_first", False):
            raise ValidationError(f"rnn.batch_first={rnn.batch_first} must be True; build the RNN with batch_first=True")
        if getattr(rnn, "bidirectional", False):
            raise ValidationError("rnn.bidirectional=True must be False: a bidirectional net is not a state machine over prefixes")
        if getattr(rnn, "proj_size", 0):
            raise ValidationError(f"rnn.proj_size={rnn.proj_size} must be 0 (projected LSTMs are not supported)")
        self.embedding = embedding
        self.rnn = rnn
        self.head = head
        self.alphabet = check_alphabet(alphabet)
        self._probe_embedding()
        self._probe_head()
        check_deterministic(self, name="RecurrentAdapter")

    @torch.no_grad()
    def _probe_embedding(self) -> None:
        """Call the embedding on the last symbol id, shape (1, 1): it must give (1, 1, rnn.input_size)."""
        want = (1, 1, int(self.rnn.input_size))
        last = len(self.alphabet) - 1
        rule = f"embedding must map symbol ids (B, T) in [0, {last}] to float inputs (B, T, rnn.input_size={want[2]})"
        try:
            out = self.embedding(torch.full((1, 1), last, dtype=torch.long, device=self._device()))
        except Exception as exc:  # a user's callable may raise anything
            detail = str(exc).splitlines()[0][:120] if str(exc) else "no detail"
            raise ValidationError(f"{rule}, but ids [[{last}]] raised {type(exc).__name__}: {detail}") from None
        if not isinstance(out, torch.Tensor) or not out.is_floating_point() or tuple(out.shape) != want:
            got = f"shape {tuple(out.shape)}, dtype {out.dtype}" if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValidationError(f"{rule}, but ids [[{last}]] gave {got}")

    @torch.no_grad()
    def _probe_head(self) -> None:
        """Call the head on zero hidden states of shapes (2, 3, H) and (1, H), as traces and
        single steps do: it must keep the leading dimensions (see :meth:`accept_logit`). A head
        that is an ``nn.Module`` is probed in eval mode (batch norm keeps its statistics)."""
        training = self.head.training if isinstance(self.head, nn.Module) else None
        try:
            if training is not None:
                self.head.eval()
            for shape in ((2, 3, self.hidden_size), (1, self.hidden_size)):
                h = torch.zeros(shape, device=self._device(), dtype=self._dtype())
                try:
                    self.accept_logit(h)
                except ValidationError:
                    raise
                except Exception as exc:  # a user's callable may raise anything
                    detail = str(exc).splitlines()[0][:120] if str(exc) else "no detail"
                    raise ValidationError(f"head must map hidden states (..., H={self.hidden_size}) to logits, but "
                                          f"hidden states of shape {shape} raised {type(exc).__name__}: {detail}") from None
        finally:
            if training is not None:
                self.head.train(training)

    def eval(self) -> "RecurrentAdapter":
        for part in (self.embedding, self.rnn, self.head):
            if isinstance(part, nn.Module):
                part.eval()
        return self

    def __repr__(self) -> str:
        return f"RecurrentAdapter(cell={self.cell!r}, hidden_size={self.hidden_size}, alphabet={self.alphabet})"


def as_recurrent(model: Any, *, name: str = "model", check: bool = False) -> _RecurrentParts:
    """Check that ``model`` is an :class:`RNNClassifier` or :class:`RecurrentAdapter`; with
    ``check`` (the public entry points), also that two identical forward passes agree
    (:func:`fsm_extract.nets.determinism.check_deterministic`)."""
    if isinstance(model, _RecurrentParts):
        if check:
            check_deterministic(model, name=name)
        return model
    raise ArgumentTypeError(
        f"{name}={type(model).__name__} must be an fsm_extract RNNClassifier or a RecurrentAdapter "
        "(wrap your own torch model with fx.RecurrentAdapter(embedding=..., rnn=..., head=..., alphabet=...))"
    )


def check_device(name: str, value: Any) -> torch.device:
    """A torch device that exists here: ``"cpu"``, ``"cuda"``/``"cuda:N"`` with CUDA, ``"mps"`` on Apple."""
    if not isinstance(value, (str, torch.device)):
        raise ArgumentTypeError(f"{name}={value!r} must be a device such as 'cpu' or 'cuda:0', got {type(value).__name__}")
    try:
        dev = torch.device(value)
    except (RuntimeError, TypeError, ValueError):
        raise ValidationError(f"{name}={value!r} must name a torch device such as 'cpu', 'cuda' or 'cuda:0'") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValidationError(f"{name}={value!r} needs CUDA, but this torch has no usable CUDA device; use 'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValidationError(f"{name}={value!r} must be one of the {torch.cuda.device_count()} CUDA device(s) here")
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValidationError(f"{name}={value!r} needs Apple's MPS, which this machine lacks; use 'cpu'")
    elif dev.type != "cpu":
        raise ValidationError(f"{name}={value!r} must be a 'cpu', 'cuda' or 'mps' device, got type {dev.type!r}")
    return dev


def load_model(
    path: str | os.PathLike, *, map_location: str | torch.device = "cpu", max_parameters: int = MAX_PARAMETERS
) -> RNNClassifier:
    """Load a checkpoint written by :meth:`RNNClassifier.save`.

    Checkpoints are read with ``torch.load(weights_only=True)``: a file from elsewhere cannot
    run code. Before any weight is materialised, what the file asks for is checked against what
    it holds and against ``max_parameters``: the size its records unpack to (at most 8 bytes per
    allowed parameter plus 4 MiB), the number of weights its config declares, and that every
    weight is stored in full (a weight expanded from one value with stride 0, overlapping
    strides, or a view past its storage is refused, naming the weight).

    Parameters
    ----------
    path : str or os.PathLike
    map_location : str or torch.device, default "cpu"
    max_parameters : int, default 50,000,000
        The most weights the checkpoint may declare in all (200 MB as float32; a 4-layer LSTM of
        1,024 units has 33.6 million). Raise it to load a larger net.

    Raises
    ------
    MissingFileError
        Nothing is at ``path``.
    DataFormatError
        The file is corrupted or foreign, its config or weights are invalid, hold NaN, are not
        stored in full, or ask for more than ``max_parameters``.
    ValidationError
        ``map_location`` is not a device here, or ``max_parameters`` < 1.
    """
    path = check_existing_file("path", path)
    map_location = check_device("map_location", map_location)
    max_parameters = check_int("max_parameters", max_parameters, min=1)
    where = f"path={str(path)!r}"
    _checkpoint.check_unpacked_size(where, path, max_parameters)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types on garbage: normalise them
        raise DataFormatError(
            f"{where} must be an fsm-extract model checkpoint, but torch could not read it "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else 'no detail'})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise DataFormatError(
            f"{where} must be an fsm-extract model checkpoint (format {CHECKPOINT_FORMAT!r}), "
            f"got {type(payload).__name__} without that format tag"
        )
    version = payload.get("version")
    if type(version) is not int or version != CHECKPOINT_VERSION:  # True == 1, but is no version
        raise DataFormatError(f"{where}: checkpoint version {version!r} must be {CHECKPOINT_VERSION}")
    config, state = payload.get("config"), payload.get("state_dict")
    if not isinstance(config, dict) or not isinstance(state, dict):
        raise DataFormatError(f"{where}: checkpoint must hold a 'config' dict and a 'state_dict' dict")
    try:
        kwargs, shapes = _checkpoint.expected_shapes(config)
    except KeyError as exc:
        raise DataFormatError(f"{where}: checkpoint config is invalid: it lacks the key {exc}") from None
    except (ValidationError, ArgumentTypeError) as exc:
        raise DataFormatError(f"{where}: checkpoint config is invalid: {exc}") from None
    _checkpoint.check_parameter_count(where, kwargs, shapes, max_parameters)
    _checkpoint.check_weights(where, state, shapes)  # before building: a config cannot ask for more than the file holds
    for key, tensor in state.items():
        if not torch.isfinite(tensor).all():
            raise DataFormatError(f"{where}: weight {key!r} must be finite, but holds NaN or infinite values")
    alphabet = kwargs.pop("alphabet")
    try:
        model = RNNClassifier(alphabet, **kwargs)
        with torch.no_grad():  # float64/float16 weights are cast; values beyond float32 become inf
            model.load_state_dict(state, strict=True)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise DataFormatError(
            f"{where}: checkpoint config or weights are invalid ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
        ) from None
    for key, tensor in model.state_dict().items():
        if not torch.isfinite(tensor).all():
            raise DataFormatError(f"{where}: weight {key!r} must be finite, but holds NaN or infinite values")
    model.to(map_location)
    meta = payload.get("metadata")
    model.metadata = dict(meta) if isinstance(meta, dict) else {}
    return model.eval()


def _padded(symbols: np.ndarray, offsets: np.ndarray, index: np.ndarray, pad: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Padded (B, T) id matrix and lengths for the words ``index`` of a CSR encoding."""
    starts, ends = offsets[index], offsets[index + 1]
    lengths = ends - starts
    t_max = int(lengths.max()) if lengths.size else 0
    out = np.full((len(index), max(t_max, 1)), pad, dtype=np.int64)
    if t_max:
        cols = np.arange(t_max)
        mask = cols[None, :] < lengths[:, None]
        out[:, :t_max][mask] = symbols[(starts[:, None] + cols[None, :])[mask]]
    return out, lengths


def _seed_everything(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
    return torch.Generator().manual_seed(seed)
