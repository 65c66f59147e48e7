"""``fx.fidelity``: how much of the net's computation an extracted automaton explains, and
where the rest is.

Everything is measured on the data given (held out by default: pass words the automaton was
not fitted on), by running the net and the FSM side by side over every prefix.
"""

from __future__ import annotations

from collections.abc import Iterable
import dataclasses
from typing import Any

import numpy as np
from automata.fa.dfa import DFA

from .._checks import check_int
from ..abstraction.features import FeatureMap
from ..automata.automaton import ExtractedFSM
from ..data.datasets import Dataset
from ..data.languages import Language, from_dfa
from ..errors import ArgumentTypeError, ValidationError
from ..abstraction.codebook import match_outputs
from .next_symbol import next_symbol_measures
from ..nets.net import as_net
from ..nets.trace import Trace
from ..words import STREAM_DIGEST, check_ordered_words, encode_words, stream_digest, word_hash_sum, word_keys, words_digest
from ..abstraction.engine import Engine, RunTotals, check_corpus, check_engine, sample_steps_for
from ..data.corpus import Corpus, in_memory, is_corpus_source
from ..nets.net import move_net
from .agreement import (
    BUCKET,
    beyond_fit,
    by_length,
    concentration,
    coverage,
    determinism,
    growth,
    price,
    reference_check,
    shortest_disagreements,
    side_by_side,
    task_accuracy,
    variance_explained,
)
from .alignment import align_to_net, needs_alignment
from .report import FidelityReport, headline
from .residual import add_search_finds, attribute_residual
from .search import MAX_BUDGET, search_disagreements
from .state_examples import state_examples

__all__ = ["FidelityReport", "fidelity", "evaluate_trace", "reference_table", "as_specification"]


def reference_table(reference: Any, alphabet: tuple) -> tuple[np.ndarray, np.ndarray, int]:
    """(table, accepting, initial) of a Language, automata-lib DFA or ExtractedFSM, with its
    columns in the order of ``alphabet``."""

    if isinstance(reference, ExtractedFSM):
        ref_alpha, (table, acc, init) = reference.alphabet, (reference.transitions, reference.accepting, reference.initial)
    else:
        if not isinstance(reference, Language):
            try:
                reference = from_dfa(reference)
            except Exception as exc:
                raise ArgumentTypeError(f"reference must be a Language, an automata-lib DFA or an ExtractedFSM, got {type(reference).__name__}") from exc
        ref_alpha, (table, acc, init) = reference.alphabet, reference.transition_table()
    if set(ref_alpha) != set(alphabet):
        raise ValidationError(f"reference alphabet {sorted(ref_alpha)} must equal the FSM's alphabet {sorted(alphabet)}")
    cols = [list(ref_alpha).index(s) for s in alphabet]
    return np.asarray(table)[:, cols], np.asarray(acc, bool), int(init)


def evaluate_trace(
    fsm: ExtractedFSM,
    trace: Trace,
    *,
    labels: np.ndarray | None = None,
    reference: Any = None,
    held_out: bool | None = None,
    overlap: float | None = None,
    max_fit_length: int | None = None,
    notes: tuple = (),
    points: np.ndarray | None = None,
    point0: np.ndarray | None = None,
    search: Any = None,
) -> FidelityReport:
    """The report for a trace that was already collected (see :func:`fidelity`).

    ``points``/``point0``: what the FSM's abstraction clusters for each step and for ``h0``,
    when that is not the hidden state itself (behavioural features). ``search``: a
    :class:`~fsm_extract.analysis.search.SearchResult` on the same FSM, whose finds join the residual."""
    if trace.alphabet != fsm.alphabet:
        raise ValidationError(f"the trace's alphabet {list(trace.alphabet)} must equal the FSM's alphabet {list(fsm.alphabet)}")
    if fsm.centroids is not None and fsm.centroids.shape[1] != trace.dim:
        raise ValidationError(
            f"fsm.centroids have {fsm.centroids.shape[1]} columns but the trace has dim={trace.dim}: the FSM was "
            f"extracted from another net, or with another state kind (state={fsm.state_layout!r})"
        )
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (trace.n_words,):
            raise ValidationError(f"labels must have shape ({trace.n_words},), one per word, got {labels.shape}")
    if points is None:
        points, point0 = trace.hidden, trace.h0
    if fsm.cluster_centroids is None or fsm.cluster_centroids.shape[1] != points.shape[1]:
        raise ValidationError(
            f"the FSM's cluster centroids have {None if fsm.cluster_centroids is None else fsm.cluster_centroids.shape[1]} "
            f"columns but the trace has dim={trace.dim}: trace the net with the state kind the FSM was extracted with "
            f"(state={fsm.state_layout!r})"
        )
    run = side_by_side(fsm, trace, points, point0)
    n, k, n_steps = fsm.n_states, len(fsm.alphabet), trace.n_steps
    items, first_parting = attribute_residual(
        fsm_states=run.fsm_states, net_states=run.net_states, disagree=~run.agree_p, symbols=trace.symbols,
        offsets=trace.offsets, initial=fsm.initial, net_initial=run.net_initial, n_states=n, alphabet=fsm.alphabet,
        completed=fsm.completed, n_prefixes=n_steps,
    )
    ref = None
    if reference is not None:
        ref = reference_check(fsm, trace, run, *reference_table(reference, fsm.alphabet))
    variance = variance_explained(fsm, trace, run)
    det, det_rows = determinism(fsm, trace, run)
    conc = concentration(items)
    prefix_agreement = float(run.agree_p.mean()) if n_steps else 1.0
    empty_disagrees = int(fsm.state_outputs[fsm.initial]) != trace.h0_class
    if empty_disagrees:
        said = (("accept" if fsm.accepting[fsm.initial] else "reject") if fsm.output_kind == "accept"
                else f"class {int(fsm.classes[fsm.initial])}")
        notes = (*notes, f"the FSM and the net disagree on the empty word: the initial state q{fsm.initial}'s output "
                         f"({said}) is not the net's (class {trace.h0_class})")
    head = headline(prefix_agreement, variance, held_out=held_out, overlap=overlap, empty_disagrees=empty_disagrees,
                    residual=(conc["share"], conc["places"], n, k) if conc["places"] else None, search=search)
    if search is not None:
        items = add_search_finds(items, search.disagreements, transitions=fsm.transitions, initial=fsm.initial,
                                 alphabet=fsm.alphabet, completed=fsm.completed)
    task = task_accuracy(run, labels)
    return FidelityReport(
        headline=head, n_words=trace.n_words, n_prefixes=n_steps, held_out=held_out, overlap=overlap,
        word_agreement=float(run.agree_w.mean()) if trace.n_words else 1.0, prefix_agreement=prefix_agreement,
        by_length=by_length(trace, run), beyond_fit=beyond_fit(trace, run, max_fit_length),
        max_fit_length=max_fit_length, state_agreement=float((run.net_states == run.fsm_states).mean()) if n_steps else 1.0,
        initial_state_agrees=run.net_initial == fsm.initial, first_parting=first_parting, variance_explained=variance,
        determinism=det, determinism_table=det_rows, coverage=coverage(fsm, trace, run),
        task=task, reference=ref, residual=tuple(items),
        shortest_disagreements=tuple(shortest_disagreements(trace, run, fsm.alphabet)), residual_concentration=conc,
        n_transitions=n * k, notes=tuple(notes), search=None if search is None else search.to_dict(),
        aligned=fsm.metadata.get("aligned"), price=price(run, task, fsm.n_states),
        growth=growth(trace, run, fsm.alphabet), output_kind=fsm.output_kind,
        next_symbol=next_symbol_measures(fsm, trace, run.fsm_states) if fsm.output_kind == "next-symbol" else None,
        examples=state_examples(fsm, trace, run.fsm_states, run.agree_p),
    )


def _streamed_fidelity(net: Any, fsm: ExtractedFSM, corpus: Corpus, *, sample_steps: int, seed: int, engine: str,
                       scheduler: Any, **options: Any) -> FidelityReport:
    """:func:`fidelity` of a corpus too large for memory (see ``sample_steps`` there)."""
    check = check_corpus(net, fsm, corpus, batch_size=options["batch_size"], engine=engine,  # type: ignore[arg-type]
                         scheduler=scheduler)
    sample = np.union1d(corpus.sample(sample_steps, seed=seed), np.asarray(check.bad_words, dtype=np.int64))
    words = corpus.words(sample)
    part = Dataset(tuple(words), corpus.labels(sample), net.alphabet) if corpus.has_labels else words
    if options["fit_data"] is None and fsm.metadata.get("fit_digest") == corpus.digest:
        options = {**options, "fit_data": part}  # the very corpus the FSM was fitted on: say so
    report = fidelity(net, fsm, part, seed=seed, sample_steps=max(sample_steps, corpus.n_steps), **options)
    steps = int(corpus.lengths()[sample].sum())
    record = {"words": corpus.n_words, "steps": corpus.n_steps, "sample_words": int(sample.size), "sample_steps": steps,
              "added_disagreeing_words": len(check.bad_words), "engine": engine}
    note = (f"streamed: prefix and word agreement (overall and by length) are counted over all {corpus.n_words} words "
            f"({corpus.n_steps} prefixes); the other figures on a seeded sample of {sample.size} words ({steps} "
            f"prefixes), which includes the first {len(check.bad_words)} words where net and automaton part")
    head = report.headline.replace(f"{report.prefix_agreement:.1%} of ", f"{check.prefix_agreement:.1%} of ", 1)
    return dataclasses.replace(
        report, headline=head, n_words=corpus.n_words, n_prefixes=corpus.n_steps, prefix_agreement=check.prefix_agreement,
        word_agreement=check.word_agreement, by_length=check_by_length(check), notes=(*report.notes, note), stream=record)


def _overlap(fsm: ExtractedFSM, words: list, fit_words: set | None) -> tuple[bool | None, float | None, Any, list]:
    """(held out?, share of ``words`` in the fitting words, the longest fitting word, notes): from
    ``fit_words`` when given, else from the FSM's fingerprint of its fitting data."""
    if fit_words is not None:
        inside = np.fromiter((w in fit_words for w in word_keys(words, "data")), bool, count=len(words))
        overlap = float(inside.mean())
        notes = [] if overlap == 0.0 else [
            f"{overlap:.1%} of the evaluated words are in the fitting data: these figures are not all held out"]
        return overlap == 0.0, overlap, max((len(w) for w in fit_words), default=0), notes
    max_fit = fsm.metadata.get("max_fit_length")
    digest = fsm.metadata.get("fit_digest")
    if digest is not None and digest == (stream_digest(word_hash_sum(*encode_words(words, fsm.alphabet)), len(words))
                                         if digest.startswith(STREAM_DIGEST) else words_digest(words)):
        return False, 1.0, max_fit, ["the evaluated words are exactly the words the FSM was fitted on: this is not "
                                     "held-out fidelity"]
    if digest is not None:
        return None, None, max_fit, ["not the fitting set (fingerprint differs); pass fit_data= to measure partial overlap"]
    return None, None, max_fit, []


def check_by_length(check: RunTotals) -> list[dict]:
    """:func:`~fsm_extract.analysis.agreement.by_length` of a whole-corpus check (same buckets)."""
    rows = []
    size = check.word_len_total.size
    for lo in range(0, size, BUCKET):
        hi = lo + BUCKET - 1
        w, wa = int(check.word_len_total[lo:hi + 1].sum()), int(check.word_len_agree[lo:hi + 1].sum())
        p, pa = int(check.prefix_len_total[lo:hi + 1].sum()), int(check.prefix_len_agree[lo:hi + 1].sum())
        if w or p:
            rows.append({"lengths": f"{lo}-{hi}", "words": w, "word_agreement": wa / w if w else None,
                         "prefixes": p, "prefix_agreement": pa / p if p else None})
    return rows


def as_specification(spec: Any, alphabet: tuple) -> ExtractedFSM:
    """An automaton to check a net against: an ``ExtractedFSM`` as it is; a ``Language`` or an
    automata-lib ``DFA`` over the same alphabet (as a set) converted, with its columns in the
    order of ``alphabet``."""
    if isinstance(spec, ExtractedFSM):
        return spec
    if isinstance(spec, str):
        raise ArgumentTypeError(
            f"fsm={spec!r} must be an ExtractedFSM, a Language or an automata-lib DFA, got a str; for a regex "
            f"pass fx.languages.from_regex({spec!r}, alphabet=...)")
    if isinstance(spec, Language):
        dfa, name = spec.dfa, "the Language"
    elif isinstance(spec, DFA):
        dfa, name = spec, "the DFA"
    else:
        raise ArgumentTypeError(f"fsm must be an ExtractedFSM, a Language or an automata-lib DFA, got {type(spec).__name__}")
    symbols = set(dfa.input_symbols)
    if symbols != set(alphabet):
        raise ValidationError(f"fsm: {name}'s alphabet {sorted(map(str, symbols))} must equal the model's alphabet "
                              f"{sorted(alphabet)}")
    return ExtractedFSM.from_automata(dfa, alphabet=alphabet)


def fidelity(
    model: Any,
    fsm: Any,
    data: Any,
    *,
    reference: Any = None,
    fit_data: Any = None,
    batch_size: int = 512,
    search: bool | int = False,
    seed: int = 0,
    sample_steps: int | None = None,
    engine: Engine = "local",
    scheduler: Any = None,
    device: Any = None,
) -> FidelityReport:
    """Measure how much of ``model``'s computation ``fsm`` explains, on ``data``.

    Parameters
    ----------
    model : RNNClassifier, RecurrentAdapter or Net
    fsm : ExtractedFSM, Language or automata-lib DFA
        An automaton extracted from ``model``, or a specification to check the net against: a
        ``Language`` (``fx.languages.from_regex(...)``, ``tomita(n)``, ...), a ``DFA``, or an
        ``ExtractedFSM`` without cluster centres (``ExtractedFSM.from_automata``). A
        specification is first aligned to the net on ``data``: each of its states gets as
        centre the mean net state over the steps it puts in that state
        (:func:`fsm_extract.analysis.alignment.align_to_net`); the net's state is then mapped to the
        nearest centre, so the residual names the transition of the *specification* where
        the net leaves it.
    data : Dataset or sequence of words
        Should be held out: words the FSM was not fitted on. With a Dataset, task accuracy
        is reported too.
    reference : Language, automata-lib DFA or ExtractedFSM, optional
        A specification: reports whether the FSM is equivalent to it (and the shortest word
        where not), and how well the net follows it on ``data``.
    fit_data : Dataset, sequence or iterable of words, or os.PathLike, optional
        The words the FSM was fitted on; the report states how much of ``data`` overlaps them.
        Without it, the FSM's stored fingerprint recognises data identical to the fitting set.
    search : bool or int, default False
        Also search the net for disagreements the sampled data does not show
        (:func:`fsm_extract.analysis.search.search_disagreements`; ``True`` spends 200,000 net steps, an
        int that many, at most ``search.MAX_BUDGET``, 10^9). Its verified finds join the residual,
        charged to the transition where the net's state leaves the automaton's, and the headline
        names them: it never claims agreement on every prefix when search found a disagreement.
    seed : int
        Seed of the search, and of the sample of streamed data.
    sample_steps : int, optional
        Default as :func:`fsm_extract.extract` (10^6 steps, fewer for wide nets). Data holding more steps than this (a long list, a generator, the path of a ``.jsonl`` or
        ``.txt`` file) is streamed: agreement of prefixes and words, overall and by length, is
        counted over every word chunk by chunk; the figures that need the net's states (residual,
        variance, determinism, coverage, examples) come from a seeded sample of about this many
        steps, plus the first words where net and automaton part. ``report.stream`` says which.
    engine, scheduler, device
        As :func:`fsm_extract.extract`: where the pass over streamed data runs, and the net.

    Returns
    -------
    FidelityReport
    """
    net = as_net(model, check=True)
    fsm = as_specification(fsm, net.alphabet)
    if fsm.alphabet != net.alphabet:
        raise ValidationError(f"fsm.alphabet={list(fsm.alphabet)} must equal the model's alphabet {list(net.alphabet)}")
    match_outputs(net, fsm)
    if search is not False:  # checked before any work
        budget = 200_000 if search is True else check_int("search", search, min=1, max=MAX_BUDGET)
    sample_steps = sample_steps_for(net, sample_steps)
    engine = check_engine(engine, scheduler)
    if device is not None:
        move_net(net, device)
    data = in_memory(data, net.alphabet, sample_steps=sample_steps, engine=engine)
    if isinstance(data, Corpus):
        return _streamed_fidelity(net, fsm, data, reference=reference, fit_data=fit_data, batch_size=batch_size,
                                  search=search, seed=seed, sample_steps=sample_steps, engine=engine,
                                  scheduler=scheduler)
    check_ordered_words(data, "data")  # fit_data may be a set: only membership counts
    if isinstance(data, Dataset):
        if data.alphabet != net.alphabet:
            raise ValidationError(f"data.alphabet={list(data.alphabet)} must equal the model's alphabet {list(net.alphabet)}")
        labels, words = data.labels, list(data.words)
    elif isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise ArgumentTypeError(f"data must be a Dataset or a sequence of words, got {type(data).__name__}")
    else:
        labels, words = None, list(data)
    if fit_data is not None and not isinstance(fit_data, (str, bytes)) and is_corpus_source(fit_data):
        fit_data = Corpus(fit_data, net.alphabet, name="fit_data").words()  # a path or an iterator: read once
    if fit_data is not None and (isinstance(fit_data, (str, bytes)) or not isinstance(fit_data, (Dataset, Iterable))):
        raise ArgumentTypeError(f"fit_data must be a Dataset or a sequence of words, got {type(fit_data).__name__}")
    fit_words = None if fit_data is None else set(word_keys(fit_data.words if isinstance(fit_data, Dataset) else fit_data, "fit_data"))
    aligned = needs_alignment(fsm)
    symbols, offsets = encode_words(words, net.alphabet)
    trace = net.trace(symbols, offsets, state="h" if aligned else fsm.state_layout, batch_size=batch_size)
    if trace.n_words == 0:
        raise ValidationError("data must hold at least one word, got none")
    notes = []
    if aligned:
        fsm = align_to_net(fsm, trace)
        unvisited = fsm.metadata["aligned"]["unvisited_states"]
        notes.append(f"a specification: each of its {fsm.n_states} states has as centre the mean net state over the "
                     f"steps it is in, on these {trace.n_words} words"
                     + (f"; {len(unvisited)} state(s) never visited: {unvisited[:8]}" if unvisited else ""))
    points = point0 = None
    if fsm.abstraction is not None and fsm.abstraction.features is not None:

        fmap = FeatureMap.from_spec(fsm.abstraction.features)
        points = fmap.transform(net, trace.hidden)
        point0 = fmap.transform(net, trace.h0[None, :])[0]
    held_out, overlap, max_fit, seen = _overlap(fsm, words, fit_words)
    notes.extend(seen)
    found = None
    if search is not False:

        found = search_disagreements(net, fsm, budget=budget, seed=seed, max_len=max(int(trace.lengths.max()), 1))
    return evaluate_trace(fsm, trace, labels=labels, reference=reference, held_out=held_out, overlap=overlap,
                          max_fit_length=None if max_fit is None else int(max_fit), notes=tuple(notes),
                          points=points, point0=point0, search=found)
