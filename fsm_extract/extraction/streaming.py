"""Extraction from a corpus too large for memory: fit on a seeded sample, count over all of it.

:func:`extract_streamed` is what :func:`fsm_extract.extract` runs when its data holds more than
``sample_steps`` steps, comes as a file or a one-shot iterable that does, or ``engine="dask"``:

1. the corpus is spooled once (:class:`~fsm_extract.data.corpus.Corpus`) and a seeded sample of
   whole words holding about ``sample_steps`` steps is drawn from it;
2. plain extraction fits the abstraction on the sample's trace, then traces the whole corpus
   chunk by chunk, assigns each step to a cluster and counts transitions and outputs
   (:func:`~fsm_extract.abstraction.engine.count_corpus`, in this process or on Dask workers);
   the automaton is built from those counts, and the sample completes the pairs they never
   took;
3. refined extraction refines, merges and chooses on the sample (what in-memory extraction does
   with all the words), then checks the automaton against the net over the whole corpus
   (:func:`~fsm_extract.abstraction.engine.check_corpus`); words where they part join the sample
   and extraction runs again, up to :data:`CHECK_ROUNDS` times.

Peak memory is set by the chunk and sample sizes, not by the corpus. ``metadata["stream"]``
records the corpus, the sample, the engine and the whole-corpus check.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from ..abstraction.build import build_fsm
from ..abstraction.clustering import make_abstraction
from ..abstraction.codebook import use_codebook
from ..automata.automaton import ExtractedFSM
from ..data.corpus import Corpus
from ..errors import ValidationError
from ..abstraction.engine import RunTotals, check_corpus, count_corpus

__all__ = ["extract_streamed", "own_run_totals", "CHECK_ROUNDS"]

#: Rounds of "check over the whole corpus, add the words where net and automaton part, extract
#: again" a refined streamed extraction runs at most.
CHECK_ROUNDS = 2


def own_run_totals(fsm: ExtractedFSM, check: RunTotals) -> ExtractedFSM:
    """``fsm`` with each state's output distribution re-estimated from a whole-corpus check (see
    :func:`fsm_extract.abstraction.build.own_run_probs`); an acceptor as it is."""
    if fsm.output_kind == "accept" or fsm.output_probs is None:
        return fsm
    out = np.array(fsm.output_probs, dtype=np.float64)
    seen = check.state_visits > 0
    out[seen] = check.state_prob_sums[seen] / check.state_visits[seen, None]
    return dataclasses.replace(fsm, output_probs=out / out.sum(1, keepdims=True))


def _record(corpus: Corpus, sample: np.ndarray, engine: str, check: RunTotals | None = None,
            rounds: int | None = None) -> dict[str, Any]:
    lengths = corpus.lengths()
    rec: dict[str, Any] = {"words": corpus.n_words, "steps": corpus.n_steps, "sample_words": int(sample.size),
                           "sample_steps": int(lengths[sample].sum()), "engine": engine}
    if check is not None:
        rec["check"] = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in check.to_dict().items()}
    if rounds is not None:
        rec["check_rounds"] = rounds
    return rec


def extract_streamed(net: Any, corpus: Corpus, *, refined: Callable[[list], ExtractedFSM] | None,
                     cluster: dict[str, Any], sample_steps: int, passes: dict[str, Any],
                     meta: dict[str, Any]) -> ExtractedFSM:
    """See the module docstring. ``refined``: the in-memory refined extraction of a list of words
    (None: plain extraction); ``cluster``: ``extract``'s clustering keywords (``n_states``,
    ``method``, ``state``, ``seed``, ``max_fit_points``, ``minimize``, ``batch_size``,
    ``progress``); ``passes``: ``engine`` and ``scheduler``."""
    if corpus.n_steps == 0:
        raise ValidationError("data must hold at least one non-empty word, got only empty words")
    seed, state, batch_size = cluster["seed"], cluster["state"], cluster["batch_size"]
    sample = corpus.sample(sample_steps, seed=seed)
    passes = {**passes, "batch_size": batch_size, "progress": cluster["progress"]}
    if refined is not None:
        return _refined(net, corpus, sample, refined, meta=meta, **passes)
    if net.output_kind == "next-symbol":
        meta["codebook"] = use_codebook(net, corpus.words(sample), seed=seed)
    part = corpus.take(sample)
    trace = net.trace(part.symbols, part.offsets, state=state, batch_size=batch_size)
    if trace.n_steps == 0:
        raise ValidationError("the sample of data holds only empty words: raise sample_steps")
    abstraction = make_abstraction(cluster["method"], n_states=cluster["n_states"], seed=seed,
                                   max_fit_points=cluster["max_fit_points"]).fit(trace)
    totals = count_corpus(net, abstraction, corpus, state=state, **passes)
    meta.update(method=cluster["method"], n_clusters=cluster["n_states"], state=state, n_fit_words=corpus.n_words,
                n_fit_steps=corpus.n_steps, max_fit_length=corpus.max_length)
    fsm = build_fsm(net, trace, abstraction, minimize=cluster["minimize"], metadata=meta, totals=totals)
    if fsm.output_kind == "accept":
        return fsm.with_metadata(stream=_record(corpus, sample, passes["engine"]))
    check = check_corpus(net, fsm, corpus, **passes)
    return own_run_totals(fsm, check).with_metadata(stream=_record(corpus, sample, passes["engine"], check))


def _refined(net: Any, corpus: Corpus, sample: np.ndarray, refined: Callable[[list], ExtractedFSM], *,
             meta: dict[str, Any], **passes: Any) -> ExtractedFSM:
    chosen = sample
    fsm = refined(corpus.words(chosen))
    check = check_corpus(net, fsm, corpus, **passes)
    rounds = 0
    while check.prefix_agree < check.n_steps and rounds < CHECK_ROUNDS:
        extra = np.setdiff1d(np.asarray(check.bad_words, dtype=np.int64), chosen)
        if extra.size == 0:
            break
        rounds += 1
        chosen = np.union1d(chosen, extra)
        candidate = refined(corpus.words(chosen))
        again = check_corpus(net, candidate, corpus, **passes)
        if again.prefix_agree < check.prefix_agree:
            break  # the counterexamples made it worse over the corpus: keep the one before
        fsm, check = candidate, again
    fsm = own_run_totals(fsm, check)
    record = _record(corpus, chosen, passes["engine"], check, rounds)
    return fsm.with_metadata(**meta, n_fit_words=corpus.n_words, n_fit_steps=corpus.n_steps,
                             max_fit_length=corpus.max_length, stream=record)
