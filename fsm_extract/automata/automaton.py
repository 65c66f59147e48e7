"""The extracted automaton: :class:`ExtractedFSM`, and :func:`load_fsm`.

An ``ExtractedFSM`` is a complete deterministic automaton (a transition table, accepting states,
an initial state) together with the evidence it was read from: how often the net went from state
``q`` on symbol ``a`` to state ``q'`` (``transition_counts``), which outputs the net gave in each
state (``output_counts``) and which transitions were never observed and had to be completed
from the net itself (``completed``). States are ints ``0..n_states-1``.
"""

from __future__ import annotations

import dataclasses
import os
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import (
    atomic_write_text,
    check_bool,
    check_finite_array,
    check_int,
    check_out_path,
)
from .._limits import MAX_FSM_STATES
from ..errors import ValidationError
from ..words import Word, check_alphabet, encode_word, encode_words
from . import automata_lib
from . import fsm_io as _fsm_io
from .minimize import minimize_fsm
from .nearest import nearest_centroid
from .render import render as render_fsm
from .render import svg_or_none, to_dot
from .state_map import StateAbstraction

if TYPE_CHECKING:  # pragma: no cover
    from automata.fa.dfa import DFA

__all__ = ["ExtractedFSM", "load_fsm", "access_words"]


# ----------------------------------------------------------------------------- the automaton
@dataclass(frozen=True, eq=False, repr=False)
class ExtractedFSM:
    """A complete deterministic automaton with the evidence it was extracted from.

    Immutable: arrays are copied and read-only; ``metadata`` is a read-only mapping. Equality is
    identity; use :meth:`equivalent` for language equivalence.

    Parameters
    ----------
    alphabet : tuple of str
        The input symbols; column ``a`` of every table is ``alphabet[a]``.
    transitions : ndarray of shape (n_states, n_symbols), dtype int64
        ``transitions[q, a]`` is the next state; complete, entries in ``[0, n_states)``.
    accepting : ndarray of shape (n_states,), dtype bool
    initial : int
        The initial state, in ``[0, n_states)``.
    transition_counts : ndarray of shape (n_states, n_symbols, n_states), dtype int64, optional
        How often the net went from state ``q`` on symbol ``a`` to state ``q'``; ``>= 0``.
        ``None`` means no evidence (all zeros), as for an automaton built from a DFA.
    output_counts : ndarray of shape (n_states, 2), dtype int64, optional
        The net's outputs seen in each state: column 0 reject, column 1 accept. ``None``: zeros.
    completed : ndarray of shape (n_states, n_symbols), dtype bool, optional
        True where ``(q, a)`` was never observed and the transition was completed from the net
        (the recurrent cell run from the state's centroid). Requires ``support[q, a] == 0``.
        Where the support is 0 and ``completed`` is False, the transition was given (e.g. by a
        DFA). ``None``: all False.
    centroids : ndarray of shape (n_states, d), dtype float64, optional
        The mean hidden state of each state; finite.
    cluster_map : ndarray of shape (n_clusters,), dtype int64, optional
        The FSM state each cluster of the abstraction became, or -1 for clusters whose state
        was dropped as unreachable by :meth:`minimize`.
    cluster_centroids : ndarray of shape (n_clusters, f), dtype float64, optional
        The centre of each cluster of the abstraction (needs ``cluster_map``), in the space the
        abstraction clusters (hidden coordinates, or the behavioural features of
        ``abstraction``). With it, :meth:`abstract` maps any point to the FSM state of its
        nearest cluster: the abstraction the fidelity checker compares the FSM's own state against.
    metadata : dict, optional
        JSON-serialisable values (``{"method": "kmeans", "seed": 0}``), stored as a read-only
        normalised copy (tuples become lists, NumPy scalars Python numbers). A record of how the
        automaton was made; nothing is rebuilt from it.
    abstraction : StateAbstraction, optional
        The typed description of the abstraction the automaton was extracted with: the trace
        layout of the net states it reads and its behavioural features, if any
        (:class:`~fsm_extract.automata.state_map.StateAbstraction`). None: made without a net
        (from a DFA, by hand); such an automaton is aligned to a net before it is checked.
    """

    alphabet: tuple[str, ...]
    transitions: np.ndarray
    accepting: np.ndarray
    initial: int
    transition_counts: np.ndarray = None  # type: ignore[assignment]
    output_counts: np.ndarray = None  # type: ignore[assignment]
    completed: np.ndarray = None  # type: ignore[assignment]
    centroids: np.ndarray | None = None
    cluster_map: np.ndarray | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    cluster_centroids: np.ndarray | None = None
    abstraction: StateAbstraction | None = None

    def __post_init__(self) -> None:
        for name, value in _fsm_io.checked_fields(self).items():
            object.__setattr__(self, name, value)

    def __reduce__(self) -> tuple:  # MappingProxyType does not pickle; rebuild through __init__
        return (type(self), (self.alphabet, self.transitions, self.accepting, self.initial,
                             self.transition_counts, self.output_counts, self.completed,
                             self.centroids, self.cluster_map, self.to_dict()["metadata"], self.cluster_centroids,
                             self.abstraction))

    def with_metadata(self, **values: Any) -> ExtractedFSM:
        """A copy with ``values`` added to (or replacing keys of) ``metadata``."""
        return dataclasses.replace(self, metadata={**self.to_dict()["metadata"], **values})

    # ------------------------------------------------------------------------- constructors
    @classmethod
    def from_counts(
        cls,
        transition_counts: Any,
        output_counts: Any,
        *,
        initial: int,
        alphabet: Any,
        completion: Any = None,
        centroids: Any = None,
        cluster_map: Any = None,
        metadata: Mapping[str, Any] | None = None,
        cluster_centroids: Any = None,
        abstraction: StateAbstraction | None = None,
    ) -> ExtractedFSM:
        """Build the automaton the evidence supports.

        ``transitions[q, a]`` is the most frequent successor (ties: the smallest state index).
        A state accepts when the net accepted there more often than it rejected; a tie or no
        outputs gives a rejecting state listed in ``metadata["undecided_outputs"]``.

        Parameters
        ----------
        transition_counts : array-like of shape (n_states, n_symbols, n_states), int
        output_counts : array-like of shape (n_states, 2), int
        initial : int
        alphabet : sequence of str
        completion : array-like of shape (n_states, n_symbols), int, optional
            Successors for the pairs never observed (support 0), computed from the net. Only
            the entries at unobserved pairs are read. Required when there are such pairs.
        centroids, cluster_map, metadata, cluster_centroids
            As in :class:`ExtractedFSM`.
        """
        alphabet = check_alphabet(alphabet)
        counts = _fsm_io.as_int_array("transition_counts", transition_counts, (None, len(alphabet), None), min=0)
        n = counts.shape[0]
        if counts.shape[2] != n:
            raise ValidationError(f"transition_counts must have shape (n_states, n_symbols, n_states), got {counts.shape}")
        outputs = _fsm_io.as_int_array("output_counts", output_counts, (n, 2), min=0)
        transitions = counts.argmax(axis=-1) if n else np.zeros((0, len(alphabet)), np.int64)
        unobserved = counts.sum(-1) == 0
        if unobserved.any():
            pairs = [(int(q), alphabet[a]) for q, a in np.argwhere(unobserved)]
            shown = ", ".join(f"({q}, {a!r})" for q, a in pairs[:8]) + (", ..." if len(pairs) > 8 else "")
            if completion is None:
                raise ValidationError(
                    f"completion=None, but {len(pairs)} (state, symbol) pair(s) were never observed: {shown}; "
                    "their transitions must be completed from the net (run the cell from the state's "
                    "centroid and take the nearest state) and passed as completion=, not by a silent default"
                )
            completion = _fsm_io.as_int_array("completion", completion, (n, len(alphabet)))
            bad = unobserved & ((completion < 0) | (completion >= n))
            if bad.any():
                q, a = (int(i) for i in np.argwhere(bad)[0])
                raise ValidationError(f"completion[{q}, {a}]={int(completion[q, a])} must be a state in [0, {n}) "
                                      f"(the pair ({q}, {alphabet[a]!r}) was never observed)")
            transitions = np.where(unobserved, completion, transitions)
        undecided = np.flatnonzero(outputs[:, 1] == outputs[:, 0])
        meta = dict(metadata or {})
        meta["undecided_outputs"] = undecided.tolist()
        return cls(alphabet, transitions, outputs[:, 1] > outputs[:, 0], initial, counts, outputs,
                   unobserved, centroids, cluster_map, meta, cluster_centroids, abstraction)

    @classmethod
    def from_automata(cls, dfa: DFA, *, alphabet: Any = None) -> ExtractedFSM:
        """Convert an automata-lib ``DFA`` (complete or partial).

        States reachable from the initial state are renumbered ``0..n-1`` in breadth-first order
        over the alphabet's order (unreachable states are dropped); missing transitions, and
        symbols of ``alphabet`` the DFA lacks, go to an added rejecting trap state.

        Parameters
        ----------
        dfa : automata.fa.dfa.DFA
        alphabet : sequence of str, optional
            Default: the DFA's input symbols, sorted. Must include all of them.
        """
        alphabet, table, accepting = automata_lib.table_of_dfa(dfa, alphabet)
        return cls(alphabet, table, accepting, 0, metadata={"source": "automata-lib DFA"})

    # ------------------------------------------------------------------------- derived
    @property
    def n_states(self) -> int:
        return int(self.transitions.shape[0])

    @property
    def n_symbols(self) -> int:
        return len(self.alphabet)

    @property
    def state_layout(self) -> str:
        """The trace layout (``"h"`` or ``"hc"``) of the net states the abstraction reads."""
        return "h" if self.abstraction is None else self.abstraction.state

    @cached_property
    def state_outputs(self) -> np.ndarray:
        """ndarray of shape (n_states,), int64: the output class of each state (for an
        acceptor, 1 = accept); what the net's output class after a step is compared with."""
        out = self.accepting.astype(np.int64)
        out.setflags(write=False)
        return out

    @cached_property
    def support(self) -> np.ndarray:
        """ndarray of shape (n_states, n_symbols), int64: observations of each pair."""
        s = self.transition_counts.sum(-1)
        s.setflags(write=False)
        return s

    @cached_property
    def confidence(self) -> np.ndarray:
        """ndarray of shape (n_states, n_symbols), float64: share of the observations of ``(q, a)``
        that went to ``transitions[q, a]``; NaN where the support is 0."""
        q, a = np.indices(self.transitions.shape)
        agree = self.transition_counts[q, a, self.transitions].astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.where(self.support > 0, agree / self.support, np.nan)
        c.setflags(write=False)
        return c

    @cached_property
    def output_confidence(self) -> np.ndarray:
        """ndarray of shape (n_states,), float64: share of the majority output; NaN where none."""
        total = self.output_counts.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.where(total > 0, self.output_counts.max(1) / total, np.nan)
        c.setflags(write=False)
        return c

    # ------------------------------------------------------------------------- running
    def run(self, word: Word) -> np.ndarray:
        """The state path of ``word``: ndarray of shape (len(word) + 1,), int64, from ``initial``."""
        symbols = encode_word(word, self.alphabet)
        path = np.empty(symbols.size + 1, np.int64)
        path[0] = q = self.initial
        table = self.transitions
        for i, a in enumerate(symbols.tolist(), 1):
            path[i] = q = table[q, a]
        return path

    def accepts(self, word: Word) -> bool:
        """Whether the automaton accepts ``word`` (raises UnknownSymbolError on foreign symbols)."""
        return bool(self.accepting[self.run(word)[-1]])

    def final_states(self, words: Iterable[Word]) -> np.ndarray:
        """The state each word ends in: ndarray of shape (n_words,), int64."""
        symbols, offsets = encode_words(words, self.alphabet)
        lengths = np.diff(offsets)
        order = np.argsort(-lengths, kind="stable")  # longest first: active words are a prefix
        starts = offsets[:-1][order]
        sorted_len = lengths[order]
        state = np.full(lengths.size, self.initial, np.int64)
        for t in range(int(sorted_len[0]) if lengths.size else 0):
            m = int(np.searchsorted(-sorted_len, -t, side="left"))  # words with length > t
            state[:m] = self.transitions[state[:m], symbols[starts[:m] + t]]
        out = np.empty_like(state)
        out[order] = state
        return out

    def predict(self, words: Iterable[Word]) -> np.ndarray:
        """Acceptance of many words: ndarray of shape (n_words,), bool."""
        return self.accepting[self.final_states(words)]

    # ------------------------------------------------------------------------- minimisation
    def abstract(self, hidden: Any, *, chunk_size: int = 65536) -> np.ndarray:
        """The FSM state of each hidden state's nearest cluster (-1 for a dropped cluster).

        Parameters
        ----------
        hidden : array-like of shape (n, d)

        Returns
        -------
        ndarray of shape (n,), int64
        """
        if self.cluster_centroids is None:
            raise ValidationError("this FSM has no cluster_centroids (it was not extracted from a net), so hidden states cannot be mapped to its states")
        chunk_size = check_int("chunk_size", chunk_size, min=1)
        x = check_finite_array("hidden", hidden, ndim=2)
        c = self.cluster_centroids
        if x.shape[1] != c.shape[1]:
            raise ValidationError(f"hidden must have {c.shape[1]} columns (the dimension of the FSM's cluster centres), got shape {x.shape}")
        out = nearest_centroid(x, c, chunk=chunk_size)
        return self.cluster_map[out]

    def minimize(self) -> ExtractedFSM:
        """The minimal equivalent automaton, with the evidence merged.

        Unreachable states are dropped and equivalent states merged (Moore partition refinement),
        which preserves the language; states are renumbered in breadth-first order from the
        initial state (so it becomes 0). Evidence is summed over merged states on both state
        axes, so a transition's confidence counts mass that went to any member of its target.
        Counts from or into dropped (unreachable) states are discarded
        (``metadata["dropped_counts"]``). ``completed`` holds where a merged pair has no support
        and some member was completed. Centroids are means of member centroids weighted by their
        number of outputs (equal weights when there are none); ``cluster_map`` entries of
        dropped states become -1. ``metadata["minimized_from"]`` records the old ``n_states``.
        """
        return minimize_fsm(self)

    # ------------------------------------------------------------------------- automata-lib
    def to_automata(self) -> DFA:
        """An automata-lib ``DFA`` with states ``0..n_states-1`` and input symbols ``alphabet``.

        With multi-character symbols the DFA is still valid, but its ``accepts_input`` must be
        given a sequence of symbols, not a ``str`` (which it reads one character at a time).
        """
        return automata_lib.dfa_of_table(self.alphabet, self.transitions, self.accepting, self.initial)

    def equivalent(self, other: Any) -> bool:
        """Whether ``other`` accepts the same language.

        ``other`` is an ``ExtractedFSM``, an automata-lib ``DFA`` (possibly partial), or an
        object with a ``.dfa`` attribute (a ``Language``). Both must have the same alphabet
        (as sets): automata-lib silently answers False otherwise, so a ValidationError is raised.
        """
        dfa = other.to_automata() if isinstance(other, ExtractedFSM) else getattr(other, "dfa", other)
        return automata_lib.equivalent(self.to_automata(), dfa, self.alphabet)

    # ------------------------------------------------------------------------- files
    def to_dict(self, *, timing: bool = True) -> dict[str, Any]:
        """A JSON-ready dict in the versioned ``fsm-extract/fsm`` schema (see :meth:`from_dict`);
        ``timing=False`` leaves out ``metadata["timing"]``, the only run-dependent part."""
        out = _fsm_io.fsm_to_dict(self)
        if not timing:
            out["metadata"].pop("timing", None)
        return out

    @classmethod
    def from_dict(cls, data: Any, *, max_states: int = MAX_FSM_STATES) -> ExtractedFSM:
        """Rebuild from :meth:`to_dict`'s output; anything invalid raises DataFormatError.

        More than ``max_states`` states (default 4,096), or a dense evidence table larger than
        ``max_states`` states need on two symbols (256 MiB at the default), is refused before
        the table is built; raise ``max_states`` to load a larger automaton."""
        return _fsm_io.fsm_from_dict(cls, data, max_states=max_states)

    def save(self, path: str | os.PathLike, *, timing: bool = True) -> Path:
        """Write the automaton as JSON, atomically (``timing=False``: without
        ``metadata["timing"]``, see :meth:`to_dict`). Returns the path."""
        p = check_out_path("path", path)
        return atomic_write_text(p, _fsm_io.dumps(self.to_dict(timing=check_bool("timing", timing))))

    # ------------------------------------------------------------------------- drawing
    def to_dot(self, **options: Any) -> str:
        """DOT source of the state diagram; options as :func:`fsm_extract.automata.render.to_dot`."""
        return to_dot(self, **options)

    def render(self, path: str | os.PathLike, **options: Any) -> Path:
        """Draw to ``.svg``, ``.png``, ``.pdf`` or ``.dot``; see :func:`fsm_extract.automata.render.render`."""
        return render_fsm(self, path, **options)

    def _repr_svg_(self) -> str | None:  # notebooks; None lets IPython fall back to repr
        return svg_or_none(self)

    def __repr__(self) -> str:
        alphabet = "".join(self.alphabet) if all(len(s) == 1 for s in self.alphabet) else list(self.alphabet)
        acc = np.flatnonzero(self.accepting).tolist()
        return (
            f"ExtractedFSM(n_states={self.n_states}, alphabet={alphabet!r}, initial={self.initial}, "
            f"accepting={acc if len(acc) <= 8 else f'<{len(acc)} states>'}, "
            f"observations={int(self.transition_counts.sum())}, completed={int(self.completed.sum())})"
        )


def load_fsm(path: str | os.PathLike, *, max_states: int = MAX_FSM_STATES) -> ExtractedFSM:
    """Read an automaton written by :meth:`ExtractedFSM.save`.

    Parameters
    ----------
    path : str or os.PathLike
    max_states : int, default 4096
        The most states the file may declare. The evidence table is dense (states x symbols x
        states, int64), so it is also held to the size ``max_states`` states need on two
        symbols: 2 x 4096**2 counts, 256 MiB at the default (a 100-symbol automaton may have
        579 states). Both are checked before the table is allocated; raise ``max_states`` to
        load a larger automaton.

    Raises
    ------
    MissingFileError
        Nothing is at ``path``.
    DataFormatError
        (naming the path) The file is not UTF-8 JSON in the ``fsm-extract/fsm`` schema, asks
        for more than ``max_states``, or its counts sum past int64.
    """
    max_states = check_int("max_states", max_states, min=1)
    data = _fsm_io.read_json(path)
    return _fsm_io.fsm_from_dict(ExtractedFSM, data, where=f"{str(path)!r}: ", max_states=max_states)


def access_words(fsm: ExtractedFSM) -> list[list[int]]:
    """For each state, a shortest word (symbol ids, first in symbol order) that reaches it."""
    words: dict[int, list[int]] = {fsm.initial: []}
    queue = deque([fsm.initial])
    while queue:
        q = queue.popleft()
        for a in range(fsm.n_symbols):
            r = int(fsm.transitions[q, a])
            if r not in words:
                words[r] = words[q] + [a]
                queue.append(r)
    return [words[q] for q in sorted(words)]
