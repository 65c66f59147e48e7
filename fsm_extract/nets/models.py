"""Recurrent classifiers: the toolkit's own :class:`RNNClassifier`, an adapter for a user's
own torch model, checkpoints.

Every model the later stages see exposes four parts (see :class:`RecurrentAdapter`):
``embedding`` (symbol ids (B, T) -> inputs (B, T, E)), ``rnn`` (a ``batch_first`` ``nn.LSTM``,
``nn.GRU`` or ``nn.RNN``), ``head`` (hidden states (..., H) -> logits) and ``alphabet``, and
says what its outputs are (``output_kind``, see :mod:`fsm_extract.nets.parts`). An acceptor's
acceptance of a prefix is ``sigmoid(head(h_t)) > 0.5`` (or, for a head with two outputs,
``argmax == 1``); a classifier's class is the argmax of its logits; the empty prefix uses the
zero initial state.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._checks import atomic_write, check_choice, check_int, check_out_path
from ..errors import ArgumentTypeError, ValidationError, WriteError
from ..words import check_alphabet, encode_words
from .determinism import check_deterministic
from .forward import net_outputs
from .parts import CELLS, OUTPUT_KINDS, CellKind, OutputKind, RecurrentParts, cell_kind

__all__ = ["RNNClassifier", "RecurrentAdapter", "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION",
           "CheckpointWriteError"]

CHECKPOINT_FORMAT = "fsm-extract/model"
CHECKPOINT_VERSION = 1


class _Predicts(RecurrentParts):
    """Word-level predictions for the models users hold."""

    @torch.no_grad()
    def predict_proba(self, words: Any, *, batch_size: int = 1024) -> np.ndarray:
        """An acceptor: the acceptance probability of each whole word, ndarray of shape
        (n_words,), float32. Otherwise the class probabilities after each whole word (for a
        next-symbol model: of the next symbol, end-of-word last), (n_words, n_classes)."""

        symbols, offsets = encode_words(words, self.alphabet)
        probs, empty = net_outputs(self, symbols, offsets, batch_size=batch_size)
        out = np.repeat(empty[None, :], offsets.size - 1, axis=0).astype(np.float32)
        nonempty = np.diff(offsets) > 0
        out[nonempty] = probs[offsets[1:][nonempty] - 1]
        return out[:, 1] if self.output_kind == "accept" else out

    def predict(self, words: Any, *, batch_size: int = 1024) -> np.ndarray:
        """Word-level acceptance, ndarray of shape (n_words,), bool; for the other output kinds
        the most probable class (next symbol, ``n_symbols`` for end-of-word), int64."""
        p = self.predict_proba(words, batch_size=batch_size)
        return p > 0.5 if self.output_kind == "accept" else p.argmax(axis=1).astype(np.int64)


class RNNClassifier(_Predicts, nn.Module):
    """Embedding, a recurrent layer stack and a linear head giving an acceptance logit (or class
    logits) after every symbol.

    Parameters
    ----------
    alphabet : str or sequence of str
    cell : {"lstm", "gru", "rnn"}
    hidden_size : int, default 32
    num_layers : int, default 1
    embedding_dim : int, optional
        Defaults to ``max(4, n_symbols)``.
    outputs : {"accept", "classes", "next-symbol"}, default "accept"
        One acceptance logit; ``n_classes`` class logits; or |alphabet| + 1 next-symbol logits
        (end-of-word last).
    n_classes : int, optional
        Classes of ``outputs="classes"`` (2..65536); not given for the other kinds.
    """

    def __init__(
        self,
        alphabet: Any,
        *,
        cell: CellKind = "lstm",
        hidden_size: int = 32,
        num_layers: int = 1,
        embedding_dim: int | None = None,
        outputs: OutputKind = "accept",
        n_classes: int | None = None,
    ) -> None:
        nn.Module.__init__(self)
        self.alphabet = check_alphabet(alphabet)
        self.output_kind = check_choice("outputs", outputs, OUTPUT_KINDS)
        if outputs == "classes":
            if n_classes is None:
                raise ValidationError("n_classes=None must be given (2..65536) with outputs='classes'")
            self._n_classes = check_int("n_classes", n_classes, min=2, max=65536)
        elif n_classes is not None:
            raise ValidationError(f"n_classes={n_classes!r} must be None unless outputs='classes' (outputs={outputs!r})")
        elif outputs == "next-symbol":
            self._n_classes = len(self.alphabet) + 1
        check_choice("cell", cell, CELLS)
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
        if outputs != "accept":  # old checkpoints (acceptors) keep their config keys
            self.config.update(outputs=outputs, n_classes=n_classes)
        self.embedding = nn.Embedding(len(self.alphabet), embedding_dim)
        self.rnn = CELLS[cell](embedding_dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, self.n_classes if outputs != "accept" else 1)

    def forward(self, ids: torch.Tensor, state: Any = None) -> torch.Tensor:
        """Logits after every symbol: ids (B, T) long -> acceptance logits (B, T), or class
        logits (B, T, n_classes) for the other output kinds. ``state``: the recurrent layer's
        initial state (as ``nn.LSTM``/``nn.GRU`` take it; None: zeros, the start of a word)."""
        out, _ = self.rnn(self.embedding(ids), state)
        logits = self.head(out)
        return logits[..., 0] if self.output_kind == "accept" else logits

    def empty_logit(self) -> torch.Tensor:
        """The logit(s) of the empty word (head applied to the zero state): a scalar for an
        acceptor, (n_classes,) otherwise."""
        out = self.head(torch.zeros(self.hidden_size, device=self._device(), dtype=self._dtype()))
        return out[0] if self.output_kind == "accept" else out

    def extra_repr(self) -> str:
        alphabet = ''.join(self.alphabet) if all(len(s) == 1 for s in self.alphabet) else self.alphabet
        kind = "" if self.output_kind == "accept" else f", outputs={self.output_kind!r}, n_classes={self.n_classes}"
        return f"alphabet={alphabet}{kind}"

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


class RecurrentAdapter(_Predicts):
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
        class logits (..., 2) (class 1 = accept), or C class logits (..., C).
    alphabet : str or sequence of str
        Symbol ``alphabet[i]`` has id ``i``.
    outputs : {"accept", "classes", "next-symbol"}, optional
        What the head's logits are. Default: detected from the head's width: 1 or 2 (or no
        last axis) is an acceptor, C >= 3 a C-class classifier. A next-symbol (language) model
        must say so: ``outputs="next-symbol"`` (the head then gives |alphabet| + 1 logits, each
        next symbol and end-of-word last); ``outputs="classes"`` makes a 2-wide head a
        two-class Moore machine instead of an acceptor.

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

    def __init__(self, *, embedding: Callable, rnn: nn.Module, head: Callable, alphabet: Any,
                 outputs: OutputKind | None = None) -> None:
        if not callable(embedding):
            raise ArgumentTypeError(f"embedding={embedding!r} must be callable (ids (B, T) -> inputs (B, T, E))")
        if not callable(head):
            raise ArgumentTypeError(f"head={head!r} must be callable (hidden (..., H) -> logits)")
        cell_kind(rnn)
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
        if outputs is not None:
            check_choice("outputs", outputs, OUTPUT_KINDS)
        self._probe_embedding()
        self._detect_outputs(outputs)
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
    def _detect_outputs(self, outputs: str | None) -> None:
        """Set ``output_kind`` (and the number of classes) from ``outputs`` and the width of the
        head's output on one zero hidden state."""
        training = self.head.training if isinstance(self.head, nn.Module) else None
        try:
            if training is not None:
                self.head.eval()
            h = torch.zeros((1, 1, self.hidden_size), device=self._device(), dtype=self._dtype())
            try:
                out = self._head(h)
            except Exception as exc:  # a user's callable may raise anything
                detail = str(exc).splitlines()[0][:120] if str(exc) else "no detail"
                raise ValidationError(f"head must map hidden states (..., H={self.hidden_size}) to logits, but "
                                      f"hidden states of shape (1, 1, {self.hidden_size}) raised {type(exc).__name__}: "
                                      f"{detail}") from None
        finally:
            if training is not None:
                self.head.train(training)
        width = int(out.shape[-1]) if isinstance(out, torch.Tensor) and out.ndim == 3 else 1
        if outputs is None:
            outputs = "accept" if width <= 2 else "classes"
        if outputs == "next-symbol" and width != len(self.alphabet) + 1:
            raise ValidationError(f"outputs='next-symbol' needs a head of width |alphabet| + 1 = {len(self.alphabet) + 1} "
                                  f"(each next symbol, then end-of-word), got {width}")
        if outputs == "classes" and width < 2:
            raise ValidationError(f"outputs='classes' needs a head of width >= 2 (one logit per class), got {width}")
        self.output_kind = outputs
        if outputs != "accept":
            self._n_classes = width

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
                    self.step_logits(h)
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
        kind = "" if self.output_kind == "accept" else f", outputs={self.output_kind!r}, n_classes={self.n_classes}"
        return f"RecurrentAdapter(cell={self.cell!r}, hidden_size={self.hidden_size}, alphabet={self.alphabet}{kind})"
