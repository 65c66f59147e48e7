"""fsm-extract: extract finite-state machines from recurrent networks and measure how much of
the network they explain.

>>> import fsm_extract as fx
>>> model = fx.datasets.bundled_model("tomita4")
>>> fsm = fx.extract(model, fx.datasets.load("tomita4", split="train"), n_states=16)
"""

from . import datasets, languages, networks
from .abstraction import GaussianMixtureAbstraction, KMeansAbstraction, make_abstraction
from .automaton import ExtractedFSM, load_fsm
from .datasets import Dataset
from .errors import (
    ArgumentTypeError,
    DataFormatError,
    FewerClustersWarning,
    FsmExtractError,
    FsmExtractWarning,
    GraphvizNotFoundError,
    GraphvizTimeoutError,
    MissingFileError,
    NotFittedError,
    UnknownSymbolError,
    ValidationError,
    WriteError,
)
from .languages import Language
from .models import RecurrentAdapter, RNNClassifier, load_model
from .fidelity import FidelityReport, fidelity
from .pipeline import extract
from .residual import ResidualItem
from .search import SearchResult, search_disagreements
from .sweep import SweepResult, sweep
from .trace import Trace, collect_trace
from .training import train_classifier

__version__ = "0.1.0"

__all__ = [
    "datasets",
    "languages",
    "networks",
    "Dataset",
    "Language",
    "RNNClassifier",
    "RecurrentAdapter",
    "load_model",
    "train_classifier",
    "Trace",
    "collect_trace",
    "KMeansAbstraction",
    "GaussianMixtureAbstraction",
    "make_abstraction",
    "ExtractedFSM",
    "load_fsm",
    "extract",
    "fidelity",
    "FidelityReport",
    "ResidualItem",
    "sweep",
    "search_disagreements",
    "SearchResult",
    "SweepResult",
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
