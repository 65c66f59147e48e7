"""The package's exceptions.

Every error raised on bad input subclasses :class:`FsmExtractError` and also the built-in
exception a caller would expect, so ``except ValueError`` keeps working. Messages name the
argument, the rule and the value: ``"n_states=12 must be <= 5, the number of distinct hidden
states"``.
"""

from __future__ import annotations

__all__ = [
    "FsmExtractError",
    "ValidationError",
    "ArgumentTypeError",
    "UnknownSymbolError",
    "DataFormatError",
    "MissingFileError",
    "NotFittedError",
    "GraphvizNotFoundError",
    "FsmExtractWarning",
    "FewerClustersWarning",
    "GraphvizTimeoutError",
    "WriteError",
]


class FsmExtractError(Exception):
    """Base class of every error this package raises on purpose."""


class ValidationError(FsmExtractError, ValueError):
    """An argument has the right type but a value outside its rule."""


class ArgumentTypeError(FsmExtractError, TypeError):
    """An argument has the wrong type."""


class UnknownSymbolError(ValidationError):
    """A word holds a symbol that is not in the alphabet."""


class DataFormatError(FsmExtractError, ValueError):
    """A file (JSON, JSONL, checkpoint) is corrupted, of a foreign schema, or describes
    something invalid."""


class MissingFileError(FsmExtractError, FileNotFoundError):
    """A file that should be read does not exist."""


class NotFittedError(FsmExtractError, AttributeError):
    """An estimator was used before ``fit``."""


class GraphvizNotFoundError(FsmExtractError, RuntimeError):
    """The Graphviz ``dot`` binary is needed but not installed."""


class FsmExtractWarning(UserWarning):
    """Base class of every warning this package issues: something was adjusted, not refused."""


class FewerClustersWarning(FsmExtractWarning):
    """Fewer distinct hidden states than requested clusters: every distinct state became a
    cluster of its own (as scikit-learn's k-means does with ``ConvergenceWarning``)."""


class GraphvizTimeoutError(FsmExtractError, TimeoutError):
    """The Graphviz ``dot`` program ran past its time limit and was stopped."""


class WriteError(FsmExtractError, OSError):
    """An output could not be written (disk full, permission denied, ...); nothing was left
    half-written. ``errno`` is the operating system's error number when there is one."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno

    def __str__(self) -> str:
        return str(self.args[0])
