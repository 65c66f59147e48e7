"""The regulariser's options of ``fsm-extract train`` (:mod:`fsm_extract.cli_commands`):
``--extractability`` and the flags that change one of its settings, validated at the boundary."""

from __future__ import annotations

import argparse
import dataclasses

from ._checks import check_float, check_int
from .errors import ValidationError
from .nets.extractability import Extractability, as_extractability

__all__ = ["extractability_from_args"]


def extractability_from_args(args: argparse.Namespace) -> Extractability | None:
    """The ``Extractability`` the train command's flags ask for (None: no regulariser); a flag
    that changes a setting without ``--extractability > 0`` is an error naming it."""
    extractability = as_extractability(args.extractability)

    def changed(flag: str, shown: str, **change: object) -> Extractability:
        if extractability is None:
            raise ValidationError(f"{flag}={shown} needs --extractability > 0 (the strength; 0 trains without the "
                                  "regulariser)")
        return dataclasses.replace(extractability, **change)

    if args.extractability_method is not None:
        extractability = changed("--extractability-method", repr(args.extractability_method),
                                 method=args.extractability_method)
    if args.extractability_consistency is not None:
        weight = check_float("--extractability-consistency", args.extractability_consistency, min=0.0, max=100.0)
        extractability = changed("--extractability-consistency", f"{weight:g}", consistency=weight)
    if args.extractability_horizon is not None:
        horizon = check_float("--extractability-horizon", args.extractability_horizon, min=0.0, max=100.0)
        if 0.0 < horizon < 1.0:
            raise ValidationError(f"--extractability-horizon={horizon:g} must be 0 (off) or >= 1 (times the longest "
                                  "training word)")
        extractability = changed("--extractability-horizon", f"{horizon:g}", horizon=horizon)
    if args.extractability_every is not None:
        every = check_int("--extractability-every", args.extractability_every, min=1, max=1024)
        extractability = changed("--extractability-every", str(every), every=every)
    return extractability
