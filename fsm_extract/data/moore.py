"""Moore machines: deterministic automata with a class per state, the ground truth of taggers
and per-prefix classifiers (``output_kind="classes"``).

A :class:`MooreMachine` labels every prefix of a word with the class of the state it reaches;
it plays the part a :class:`~fsm_extract.data.languages.Language` plays for acceptors
(``transition_table()``, ``sample()``), so ``fx.train_classifier(data, language=machine)``
trains on the class of every prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import check_int, check_seed
from ..errors import ValidationError
from ..words import Word, check_alphabet, encode_word, encode_words
from .datasets import Dataset

__all__ = ["MooreMachine", "random_moore", "moore_partition"]


def moore_partition(table: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """The coarsest partition of the states that respects outputs and transitions (Moore's
    algorithm): ndarray of shape (n_states,), int64, block ids (equal ids: equivalent states)."""
    block = np.unique(outputs, return_inverse=True)[1].ravel().astype(np.int64)
    while True:
        signature = np.concatenate([block[:, None], block[table]], axis=1)
        new = np.unique(signature, axis=0, return_inverse=True)[1].ravel().astype(np.int64)
        if new.max(initial=-1) == block.max(initial=-1):
            return new
        block = new


@dataclass(frozen=True, eq=False)
class MooreMachine:
    """A complete deterministic automaton with an output class per state.

    Parameters
    ----------
    alphabet : str or sequence of str
    transitions : array-like of shape (n_states, n_symbols), int
        ``transitions[q, a]`` is the next state.
    outputs : array-like of shape (n_states,), int
        The class of each state, in ``[0, n_classes)``.
    initial : int, default 0
    n_classes : int, optional
        Default: the largest output + 1 (at least 2).
    name : str, optional
    """

    alphabet: tuple
    transitions: np.ndarray
    outputs: np.ndarray
    initial: int = 0
    n_classes: int | None = None
    name: str = ""

    def __post_init__(self) -> None:
        alphabet = check_alphabet(self.alphabet)
        table = np.array(self.transitions, dtype=np.int64)
        if table.ndim != 2 or table.shape[1] != len(alphabet) or table.shape[0] < 1:
            raise ValidationError(f"transitions must have shape (n_states >= 1, {len(alphabet)}), got {table.shape}")
        n = table.shape[0]
        if table.min() < 0 or table.max() >= n:
            raise ValidationError(f"transitions must hold states in [0, {n}), got {int(table.min())}..{int(table.max())}")
        outputs = np.array(self.outputs, dtype=np.int64)
        if outputs.shape != (n,):
            raise ValidationError(f"outputs must have shape ({n},), got {outputs.shape}")
        n_classes = max(2, int(outputs.max()) + 1) if self.n_classes is None else check_int(
            "n_classes", self.n_classes, min=2, max=65536)
        if outputs.min() < 0 or outputs.max() >= n_classes:
            raise ValidationError(f"outputs must be classes in [0, n_classes={n_classes}), got "
                                  f"{int(outputs.min())}..{int(outputs.max())}")
        initial = check_int("initial", self.initial, min=0, max=n - 1)
        for name, value in (("transitions", table), ("outputs", outputs)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "alphabet", alphabet)
        object.__setattr__(self, "n_classes", n_classes)
        object.__setattr__(self, "initial", initial)

    @property
    def n_states(self) -> int:
        return int(self.transitions.shape[0])

    def transition_table(self) -> tuple[np.ndarray, np.ndarray, int]:
        """``(transitions, outputs, initial)``: the arrays training reads prefix labels from."""
        return self.transitions, self.outputs, self.initial

    def classify(self, word: Word) -> int:
        """The class of the state ``word`` leads to."""
        q = self.initial
        for a in encode_word(word, self.alphabet).tolist():
            q = int(self.transitions[q, a])
        return int(self.outputs[q])

    def classify_many(self, words: Any) -> np.ndarray:
        """The class of each word, ndarray of shape (n_words,), int64."""
        symbols, offsets = encode_words(words, self.alphabet)
        lengths = np.diff(offsets)
        state = np.full(lengths.size, self.initial, np.int64)
        for t in range(int(lengths.max()) if lengths.size else 0):
            active = lengths > t
            state[active] = self.transitions[state[active], symbols[offsets[:-1][active] + t]]
        return self.outputs[state]

    def minimal_states(self) -> int:
        """The number of states of the minimal equivalent machine (reachable part)."""
        reach = _reachable(self.transitions, self.initial)
        sub = np.searchsorted(reach, self.transitions[reach])
        return int(moore_partition(sub, self.outputs[reach]).max()) + 1

    def sample(self, *, n: int, min_len: int = 0, max_len: int = 20, seed: int = 0) -> Dataset:
        """``n`` words of uniformly random length in ``[min_len, max_len]`` and uniformly random
        symbols, labelled with their class (a Dataset with ``n_classes``)."""
        n = check_int("n", n, min=0, max=10**8)
        min_len = check_int("min_len", min_len, min=0)
        max_len = check_int("max_len", max_len, min=min_len)
        rng = np.random.default_rng(check_seed("seed", seed))
        lengths = rng.integers(min_len, max_len + 1, size=n)
        single = all(len(s) == 1 for s in self.alphabet)
        words = []
        for length in lengths.tolist():
            ids = rng.integers(0, len(self.alphabet), size=length)
            symbols = [self.alphabet[i] for i in ids.tolist()]
            words.append("".join(symbols) if single else tuple(symbols))
        return Dataset(tuple(words), self.classify_many(words), self.alphabet, name=self.name,
                       n_classes=self.n_classes)

    def __repr__(self) -> str:
        return f"MooreMachine(n_states={self.n_states}, n_classes={self.n_classes}, alphabet={self.alphabet})"


def _reachable(table: np.ndarray, initial: int) -> np.ndarray:
    seen = np.zeros(table.shape[0], bool)
    seen[initial] = True
    frontier = [initial]
    while frontier:
        nxt = np.unique(table[frontier].ravel())
        frontier = nxt[~seen[nxt]].tolist()
        seen[frontier] = True
    return np.flatnonzero(seen)


def random_moore(*, n_states: int, n_classes: int = 3, alphabet: Any = "01", seed: int = 0) -> MooreMachine:
    """A random minimal Moore machine: every state reachable, no two states equivalent, every
    class used (when ``n_classes <= n_states``).

    Parameters
    ----------
    n_states : int
        1..1000.
    n_classes : int, default 3
        2..n_states (or 2 for one state).
    alphabet : str or sequence of str, default "01"
    seed : int
    """
    n_states = check_int("n_states", n_states, min=1, max=1000)
    n_classes = check_int("n_classes", n_classes, min=2, max=max(2, n_states))
    alphabet = check_alphabet(alphabet)
    rng = np.random.default_rng(check_seed("seed", seed))
    for _ in range(10_000):
        table = rng.integers(0, n_states, size=(n_states, len(alphabet)))
        outputs = rng.permutation(np.resize(np.arange(n_classes), n_states)) if n_states >= n_classes \
            else rng.integers(0, n_classes, size=n_states)
        machine = MooreMachine(alphabet, table, outputs, 0, n_classes, name=f"random_moore({n_states}, seed={seed})")
        if _reachable(table, 0).size == n_states and machine.minimal_states() == n_states:
            return machine
    raise ValidationError(f"random_moore found no minimal machine with n_states={n_states} over {len(alphabet)} "
                          f"symbol(s) in 10,000 draws; use more symbols or fewer states")  # pragma: no cover
