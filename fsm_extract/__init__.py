"""fsm-extract: extract finite-state machines from recurrent networks and measure how much of
the network they explain.

>>> import fsm_extract as fx
"""

from . import datasets
from .datasets import Dataset
from .errors import (
    ArgumentTypeError,
    DataFormatError,
    FsmExtractError,
    GraphvizNotFoundError,
    MissingFileError,
    NotFittedError,
    UnknownSymbolError,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "datasets",
    "Dataset",
    "FsmExtractError",
    "ValidationError",
    "ArgumentTypeError",
    "UnknownSymbolError",
    "DataFormatError",
    "MissingFileError",
    "NotFittedError",
    "GraphvizNotFoundError",
]
