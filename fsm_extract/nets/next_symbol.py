"""Training a next-symbol (language) model: an :class:`~fsm_extract.nets.models.RNNClassifier`
with ``outputs="next-symbol"`` that gives, after every prefix, a distribution over the next
symbol and the end of the word.

It is trained by cross-entropy on every prediction a word makes: after ``t`` symbols
(``t = 0 .. len(word)``; the empty prefix through :meth:`RNNClassifier.empty_logit`) the
target is the next symbol, or end-of-word (class ``n_symbols``) after the whole word. Early
stopping watches the mean bits per symbol of held-out words (lower is better). The run itself
(epochs, best weights, stopping, progress bar, the extractability regulariser) is
:mod:`fsm_extract.nets.training`'s.

>>> import fsm_extract as fx
>>> pdfa = fx.languages.random_pdfa(n_states=3, alphabet="ab", seed=0)
>>> net = fx.train_next_symbol(pdfa.sample(n=2000, seed=0), hidden_size=16, epochs=5)  # doctest: +SKIP
>>> net.metadata["validation_bits_per_symbol"]  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .._checks import check_bool, check_choice, check_float, check_int, check_seed
from ..data.datasets import Dataset
from ..errors import ArgumentTypeError, ValidationError
from ..words import check_alphabet, check_ordered_words, encode_words, word_keys
from .extractability import Extractability, Regularizer, as_extractability
from .models import RNNClassifier
from .parts import CELLS, CellKind, padded, seed_everything
from .training import EarlyStopping, _fit, _Run, finish, optimiser

__all__ = ["train_next_symbol", "prefix_targets"]

_MIN_HELD_OUT_WORDS = 20  # below this many training words, nothing is held out (as train_classifier)
_POOL = 16  # batches per pool of words sorted by length (see _batches)
_SCORE_WORDS = 512  # words per batch when measuring bits per symbol


@dataclass(frozen=True)
class _Prefixes:
    """Padded words and the target of every prediction they make.

    ``ids`` (n, T) int64, ``lengths`` (n,) int64, ``targets`` (n, T + 1) int64 (column ``t``:
    what follows the first ``t`` symbols; ``n_symbols`` is end-of-word), ``mask`` (n, T + 1)
    bool (``t <= len``: the predictions that exist), ``valid`` (n, T) bool (steps inside words).
    """

    ids: torch.Tensor
    lengths: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor
    valid: torch.Tensor

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def encoded(self) -> tuple[np.ndarray, np.ndarray]:
        """The words' CSR encoding (symbols, offsets), as :meth:`Dataset.encode` gives it."""
        ids, lengths = self.ids.numpy(), self.lengths.numpy()
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return ids[self.valid.numpy()].astype(np.int64), offsets

    def subset(self, index: np.ndarray) -> _Prefixes:
        """The words ``index`` (same padded width)."""
        i = torch.from_numpy(np.asarray(index, dtype=np.int64))
        return _Prefixes(self.ids[i], self.lengths[i], self.targets[i], self.mask[i], self.valid[i])


def prefix_targets(ids: np.ndarray, lengths: np.ndarray, n_symbols: int) -> tuple[np.ndarray, np.ndarray]:
    """The next-symbol target of every prefix of padded words.

    Parameters
    ----------
    ids : ndarray of shape (n_words, T), int
        Padded symbol ids.
    lengths : ndarray of shape (n_words,), int
    n_symbols : int
        The end-of-word class.

    Returns
    -------
    targets : ndarray of shape (n_words, T + 1), int64
        Column ``t`` is the symbol after the first ``t`` symbols, ``n_symbols`` after the
        whole word (and past it).
    mask : ndarray of shape (n_words, T + 1), bool
        ``t <= len(word)``: the ``len + 1`` predictions each word makes.
    """
    n, T = ids.shape
    cols = np.arange(T + 1)[None, :]
    targets = np.full((n, T + 1), n_symbols, dtype=np.int64)
    inside = cols[:, :T] < lengths[:, None]
    targets[:, :T][inside] = ids[inside]
    return targets, cols <= lengths[:, None]


def _prefixes(words: Any, alphabet: tuple[str, ...], name: str) -> _Prefixes:
    symbols, offsets = encode_words(words, alphabet, name=name)
    n = offsets.size - 1
    ids, lengths = padded(symbols, offsets, np.arange(n))
    targets, mask = prefix_targets(ids, lengths, len(alphabet))
    valid = np.arange(ids.shape[1])[None, :] < lengths[:, None]
    return _Prefixes(*(torch.from_numpy(np.ascontiguousarray(a)) for a in (ids, lengths.astype(np.int64), targets,
                                                                          mask, valid)))


def _logits(model: RNNClassifier, ids: torch.Tensor, valid: torch.Tensor, reg: Regularizer | None) -> tuple:
    """Logits of every prediction of a batch, (B, T + 1, C) (column 0: the empty prefix), and
    the regulariser's term (None without one, or when the batch holds no symbol)."""
    empty = model.empty_logit()[None, None, :].expand(ids.shape[0], 1, -1)
    if ids.shape[1] == 0 or not bool(valid.any()):
        return empty, None
    if reg is None:
        return torch.cat([empty, model(ids)], dim=1), None
    steps, term = reg.logits(model, ids, valid)
    return torch.cat([empty, steps], dim=1), term


def _batches(lengths: torch.Tensor, batch_size: int, gen: torch.Generator) -> list[torch.Tensor]:
    """Shuffled batches of words of similar length (little padding): the words in a random
    order, cut into pools of ``_POOL`` batches, each pool sorted by length and cut into
    batches, and the batches in a random order."""
    perm = torch.randperm(lengths.shape[0], generator=gen)
    pool = batch_size * _POOL
    batches = []
    for p0 in range(0, perm.shape[0], pool):
        part = perm[p0 : p0 + pool]
        part = part[torch.argsort(lengths[part], stable=True)]
        batches.extend(part[b0 : b0 + batch_size] for b0 in range(0, part.shape[0], batch_size))
    return [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]


def _epoch(model: RNNClassifier, opt: torch.optim.Optimizer, data: _Prefixes, batch_size: int, gen: torch.Generator,
           reg: Regularizer | None) -> tuple[float, float]:
    """One pass in shuffled batches (:func:`_batches`); the mean cross-entropy per prediction
    (nats) and the regulariser's mean term over the batches (nan without one). A batch's summed
    loss is divided by its words times the mean predictions per word, not by its own
    predictions, so that batches of short words do not weigh their predictions more."""
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    model.train()
    total, count, terms, batches = 0.0, 0, 0.0, 0
    per_word = float(data.lengths.double().mean()) + 1.0  # predictions per word: every prediction weighs the same
    for idx in _batches(data.lengths, batch_size, gen):
        t_max = int(data.lengths[idx].max())
        logits, term = _logits(model, data.ids[idx, :t_max], data.valid[idx, :t_max], reg)
        mask = data.mask[idx, : t_max + 1]
        loss = loss_fn(logits[mask], data.targets[idx, : t_max + 1][mask])
        n = int(mask.sum())
        objective = loss / (len(idx) * per_word)
        if term is not None:
            objective = objective + reg.options.strength * term
            terms, batches = terms + term.item(), batches + 1
        opt.zero_grad()
        objective.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        total, count = total + loss.item(), count + n
    return total / max(count, 1), (terms / batches if batches else float("nan"))


@torch.no_grad()
def _bits_per_symbol(model: RNNClassifier, data: _Prefixes) -> float:
    """Mean bits per prediction (every symbol and every end of word) of ``data`` under the
    model: ``-log2 p(next)`` averaged over the ``len + 1`` predictions of every word. Words
    run in batches of similar length."""
    order = torch.argsort(data.lengths, stable=True)
    total, count = 0.0, 0
    for b0 in range(0, len(data), _SCORE_WORDS):
        idx = order[b0 : b0 + _SCORE_WORDS]
        t_max = int(data.lengths[idx].max())
        logits, _ = _logits(model, data.ids[idx, :t_max], data.valid[idx, :t_max], None)
        mask = data.mask[idx, : t_max + 1]
        logp = torch.log_softmax(logits[mask].double(), dim=-1)
        total -= float(logp.gather(1, data.targets[idx, : t_max + 1][mask][:, None]).sum())
        count += int(mask.sum())
    return total / max(count, 1) / math.log(2.0)


def _words_of(words: Any, name: str) -> tuple[list, tuple[str, ...] | None, str]:
    """(the words, a Dataset's alphabet or None, a Dataset's name or "") of ``words``: a Dataset
    (labels ignored) or a non-empty sequence of words."""
    if isinstance(words, Dataset):
        if not len(words):
            raise ValidationError(f"{name} must hold at least one word, got an empty Dataset")
        return list(words.words), words.alphabet, words.name
    if isinstance(words, (str, bytes)) or not isinstance(words, Iterable):
        raise ArgumentTypeError(f"{name} must be a sequence of words (e.g. a list of strings) or a Dataset, "
                                f"got {type(words).__name__}")
    check_ordered_words(words, name)
    keys = word_keys(list(words), name)
    if not keys:
        raise ValidationError(f"{name} must hold at least one word, got none")
    return keys, None, ""


def _alphabet_of(words: list, alphabet: Any, dataset_alphabet: tuple[str, ...] | None) -> tuple[str, ...]:
    if alphabet is not None:
        return check_alphabet(alphabet)
    if dataset_alphabet is not None:
        return dataset_alphabet
    seen = sorted({s for w in words for s in w})
    if not seen:
        raise ValidationError(f"alphabet=None needs words that hold a symbol, but all {len(words)} words are empty; "
                              "give alphabet=")
    return check_alphabet(seen, name="alphabet (the symbols seen)")


def _split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Word indices (train, held out) for early stopping, as :func:`fsm_extract.nets.training.hold_out`
    splits a Dataset: nothing held out (None) under 20 words."""
    n_val = round(fraction * n)
    if n < _MIN_HELD_OUT_WORDS or n_val < 1:
        return np.arange(n), None
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _data(words: list, alphabet: tuple[str, ...], validation: Any, stopping: EarlyStopping | None,
          seed: int) -> tuple[_Prefixes, _Prefixes | None, str | None]:
    """(training words, watched words or None, whose they are: "validation", "held-out",
    "training" or None)."""
    train = _prefixes(words, alphabet, "words")
    if validation is not None:
        return train, _prefixes(_words_of(validation, "validation")[0], alphabet, "validation"), "validation"
    if stopping is None:
        return train, None, None
    keep, out = _split(len(train), stopping.validation_fraction, seed)
    if out is None:
        return train, None, "training"
    return train.subset(keep), train.subset(out), "held-out"


def _check_options(cell: Any, early_stopping: Any, max_seconds: Any) -> tuple[EarlyStopping | None, float | None]:
    check_choice("cell", cell, tuple(CELLS))
    if max_seconds is not None:
        max_seconds = check_float("max_seconds", max_seconds, min=0.0, min_inclusive=False)
    if isinstance(early_stopping, EarlyStopping):
        return early_stopping, max_seconds
    return (EarlyStopping() if check_bool("early_stopping", early_stopping) else None), max_seconds


def train_next_symbol(
    words: Any,
    *,
    alphabet: Any = None,
    cell: CellKind = "lstm",
    hidden_size: int = 32,
    num_layers: int = 1,
    embedding_dim: int | None = None,
    epochs: int = 200,
    lr: float = 0.01,
    batch_size: int = 32,
    seed: int = 0,
    validation: Any = None,
    max_seconds: float | None = None,
    progress: bool = True,
    early_stopping: bool | EarlyStopping = True,
    extractability: float | Extractability = 0.0,
) -> RNNClassifier:
    """Train a recurrent next-symbol model: after every prefix, a distribution over the next
    symbol and the end of the word.

    Parameters
    ----------
    words : sequence of words, or Dataset
        Training words (a ``str`` of one-character symbols, or a sequence of symbols), e.g.
        drawn from a :class:`~fsm_extract.data.pdfa.PDFA`. A Dataset's labels are ignored.
    alphabet : str or sequence of str, optional
        Default: a Dataset's alphabet, else the sorted symbols seen in ``words``.
    cell : {"lstm", "gru", "rnn"}
    hidden_size, num_layers, embedding_dim : int
        See :class:`RNNClassifier`.
    epochs : int
        Upper bound on passes over the data.
    lr : float
        Adam learning rate.
    batch_size : int
        Words per batch. Batches hold words of similar length (shuffled pools of 16 batches,
        each pool sorted by length; the batches in random order), so little time goes to
        padding; every prediction weighs the same in the loss, whatever its batch.
    seed : int
        Seeds initialisation, shuffling and the held-out split: the same seed gives the same
        weights (on CPU).
    validation : sequence of words or Dataset, optional
        Measured after every epoch; the weights with the lowest mean bits per symbol on it are kept.
    max_seconds : float, optional
        Stop after this much wall time (the best weights so far are kept).
    progress : bool
        Show a progress bar with the training loss (nats per prediction) and the watched bits
        per symbol.
    early_stopping : bool or EarlyStopping, default True
        Stop when the watched bits per symbol have not improved for ``patience`` epochs.
        Without ``validation``, a seeded ``validation_fraction`` of the words is held out for
        it and not trained on (under 20 words: nothing, and the training words are watched), as
        :func:`~fsm_extract.nets.training.train_classifier` does. ``False``: run all ``epochs``.
    extractability : float or Extractability, default 0.0
        Regularise the states into few well-separated regions
        (:mod:`fsm_extract.nets.extractability`); 0 trains exactly as without it.

    Returns
    -------
    RNNClassifier
        ``outputs="next-symbol"`` (|alphabet| + 1 logits, end-of-word last), in eval mode.
        ``model.metadata``: epochs run, seconds, seed, what was watched and why training
        stopped (``stopped``, ``best_epoch``), the best mean bits per symbol
        (``validation_bits_per_symbol``, or ``train_bits_per_symbol`` when nothing was held
        out), and ``extractability`` (the regulariser's settings and terms, or None).

    Raises
    ------
    ArgumentTypeError, ValidationError, UnknownSymbolError
        Naming the argument, the rule and the value.
    """
    words, known, name = _words_of(words, "words")
    alphabet = _alphabet_of(words, alphabet, known)
    stopping, max_seconds = _check_options(cell, early_stopping, max_seconds)
    epochs = check_int("epochs", epochs, min=1, max=1_000_000)
    lr = check_float("lr", lr, min=0.0, min_inclusive=False, max=10.0)
    batch_size = check_int("batch_size", batch_size, min=1)
    seed = check_seed("seed", seed)
    progress = check_bool("progress", progress)
    regularize = as_extractability(extractability)
    train, held, watched = _data(words, alphabet, validation, stopping, seed)

    gen = seed_everything(seed)
    model = RNNClassifier(alphabet, cell=cell, hidden_size=hidden_size, num_layers=num_layers,
                          embedding_dim=embedding_dim, outputs="next-symbol")
    reg, opt = optimiser(model, regularize, epochs=epochs, seed=seed, lr=lr, stopping=stopping, words=train.encoded())
    start = time.perf_counter()
    run = _Run(watched=watched, stopping=stopping, max_seconds=max_seconds, start=start, measure="bits per symbol",
               label="bits", higher_is_better=False, perfect=None)
    watch = held if held is not None else train
    fit = _fit(model, opt, reg, epoch=lambda r: _epoch(model, opt, train, batch_size, gen, r),
               score=lambda: _bits_per_symbol(model, watch), run=run, epochs=epochs, progress=progress)
    record = {"seed": seed, "lr": lr, "batch_size": batch_size, "trained_on": name or "words", "n_train_words": len(train),
              "watched": watched,  # "validation", "held-out", "training" or None: whose bits per symbol stopped training
              "held_out_words": len(held) if watched == "held-out" else 0}
    return finish(model, fit, reg, start=start, record=record,
                  score="validation_bits_per_symbol" if held is not None else "train_bits_per_symbol")
