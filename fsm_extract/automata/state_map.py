"""How an automaton's states sit in the net's state space: the typed description of the
abstraction an :class:`~fsm_extract.automata.automaton.ExtractedFSM` was made with.

A net state maps to the automaton's state of its nearest cluster centre
(:func:`~fsm_extract.automata.nearest.nearest_centroid`), in the space of points the
abstraction clusters: the state vector itself (``features=None``), or behavioural features
(:class:`FeatureSpec`) of the trace layout ``state``. Pure data: applying behavioural features
needs the net (:class:`fsm_extract.abstraction.features.FeatureMap`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .._checks import check_choice, check_float, check_int
from ..errors import DataFormatError, ValidationError

__all__ = ["FeatureKind", "FeatureSpec", "StateAbstraction", "StateLayout"]

FeatureKind = Literal["hidden", "behaviour", "both"]
StateLayout = Literal["h", "hc"]


@dataclass(frozen=True)
class FeatureSpec:
    """What an abstraction clusters: full recurrent states (trace layout), mapped to hidden
    coordinates and/or the net's outputs on continuations (the parameters; the mapping itself
    needs the net and lives in :class:`fsm_extract.abstraction.features.FeatureMap`).

    Parameters
    ----------
    features : {"hidden", "behaviour", "both"}
    depth : int
        Longest continuation whose output is a feature (``n_symbols + ... + n_symbols**depth``
        columns).
    hidden_weight, behaviour_weight : float
        Scale of each part. Hidden coordinates are divided by ``hidden_scale`` (their RMS row
        norm on the fitting data), so both parts are of order 1.
    hidden_columns : int
        Leading columns of the state used as coordinates (an LSTM's ``h`` part of ``"hc"``).
    hidden_scale : float
    state : {"h", "hc"}
        The trace layout the map expects (the full recurrent state).
    requested_depth : int, optional
        The depth asked for, when the column cap reduced it to ``depth``.
    symbols : tuple of int, optional
        When the alphabet alone exceeds the column cap: the sampled symbols whose one-step
        outputs are the features (``depth`` is then 1). None: every symbol.
    """

    features: FeatureKind = "both"
    depth: int = 2
    hidden_weight: float = 1.0
    behaviour_weight: float = 1.0
    hidden_columns: int = 0
    hidden_scale: float = 1.0
    state: StateLayout = "h"
    requested_depth: int | None = None
    symbols: tuple | None = None

    def __post_init__(self) -> None:
        check_choice("features", self.features, ("hidden", "behaviour", "both"))
        check_int("depth", self.depth, min=0 if self.features == "hidden" else 1, max=8)
        check_float("hidden_weight", self.hidden_weight, min=0.0)
        check_float("behaviour_weight", self.behaviour_weight, min=0.0)
        check_float("hidden_scale", self.hidden_scale, min=0.0, min_inclusive=False)
        check_int("hidden_columns", self.hidden_columns, min=0)
        check_choice("state", self.state, ("h", "hc"))
        if self.requested_depth is not None:
            check_int("requested_depth", self.requested_depth, min=self.depth, max=8)
        if self.symbols is not None:
            if isinstance(self.symbols, (str, bytes)) or not hasattr(self.symbols, "__iter__"):
                raise ValidationError(f"symbols={self.symbols!r} must be a sequence of symbol ids")
            ids = tuple(check_int("symbols[]", a, min=0) for a in self.symbols)
            if not ids or len(set(ids)) != len(ids) or self.depth != 1:
                raise ValidationError(f"symbols={list(ids)} must be distinct symbol ids (at least one) with depth=1")
            object.__setattr__(self, "symbols", ids)

    @property
    def uses_net(self) -> bool:
        return self.features != "hidden"

    def steps_per_state(self, n_symbols: int) -> int:
        """Net steps (feature columns) the behavioural features of one state cost."""
        if not self.uses_net:
            return 0
        if self.symbols is not None:
            return len(self.symbols)
        return sum(n_symbols**d for d in range(1, self.depth + 1))

    def to_dict(self) -> dict[str, Any]:
        out = {"features": self.features, "depth": self.depth, "hidden_weight": self.hidden_weight,
               "behaviour_weight": self.behaviour_weight, "hidden_columns": self.hidden_columns,
               "hidden_scale": self.hidden_scale, "state": self.state}
        if self.requested_depth is not None:  # the column cap applied: say so
            out["requested_depth"] = self.requested_depth
        if self.symbols is not None:
            out["symbols"] = list(self.symbols)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> "FeatureSpec":
        try:
            return cls(**dict(data))
        except (TypeError, ValueError) as exc:
            raise DataFormatError(f"metadata 'features' must describe a feature map: {exc}") from None


@dataclass(frozen=True)
class StateAbstraction:
    """The abstraction an automaton was extracted with.

    Parameters
    ----------
    state : {"h", "hc"}
        The trace layout of the net states it reads (an LSTM's hidden vectors, or hidden and
        cell vectors).
    features : FeatureSpec or None
        None: the centres are in the space of the state vectors themselves.
    """

    state: StateLayout = "h"
    features: FeatureSpec | None = None

    def __post_init__(self) -> None:
        check_choice("state", self.state, ("h", "hc"))
        if self.features is not None and not isinstance(self.features, FeatureSpec):
            raise ValidationError(f"features must be a FeatureSpec or None, got {type(self.features).__name__}")

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "features": None if self.features is None else self.features.to_dict()}

    @classmethod
    def from_dict(cls, data: Any) -> "StateAbstraction":
        if not isinstance(data, dict) or set(data) != {"state", "features"}:
            raise DataFormatError(f"abstraction must be an object with the keys ['features', 'state'], got {data!r}"[:300])
        try:
            features = None if data["features"] is None else FeatureSpec.from_dict(data["features"])
            return cls(state=data["state"], features=features)
        except (ValidationError, TypeError) as exc:
            raise DataFormatError(f"abstraction does not describe a state abstraction: {exc}") from None
