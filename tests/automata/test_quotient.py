"""Tests of fsm_extract.automata.minimize.quotient_fsm: singleton blocks keep the language,
merging equivalent states gives the minimal automaton, the evidence is summed and conserved,
the fallbacks of unobserved pairs, and the checks of ``blocks``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fsm_extract as fx
from fsm_extract.automata.automaton import ExtractedFSM
from fsm_extract.automata.minimize import quotient_fsm
from fsm_extract.errors import FsmExtractError

from .conftest import all_words

SETTINGS = settings(max_examples=80, deadline=None)


@st.composite
def evidence_fsms(draw, max_states: int = 7, max_symbols: int = 3):
    """An automaton built from random evidence (``from_counts``: majority transitions and
    outputs, unobserved pairs completed at random), with ``cluster_map = arange(n)`` so that
    the state each old state became can be read back."""
    n = draw(st.integers(1, max_states))
    k = draw(st.integers(1, max_symbols))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    counts = rng.integers(0, 5, (n, k, n)) * (rng.random((n, k, n)) < 0.5)
    counts *= rng.random((n, k, 1)) < 0.8  # some pairs never observed
    outputs = rng.integers(0, 6, (n, 2))
    return ExtractedFSM.from_counts(counts, outputs, initial=int(rng.integers(0, n)), alphabet="abc"[:k],
                                    completion=rng.integers(0, n, (n, k)), centroids=rng.normal(size=(n, 2)),
                                    cluster_map=np.arange(n), metadata={"seed": 0})


@st.composite
def fsms_and_blocks(draw):
    fsm = draw(evidence_fsms())
    n = fsm.n_states
    b = draw(st.integers(1, n))
    # every label 0..b-1 used: a permutation of a surjective assignment
    labels = np.concatenate([np.arange(b), np.array(draw(st.lists(st.integers(0, b - 1), min_size=n - b,
                                                                   max_size=n - b)), np.int64)])
    perm = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).permutation(n)
    return fsm, labels[perm].astype(np.int64)


# --------------------------------------------------------------------------- properties
@SETTINGS
@given(evidence_fsms())
def test_singleton_blocks_keep_the_language(fsm):
    q = quotient_fsm(fsm, np.arange(fsm.n_states))
    assert q.equivalent(fsm)
    words = all_words(fsm.alphabet, 5)
    np.testing.assert_array_equal(q.predict(words), fsm.predict(words))
    assert q.n_states == fsm.minimize().n_states  # minimised on the way out
    assert q.metadata["merged_from"] == fsm.n_states


@SETTINGS
@given(fsms_and_blocks())
def test_evidence_is_summed_over_blocks_and_conserved(case):
    fsm, blocks = case
    q = quotient_fsm(fsm, blocks)
    new = np.asarray(q.cluster_map)  # the state each old state became, -1 if dropped as unreachable
    assert new.shape == (fsm.n_states,)
    # states of one block end in one state (or are all dropped together)
    for b in range(int(blocks.max()) + 1):
        assert np.unique(new[blocks == b]).size == 1
    # transition counts: summed over both ends, counts touching a dropped state dropped
    expected = np.zeros_like(q.transition_counts)
    for p, a, r in zip(*np.nonzero(fsm.transition_counts)):
        if new[p] >= 0 and new[r] >= 0:
            expected[new[p], a, new[r]] += fsm.transition_counts[p, a, r]
    np.testing.assert_array_equal(q.transition_counts, expected)
    assert q.transition_counts.sum() + q.metadata["dropped_counts"] == fsm.transition_counts.sum()
    # output counts: summed over the states kept
    expected_out = np.zeros_like(q.output_counts)
    for p in range(fsm.n_states):
        if new[p] >= 0:
            expected_out[new[p]] += fsm.output_counts[p]
    np.testing.assert_array_equal(q.output_counts, expected_out)
    if (new >= 0).all():  # nothing unreachable: every count conserved exactly
        assert q.transition_counts.sum() == fsm.transition_counts.sum()
        assert q.output_counts.sum() == fsm.output_counts.sum()
    assert new[fsm.initial] == q.initial
    assert q.metadata["merged_from"] == fsm.n_states and q.metadata["seed"] == 0


@SETTINGS
@given(fsms_and_blocks())
def test_majority_transitions_and_outputs_of_merged_blocks(case):
    """Before minimisation merges equivalent blocks, each block answers with the majority of
    its members' outputs; the quotient recognises what that block automaton does."""
    fsm, blocks = case
    q = quotient_fsm(fsm, blocks)
    b = int(blocks.max()) + 1
    counts = np.zeros((b, fsm.n_symbols, b), np.int64)
    outputs = np.zeros((b, 2), np.int64)
    for p in range(fsm.n_states):
        outputs[blocks[p]] += fsm.output_counts[p]
        for a in range(fsm.n_symbols):
            for r in range(fsm.n_states):
                counts[blocks[p], a, blocks[r]] += fsm.transition_counts[p, a, r]
    weight = fsm.output_counts.sum(1)
    table = np.zeros((b, fsm.n_symbols), np.int64)
    for blk in range(b):
        members = np.flatnonzero(blocks == blk)
        rep = members[np.argmax(weight[members])]  # first member with the most outputs
        for a in range(fsm.n_symbols):
            table[blk, a] = counts[blk, a].argmax() if counts[blk, a].sum() else blocks[fsm.transitions[rep, a]]
    expected = ExtractedFSM(fsm.alphabet, table, outputs[:, 1] > outputs[:, 0], int(blocks[fsm.initial]))
    assert q.equivalent(expected)


# --------------------------------------------------------------------------- hand-built cases
def _parity_with_duplicate() -> ExtractedFSM:
    """Even number of 1s, state 2 a copy of state 0 (3 states, minimal 2), with evidence."""
    counts = np.zeros((3, 2, 3), np.int64)
    counts[0, 0, 0], counts[0, 1, 1] = 5, 4
    counts[1, 0, 1], counts[1, 1, 2] = 3, 3
    counts[2, 0, 2], counts[2, 1, 1] = 2, 2
    return ExtractedFSM.from_counts(counts, [[0, 5], [4, 0], [0, 3]], initial=0, alphabet="01",
                                    cluster_map=[0, 1, 2])


def test_merging_equivalent_states_gives_the_minimal_automaton():
    fsm = _parity_with_duplicate()
    np.testing.assert_array_equal(fsm.transitions, [[0, 1], [1, 2], [2, 1]])
    assert fsm.minimize().n_states == 2  # not minimal
    q = quotient_fsm(fsm, [0, 1, 0])
    assert q.n_states == 2
    even = fx.languages.from_regex("0*(10*10*)*", alphabet="01")
    assert q.equivalent(even) and fsm.equivalent(even)
    a, b = q.cluster_map[0], q.cluster_map[1]
    assert q.cluster_map.tolist() == [a, b, a] and a == q.initial
    # block {0, 2}: on 0 to itself 5 + 2, on 1 to {1} 4 + 2; block {1}: 3 and 3
    assert q.transition_counts[a, 0, a] == 7 and q.transition_counts[a, 1, b] == 6
    assert q.transition_counts[b, 0, b] == 3 and q.transition_counts[b, 1, a] == 3
    assert q.transition_counts.sum() == fsm.transition_counts.sum() == 19
    np.testing.assert_array_equal(q.output_counts[[a, b]], [[0, 8], [4, 0]])


def test_merging_states_that_differ_takes_the_majorities():
    """Merging reject-state 1 with accept-state 2 of the parity automaton: outputs 4 rejects
    against 3 accepts (the block rejects), and every transition of the block stays inside it,
    so the language is 0* (accept until the first 1)."""
    fsm = _parity_with_duplicate()
    q = quotient_fsm(fsm, [0, 1, 1])
    assert q.equivalent(fx.languages.from_regex("0*", alphabet="01"))
    b = q.cluster_map[1]
    np.testing.assert_array_equal(q.output_counts[b], [4, 3])
    assert q.transition_counts[b, 0, b] == 5 and q.transition_counts[b, 1, b] == 5
    assert not q.accepting[b]


def test_all_in_one_block():
    fsm = _parity_with_duplicate()
    q = quotient_fsm(fsm, [0, 0, 0])
    assert q.n_states == 1 and q.accepting.tolist() == [True]  # 8 accepts against 4 rejects
    assert q.transition_counts.tolist() == [[[10], [9]]] and q.output_counts.tolist() == [[4, 8]]


def test_unobserved_pair_takes_the_heaviest_members_transition():
    """States 1 and 2 were never observed on "b"; merged, the block follows state 2's completed
    transition (2 has more outputs than 1) and stays flagged completed."""
    counts = np.zeros((4, 2, 4), np.int64)
    counts[0, 0, 1], counts[0, 1, 2] = 3, 3
    counts[1, 0, 3], counts[2, 0, 3] = 1, 1
    counts[3, 0, 3], counts[3, 1, 0] = 2, 2
    outputs = [[5, 0], [1, 0], [4, 0], [0, 2]]
    completion = np.zeros((4, 2), np.int64)
    completion[1, 1], completion[2, 1] = 0, 3  # 1 -b-> 0, 2 -b-> 3
    fsm = ExtractedFSM.from_counts(counts, outputs, initial=0, alphabet="ab", completion=completion,
                                   cluster_map=[0, 1, 2, 3])
    assert fsm.completed[1, 1] and fsm.completed[2, 1]
    q = quotient_fsm(fsm, [0, 1, 1, 2])
    s, t = q.cluster_map[1], q.cluster_map[3]
    assert q.transitions[s, 1] == t  # state 2's choice, not state 1's (-> 0)
    assert q.completed[s, 1]
    assert q.transitions[s, 0] == t and not q.completed[s, 0]
    # only "b" from the block reaches the accepting state: words a b ... accept
    assert q.accepts("ab") and q.accepts("aa") and not q.accepts("a") and not q.accepts("")


def test_singleton_blocks_keep_the_language_without_evidence():
    fsm = ExtractedFSM("01", [[0, 1], [1, 0]], [True, False], 0)  # parity, no evidence
    q = quotient_fsm(fsm, [0, 1])
    assert q.equivalent(fsm)


# --------------------------------------------------------------------------- checks of blocks
BAD_BLOCKS = [
    pytest.param([0, 1], id="too-short"),
    pytest.param([0, 1, 2, 3], id="too-long"),
    pytest.param([0, 2, 2], id="label-1-unused"),
    pytest.param([0, 1, 5], id="label-out-of-range"),
    pytest.param([-1, 0, 1], id="negative-label"),
    pytest.param([[0, 1, 2]], id="two-dimensional"),
    pytest.param([0.5, 1.0, 2.0], id="not-integers"),
]


@pytest.mark.parametrize("blocks", BAD_BLOCKS)
def test_bad_blocks_raise_a_package_error_naming_blocks(blocks):
    with pytest.raises(FsmExtractError, match="blocks"):
        quotient_fsm(_parity_with_duplicate(), np.array(blocks))


def test_good_blocks_given_as_a_list():
    q = quotient_fsm(_parity_with_duplicate(), [1, 0, 1])  # labels need not follow state order
    assert q.n_states == 2 and q.equivalent(fx.languages.from_regex("0*(10*10*)*", alphabet="01"))
