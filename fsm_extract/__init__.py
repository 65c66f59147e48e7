"""fsm-extract: extract finite-state machines from recurrent networks and measure how much of
the network they explain.

>>> import fsm_extract as fx
>>> model = fx.datasets.bundled_model("tomita4")
>>> fsm = fx.extract(model, fx.datasets.load("tomita4", split="train"), n_states=16)
"""

from . import datasets, languages, networks
from .abstraction.clustering import (
    GaussianMixtureAbstraction,
    KMeansAbstraction,
    make_abstraction,
)
from .analysis.fidelity import FidelityReport, fidelity
from .analysis.residual import ResidualItem
from .analysis.search import SearchResult, search_disagreements
from .automata.automaton import ExtractedFSM, load_fsm
from .data.datasets import Dataset
from .data.languages import Language
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
from .extraction.extract import extract
from .extraction.front import FrontPoint, ParetoFront
from .extraction.pareto import pareto
from .extraction.refinement import Refinement
from .extraction.sweep import SweepResult, sweep
from .nets.checkpoints import load_model
from .nets.extractability import Extractability
from .nets.models import RecurrentAdapter, RNNClassifier
from .nets.net import Net, as_net, collect_trace
from .nets.trace import Trace
from .nets.next_symbol import train_next_symbol
from .nets.training import EarlyStopping, train_classifier

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
    "train_next_symbol",
    "EarlyStopping",
    "Extractability",
    "Net",
    "as_net",
    "Trace",
    "collect_trace",
    "KMeansAbstraction",
    "GaussianMixtureAbstraction",
    "make_abstraction",
    "ExtractedFSM",
    "load_fsm",
    "extract",
    "Refinement",
    "pareto",
    "ParetoFront",
    "FrontPoint",
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
