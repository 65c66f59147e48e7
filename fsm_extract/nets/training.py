"""Training a :class:`~fsm_extract.nets.models.RNNClassifier` on labelled words.

With a reference ``language`` the net is trained on the label of every prefix (dense
supervision, what makes a 32-unit LSTM generalise to words three times longer than any it
saw); without one, on the label of each whole word.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .._checks import check_bool, check_choice, check_float, check_int, check_seed
from ..data.datasets import Dataset
from ..errors import ArgumentTypeError, ValidationError
from .extractability import Extractability, Regularizer, as_extractability
from .models import RNNClassifier
from .parts import CellKind, padded, seed_everything

__all__ = ["train_classifier", "EarlyStopping", "prefix_labels", "hold_out", "optimiser", "finish"]


def prefix_labels(language: Any, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The label of every prefix under ``language``'s automaton: acceptance under a Language's
    DFA, the class under a :class:`~fsm_extract.data.moore.MooreMachine`.

    Parameters
    ----------
    language : Language or MooreMachine
    ids : ndarray of shape (n_words, T), int
        Padded symbol ids.
    lengths : ndarray of shape (n_words,)

    Returns
    -------
    ndarray of shape (n_words, T), bool or int64 (entries past a word's end are meaningless)
    """
    table, accepting, initial = language.transition_table()
    states = np.full(ids.shape[0], initial, dtype=np.int64)
    out = np.zeros(ids.shape, dtype=accepting.dtype)
    for t in range(ids.shape[1]):
        states = table[states, ids[:, t]]
        out[:, t] = accepting[states]
    return out


def _word_accuracy(model: RNNClassifier, data: Dataset) -> float:
    return float((model.predict(data.words) == data.labels).mean())


def _targets(dataset: Dataset, language: Any, ids: np.ndarray, lengths: np.ndarray) -> tuple:
    """(targets, train_mask, empty_target) for training on every prefix (with a ``language``)
    or on each whole word's label. For class labels ``empty_target`` is a class id."""
    T = ids.shape[1]
    mask = np.arange(T)[None, :] < lengths[:, None]
    if language is not None:
        targets = prefix_labels(language, ids, lengths)
        table, outputs, initial = language.transition_table()
        empty = outputs[initial].item()
        final = targets[np.arange(len(dataset)), np.maximum(lengths - 1, 0)]
        final = np.where(lengths > 0, final, empty)
        bad = np.flatnonzero(final != dataset.labels)
        if bad.size:
            w = dataset.words[int(bad[0])]
            raise ValidationError(
                f"dataset labels must agree with language: word {w!r} is labelled {dataset.labels[bad[0]].item()} "
                f"but the language says {final[bad[0]].item()} ({bad.size} such words)"
            )
        return targets, mask, float(empty)
    targets = np.zeros(ids.shape, dtype=dataset.labels.dtype)
    train_mask = np.zeros(ids.shape, dtype=bool)
    nonempty = lengths > 0
    targets[np.flatnonzero(nonempty), lengths[nonempty] - 1] = dataset.labels[nonempty]
    train_mask[np.flatnonzero(nonempty), lengths[nonempty] - 1] = True
    empties = dataset.labels[~nonempty]
    if not empties.size:
        return targets, train_mask, None
    if dataset.n_classes is None:
        return targets, train_mask, float(empties.mean())
    return targets, train_mask, float(np.bincount(empties).argmax())


_MIN_HELD_OUT_WORDS = 20  # below this many training words, nothing is held out


def hold_out(dataset: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset | None]:
    """Split a seeded ``fraction`` of ``dataset`` off for early stopping: (train, held out).

    Nothing is held out (``None``) when the dataset has fewer than 20 words, or when either
    part would lack a class the whole dataset has (the training part must keep both)."""
    n = len(dataset)
    n_val = int(round(fraction * n))
    if n < _MIN_HELD_OUT_WORDS or n_val < 1:
        return dataset, None
    perm = np.random.default_rng(seed).permutation(n)
    val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    train = dataset.subset(train_idx)
    if np.unique(train.labels).size < np.unique(dataset.labels).size:
        return dataset, None
    return train, dataset.subset(val_idx)


@dataclass(frozen=True)
class EarlyStopping:
    """When :func:`train_classifier` stops early (``early_stopping=EarlyStopping(...)``).

    Parameters
    ----------
    validation_fraction : float, default 0.1
        Share of the training words held out (seeded) when no ``validation`` is given; in (0, 0.5].
    patience : int, default 10
        Epochs without improvement of the watched accuracy before stopping.
    """

    validation_fraction: float = 0.1
    patience: int = 10

    def __post_init__(self) -> None:
        object.__setattr__(self, "validation_fraction", check_float(
            "validation_fraction", self.validation_fraction, min=0.0, max=0.5, min_inclusive=False))
        check_int("patience", self.patience, min=1)


def _check_arguments(dataset: Any, *, cell: Any, validation: Any, language: Any, early_stopping: Any) -> EarlyStopping | None:
    """Check what :func:`train_classifier` is given beyond plain numbers; the early stopping
    options it stands for (None: never stop early)."""
    if not isinstance(dataset, Dataset):
        raise ArgumentTypeError(f"dataset must be an fsm_extract Dataset, got {type(dataset).__name__}")
    dataset.check_nonempty("dataset", both_classes=True)
    check_choice("cell", cell, ("lstm", "gru", "rnn"))
    if validation is not None:
        if not isinstance(validation, Dataset):
            raise ArgumentTypeError(f"validation must be an fsm_extract Dataset or None, got {type(validation).__name__}")
        validation.check_nonempty("validation")
        if validation.alphabet != dataset.alphabet:
            raise ValidationError(
                f"validation.alphabet={list(validation.alphabet)} must equal dataset.alphabet={list(dataset.alphabet)}"
            )
    if language is not None:
        if not hasattr(language, "transition_table") or not hasattr(language, "alphabet"):
            raise ArgumentTypeError(f"language must be an fsm_extract Language, a MooreMachine or None, got "
                                    f"{type(language).__name__}")
        if tuple(language.alphabet) != dataset.alphabet:
            raise ValidationError(
                f"language.alphabet={list(language.alphabet)} must equal dataset.alphabet={list(dataset.alphabet)}"
            )
        moore = getattr(language, "n_classes", None)
        if (moore is None) != (dataset.n_classes is None):
            raise ValidationError(
                f"language must match the labels: class-id labels need a MooreMachine, acceptance labels a "
                f"Language; got {type(language).__name__} for {dataset.output_kind!r} labels"
            )
        if moore is not None and moore != dataset.n_classes:
            raise ValidationError(f"language.n_classes={moore} must equal dataset.n_classes={dataset.n_classes}")
    if isinstance(early_stopping, EarlyStopping):
        return early_stopping
    return EarlyStopping() if check_bool("early_stopping", early_stopping) else None


def train_classifier(
    dataset: Dataset,
    *,
    cell: CellKind = "lstm",
    hidden_size: int = 32,
    num_layers: int = 1,
    embedding_dim: int | None = None,
    epochs: int = 200,
    lr: float = 0.01,
    batch_size: int = 32,
    seed: int = 0,
    validation: Dataset | None = None,
    language: Any = None,
    max_seconds: float | None = None,
    progress: bool = True,
    early_stopping: bool | EarlyStopping = True,
    extractability: float | Extractability = 0.0,
) -> RNNClassifier:
    """Train a recurrent classifier that gives an acceptance logit (or class logits) after every
    symbol.

    Parameters
    ----------
    dataset : Dataset
        Training words and labels; must hold both classes. Class-id labels (a Dataset with
        ``n_classes``) train a ``dataset.n_classes``-class classifier (``outputs="classes"``,
        cross-entropy), whose automaton is a Moore machine.
    cell : {"lstm", "gru", "rnn"}
    hidden_size, num_layers, embedding_dim : int
        See :class:`RNNClassifier`.
    epochs : int
        Upper bound on passes over the data.
    lr : float
        Adam learning rate.
    batch_size : int
    seed : int
        Seeds initialisation, shuffling and the held-out split: the same seed gives the same
        weights (on CPU).
    validation : Dataset, optional
        Checked after every epoch; the weights with the best validation accuracy are kept.
    language : Language or MooreMachine, optional
        Reference automaton: when given, every prefix is trained on its label (and the
        dataset's labels must agree with it); a MooreMachine for class-id labels.
    max_seconds : float, optional
        Stop after this much wall time (the best weights so far are kept).
    progress : bool
        Show a progress bar with loss, validation accuracy and, at the end, why training stopped.
    early_stopping : bool or EarlyStopping, default True
        Stop once the validation words are classified 100% right, or when their accuracy has
        not improved for ``patience`` epochs. Without ``validation``, a seeded
        ``validation_fraction`` of ``dataset`` is held out for it (as scikit-learn's
        ``early_stopping=True`` does) and not trained on; a dataset under 20 words holds out
        nothing and its training accuracy is watched instead. ``True`` means
        ``EarlyStopping()`` (10%, patience 10); ``False``: run all ``epochs`` (keeping the best
        weights on ``validation`` if given).
    extractability : float or Extractability, default 0.0
        Regularise the net's states into few well-separated regions, so that an extracted
        automaton explains more of it (:mod:`fsm_extract.nets.extractability`): a number is the
        strength of the default method (``"centroids"``), an :class:`Extractability` chooses
        the method and its options. 0 trains exactly as without it (the same weights). The
        net stays an ordinary RNNClassifier; the regulariser's own parameters are not saved.

    Returns
    -------
    RNNClassifier
        In eval mode, with ``model.metadata`` holding the training record (epochs run,
        seconds, final accuracies, what was watched and why training stopped: ``stopped``;
        ``extractability``: the regulariser's settings, its last epoch's mean ``term`` and every
        epoch's (``terms``), or None).
    """
    stopping = _check_arguments(dataset, cell=cell, validation=validation, language=language,
                                early_stopping=early_stopping)
    epochs = check_int("epochs", epochs, min=1, max=1_000_000)
    lr = check_float("lr", lr, min=0.0, min_inclusive=False, max=10.0)
    batch_size = check_int("batch_size", batch_size, min=1)
    seed = check_seed("seed", seed)
    progress = check_bool("progress", progress)
    regularize = as_extractability(extractability)
    if max_seconds is not None:
        max_seconds = check_float("max_seconds", max_seconds, min=0.0, min_inclusive=False)
    watched = "validation" if validation is not None else None
    if validation is None and stopping is not None:
        dataset, validation = hold_out(dataset, stopping.validation_fraction, seed)
        watched = "held-out" if validation is not None else "training"

    gen = seed_everything(seed)
    kind = {} if dataset.n_classes is None else {"outputs": "classes", "n_classes": dataset.n_classes}
    model = RNNClassifier(dataset.alphabet, cell=cell, hidden_size=hidden_size, num_layers=num_layers,
                          embedding_dim=embedding_dim, **kind)
    tensors, empty_target = _tensors(dataset, language)
    reg, opt = optimiser(model, regularize, epochs=epochs, seed=seed, lr=lr, words=dataset.encode(), stopping=stopping)
    start = time.perf_counter()
    run = _Run(watched=watched, stopping=stopping, max_seconds=max_seconds, start=start, settle=reg.epochs if reg is not None else 0)
    watch = validation if validation is not None else dataset
    fit = _fit(model, opt, reg, epoch=lambda r: _epoch(model, opt, tensors, empty_target, batch_size, gen, r),
               score=lambda: _word_accuracy(model, watch), run=run, epochs=epochs, progress=progress)
    record = {"seed": seed, "lr": lr, "batch_size": batch_size, "trained_on": dataset.name or "dataset",
              "n_train_words": len(dataset), "prefix_labels": language is not None,
              "watched": watched,  # "validation", "held-out", "training" or None: whose accuracy stopped training
              "held_out_words": len(validation) if watched == "held-out" else 0}
    return finish(model, fit, reg, start=start, record=record,
                  score="validation_accuracy" if validation is not None else "train_accuracy")


def optimiser(model: RNNClassifier, regularize: Extractability | None, *, epochs: int, seed: int, lr: float,
              words: Any = None, stopping: EarlyStopping | None = None) -> tuple[Regularizer | None, torch.optim.Optimizer]:
    """The regulariser of a run (None without one) and Adam over the net's and its parameters.
    The regulariser anneals over all ``epochs``, or with early ``stopping`` over its
    ``anneal_epochs`` (at most ``epochs``)."""
    reg = None
    if regularize is not None:
        schedule = epochs if stopping is None else min(epochs, regularize.anneal_epochs)
        reg = Regularizer(model, regularize, epochs=schedule, seed=seed, words=words)
    extra = reg.parameters() if reg is not None else []
    # one group (the same settings): a second group costs Adam a second pass of its per-group work
    return reg, torch.optim.Adam([*model.parameters(), *extra], lr=lr)


def finish(model: RNNClassifier, fit: tuple, reg: Regularizer | None, *, start: float, record: dict,
           score: str) -> RNNClassifier:
    """Load the best weights of :func:`_fit`'s result, eval mode, and the training record as
    ``model.metadata`` (``record`` holds what the caller knows; ``score`` names the best score)."""
    best, best_state, best_epoch, epochs_run, stopped, terms = fit
    model.load_state_dict(best_state)
    model.eval()
    model.metadata = {
        "epochs_run": epochs_run, "seconds": round(time.perf_counter() - start, 3), **record,
        "stopped": stopped, "best_epoch": best_epoch, score: best,
        "extractability": None if reg is None else {**reg.options.to_dict(), "term": terms[-1], "terms": terms},
    }
    return model


def _fit(model: nn.Module, opt: torch.optim.Optimizer, reg: Regularizer | None, *,
         epoch: Callable[[Regularizer | None], tuple[float, float]], score: Callable[[], float], run: _Run,
         epochs: int, progress: bool) -> tuple:
    """The epochs of one run, shared by every trainer: ``epoch(reg)`` trains one pass and gives
    (mean loss, the regulariser's mean term); ``score()`` measures the watched words with the
    model in eval mode (``run`` says whether higher is better, and when to stop). Returns
    (best score, its weights, its epoch, epochs run, why training stopped, the regulariser's
    mean term of every epoch)."""
    bar = tqdm(total=epochs, desc="train", unit="epoch", leave=False) if progress else None
    best, best_state, best_epoch, epochs_run, stopped = float("nan"), None, 0, 0, f"all {epochs} epochs run"
    first_best = 0
    terms: list[float] = []
    try:
        for index in range(epochs):
            if reg is not None:
                reg.start_epoch(index)
            loss, term = epoch(reg)
            terms.append(term)
            epochs_run = index + 1
            model.eval()
            value = score()
            improved = best_state is None or run.better(value, best)
            if improved:
                first_best = epochs_run
            # with the regulariser a tie keeps the later weights (its temperature anneals over the
            # epochs: at the same score they hold the sharper states); patience counts from the first
            if improved or (reg is not None and value == best):
                best, best_state, best_epoch = value, copy.deepcopy(model.state_dict()), epochs_run
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", **{run.label: f"{value:.4f}"},
                                **({"reg": f"{term:.4g}"} if reg is not None else {}))
            why = run.stop(value, epochs_run, first_best)
            if why is not None:
                stopped = why
                break
    finally:
        if bar is not None:
            bar.set_postfix_str(f"stopped: {stopped}")
            bar.close()
    return best, best_state, best_epoch, epochs_run, stopped, terms


def _tensors(dataset: Dataset, language: Any) -> tuple[tuple, float | None]:
    """(ids, targets, mask, valid) tensors of the padded dataset (``valid``: the steps inside
    the words), and the empty word's target."""
    symbols, offsets = dataset.encode()
    ids, lengths = padded(symbols, offsets, np.arange(len(dataset)))
    targets, train_mask, empty_target = _targets(dataset, language, ids, lengths)
    valid = np.arange(ids.shape[1])[None, :] < lengths[:, None]
    dtype = np.float32 if dataset.n_classes is None else np.int64
    return (torch.from_numpy(ids), torch.from_numpy(targets.astype(dtype)), torch.from_numpy(train_mask),
            torch.from_numpy(valid)), empty_target


@dataclass(frozen=True)
class _Run:
    """When a training run stops: the watched score reached ``perfect`` (accuracy: 100%) or
    stalled, or time ran out. ``measure`` names the score in messages, ``label`` on the
    progress bar; a loss such as bits per symbol has ``higher_is_better=False`` and no
    ``perfect``."""

    watched: str | None
    stopping: EarlyStopping | None
    max_seconds: float | None
    start: float
    measure: str = "accuracy"
    label: str = "acc"
    higher_is_better: bool = True
    perfect: float | None = 1.0
    settle: int = 0  # a perfect score stops training only after this many epochs (the regulariser's annealing)

    def better(self, value: float, best: float) -> bool:
        """Whether ``value`` improves on ``best`` (strictly; NaN never does)."""
        return value > best if self.higher_is_better else value < best

    def stop(self, value: float, epochs_run: int, best_epoch: int) -> str | None:
        """Why training stops after this epoch, or None (``best_epoch``: the first epoch with the best score)."""
        if self.stopping is not None and self.perfect is not None and value >= self.perfect and epochs_run >= self.settle:
            return f"{self.watched} {self.measure} reached {self.perfect:.0%}"
        if self.stopping is not None and epochs_run - best_epoch >= self.stopping.patience:
            return f"{self.watched} {self.measure} did not improve for {self.stopping.patience} epochs"
        if self.max_seconds is not None and time.perf_counter() - self.start > self.max_seconds:
            return f"max_seconds={self.max_seconds} reached"
        return None


def _epoch(model: RNNClassifier, opt: torch.optim.Optimizer, tensors: tuple, empty_target: float | None,
           batch_size: int, gen: torch.Generator, reg: Regularizer | None = None) -> tuple[float, float]:
    """One pass over the data in shuffled batches; returns the mean task loss per target and
    the regulariser's mean term over the batches (nan without one)."""
    ids_t, targets_t, mask_t, valid_t = tensors
    classes = model.output_kind != "accept"
    loss_fn = nn.CrossEntropyLoss(reduction="sum") if classes else nn.BCEWithLogitsLoss(reduction="sum")
    model.train()
    perm = torch.randperm(ids_t.shape[0], generator=gen)
    total, count, terms, batches = 0.0, 0, 0.0, 0
    for b0 in range(0, ids_t.shape[0], batch_size):
        idx = perm[b0 : b0 + batch_size]
        m = mask_t[idx]
        t_max = int(m.any(0).nonzero().max()) + 1 if m.any() else 1
        term = None
        if reg is None:
            logits = model(ids_t[idx, :t_max])
        else:
            valid = valid_t[idx, :t_max]
            logits, term = reg.logits(model, ids_t[idx, :t_max], valid) if valid.any() else (model(ids_t[idx, :t_max]), None)
        loss = loss_fn(logits[m[:, :t_max]], targets_t[idx, :t_max][m[:, :t_max]])
        n = int(m.sum())
        if empty_target is not None:
            empty = torch.tensor([int(empty_target)]) if classes else torch.tensor([empty_target])
            loss = loss + loss_fn(model.empty_logit()[None], empty)
            n += 1
        opt.zero_grad()
        objective = loss / max(n, 1)
        if term is not None:
            objective = objective + reg.options.strength * term
            terms, batches = terms + term.item(), batches + 1
        objective.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        total, count = total + loss.item(), count + n
    return total / max(count, 1), (terms / batches if batches else float("nan"))
