"""Tests of fsm_extract._limits: the stated limits and the size check of FSM tables.

The limits themselves are exercised where they are enforced (tests/nets/test_checkpoints.py,
tests/automata/test_fsm_io.py, tests/data/test_regex.py, tests/automata/test_render.py)."""

from __future__ import annotations

import pytest

from fsm_extract import _limits
from fsm_extract._limits import MAX_FSM_STATES, check_fsm_size, fsm_table_cells
from fsm_extract.errors import DataFormatError, ValidationError


def test_the_table_limit_is_what_max_states_states_need_on_two_symbols():
    assert fsm_table_cells(1) == 2
    assert fsm_table_cells(MAX_FSM_STATES) == 2 * 4096**2 == 33_554_432  # 256 MiB of int64
    assert _limits.REGEX_NFA_PER_STATE >= 1 and _limits.RENDER_EDGES_PER_STATE >= 1
    assert _limits.DOT_TIMEOUT > 0 and _limits.MAX_PARAMETERS > 0 and _limits.CHECKPOINT_SLACK_BYTES > 0


@pytest.mark.parametrize("n, k, refused", [(100, 2, None), (50, 8, None), (100, 3, "cells"), (60, 8, "cells"),
                                            (101, 1, "states")])
def test_check_fsm_size_counts_states_and_the_dense_table(n, k, refused):
    # max_states=100: at most 100 states and 2 * 100**2 = 20,000 cells (n x k x n)
    if refused is None:
        check_fsm_size(n, k, 100, what="transitions", exc=DataFormatError)
        return
    with pytest.raises(DataFormatError) as info:
        check_fsm_size(n, k, 100, what="transitions", exc=DataFormatError)
    msg = str(info.value)
    assert msg.startswith("transitions has") and "max_states=100" in msg and "max_states=..." in msg
    if refused == "cells":
        assert f"{n} x {k} x {n} = {n * k * n:,} counts" in msg and "must hold <= 20,000" in msg
    else:
        assert f"{n} states, which must be <= max_states=100" in msg


def test_check_fsm_size_raises_the_class_it_is_given():
    with pytest.raises(ValidationError):
        check_fsm_size(5, 2, 4, what="fsm", exc=ValidationError)
    check_fsm_size(4, 2, 4, what="fsm", exc=ValidationError)  # exactly at the limit
