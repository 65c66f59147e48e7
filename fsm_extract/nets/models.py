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
from typing import Any

import numpy as np
import torch
from torch import nn

from .._checks import atomic_write, check_choice, check_int, check_out_path
from ..errors import ArgumentTypeError, ValidationError, WriteError
from ..words import check_alphabet, encode_words
from .determinism import check_deterministic
from .forward import net_outputs
from .parts import CELLS, CellKind, RecurrentParts, cell_kind

__all__ = ["RNNClassifier", "RecurrentAdapter", "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION",
           "CheckpointWriteError"]

CHECKPOINT_FORMAT = "fsm-extract/model"
CHECKPOINT_VERSION = 1


class _Predicts(RecurrentParts):
    """Word-level predictions for the models users hold."""

    @torch.no_grad()
    def predict_proba(self, words: Any, *, batch_size: int = 1024) -> np.ndarray:
        """Acceptance probability of each whole word, ndarray of shape (n_words,), float32."""

        symbols, offsets = encode_words(words, self.alphabet)
        probs, empty = net_outputs(self, symbols, offsets, batch_size=batch_size)
        out = np.full(offsets.size - 1, empty[1], dtype=np.float32)
        nonempty = np.diff(offsets) > 0
        out[nonempty] = probs[offsets[1:][nonempty] - 1, 1]
        return out

    def predict(self, words: Any, *, batch_size: int = 1024) -> np.ndarray:
        """Word-level acceptance, ndarray of shape (n_words,), bool."""
        return self.predict_proba(words, batch_size=batch_size) > 0.5


class RNNClassifier(_Predicts, nn.Module):
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
        self.embedding = nn.Embedding(len(self.alphabet), embedding_dim)
        self.rnn = CELLS[cell](embedding_dim, hidden_size, num_layers=num_layers, batch_first=True)
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
