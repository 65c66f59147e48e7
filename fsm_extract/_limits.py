"""The stated limits on what a file or an argument may ask for, in one place.

Each limit is checked before anything of that size is allocated or any slow program runs, so
a small hostile (or careless) input is refused in well under a second with little memory,
instead of exhausting the machine. Every limit can be raised by the keyword named beside it
where a user truly needs more; the README's "Limits" table lists them.

=========================  ===========  ===========================================
limit                      default      raised with
=========================  ===========  ===========================================
checkpoint parameters      50,000,000   ``load_model(path, max_parameters=...)``
FSM JSON states            4,096        ``load_fsm(path, max_states=...)``
regex DFA states           4,000        ``from_regex(pattern, alphabet=..., max_states=...)``
regex NFA states           4 x DFA      raised with ``max_states`` (proportionally)
diagram nodes (render)     100          ``render(fsm, path, max_states=...)``
diagram edges (render)     2 x states   raised with ``max_states`` (proportionally)
``dot`` running time       60 s         ``render(fsm, path, timeout=...)``
=========================  ===========  ===========================================
"""

from __future__ import annotations

__all__ = [
    "MAX_PARAMETERS",
    "CHECKPOINT_SLACK_BYTES",
    "MAX_FSM_STATES",
    "fsm_table_cells",
    "check_fsm_size",
    "MAX_REGEX_STATES",
    "REGEX_NFA_PER_STATE",
    "REGEX_WORK_PER_STATE",
    "MAX_RENDER_STATES",
    "RENDER_EDGES_PER_STATE",
    "DOT_TIMEOUT",
]

# ----------------------------------------------------------------------------- checkpoints
#: Weights a checkpoint may declare in all (embedding, recurrent layers, head): 200 MB as
#: float32. A 4-layer LSTM of 1,024 units has 33.6 million.
MAX_PARAMETERS = 50_000_000
#: Bytes a checkpoint may hold beyond 8 per parameter (its pickle and metadata).
CHECKPOINT_SLACK_BYTES = 4 * 2**20

# ----------------------------------------------------------------------------- FSM JSON
#: States an FSM file may declare. The evidence table is dense, (states x symbols x states)
#: int64, so its size is also held to what ``max_states`` states need on two symbols:
#: 2 x 4096**2 counts = 256 MiB at the default (a 100-symbol FSM may have 579 states).
MAX_FSM_STATES = 4096


def fsm_table_cells(max_states: int) -> int:
    """The most cells the dense evidence table may have under ``max_states``."""
    return 2 * max_states * max_states


# ----------------------------------------------------------------------------- regexes
#: States of the DFA ``from_regex`` builds by subset construction (before it is minimised). The
#: NFA, whose size is estimated from the pattern before it is built (counted repetitions
#: expanded arithmetically), may have ``REGEX_NFA_PER_STATE`` times as many. Minimising a
#: 4,000-state chain takes about 2 s (Moore refinement is quadratic on chains).
MAX_REGEX_STATES = 4000
REGEX_NFA_PER_STATE = 4
#: The subset construction may visit at most this many NFA states per allowed DFA state in
#: all (its running time and memory): 800,000 at the default, a second or two.
REGEX_WORK_PER_STATE = 200

# ----------------------------------------------------------------------------- diagrams
#: States a diagram drawn by Graphviz may have (hidden sink states not counted). Layout time
#: grows steeply with size: on random automata, 100 states and 200 edges took about 4 s, 150
#: states 12 s, 200 states and 60 states on 4 symbols (240 edges) 30 s to more than 2 minutes.
MAX_RENDER_STATES = 100
#: Edges (parallel transitions grouped) a diagram may have per allowed state.
RENDER_EDGES_PER_STATE = 2
#: Seconds the ``dot`` program may run before it is stopped.
DOT_TIMEOUT = 60.0


def check_fsm_size(n_states: int, n_symbols: int, max_states: int, *, what: str, exc: type[Exception]) -> None:
    """Raise ``exc`` if an FSM of this size exceeds ``max_states`` or its dense evidence table
    exceeds :func:`fsm_table_cells` (checked before the table is allocated)."""
    hint = "pass load_fsm(..., max_states=...) or ExtractedFSM.from_dict(..., max_states=...) to load a larger automaton"
    if n_states > max_states:
        raise exc(f"{what} has {n_states} states, which must be <= max_states={max_states}; {hint}")
    cells, limit = n_states * n_symbols * n_states, fsm_table_cells(max_states)
    if cells > limit:
        raise exc(
            f"{what} has {n_states} states on {n_symbols} symbols: its dense evidence table of {n_states} x "
            f"{n_symbols} x {n_states} = {cells:,} counts ({cells * 8 / 2**20:,.0f} MiB) must hold <= {limit:,} "
            f"(what max_states={max_states} states need on 2 symbols); {hint}"
        )
