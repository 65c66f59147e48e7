"""``fx.networks``: nets whose behaviour is known exactly (built, not trained), the oracles of
the tests and benchmarks. The public face of :mod:`fsm_extract.nets.exact`.
"""

from .nets.exact import MIN_SHARPNESS, exact_gru, exact_lstm, exact_moore, plant_trigger

__all__ = ["exact_lstm", "exact_gru", "exact_moore", "plant_trigger", "MIN_SHARPNESS"]
