"""Passes over a corpus, chunk by chunk: in this process, or on Dask workers.

Two passes a streamed extraction needs:

- :func:`count_corpus`: trace each chunk, assign its steps to the abstraction's clusters and
  count transitions, outputs and sums (:class:`~fsm_extract.abstraction.build.ClusterTotals`);
- :func:`check_corpus`: run the net's outputs and the automaton side by side on each chunk and
  count where they agree (:class:`RunTotals`), keeping the first disagreeing words.

Each chunk's result is a function of the chunk alone, and the results are added in chunk order,
so the totals do not depend on where the chunks ran: ``engine="dask"`` gives the automaton the
in-process engine gives. Dask is an optional dependency (``pip install "fsm-extract[dask]"``),
imported only when ``engine="dask"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np

from .._checks import check_choice, check_int
from .build import ClusterTotals, row_sums
from ..automata.counting import run_transitions
from ..data.corpus import CHUNK_STEPS, Chunk, Corpus
from ..errors import ArgumentTypeError, ValidationError
from ..nets.forward import padded_steps
from ..nets.trace import StateKind

__all__ = ["Engine", "RunTotals", "count_corpus", "check_corpus", "check_engine", "chunk_steps_for", "sample_steps_for"]

Engine = Literal["local", "dask"]

#: State values (steps x width) one chunk holds at most: a chunk's trace is 64 MB of float32.
CHUNK_VALUES = 2**24
#: Disagreeing words a check keeps (the first ones in corpus order).
KEEP_WORDS = 256
#: Chunks in flight on a Dask cluster per worker (bounds the driver's memory).
IN_FLIGHT_PER_WORKER = 2


def chunk_steps_for(dim: int) -> int:
    """Steps per chunk for states of width ``dim``: at most :data:`CHUNK_STEPS`, and at most
    :data:`CHUNK_VALUES` state values."""
    return int(max(1024, min(CHUNK_STEPS, CHUNK_VALUES // max(dim, 1))))


#: Steps of a sample are at most this many state values over the net's full state width (the
#: default of ``sample_steps``): a sample's trace and what refinement derives from it stay near 1 GB.
SAMPLE_VALUES = 2**27
#: The default sample's most steps.
SAMPLE_STEPS = 1_000_000


def sample_steps_for(net: Any, sample_steps: Any) -> int:
    """``sample_steps`` checked, or its default for ``net`` (None): :data:`SAMPLE_STEPS`, fewer for
    wide nets (:data:`SAMPLE_VALUES` over the width of the full state: 262,144 steps for a 256-unit
    LSTM, 10^6 up to 64 units)."""
    if sample_steps is None:
        return int(min(SAMPLE_STEPS, SAMPLE_VALUES // max(1, net.state_dim(net.full_state))))
    return check_int("sample_steps", sample_steps, min=1)


def check_engine(engine: Any, scheduler: Any) -> Engine:
    """``engine`` checked; ``scheduler`` only goes with ``engine="dask"``."""
    check_choice("engine", engine, ("local", "dask"))
    if scheduler is not None and engine != "dask":
        raise ValidationError(f"scheduler={scheduler!r} needs engine='dask', got engine={engine!r}")
    if scheduler is not None and not isinstance(scheduler, str) and type(scheduler).__name__ != "Client":
        raise ArgumentTypeError(f"scheduler must be a Dask scheduler address (str) or a distributed.Client, got "
                                f"{type(scheduler).__name__}")
    return engine


@dataclass
class RunTotals:
    """Agreement of the net and an automaton over a corpus, counted chunk by chunk.

    Attributes
    ----------
    n_words, n_steps : int
    prefix_agree, word_agree : int
        Prefixes (steps) and whole words where the automaton's output class is the net's.
    word_len_total, word_len_agree : ndarray of shape (max_length + 1,), int64
        Words of each length, and those the automaton gets right.
    prefix_len_total, prefix_len_agree : ndarray of shape (max_length + 1,), int64
        Prefixes of each length (1 ..), and those it gets right.
    state_prob_sums : ndarray of shape (n_states, n_classes), float64
        The net's class probabilities summed over the prefixes the automaton puts in each state
        (the empty prefix once per word in the initial state).
    state_visits : ndarray of shape (n_states,), int64
    bad_words : list of int
        Corpus indices of the first :data:`KEEP_WORDS` words with a disagreeing prefix.
    net_steps : int
    """

    n_words: int
    n_steps: int
    prefix_agree: int
    word_agree: int
    word_len_total: np.ndarray
    word_len_agree: np.ndarray
    prefix_len_total: np.ndarray
    prefix_len_agree: np.ndarray
    state_prob_sums: np.ndarray
    state_visits: np.ndarray
    bad_words: list = field(default_factory=list)
    net_steps: int = 0

    def __add__(self, other: "RunTotals") -> "RunTotals":
        out = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self) if f.name != "bad_words"}
        out["bad_words"] = (self.bad_words + other.bad_words)[:KEEP_WORDS]
        return RunTotals(**out)

    @property
    def prefix_agreement(self) -> float:
        return self.prefix_agree / self.n_steps if self.n_steps else 1.0

    @property
    def word_agreement(self) -> float:
        return self.word_agree / self.n_words if self.n_words else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"words": self.n_words, "prefixes": self.n_steps, "prefix_agreement": self.prefix_agreement,
                "word_agreement": self.word_agreement, "disagreeing_prefixes": self.n_steps - self.prefix_agree}


# --------------------------------------------------------------------------- one chunk
def chunk_totals(net: Any, abstraction: Any, symbols: np.ndarray, offsets: np.ndarray, *, state: StateKind,
                 batch_size: int) -> ClusterTotals:
    """:class:`ClusterTotals` of one chunk: trace it, assign its steps to clusters, count."""
    before = net.steps
    trace = net.trace(symbols, offsets, state=state, batch_size=batch_size)
    labels = abstraction.predict(trace.hidden)
    k = int(np.asarray(abstraction.centroids_).shape[0])
    return ClusterTotals.of_trace(trace, labels, int(abstraction.initial_label_), k, net_steps=net.steps - before)


def chunk_check(net: Any, fsm: Any, symbols: np.ndarray, offsets: np.ndarray, *, first: int, max_length: int,
                batch_size: int) -> RunTotals:
    """:class:`RunTotals` of one chunk whose first word is corpus word ``first``."""
    probs, h0 = net.outputs(symbols, offsets, batch_size=batch_size)
    net_steps = padded_steps(offsets, batch_size)
    states = run_transitions(fsm.transitions, symbols, offsets, fsm.initial)
    outputs = np.asarray(fsm.state_outputs)
    agree = outputs[states] == net.classes_of(probs)
    lengths = np.diff(offsets)
    n_words = lengths.size
    h0_class = int(net.classes_of(h0[None, :])[0])
    empty_ok = int(outputs[fsm.initial]) == h0_class
    word_ok = np.full(n_words, empty_ok)
    nonempty = lengths > 0
    word_ok[nonempty] = agree[offsets[1:][nonempty] - 1]
    # a word is bad when any of its prefixes (the empty one included) disagrees
    bad_prefix = np.add.reduceat(~agree, offsets[:-1][nonempty]) if agree.size else np.zeros(0, int)
    bad = np.full(n_words, not empty_ok)
    bad[nonempty] |= bad_prefix > 0
    position = np.arange(symbols.size) - np.repeat(offsets[:-1], lengths) + 1
    size = max_length + 1
    n = fsm.n_states
    sums = row_sums(states, probs, n)
    sums[fsm.initial] += n_words * h0.astype(np.float64)
    visits = np.bincount(states, minlength=n).astype(np.int64)
    visits[fsm.initial] += n_words
    return RunTotals(
        n_words=n_words, n_steps=int(symbols.size), prefix_agree=int(agree.sum()), word_agree=int(word_ok.sum()),
        word_len_total=np.bincount(lengths, minlength=size), word_len_agree=np.bincount(lengths[word_ok], minlength=size),
        prefix_len_total=np.bincount(position, minlength=size), prefix_len_agree=np.bincount(position[agree], minlength=size),
        state_prob_sums=sums, state_visits=visits, bad_words=(first + np.flatnonzero(bad)[:KEEP_WORDS]).tolist(),
        net_steps=net_steps)


def _count_task(net: Any, abstraction: Any, chunk: Chunk, state: StateKind, batch_size: int) -> ClusterTotals:
    return chunk_totals(net, abstraction, chunk.symbols, chunk.offsets, state=state, batch_size=batch_size)


def _check_task(net: Any, fsm: Any, chunk: Chunk, max_length: int, batch_size: int) -> RunTotals:
    return chunk_check(net, fsm, chunk.symbols, chunk.offsets, first=chunk.first, max_length=max_length,
                       batch_size=batch_size)


# --------------------------------------------------------------------------- passes
def _progress_bar(corpus: Corpus, what: str, progress: bool) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=corpus.n_steps, desc=what, unit="step", unit_scale=True, leave=False)


def _run(task: Callable, shared: tuple, corpus: Corpus, args: tuple, *, max_steps: int, engine: Engine,
         scheduler: Any, progress: bool, what: str) -> Any:
    """Apply ``task(*shared, chunk, *args)`` to every chunk and add the results in chunk order."""
    bar = _progress_bar(corpus, what, progress)
    total = None
    try:
        results = (_local(task, shared, corpus, args, max_steps) if engine == "local"
                   else _dask(task, shared, corpus, args, max_steps, scheduler))
        for result, steps in results:
            total = result if total is None else total + result
            if bar is not None:
                bar.update(steps)
    finally:
        if bar is not None:
            bar.close()
    return total


def _local(task: Callable, shared: tuple, corpus: Corpus, args: tuple, max_steps: int) -> Iterator[tuple[Any, int]]:
    for chunk in corpus.chunks(max_steps):
        yield task(*shared, chunk, *args), chunk.n_steps


def _client(scheduler: Any) -> tuple[Any, bool]:
    """A ``distributed.Client`` for ``scheduler`` (an address, a Client, or None: a local cluster)
    and whether this call owns it (and closes it)."""
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        raise ValidationError("engine='dask' needs Dask's distributed scheduler: pip install 'fsm-extract[dask]'") from exc
    if scheduler is None:
        return Client(processes=False), True
    if isinstance(scheduler, str):
        try:
            return Client(scheduler, timeout=30), True
        except OSError as exc:
            raise ValidationError(f"scheduler={scheduler!r} must be the address of a running Dask scheduler: {exc}") from None
    return scheduler, False


def _dask(task: Callable, shared: tuple, corpus: Corpus, args: tuple, max_steps: int,
          scheduler: Any) -> Iterator[tuple[Any, int]]:
    """Chunks as tasks on a Dask cluster, a bounded number in flight; results yielded in chunk order."""
    from distributed import wait

    client, owned = _client(scheduler)
    try:
        scattered = client.scatter(list(shared), broadcast=True)
        window = max(2, IN_FLIGHT_PER_WORKER * max(1, len(client.scheduler_info().get("workers", {}))))
        bounds = corpus.bounds(max_steps)
        pending: dict[int, Any] = {}
        nxt = 0
        for i, (lo, hi) in enumerate(bounds):
            chunk = corpus.chunk(lo, hi)
            pending[i] = (client.submit(task, *scattered, chunk, *args, pure=False), chunk.n_steps)
            while len(pending) >= window or (i == len(bounds) - 1 and pending):
                future, steps = pending.pop(nxt)
                wait([future])
                yield future.result(), steps
                nxt += 1
    finally:
        if owned:
            client.close()


def count_corpus(net: Any, abstraction: Any, corpus: Corpus, *, state: StateKind, batch_size: int = 512,
                 engine: Engine = "local", scheduler: Any = None, progress: bool = False) -> ClusterTotals:
    """:class:`ClusterTotals` of every word of ``corpus`` (see the module docstring); the net
    steps the workers spent are added to ``net.steps``."""
    max_steps = chunk_steps_for(net.state_dim(state))
    totals = _run(_count_task, (net, abstraction), corpus, (state, batch_size), max_steps=max_steps, engine=engine,
                  scheduler=scheduler, progress=progress, what="count")
    if engine != "local":
        net.steps += totals.net_steps
    return totals


def check_corpus(net: Any, fsm: Any, corpus: Corpus, *, batch_size: int = 512, engine: Engine = "local",
                 scheduler: Any = None, progress: bool = False) -> RunTotals:
    """:class:`RunTotals` of ``fsm`` beside the net over every word of ``corpus``."""
    max_steps = chunk_steps_for(net.state_dim("h"))
    totals = _run(_check_task, (net, fsm), corpus, (corpus.max_length, batch_size), max_steps=max_steps,
                  engine=engine, scheduler=scheduler, progress=progress, what="check")
    if totals is None:  # an empty corpus
        raise ValidationError(f"{corpus.name} must hold at least one word, got none")
    if engine != "local":
        net.steps += totals.net_steps
    return totals
