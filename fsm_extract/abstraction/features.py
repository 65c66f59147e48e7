"""Behavioural features: describe each hidden state also by what the net does next.

Two hidden states can lie close together yet behave differently later (after ``0`` and after
``00`` in Tomita 4 the net accepts now, but only one of them accepts ``0`` next). Clustering on
coordinates alone then mixes them. The net's own outputs on every continuation up to length
``depth``, computed from the stored state with the recurrent cell (batched, never by
re-running whole words), separate exactly those states.

- ``features="hidden"``: coordinates only (scaled to unit RMS norm).
- ``features="behaviour"``: continuation outputs only. Enough when the net is finite-state and
  ``depth`` reaches the distinguishing suffixes; blind to states that differ only deeper.
- ``features="both"`` (default for refinement): coordinates plus outputs. The outputs pull
  apart states that the next ``depth`` symbols tell apart; the coordinates keep apart states
  that differ only later, which the refinement's splitting then separates.

Width and memory are bounded. The features of one state cost one net step per continuation
(``k + k**2 + ... + k**depth`` for ``k`` symbols) and give one column per continuation for an
acceptor, one per class otherwise (a next-symbol net: ``k + 1``). A large alphabet is capped:
when the columns exceed ``max_columns`` (default :data:`MAX_FEATURE_COLUMNS`, 256), ``depth``
is reduced to the largest that fits (a 50-symbol acceptor: depth 1, 50 columns instead of
2,550; a 14-symbol next-symbol net: depth 1, 210 columns instead of 3,150), and when even
depth 1 does not fit, a seeded sample of symbols that fits is used. The choice is
recorded in the map (``requested_depth``, ``symbols``) and in ``metadata["features"]``.
States are stepped in chunks of at most :data:`CHUNK_VALUES` state values.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from itertools import product
from typing import Any

import numpy as np

from .._checks import check_int
from ..automata.nearest import nearest_centroid
from ..automata.state_map import FeatureKind, FeatureSpec
from ..errors import ValidationError
from ..nets.net import as_net
from ..nets.trace import Trace

__all__ = ["FeatureMap", "FeatureAbstraction", "FeatureKind", "continuation_words", "output_columns", "output_width", "MAX_FEATURE_COLUMNS"]

#: Behavioural feature columns (net steps per state) at most; see the module docstring.
MAX_FEATURE_COLUMNS = 256
#: State values (rows x width) stepped at once when computing features.
CHUNK_VALUES = 2**23

def continuation_words(n_symbols: int, depth: int) -> list[tuple[int, ...]]:
    """All words of length 1..depth, shortest first, in symbol order (the feature columns)."""
    return [w for length in range(1, depth + 1) for w in product(range(n_symbols), repeat=length)]



def output_width(net: Any) -> int:
    """Feature columns per continuation: 1 for an acceptor, else one per class."""
    return 1 if net.output_kind == "accept" else int(net.parts.n_classes)


def output_columns(probs: np.ndarray, *, acceptor: bool = True) -> np.ndarray:
    """The feature columns of class probabilities (n, n_classes): an acceptor's acceptance
    probability alone (its two columns say the same), else every class's probability."""
    return probs[:, 1:] if acceptor and probs.shape[1] == 2 else probs

@dataclass(frozen=True)
class FeatureMap(FeatureSpec):
    """Maps full recurrent states (trace layout) to the points the abstraction clusters: the
    parameters of :class:`~fsm_extract.automata.state_map.FeatureSpec`, applied with a net."""

    @classmethod
    def fit(cls, trace: Trace, *, features: FeatureKind = "both", depth: int = 2,
            hidden_weight: float = 1.0, behaviour_weight: float = 1.0,
            max_columns: int = MAX_FEATURE_COLUMNS, seed: int = 0) -> "FeatureMap":
        """Choose the scaling from a trace holding the full recurrent state, and the
        continuations within ``max_columns`` (see the module docstring; ``seed`` draws the
        symbols when the alphabet alone exceeds it)."""
        max_columns = check_int("max_columns", max_columns, min=1)
        k = len(trace.alphabet)
        width = 1 if trace.output_kind == "accept" else trace.n_classes  # columns per continuation
        budget = max(1, max_columns // width)  # continuations that fit
        requested, symbols = None, None
        if features != "hidden" and sum(k**d for d in range(1, depth + 1)) > budget:
            requested = depth
            depth = max((d for d in range(1, depth + 1) if sum(k**j for j in range(1, d + 1)) <= budget), default=1)
            if k > budget:
                rng = np.random.default_rng(seed)
                symbols = tuple(sorted(int(a) for a in rng.choice(k, size=budget, replace=False)))
        if trace.cell == "lstm" and trace.state != "hc" and features != "hidden":
            raise ValidationError("behavioural features need the LSTM's full state: trace with state='hc'")
        cols = trace.dim // 2 if (trace.cell == "lstm" and trace.state == "hc") else trace.dim
        h = trace.hidden[:, :cols].astype(np.float64)
        scale = float(np.sqrt((h**2).sum(1).mean())) if h.size else 1.0
        return cls(features=features, depth=depth, hidden_weight=hidden_weight, behaviour_weight=behaviour_weight,
                   hidden_columns=cols, hidden_scale=scale if scale > 0 else 1.0, state=trace.state,
                   requested_depth=requested, symbols=symbols)

    def continuation_outputs(self, model: Any, states: np.ndarray, *, chunk: int = 8192) -> np.ndarray:
        """The net's acceptance probability on every continuation up to ``depth`` (or on each
        of ``symbols``).

        States are stepped ``chunk`` at a time, fewer when their frontier (``chunk x
        k**depth`` states) would exceed :data:`CHUNK_VALUES` values.

        Parameters
        ----------
        states : ndarray of shape (n, dim), the full recurrent state in trace layout

        Returns
        -------
        ndarray of shape (n, (n_symbols + ... + n_symbols**depth) * width), float32
            (``(n, len(symbols) * width)`` when ``symbols`` is set; ``width``: 1 for an
            acceptor, else the number of classes, one column each).
        """
        net = as_net(model)
        k = len(net.alphabet)
        syms0 = np.arange(k) if self.symbols is None else np.asarray(self.symbols)
        if syms0.size and syms0.max() >= k:
            raise ValidationError(f"symbols={list(self.symbols)} must be symbol ids below the alphabet size {k}")
        n_cols = self.steps_per_state(k) * output_width(net)
        out = np.empty((states.shape[0], n_cols), dtype=np.float32)
        widest = syms0.size * k ** (self.depth - 1)
        chunk = max(1, min(chunk, CHUNK_VALUES // max(1, widest * max(1, states.shape[1]))))
        for s in range(0, states.shape[0], chunk):
            frontier = np.asarray(states[s : s + chunk], dtype=np.float32)
            n_chunk = frontier.shape[0]
            cols = []
            for d in range(self.depth):
                # row i*m + a of the new frontier is row i of the old one after symbol a
                step_syms = syms0 if d == 0 else np.arange(k)
                syms = np.tile(step_syms, frontier.shape[0])
                frontier, probs = net.step(np.repeat(frontier, step_syms.size, axis=0), syms, state=self.state)
                cols.append(output_columns(probs, acceptor=net.output_kind == "accept").reshape(n_chunk, -1))
            out[s : s + chunk] = np.concatenate(cols, axis=1)
        return out

    def transform(self, model: Any, states: np.ndarray, *, behaviour: np.ndarray | None = None) -> np.ndarray:
        """Points for the abstraction: ndarray of shape (n, n_features), float32.
        ``behaviour``: :meth:`continuation_outputs` of ``states`` when already computed."""
        states = np.asarray(states, dtype=np.float32)
        parts = []
        if self.features in ("hidden", "both"):
            parts.append(states[:, : self.hidden_columns] * np.float32(self.hidden_weight / self.hidden_scale))
        if self.features in ("behaviour", "both"):
            if behaviour is None:
                behaviour = self.continuation_outputs(model, states)
            parts.append(behaviour * np.float32(self.behaviour_weight))
        return np.concatenate(parts, axis=1)

    @classmethod
    def from_spec(cls, spec: FeatureSpec) -> "FeatureMap":
        """The map of the parameters an automaton was saved with."""
        return spec if isinstance(spec, FeatureMap) else cls(**{f.name: getattr(spec, f.name) for f in fields(FeatureSpec)})

    @classmethod
    def from_dict(cls, data: Any) -> "FeatureMap":
        return cls.from_spec(FeatureSpec.from_dict(data))

    def spec(self) -> FeatureSpec:
        """The parameters alone (what an automaton stores)."""
        return FeatureSpec(**{f.name: getattr(self, f.name) for f in fields(FeatureSpec)})


class FeatureAbstraction:
    """A fitted abstraction over behavioural features: a full state's features, then the
    nearest of ``centroids_`` (the abstraction of refined extraction).

    Parameters
    ----------
    net : Net
    features : FeatureMap
    centroids : ndarray of shape (n_clusters, n_features)
    initial_label : int
        The cluster of the initial state.
    """

    def __init__(self, net: Any, features: FeatureMap, centroids: np.ndarray, initial_label: int) -> None:
        self.net, self.features, self.centroids_, self.initial_label_ = net, features, centroids, initial_label

    def predict(self, hidden: np.ndarray) -> np.ndarray:
        return nearest_centroid(self.features.transform(self.net, hidden), self.centroids_)
