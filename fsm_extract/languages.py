"""``fx.languages``: regular (and bounded) languages to train on, sample from and check against,
Moore machines (a class per state) for classifiers and taggers, and probabilistic automata
(PDFAs) for next-symbol nets.

The public face of :mod:`fsm_extract.data.languages`, :mod:`fsm_extract.data.moore` and
:mod:`fsm_extract.data.pdfa`.
"""

from .data.languages import (
    Language,
    dyck,
    from_dfa,
    from_regex,
    load_dfa,
    random_dfa,
    tomita,
)
from .data.moore import MooreMachine, random_moore
from .data.pdfa import PDFA, random_pdfa

__all__ = ["Language", "tomita", "from_regex", "from_dfa", "load_dfa", "random_dfa", "dyck", "MooreMachine",
           "random_moore", "PDFA", "random_pdfa"]
