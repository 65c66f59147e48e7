"""``fx.languages``: regular (and bounded) languages to train on, sample from and check against.

The public face of :mod:`fsm_extract.data.languages`.
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

__all__ = ["Language", "tomita", "from_regex", "from_dfa", "load_dfa", "random_dfa", "dyck"]
