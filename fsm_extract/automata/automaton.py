"""The extracted automaton: :class:`ExtractedFSM`, and :func:`load_fsm`.

An ``ExtractedFSM`` is a complete deterministic automaton (a transition table, an output per
state, an initial state) together with the evidence it was read from: how often the net went
from state ``q`` on symbol ``a`` to state ``q'`` (``transition_counts``), which outputs the net
gave in each state (``output_counts``) and which transitions were never observed and had to be
completed from the net itself (``completed``). States are ints ``0..n_states-1``.

Three output kinds (``output_kind``): ``"accept"`` (accepting states), ``"classes"`` (a Moore
machine: a class per state) and ``"next-symbol"`` (each state carries a next-symbol
distribution, ``output_probs``; its class is the nearest row of a ``codebook`` of such
distributions, what minimisation and agreement compare).
"""

from __future__ import annotations

import dataclasses
import os
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
from .behaviour import access_words, final_states, same_outputs, undecided_outputs
from .render import drawable_plan, svg_or_none, to_dot
from .render import render as render_fsm
from .table import to_table
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
    accepting : ndarray of shape (n_states,), dtype bool, or None
        The accepting states of an acceptor; None for the other output kinds.
    initial : int
        The initial state, in ``[0, n_states)``.
    transition_counts : ndarray of shape (n_states, n_symbols, n_states), dtype int64, optional
        How often the net went from state ``q`` on symbol ``a`` to state ``q'``; ``>= 0``.
        ``None`` means no evidence (all zeros), as for an automaton built from a DFA.
    output_counts : ndarray of shape (n_states, n_outputs), dtype int64, optional
        The net's output classes seen in each state (an acceptor: column 0 reject, column 1
        accept; next-symbol: the codebook rows). ``None``: zeros.
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
    output_kind: str = "accept"
    classes: np.ndarray | None = None
    output_probs: np.ndarray | None = None
    codebook: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name, value in _fsm_io.checked_fields(self).items():
            object.__setattr__(self, name, value)

    def __reduce__(self) -> tuple:  # MappingProxyType does not pickle; rebuild through __init__
        return (type(self), (self.alphabet, self.transitions, self.accepting, self.initial,
                             self.transition_counts, self.output_counts, self.completed,
                             self.centroids, self.cluster_map, self.to_dict()["metadata"], self.cluster_centroids,
                             self.abstraction, self.output_kind, self.classes, self.output_probs, self.codebook))

    def with_metadata(self, **values: Any) -> ExtractedFSM:
        """A copy with ``values`` added to (or replacing keys of) ``metadata``."""
        return dataclasses.replace(self, metadata={**self.to_dict()["metadata"], **values})

    def remade(self, transitions: Any, classes: Any, initial: int, **fields: Any) -> ExtractedFSM:
        """An automaton of the same kind, alphabet, abstraction and codebook with new tables:
        ``classes`` the output class of each state; ``fields`` any other fields
        (``transition_counts``, ``output_counts``, ``completed``, ``centroids``,
        ``cluster_map``, ``metadata``, ``output_probs``); the kept ones are not carried over
        unless given."""
        classes = np.asarray(classes, dtype=np.int64)
        accepting = classes == 1 if self.output_kind == "accept" else None
        return type(self)(self.alphabet, transitions, accepting, initial,
                          cluster_centroids=self.cluster_centroids, abstraction=self.abstraction,
                          output_kind=self.output_kind, classes=None if accepting is not None else classes,
                          codebook=self.codebook, **fields)

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
        output_kind: str = "accept",
        output_probs: Any = None,
        codebook: Any = None,
    ) -> ExtractedFSM:
        """Build the automaton the evidence supports.

        ``transitions[q, a]`` is the most frequent successor (ties: the smallest state index).
        A state's class is the net's most frequent output class there (an acceptor's state
        accepts when the net accepted there more often than it rejected); a tie or no outputs
        gives the smallest tied class (reject), listed in ``metadata["undecided_outputs"]``.

        Parameters
        ----------
        transition_counts : array-like of shape (n_states, n_symbols, n_states), int
        output_counts : array-like of shape (n_states, n_outputs), int
            ``n_outputs``: 2 for an acceptor, the classes, or the codebook's rows.
        initial : int
        alphabet : sequence of str
        completion : array-like of shape (n_states, n_symbols), int, optional
            Successors for the pairs never observed (support 0), computed from the net. Only
            the entries at unobserved pairs are read. Required when there are such pairs.
        centroids, cluster_map, metadata, cluster_centroids, abstraction, output_kind, output_probs, codebook
            As in :class:`ExtractedFSM`.
        """
        alphabet = check_alphabet(alphabet)
        counts = _fsm_io.as_int_array("transition_counts", transition_counts, (None, len(alphabet), None), min=0)
        n = counts.shape[0]
        if counts.shape[2] != n:
            raise ValidationError(f"transition_counts must have shape (n_states, n_symbols, n_states), got {counts.shape}")
        outputs = _fsm_io.as_int_array("output_counts", output_counts, (n, None), min=0)
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
        meta = dict(metadata or {})
        meta["undecided_outputs"] = undecided_outputs(outputs).tolist()
        classes = outputs.argmax(1) if n else np.zeros(0, np.int64)
        accept = output_kind == "accept"
        return cls(alphabet, transitions, classes == 1 if accept else None, initial, counts, outputs,
                   unobserved, centroids, cluster_map, meta, cluster_centroids, abstraction, output_kind,
                   None if accept else classes, output_probs, codebook)

    @classmethod
    def from_automata(cls, dfa: DFA, *, alphabet: Any = None) -> ExtractedFSM:
        """Convert an automata-lib ``DFA`` (complete or partial).

        States reachable from the initial state are renumbered ``0..n-1`` in breadth-first order
        over the alphabet's order (unreachable states are dropped); missing transitions, and
        symbols of ``alphabet`` the DFA lacks, go to an added rejecting trap state.

        ``alphabet`` (default: the DFA's input symbols, sorted) must include all of them.
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

    @property
    def state_outputs(self) -> np.ndarray:
        """ndarray of shape (n_states,), int64: the output class of each state (for an
        acceptor, 1 = accept); what the net's output class after a step is compared with."""
        return self.classes

    @property
    def n_outputs(self) -> int:
        """The number of output classes a state may have (2 for an acceptor, the codebook's
        rows for a next-symbol automaton)."""
        return int(self.output_counts.shape[1])

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

    def _need_acceptor(self, what: str, instead: str) -> None:
        if self.output_kind != "accept":
            raise ValidationError(f"{what} needs an acceptor, but this automaton's output_kind is "
                                  f"{self.output_kind!r}; use {instead}")

    def accepts(self, word: Word) -> bool:
        """Whether the automaton accepts ``word`` (raises UnknownSymbolError on foreign symbols;
        an acceptor only: a Moore machine has :meth:`classify`)."""
        self._need_acceptor("accepts()", "classify(word) or predict(words)")
        return bool(self.accepting[self.run(word)[-1]])

    def classify(self, word: Word) -> int:
        """The output class of the state ``word`` ends in (an acceptor: 1 = accept)."""
        return int(self.classes[self.run(word)[-1]])

    def next_symbol_probs(self, word: Word) -> np.ndarray:
        """The next-symbol distribution of the state ``word`` ends in: ndarray of shape
        (n_symbols + 1,), float64, end-of-word last (a ``"next-symbol"`` automaton only)."""
        if self.output_kind != "next-symbol":
            raise ValidationError(f"next_symbol_probs() needs output_kind='next-symbol', got {self.output_kind!r}")
        return self.output_probs[self.run(word)[-1]].copy()

    def final_states(self, words: Iterable[Word]) -> np.ndarray:
        """The state each word ends in: ndarray of shape (n_words,), int64."""
        symbols, offsets = encode_words(words, self.alphabet)
        return final_states(self.transitions, self.initial, symbols, offsets)

    def predict(self, words: Iterable[Word]) -> np.ndarray:
        """A class per word: acceptance, ndarray of shape (n_words,), bool, for an acceptor;
        the class (int64) of a Moore machine; for a next-symbol automaton the most probable
        next symbol (``n_symbols`` for end-of-word), as the net's ``predict`` gives."""
        final = self.final_states(words)
        if self.output_kind == "accept":
            return self.accepting[final]
        if self.output_kind == "next-symbol":
            return self.output_probs[final].argmax(1).astype(np.int64)
        return self.classes[final].copy()

    # ------------------------------------------------------------------------- minimisation
    def abstract(self, hidden: Any, *, chunk_size: int = 65536) -> np.ndarray:
        """The FSM state (ndarray of shape (n,), int64) of the nearest cluster of each hidden
        state ``hidden`` (array-like of shape (n, d)); -1 for a dropped cluster."""
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
        """The minimal equivalent automaton, with the evidence merged: unreachable states
        dropped, states with the same outputs after every word merged, renumbered breadth-first
        from the initial state (see :func:`~fsm_extract.automata.minimize.minimize_fsm`)."""
        return minimize_fsm(self)

    # ------------------------------------------------------------------------- automata-lib
    def to_automata(self) -> DFA:
        """An automata-lib ``DFA`` with states ``0..n_states-1`` and input symbols ``alphabet``.

        With multi-character symbols the DFA is still valid, but its ``accepts_input`` must be
        given a sequence of symbols, not a ``str`` (which it reads one character at a time).
        An acceptor only (automata-lib's DFAs have no classes).
        """
        self._need_acceptor("to_automata()", "fsm.equivalent(other) to compare automata, classify(word) or predict(words)")
        return automata_lib.dfa_of_table(self.alphabet, self.transitions, self.accepting, self.initial)

    def equivalent(self, other: Any) -> bool:
        """Whether ``other`` accepts the same language.

        ``other`` is an ``ExtractedFSM``, an automata-lib ``DFA`` (possibly partial), or an
        object with a ``.dfa`` attribute (a ``Language``). Both must have the same alphabet
        (as sets): automata-lib silently answers False otherwise, so a ValidationError is raised.
        """
        if isinstance(other, ExtractedFSM) and (self.output_kind != "accept" or other.output_kind != "accept"):
            return same_outputs(self, other)
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

    def to_table(self, **options: Any) -> str:
        """The transition table as text or HTML; see :func:`fsm_extract.automata.table.to_table`."""
        return to_table(self, **options)

    def _repr_svg_(self) -> str | None:  # notebooks; None lets IPython fall back to the table
        return svg_or_none(self)

    def _repr_html_(self) -> str | None:  # only where no diagram is drawn: the transition table
        return None if drawable_plan(self) is not None else to_table(self, fmt="html")

    def __repr__(self) -> str:
        alphabet = "".join(self.alphabet) if all(len(s) == 1 for s in self.alphabet) else list(self.alphabet)
        if self.output_kind == "accept":
            acc = np.flatnonzero(self.accepting).tolist()
            outputs = f"accepting={acc if len(acc) <= 8 else f'<{len(acc)} states>'}"
        else:
            shown = self.classes.tolist()
            outputs = f"output_kind={self.output_kind!r}, classes={shown if len(shown) <= 8 else f'<{len(shown)} states>'}"
        return (
            f"ExtractedFSM(n_states={self.n_states}, alphabet={alphabet!r}, initial={self.initial}, {outputs}, "
            f"observations={int(self.transition_counts.sum())}, completed={int(self.completed.sum())})"
        )


def load_fsm(path: str | os.PathLike, *, max_states: int = MAX_FSM_STATES) -> ExtractedFSM:
    """Read an automaton written by :meth:`ExtractedFSM.save`.

    ``max_states`` (default 4096) is the most states the file may declare; the dense evidence
    table (states x symbols x states) is also held to what that many states need on two
    symbols (256 MiB at the default). Both are checked before the table is allocated.

    Raises
    ------
    MissingFileError
        Nothing is at ``path``.
    DataFormatError
        (naming the path) Not UTF-8 JSON in the ``fsm-extract/fsm`` schema, too large, or counts
        summing past int64.
    """
    max_states = check_int("max_states", max_states, min=1)
    data = _fsm_io.read_json(path)
    return _fsm_io.fsm_from_dict(ExtractedFSM, data, where=f"{str(path)!r}: ", max_states=max_states)
