"""Regular languages: the Tomita grammars, regexes, DFAs, random DFAs and bounded Dyck words.

A :class:`Language` wraps the minimal complete DFA of a regular language over a fixed
alphabet. It answers membership questions and draws balanced labelled datasets, and its DFA
is the reference that extracted machines are compared against.

>>> from fsm_extract import languages
>>> lang = languages.tomita(3)
>>> lang.n_states, lang.accepts("0110"), lang.accepts("1000")
(5, True, False)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from automata.base.exceptions import AutomatonException, RegexException
from automata.fa.dfa import DFA
from automata.fa.nfa import NFA

from .._checks import check_int, check_seed, read_json
from .._limits import MAX_REGEX_STATES, REGEX_NFA_PER_STATE
from ..errors import ArgumentTypeError, DataFormatError, ValidationError
from ..words import check_alphabet, encode_word, encode_words
from . import _regex
from . import dfa_tables as _sampling
from .datasets import Dataset

__all__ = ["Language", "tomita", "from_regex", "from_dfa", "load_dfa", "random_dfa", "dyck"]

_MAX_LEN = 10_000


def _sorted_columns(alphabet: tuple[str, ...]) -> list[int]:
    return sorted(range(len(alphabet)), key=alphabet.__getitem__)


@dataclass(frozen=True, eq=False, repr=False)
class Language:
    """A regular language given by its minimal complete DFA.

    Construction canonicalises ``dfa``: unreachable states are dropped, missing transitions go
    to a trap state, the automaton is minimised and its states are renamed ``0..n_states-1`` in
    breadth-first order over the sorted symbols, with the initial state 0. Two languages are
    equal when they have the same alphabet (in the same order) and accept the same words.

    Parameters
    ----------
    alphabet : str or sequence of str
        The symbols, in the order used to encode words (``"01"`` -> ``("0", "1")``).
    dfa : automata.fa.dfa.DFA
        Any automata-lib DFA over exactly these symbols, possibly partial.
    name : str, default ""

    Attributes
    ----------
    alphabet : tuple of str
    dfa : automata.fa.dfa.DFA
        The minimal complete DFA, states ``0..n_states-1``.
    name : str
    """

    alphabet: tuple
    dfa: DFA
    name: str = ""
    _table: np.ndarray = field(init=False, repr=False)
    _accepting: np.ndarray = field(init=False, repr=False)
    _rows: tuple = field(init=False, repr=False)

    def __post_init__(self) -> None:
        alphabet = check_alphabet(self.alphabet)
        if not isinstance(self.dfa, DFA):
            raise ArgumentTypeError(f"dfa={self.dfa!r} must be an automata-lib DFA, got {type(self.dfa).__name__}")
        if not isinstance(self.name, str):
            raise ArgumentTypeError(f"name={self.name!r} must be a str, got {type(self.name).__name__}")
        raw_table, raw_accepting = _sampling.table_of_dfa(self.dfa, alphabet)
        table, accepting = _sampling.canonical_table(raw_table, raw_accepting, 0, _sorted_columns(alphabet))
        table.setflags(write=False)
        accepting.setflags(write=False)
        object.__setattr__(self, "alphabet", alphabet)
        object.__setattr__(self, "dfa", _sampling.dfa_of_table(table, accepting, alphabet))
        object.__setattr__(self, "_table", table)
        object.__setattr__(self, "_accepting", accepting)
        object.__setattr__(self, "_rows", tuple(tuple(int(t) for t in row) for row in table))

    @property
    def n_states(self) -> int:
        """Number of states of the minimal complete DFA (a trap state included)."""
        return int(self._table.shape[0])

    def transition_table(self) -> tuple[np.ndarray, np.ndarray, int]:
        """The DFA as arrays, for fast use elsewhere.

        Returns
        -------
        table : ndarray of shape (n_states, n_symbols), int64, read-only
            ``table[s, a]`` is the state after reading ``alphabet[a]`` in state ``s``.
        accepting : ndarray of shape (n_states,), bool, read-only
        initial : int
            Always 0.
        """
        return self._table, self._accepting, 0

    def accepts(self, word: Any) -> bool:
        """Whether ``word`` (a str of one-character symbols, or a sequence of symbols) is in the language.

        Raises
        ------
        UnknownSymbolError
            If the word holds a symbol outside the alphabet (the message names the position).
        """
        state = 0
        rows = self._rows
        for a in encode_word(word, self.alphabet).tolist():
            state = rows[state][a]
        return bool(self._accepting[state])

    def accepts_many(self, words: Any) -> np.ndarray:
        """Membership of many words at once.

        Parameters
        ----------
        words : sequence of words

        Returns
        -------
        ndarray of shape (n_words,), bool
        """
        symbols, offsets = encode_words(words, self.alphabet)
        lengths = np.diff(offsets)
        state = np.zeros(lengths.size, dtype=np.int64)
        if lengths.size == 0:
            return np.zeros(0, dtype=bool)
        order = np.argsort(-lengths, kind="stable")
        neg_sorted = -lengths[order]
        starts = offsets[order]
        for t in range(int(lengths.max())):
            a = int(np.searchsorted(neg_sorted, -(t + 1), side="right"))  # words longer than t
            state[:a] = self._table[state[:a], symbols[starts[:a] + t]]
        out = np.empty(lengths.size, dtype=bool)
        out[order] = self._accepting[state]
        return out

    def sample(self, *, n: int, min_len: int = 0, max_len: int = 20, seed: int = 0) -> Dataset:
        """Draw a labelled dataset, balanced per length and uniform inside each class.

        ``n`` is shared as evenly as possible over the lengths ``min_len..max_len`` (a length
        gets at most as many words as it has). At a length where the language both accepts and
        rejects words, the two classes get equal shares; where only one class exists, it gets
        the whole share. Inside a (length, class) pair the words are distinct and uniformly
        drawn; words repeat only where a class has fewer words than its share (e.g. the one
        accepted word of length 7 in Tomita 1).

        Parameters
        ----------
        n : int, >= 1
            Number of words.
        min_len, max_len : int, 0 <= min_len <= max_len <= 10000
            Word lengths, inclusive.
        seed : int
            The same seed gives the same dataset.

        Returns
        -------
        Dataset
            Words in random order, ``labels[i] == self.accepts(words[i])``.
        """
        n = check_int("n", n, min=1, max=2**40)
        min_len = check_int("min_len", min_len, min=0)
        max_len = check_int("max_len", max_len, min=0, max=_MAX_LEN)
        if min_len > max_len:
            raise ValidationError(f"min_len={min_len} must be <= max_len={max_len}")
        seed = check_seed("seed", seed)
        words, labels = _sampling.sample_words(
            self._table, self._accepting, self.alphabet, n=n, min_len=min_len, max_len=max_len, seed=seed
        )
        return Dataset(tuple(words), labels, self.alphabet, name=self.name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Language):
            return NotImplemented
        return (
            self.alphabet == other.alphabet
            and np.array_equal(self._table, other._table)
            and np.array_equal(self._accepting, other._accepting)
        )

    def __hash__(self) -> int:
        return hash((self.alphabet, self._table.tobytes(), self._accepting.tobytes()))

    def __repr__(self) -> str:
        alphabet = "".join(self.alphabet) if all(len(s) == 1 for s in self.alphabet) else self.alphabet
        return f"Language({self.name!r}, alphabet={alphabet!r}, n_states={self.n_states})"


def _by_hand(alphabet: str, transitions: dict, initial: str, final: set, name: str) -> Language:
    dfa = DFA(
        states=set(transitions), input_symbols=set(alphabet), transitions=transitions,
        initial_state=initial, final_states=final, allow_partial=True,
    )
    return Language(alphabet, dfa, name)


def tomita(n: int) -> Language:
    """One of the seven Tomita languages over ``"01"`` (all accept the empty word).

    1. ``1*``
    2. ``(10)*``
    3. no odd-length maximal run of 1s followed, anywhere later, by an odd-length maximal run
       of 0s
    4. no ``000`` substring
    5. an even number of 0s and an even number of 1s
    6. the number of 0s minus the number of 1s is divisible by 3
    7. ``0*1*0*1*``

    Missing transitions below go to a trap state. Minimal sizes: 2, 3, 5, 4, 4, 3, 5.

    Raises
    ------
    ValidationError
        If ``n`` is not in 1..7 (``ArgumentTypeError`` if not an integer).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ArgumentTypeError(f"n={n!r} must be an integer from 1 to 7 (the Tomita language), got {type(n).__name__}")
    if not 1 <= n <= 7:
        raise ValidationError(f"n={n} must be an integer from 1 to 7 (there are seven Tomita languages)")
    n = int(n)
    if n == 1:
        t, final = {"ones": {"1": "ones"}}, {"ones"}
    elif n == 2:
        t, final = {"even": {"1": "after1"}, "after1": {"0": "even"}}, {"even"}
    elif n == 3:
        # clean: no odd 1-run closed yet, not inside an odd 1-run; odd1: inside an odd 1-run;
        # armed_odd0 / armed: an odd 1-run has closed, and the current 0-run is odd / not odd.
        t = {
            "clean": {"0": "clean", "1": "odd1"},
            "odd1": {"0": "armed_odd0", "1": "clean"},
            "armed_odd0": {"0": "armed"},  # a 1 closes an odd 0-run: dead
            "armed": {"0": "armed_odd0", "1": "armed"},
        }
        final = {"clean", "odd1", "armed"}
    elif n == 4:
        t = {"z0": {"0": "z1", "1": "z0"}, "z1": {"0": "z2", "1": "z0"}, "z2": {"1": "z0"}}
        final = {"z0", "z1", "z2"}
    elif n == 5:
        # state "pq": p = parity of 0s, q = parity of 1s
        t = {f"{p}{q}": {"0": f"{1 - p}{q}", "1": f"{p}{1 - q}"} for p in (0, 1) for q in (0, 1)}
        final = {"00"}
    elif n == 6:
        t, final = {f"d{i}": {"0": f"d{(i + 1) % 3}", "1": f"d{(i - 1) % 3}"} for i in range(3)}, {"d0"}
    else:
        t = {"z": {"0": "z", "1": "o"}, "o": {"0": "zz", "1": "o"}, "zz": {"0": "zz", "1": "oo"}, "oo": {"1": "oo"}}
        final = set(t)
    initial = {1: "ones", 2: "even", 3: "clean", 4: "z0", 5: "00", 6: "d0", 7: "z"}[n]
    return _by_hand("01", t, initial, final, f"tomita{n}")


def from_regex(pattern: str, *, alphabet: Any, name: str = "", max_states: int = MAX_REGEX_STATES) -> Language:
    """The language of an automata-lib regular expression.

    The syntax is automata-lib's: ``*``, ``+``, ``?``, ``|``, ``&`` (intersection), ``.``
    (any symbol), ``()`` (the empty word), grouping, ``[...]`` classes and ``{m,n}``. The
    whole word must match.

    Parameters
    ----------
    pattern : str
    alphabet : str or sequence of str
        One-character symbols that are not regex operators; every symbol in ``pattern`` must
        be among them.
    name : str, optional
        Defaults to the pattern.
    max_states : int, default 4000
        The most states the DFA built by subset construction (before minimisation) may have;
        the NFA, whose size is estimated from the pattern before it is built (counted
        repetitions such as ``a{1000}`` expanded arithmetically), may have 4 x ``max_states``,
        and the subset construction stops after visiting 200 x ``max_states`` NFA states in
        all. At the default any pattern is built or refused within a few seconds;
        ``a{1000000}``, ``(0|1)*1(0|1){20}`` and ``(0?){3000}`` are refused. Raise it for a
        larger language.

    Raises
    ------
    ValidationError
        For an invalid pattern, a symbol outside the alphabet, an unusable alphabet, or an
        automaton larger than ``max_states``.
    """
    if not isinstance(pattern, str):
        raise ArgumentTypeError(f"pattern={pattern!r} must be a str, got {type(pattern).__name__}")
    alphabet = check_alphabet(alphabet)
    max_states = check_int("max_states", max_states, min=1)
    reserved = set("*|()?&+.^{}[] \t\\-")
    bad = [s for s in alphabet if len(s) != 1 or s in reserved]
    if bad:
        raise ValidationError(
            f"alphabet={list(alphabet)} must hold one-character symbols that are not regex operators "
            f"for from_regex, got {bad}"
        )
    in_braces = False  # {m,n} quantifiers hold digits that are not symbols
    for i, ch in enumerate(pattern if "[" not in pattern and "\\" not in pattern else ""):
        in_braces = (in_braces or ch == "{") and ch != "}"
        if not in_braces and ch not in reserved and ch not in alphabet:
            raise ValidationError(
                f"pattern={pattern!r} holds symbol {ch!r} at position {i}, "
                f"which must be in the alphabet {list(alphabet)}"
            )
    try:
        estimate = _regex.estimate_nfa_states(pattern, alphabet)
        if estimate > REGEX_NFA_PER_STATE * max_states:
            raise ValidationError(
                f"pattern={pattern!r} needs an NFA of {estimate:,} states (counted repetitions expanded), which must "
                f"be <= {REGEX_NFA_PER_STATE * max_states:,} ({REGEX_NFA_PER_STATE} x max_states={max_states}); "
                "pass from_regex(..., max_states=...) to allow a larger automaton"
            )
        nfa = NFA.from_regex(pattern, input_symbols=set(alphabet))
    except (AutomatonException, RegexException, ValueError, KeyError, IndexError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ValidationError(
            f"pattern={pattern!r} must be a valid regular expression over {list(alphabet)}: {exc}"
        ) from None
    extra = sorted(set(nfa.input_symbols) - set(alphabet))
    if extra:  # character classes such as [0-9] or \d add symbols
        raise ValidationError(
            f"pattern={pattern!r} uses symbols {extra}, which must be in the alphabet {list(alphabet)}"
        )
    return Language(alphabet, _regex.regex_dfa(pattern, nfa, alphabet, max_states=max_states), name or pattern)


def from_dfa(dfa: DFA, *, name: str = "") -> Language:
    """The language of any automata-lib DFA (possibly partial); alphabet = its sorted symbols.

    Raises
    ------
    ArgumentTypeError
        If ``dfa`` is not an automata-lib ``DFA`` or its symbols are not strings.
    """
    if not isinstance(dfa, DFA):
        raise ArgumentTypeError(f"dfa={dfa!r} must be an automata-lib DFA, got {type(dfa).__name__}")
    symbols = list(dfa.input_symbols)
    if not all(isinstance(s, str) for s in symbols):
        raise ArgumentTypeError(f"dfa.input_symbols={symbols!r} must all be strings (the alphabet's symbols)")
    return Language(tuple(sorted(symbols)), dfa, name)


def load_dfa(path: str | os.PathLike) -> Language:
    """The language of a DFA written as JSON with automata-lib's constructor keywords::

        {"states": ["q0", "q1"], "input_symbols": ["a", "b"], "initial_state": "q0",
         "final_states": ["q1"], "transitions": {"q0": {"a": "q1", "b": "q0"}, "q1": {"a": "q1"}}}

    States are strings; a missing transition goes to a rejecting trap (the DFA may be partial).

    Raises
    ------
    MissingFileError, DataFormatError
    """
    data = read_json(path)
    keys = {"states", "input_symbols", "transitions", "initial_state", "final_states"}
    if not isinstance(data, dict) or set(data) != keys:
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise DataFormatError(f"path={str(path)!r} must hold a JSON object with exactly the keys {sorted(keys)}, got {got}")
    try:
        trans = data["transitions"]
        dfa = DFA(states=set(data["states"]), input_symbols=set(data["input_symbols"]), initial_state=data["initial_state"],
                  final_states=set(data["final_states"]), allow_partial=True,
                  transitions={q: dict(trans.get(q, {})) for q in data["states"]} if isinstance(trans, dict) else trans)
        return from_dfa(dfa, name=Path(path).stem)
    except (AutomatonException, TypeError, ValueError, AttributeError, ArgumentTypeError) as exc:
        raise DataFormatError(f"path={str(path)!r} does not describe a valid DFA: {' '.join(str(exc).split())[:300]}") from None


def random_dfa(*, n_states: int, alphabet: Any = "01", seed: int = 0) -> Language:
    """A random language whose minimal complete DFA has exactly ``n_states`` states.

    A random spanning tree makes every state reachable, the other transitions and the accepting
    states are uniform; drafts that are not minimal are redrawn from the same seeded generator.

    Parameters
    ----------
    n_states : int, >= 2
    alphabet : str or sequence of str, default "01"
    seed : int

    Raises
    ------
    ValidationError
        If no such DFA is found in 1000 drafts (only plausible for one-symbol alphabets).
    """
    n_states = check_int("n_states", n_states, min=2, max=1_000_000)
    alphabet = check_alphabet(alphabet)
    seed = check_seed("seed", seed)
    rng = np.random.default_rng(seed)
    k = len(alphabet)
    for _ in range(1000):
        table = np.full((n_states, k), -1, dtype=np.int64)
        free = [(0, a) for a in range(k)]  # open slots of states already in the tree
        for s in range(1, n_states):
            j = int(rng.integers(len(free)))
            free[j], free[-1] = free[-1], free[j]
            parent, a = free.pop()
            table[parent, a] = s
            free.extend((s, b) for b in range(k))
        open_slots = table < 0
        table[open_slots] = rng.integers(0, n_states, size=int(open_slots.sum()))
        accepting = rng.random(n_states) < 0.5
        if accepting.all() or not accepting.any():
            continue
        minimal, _ = _sampling.canonical_table(table, accepting, 0, _sorted_columns(alphabet))
        if minimal.shape[0] == n_states:
            name = f"random_dfa(n_states={n_states}, seed={seed})"
            return Language(alphabet, _sampling.dfa_of_table(table, accepting, alphabet), name)
    raise ValidationError(
        f"n_states={n_states}: found no minimal DFA of that size over {list(alphabet)} in 1000 drafts (seed={seed})"
    )


def dyck(*, depth: int) -> Language:
    """Balanced parentheses over ``"()"`` whose nesting depth is at most ``depth``.

    The minimal complete DFA has ``depth + 2`` states (open counts 0..depth and a trap).
    """
    depth = check_int("depth", depth, min=1, max=100_000)
    t = {i: {} for i in range(depth + 1)}
    for i in range(depth + 1):
        if i < depth:
            t[i]["("] = i + 1
        if i > 0:
            t[i][")"] = i - 1
    dfa = DFA(
        states=set(t), input_symbols={"(", ")"}, transitions=t, initial_state=0, final_states={0}, allow_partial=True
    )
    return Language("()", dfa, f"dyck{depth}")
