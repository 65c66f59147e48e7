"""Training a :class:`~fsm_extract.models.RNNClassifier` on labelled words.

With a reference ``language`` the net is trained on the label of every prefix (dense
supervision, what makes a 32-unit LSTM generalise to words three times longer than any it
saw); without one, on the label of each whole word.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from ._validation import check_bool, check_choice, check_float, check_int, check_seed
from .datasets import Dataset
from .errors import ArgumentTypeError, ValidationError
from .models import RNNClassifier, _padded, _seed_everything

__all__ = ["train_classifier", "prefix_labels"]


def prefix_labels(language: Any, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Acceptance of every prefix under ``language``'s DFA.

    Parameters
    ----------
    language : Language
    ids : ndarray of shape (n_words, T), int
        Padded symbol ids.
    lengths : ndarray of shape (n_words,)

    Returns
    -------
    ndarray of shape (n_words, T), bool (entries past a word's end are meaningless)
    """
    table, accepting, initial = language.transition_table()
    states = np.full(ids.shape[0], initial, dtype=np.int64)
    out = np.zeros(ids.shape, dtype=bool)
    for t in range(ids.shape[1]):
        states = table[states, ids[:, t]]
        out[:, t] = accepting[states]
    return out


def _word_accuracy(model: RNNClassifier, data: Dataset) -> float:
    return float((model.predict(data.words) == data.labels).mean())


def train_classifier(
    dataset: Dataset,
    *,
    cell: str = "lstm",
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
) -> RNNClassifier:
    """Train a recurrent classifier that gives an acceptance logit after every symbol.

    Parameters
    ----------
    dataset : Dataset
        Training words and labels; must hold both classes.
    cell : {"lstm", "gru", "rnn"}
    hidden_size, num_layers, embedding_dim : int
        See :class:`RNNClassifier`.
    epochs : int
        Upper bound on passes over the data.
    lr : float
        Adam learning rate.
    batch_size : int
    seed : int
        Seeds initialisation and shuffling: the same seed gives the same weights (on CPU).
    validation : Dataset, optional
        Checked after every epoch; training stops early once it is classified 100% right, and
        the weights with the best validation accuracy are kept.
    language : Language, optional
        Reference language: when given, every prefix is trained on its label (and the
        dataset's labels must agree with it).
    max_seconds : float, optional
        Stop after this much wall time (the best weights so far are kept).
    progress : bool
        Show a progress bar with loss and validation accuracy.

    Returns
    -------
    RNNClassifier
        In eval mode, with ``model.metadata`` holding the training record (epochs run,
        seconds, final accuracies).
    """
    if not isinstance(dataset, Dataset):
        raise ArgumentTypeError(f"dataset must be an fsm_extract Dataset, got {type(dataset).__name__}")
    dataset.check_nonempty("dataset", both_classes=True)
    check_choice("cell", cell, ("lstm", "gru", "rnn"))
    epochs = check_int("epochs", epochs, min=1, max=1_000_000)
    lr = check_float("lr", lr, min=0.0, min_inclusive=False, max=10.0)
    batch_size = check_int("batch_size", batch_size, min=1)
    seed = check_seed("seed", seed)
    progress = check_bool("progress", progress)
    if max_seconds is not None:
        max_seconds = check_float("max_seconds", max_seconds, min=0.0, min_inclusive=False)
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
            raise ArgumentTypeError(f"language must be an fsm_extract Language or None, got {type(language).__name__}")
        if tuple(language.alphabet) != dataset.alphabet:
            raise ValidationError(
                f"language.alphabet={list(language.alphabet)} must equal dataset.alphabet={list(dataset.alphabet)}"
            )

    gen = _seed_everything(seed)
    model = RNNClassifier(dataset.alphabet, cell=cell, hidden_size=hidden_size, num_layers=num_layers, embedding_dim=embedding_dim)
    symbols, offsets = dataset.encode()
    ids, lengths = _padded(symbols, offsets, np.arange(len(dataset)))
    T = ids.shape[1]
    mask = np.arange(T)[None, :] < lengths[:, None]
    if language is not None:
        targets = prefix_labels(language, ids, lengths)
        final = targets[np.arange(len(dataset)), np.maximum(lengths - 1, 0)]
        final = np.where(lengths > 0, final, bool(language.accepts(())))
        bad = np.flatnonzero(final != dataset.labels)
        if bad.size:
            w = dataset.words[int(bad[0])]
            raise ValidationError(
                f"dataset labels must agree with language: word {w!r} is labelled {bool(dataset.labels[bad[0]])} "
                f"but the language says {bool(final[bad[0]])} ({bad.size} such words)"
            )
        train_mask = mask
        empty_target = float(language.accepts(()))
    else:
        targets = np.zeros(ids.shape, dtype=bool)
        train_mask = np.zeros(ids.shape, dtype=bool)
        nonempty = lengths > 0
        targets[np.flatnonzero(nonempty), lengths[nonempty] - 1] = dataset.labels[nonempty]
        train_mask[np.flatnonzero(nonempty), lengths[nonempty] - 1] = True
        empties = dataset.labels[~nonempty]
        empty_target = float(empties.mean()) if empties.size else None

    ids_t = torch.from_numpy(ids)
    targets_t = torch.from_numpy(targets.astype(np.float32))
    mask_t = torch.from_numpy(train_mask)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss(reduction="sum")
    best_acc, best_state, epochs_run = -1.0, None, 0
    start = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc="train", unit="epoch", leave=False)
    try:
        for epoch in range(epochs):
            model.train()
            perm = torch.randperm(len(dataset), generator=gen)
            total, count = 0.0, 0
            for b0 in range(0, len(dataset), batch_size):
                idx = perm[b0 : b0 + batch_size]
                m = mask_t[idx]
                t_max = int(m.any(0).nonzero().max()) + 1 if m.any() else 1
                logits = model(ids_t[idx, :t_max])
                loss = loss_fn(logits[m[:, :t_max]], targets_t[idx, :t_max][m[:, :t_max]])
                n = int(m.sum())
                if empty_target is not None:
                    loss = loss + loss_fn(model.empty_logit()[None], torch.tensor([empty_target]))
                    n += 1
                opt.zero_grad()
                (loss / max(n, 1)).backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                total, count = total + loss.item(), count + n
            epochs_run = epoch + 1
            model.eval()
            acc = _word_accuracy(model, validation) if validation is not None else _word_accuracy(model, dataset)
            if acc > best_acc:
                best_acc, best_state = acc, copy.deepcopy(model.state_dict())
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{total / max(count, 1):.4f}", acc=f"{acc:.4f}")
            if acc >= 1.0 and validation is not None:
                break
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                break
    finally:
        if bar is not None:
            bar.close()
    model.load_state_dict(best_state)
    model.eval()
    model.metadata = {
        "epochs_run": epochs_run,
        "seconds": round(time.perf_counter() - start, 3),
        "seed": seed,
        "lr": lr,
        "batch_size": batch_size,
        "trained_on": dataset.name or "dataset",
        "n_train_words": len(dataset),
        "prefix_labels": language is not None,
        ("validation_accuracy" if validation is not None else "train_accuracy"): best_acc,
    }
    return model
