"""Tests of fsm_extract.data.dfa_tables: integer transition tables (conversion, canonical form,
counting words per class, uniform sampling)."""

from __future__ import annotations

import numpy as np


def test_row_ids_partition_rows_like_numpy_unique(rng):
    from fsm_extract.data.dfa_tables import _row_ids

    for n, k, high in [(1, 1, 1), (50, 3, 4), (1000, 5, 3), (200, 2, 10**12)]:
        rows = rng.integers(0, high, (n, k))
        ours = _row_ids(rows)
        _, theirs = np.unique(rows, axis=0, return_inverse=True)
        pairs = set(zip(ours.tolist(), theirs.reshape(-1).tolist()))
        assert len(pairs) == len(set(ours.tolist())) == len(set(theirs.reshape(-1).tolist()))
        assert sorted(set(ours.tolist())) == list(range(len(pairs)))
