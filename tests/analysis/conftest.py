"""The hand-built case that the tests of tests/analysis share.

An ExtractedFSM and a Trace built by hand (1-D hidden states near cluster centroids), so that
each figure of a fidelity report can be derived on paper; the comments derive them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import fsm_extract as fx
from fsm_extract.analysis.fidelity import evaluate_trace
from fsm_extract.nets.trace import Trace
from fsm_extract.words import encode_words


def make_trace(words, hidden, outputs, *, h0=(0.0,), h0_output=0.2, alphabet=("a", "b")):
    """A Trace of ``words`` with the given per-step hidden vectors (or scalars) and outputs."""
    symbols, offsets = encode_words(words, tuple(alphabet))
    hidden = np.asarray(hidden, dtype=np.float32)
    if hidden.ndim == 1:
        hidden = hidden[:, None]
    return Trace(hidden=hidden, symbols=symbols, offsets=offsets, h0=np.asarray(h0, np.float32),
                 outputs=np.asarray(outputs, np.float32), h0_output=h0_output, alphabet=tuple(alphabet))


def entropy_bits(*p):
    return -sum(x * math.log2(x) for x in p if x > 0)


# FSM over ("a", "b"): "odd number of a's".  q0 initial, rejecting; q1 accepting.
#   q0 -a-> q1, q0 -b-> q0, q1 -a-> q0, q1 -b-> q1
# Evidence: (q0, a) and (q0, b) were observed when fitting; (q1, b) was completed from the net;
# (q1, a) is neither (given).  One cluster per state, 1-D centroids 0.0 (q0) and 1.0 (q1).
#
# Words (global step index in brackets), with per step: symbol, FSM state before -> after,
# hidden h, the net's abstract state (nearest centroid), net probability, FSM output:
#   w0 ""            empty: FSM rejects (q0), net h0_output 0.2 rejects              agree
#   w1 "a"    [0]    a  q0->q1  h 0.9  net 1  p 0.8 acc | FSM acc                       agree
#   w2 "ab"   [1]    a  q0->q1  h 1.1  net 1  p 0.7 acc | acc                           agree
#             [2]    b  q1->q1  h 0.1  net 0  p 0.3 rej | acc   PARTING at (q1, b)      DISAGREE
#   w3 "ba"   [3]    b  q0->q0  h 0.1  net 0  p 0.1 rej | rej                           agree
#             [4]    a  q0->q1  h 0.2  net 0  p 0.9 acc | acc   PARTING at (q0, a)      agree
#   w4 "aab"  [5]    a  q0->q1  h 1.0  net 1  p 0.6 acc | acc                           agree
#             [6]    a  q1->q0  h 0.0  net 0  p 0.4 rej | rej                           agree
#             [7]    b  q0->q0  h 0.0  net 0  p 0.7 acc | rej   (states agree)          DISAGREE
#   w5 "bb"   [8]    b  q0->q0  h -0.1 net 0  p 0.2 rej | rej                           agree
#             [9]    b  q0->q0  h 0.05 net 0  p 0.1 rej | rej                           agree
#   w6 "abb"  [10]   a  q0->q1  h 1.0  net 1  p 0.9 acc | acc                           agree
#             [11]   b  q1->q1  h 0.0  net 0  p 0.2 rej | acc   PARTING at (q1, b)      DISAGREE
#             [12]   b  q1->q1  h 1.0  net 1  p 0.3 rej | acc   (states agree again)    DISAGREE
#   w7 "b"*11 [13..23] b q0->q0 h 0.0  net 0  p 0.1 rej | rej                           agree x 11
# h0 = 0.0 -> abstract state 0 = FSM initial.  24 steps (prefixes), 8 words.
WORDS = ["", "a", "ab", "ba", "aab", "bb", "abb", "b" * 11]


HIDDEN = [0.9, 1.1, 0.1, 0.1, 0.2, 1.0, 0.0, 0.0, -0.1, 0.05, 1.0, 0.0, 1.0] + [0.0] * 11


OUTPUTS = [0.8, 0.7, 0.3, 0.1, 0.9, 0.6, 0.4, 0.7, 0.2, 0.1, 0.9, 0.2, 0.3] + [0.1] * 11


# task labels: the FSM's own answers (odd number of a's) except w2 "ab", labelled False
LABELS = np.array([False, True, False, True, False, False, True, False])


def parity_fsm(**extra):
    counts = np.zeros((2, 2, 2), np.int64)
    counts[0, 0, 1] = 7  # (q0, a) observed 7 times, all to q1
    counts[0, 1, 0] = 9  # (q0, b) observed 9 times, all to q0
    kwargs = dict(
        alphabet=("a", "b"),
        transitions=[[1, 0], [0, 1]],
        accepting=[False, True],
        initial=0,
        transition_counts=counts,
        completed=[[False, False], [False, True]],  # (q1, b) completed; (q1, a) given
        centroids=[[0.0], [1.0]],
        cluster_map=[0, 1],
        cluster_centroids=[[0.0], [1.0]],
        metadata={"state": "h"},
    )
    kwargs.update(extra)
    return fx.ExtractedFSM(**kwargs)


def ends_with_a():
    """Reference: words ending in "a".  r0 (initial, rejecting) -a-> r1 (accepting) -b-> r0."""
    from automata.fa.dfa import DFA

    return DFA(states={"r0", "r1"}, input_symbols={"a", "b"},
               transitions={"r0": {"a": "r1", "b": "r0"}, "r1": {"a": "r1", "b": "r0"}},
               initial_state="r0", final_states={"r1"})


@pytest.fixture(scope="module")
def hand_report():
    trace = make_trace(WORDS, HIDDEN, OUTPUTS)
    return evaluate_trace(parity_fsm(), trace, labels=LABELS, reference=ends_with_a(),
                          held_out=True, max_fit_length=2)
