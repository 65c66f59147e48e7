"""``fx.fidelity``: how much of the net's computation an extracted automaton explains, and
where the rest is.

Everything is measured on the data given (held out by default: pass words the automaton was
not fitted on), by running the net and the FSM side by side over every prefix.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .alignment import align_to_net, needs_alignment
from ..automata.automaton import ExtractedFSM
from ..automata.counting import run_transitions
from ..data.datasets import Dataset
from ..errors import ArgumentTypeError, ValidationError
from ..nets.models import as_recurrent
from .residual import add_search_finds, attribute_residual, previous_per_step, shortest_difference
from ..nets.trace import Trace, collect_trace
from ..words import check_ordered_words, decode_word, format_word, word_keys, words_digest
from ..data.languages import Language, from_dfa
from ..data.languages import Language
from .._checks import check_int
from .search import MAX_BUDGET
from ..abstraction.features import FeatureMap
from .search import search_disagreements

__all__ = ["FidelityReport", "fidelity", "evaluate_trace", "reference_table", "as_specification"]

_BUCKET = 10  # width of the length buckets


@dataclass(frozen=True, eq=False)
class FidelityReport:
    """The fidelity of an automaton to a net, on one set of words.

    Every figure is a plain number, list or dict; :meth:`to_dict` is JSON-serialisable and
    ``str(report)`` is the printed summary, headline first. Shares are in [0, 1].
    """

    headline: str
    n_words: int
    n_prefixes: int
    held_out: bool | None
    overlap: float | None
    word_agreement: float
    prefix_agreement: float
    by_length: list
    beyond_fit: dict | None
    max_fit_length: int | None
    state_agreement: float
    initial_state_agrees: bool
    first_parting: np.ndarray
    variance_explained: float | None
    determinism: float
    determinism_table: list
    coverage: dict
    task: dict | None
    reference: dict | None
    residual: tuple
    shortest_disagreements: tuple
    residual_concentration: dict
    n_transitions: int
    notes: tuple = field(default=())
    search: dict | None = None
    aligned: dict | None = None

    def to_dict(self) -> dict[str, Any]:
        """All figures as JSON-serialisable values."""
        return {
            "headline": self.headline,
            "n_words": self.n_words,
            "n_prefixes": self.n_prefixes,
            "held_out": self.held_out,
            "overlap_with_fit_data": self.overlap,
            "word_agreement": self.word_agreement,
            "prefix_agreement": self.prefix_agreement,
            "by_length": self.by_length,
            "beyond_fit": self.beyond_fit,
            "max_fit_length": self.max_fit_length,
            "state_agreement": self.state_agreement,
            "initial_state_agrees": self.initial_state_agrees,
            "first_parting": self.first_parting.tolist(),
            "variance_explained": self.variance_explained,
            "determinism": self.determinism,
            "determinism_table": self.determinism_table,
            "coverage": self.coverage,
            "task": self.task,
            "reference": self.reference,
            "residual": [item.to_dict() for item in self.residual],
            "shortest_disagreements": [format_word(w) for w in self.shortest_disagreements],
            "residual_concentration": self.residual_concentration,
            "n_transitions": self.n_transitions,
            "notes": list(self.notes),
            "search": self.search,
            "aligned": self.aligned,
        }

    def summary(self, *, max_items: int = 8) -> str:
        """The printed report (``str(report)``)."""
        pct = lambda x: "n/a" if x is None else f"{x:.2%}"  # noqa: E731
        lines = [self.headline, ""]
        lines.extend(f"note: {n}" for n in self.notes)
        if self.aligned is not None:
            data = "data (a specification: nothing was fitted; its states were aligned to the net on these words)"
        elif self.held_out:
            data = "held-out data"
        elif self.overlap is not None:
            data = f"data of which {self.overlap:.1%} of words are also in the fitting data"
        else:
            data = "data (overlap with the fitting data unknown)"
        lines.append(f"evaluated on {self.n_words} words, {self.n_prefixes} prefixes of {data}")
        lines.append(f"output agreement   words {pct(self.word_agreement)}   prefixes {pct(self.prefix_agreement)}")
        if self.beyond_fit is not None:
            b = self.beyond_fit
            lines.append(f"  beyond the longest fitting word ({self.max_fit_length}): words {pct(b['word_agreement'])} "
                         f"({b['words']}), prefixes {pct(b['prefix_agreement'])} ({b['prefixes']})")
        lines.append("  by length:  " + "  ".join(
            f"{r['lengths']}: {pct(r['word_agreement'])}" for r in self.by_length if r["words"]))
        lines.append(f"state agreement    {pct(self.state_agreement)} of steps"
                     + ("" if self.initial_state_agrees else " (the net's initial state maps to another FSM state!)"))
        lines.append(f"hidden variance explained by the FSM's states   {pct(self.variance_explained)}")
        lines.append(f"determinism        {pct(self.determinism)} of observed transition mass goes to the majority successor")
        c = self.coverage
        lines.append(f"coverage           {pct(c['observed'])} of steps use transitions observed when fitting, "
                     f"{pct(c['completed'])} completed from the net, {pct(c['given'])} given")
        if self.task is not None:
            t = self.task
            lines.append(f"task accuracy      net {pct(t['net_accuracy'])}   FSM {pct(t['fsm_accuracy'])}   "
                         f"cost of replacing the net by the FSM {t['cost']:+.2%}")
        if self.reference is not None:
            r = self.reference
            diff = "" if r["fsm_equivalent"] else f" (shortest difference: {r['fsm_shortest_difference']!r})"
            lines.append(f"reference          FSM equivalent: {'yes' if r['fsm_equivalent'] else 'no'}{diff}; "
                         f"net agrees on {pct(r['net_word_agreement'])} of words, {pct(r['net_prefix_agreement'])} of prefixes"
                         + (f" (shortest disagreement {r['net_shortest_difference']!r})" if r["net_shortest_difference"] is not None else ""))
        if self.residual:
            n_places = len(self.residual)
            lines.append(f"residual ({n_places} place{'' if n_places == 1 else 's'}; shares of all prefixes):")
            lines.extend("  " + item.describe() for item in self.residual[:max_items])
            if len(self.residual) > max_items:
                lines.append(f"  ... {len(self.residual) - max_items} more in report.residual")
        if self.shortest_disagreements:
            lines.append("shortest disagreeing words: " + ", ".join(repr(format_word(w)) for w in self.shortest_disagreements))
        if self.search is not None:
            found = self.search["disagreements"]
            lines.append(f"found by search ({self.search['steps_spent']} net steps): {len(found)} verified disagreement(s)"
                         + (": " + ", ".join(repr(d["word"]) for d in found[:5]) if found else ""))
        return "\n".join(lines)

    __str__ = summary


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


def _bucket_rows(lengths: np.ndarray, agree: np.ndarray, key: str) -> dict[str, tuple[int, float]]:
    rows = {}
    if lengths.size == 0:
        return rows
    for lo in range(0, int(lengths.max()) + 1, _BUCKET):
        hi = lo + _BUCKET - 1
        m = (lengths >= lo) & (lengths <= hi)
        if m.any():
            rows[f"{lo}-{hi}"] = (int(m.sum()), float(agree[m].mean()))
    return rows


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
            f"extracted from another net, or with another state kind (metadata state={fsm.metadata.get('state')!r})"
        )
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (trace.n_words,):
            raise ValidationError(f"labels must have shape ({trace.n_words},), one per word, got {labels.shape}")
    sym, off = trace.symbols, trace.offsets
    n_words, n_steps, lengths = trace.n_words, trace.n_steps, trace.lengths
    nonempty = lengths > 0
    fsm_states = run_transitions(fsm.transitions, sym, off, fsm.initial).astype(np.int64)
    fsm_out = fsm.accepting[fsm_states]
    net_out = trace.outputs > 0.5
    agree_p = fsm_out == net_out
    net_word = trace.final_outputs() > 0.5
    fsm_word = np.full(n_words, bool(fsm.accepting[fsm.initial]))
    fsm_word[nonempty] = fsm_out[off[1:][nonempty] - 1]
    agree_w = fsm_word == net_word

    # state agreement: the FSM's own state vs the abstraction of the net's hidden state
    if points is None:
        points, point0 = trace.hidden, trace.h0
    if fsm.cluster_centroids is not None and fsm.cluster_centroids.shape[1] == points.shape[1]:
        net_states = fsm.abstract(points)
        net_initial = int(fsm.abstract(point0[None, :])[0])
    else:
        raise ValidationError(
            f"the FSM's cluster centroids have {None if fsm.cluster_centroids is None else fsm.cluster_centroids.shape[1]} "
            f"columns but the trace has dim={trace.dim}: trace the net with the state kind the FSM was extracted with "
            f"(metadata state={fsm.metadata.get('state')!r})"
        )
    state_agree = float((net_states == fsm_states).mean()) if n_steps else 1.0

    # hidden variance explained by the FSM's own state's centroid
    variance = None
    if fsm.centroids is not None and n_steps:
        h = trace.hidden.astype(np.float64)
        sse = float(((h - fsm.centroids[fsm_states]) ** 2).sum())
        sst = float(((h - h.mean(0)) ** 2).sum())
        variance = 1.0 - sse / sst if sst > 0 else (1.0 if sse == 0 else 0.0)

    # determinism of the net's own abstract transitions on these data (-1: a dropped cluster)
    n, k = fsm.n_states, len(fsm.alphabet)
    net_lab = np.where(net_states < 0, n, net_states)
    prev_lab = previous_per_step(net_lab, off, n if net_initial < 0 else net_initial)
    counts = np.bincount((prev_lab * k + sym) * (n + 1) + net_lab, minlength=(n + 1) * k * (n + 1)).reshape(n + 1, k, n + 1)
    mass = counts.sum(-1)
    det_rows = []
    for q, a in np.argwhere(mass > 0):
        p = counts[q, a][counts[q, a] > 0] / mass[q, a]
        det_rows.append({"state": int(q) if q < n else None, "symbol": fsm.alphabet[a], "mass": int(mass[q, a]),
                         "majority_share": float(p.max()), "entropy_bits": float(-(p * np.log2(p)).sum())})
    determinism = float(counts.max(-1).sum() / mass.sum()) if mass.sum() else 1.0

    # coverage: which of the FSM's transitions the data exercises
    prev_fsm = previous_per_step(fsm_states, off, fsm.initial)
    observed = fsm.support[prev_fsm, sym] > 0
    completed = fsm.completed[prev_fsm, sym]
    denom = max(n_steps, 1)
    coverage = {"observed": float(observed.sum() / denom), "completed": float(completed.sum() / denom),
                "given": float((~observed & ~completed).sum() / denom),
                "transitions_used": int(np.unique(prev_fsm * k + sym).size), "n_transitions": n * k}

    # the residual
    items, first_parting = attribute_residual(
        fsm_states=fsm_states, net_states=net_states, disagree=~agree_p, symbols=sym, offsets=off,
        initial=fsm.initial, net_initial=net_initial, n_states=n, alphabet=fsm.alphabet,
        completed=fsm.completed, n_prefixes=n_steps,
    )
    dis_steps = np.flatnonzero(~agree_p)
    starts = np.repeat(off[:-1], lengths)
    shortest = []
    for t in dis_steps[np.lexsort((dis_steps, dis_steps - starts[dis_steps]))]:
        w = decode_word(sym[starts[t] : t + 1], fsm.alphabet)
        if w not in shortest:
            shortest.append(w)
        if len(shortest) == 5:
            break
    residual_total = sum(it.count for it in items)
    m = 0
    if residual_total:
        cum = np.cumsum([it.count for it in items if it.count])
        m = int(np.searchsorted(cum, 0.8 * residual_total - 1e-9) + 1)
    covered = float(cum[m - 1] / residual_total) if residual_total else 0.0
    concentration = {"share": covered, "places": m,
                     "transitions": len([it for it in items if it.count and it.kind == "transition"])}

    # lengths: words by word length, prefixes by prefix length
    prefix_len = (np.arange(n_steps) - starts + 1) if n_steps else np.zeros(0, np.int64)
    wrows, prows = _bucket_rows(lengths, agree_w, "words"), _bucket_rows(prefix_len, agree_p, "prefixes")
    by_length = [{"lengths": b, "words": wrows.get(b, (0, None))[0], "word_agreement": wrows.get(b, (0, None))[1],
                  "prefixes": prows.get(b, (0, None))[0], "prefix_agreement": prows.get(b, (0, None))[1]}
                 for b in sorted(set(wrows) | set(prows), key=lambda s: int(s.split("-")[0]))]
    beyond = None
    if max_fit_length is not None:
        wl, pl = lengths > max_fit_length, prefix_len > max_fit_length
        beyond = {"words": int(wl.sum()), "word_agreement": float(agree_w[wl].mean()) if wl.any() else None,
                  "prefixes": int(pl.sum()), "prefix_agreement": float(agree_p[pl].mean()) if pl.any() else None}

    task = None
    if labels is not None:
        net_acc, fsm_acc = float((net_word == labels).mean()), float((fsm_word == labels).mean())
        task = {"net_accuracy": net_acc, "fsm_accuracy": fsm_acc, "cost": net_acc - fsm_acc}

    ref = None
    if reference is not None:
        table, acc, init = reference_table(reference, fsm.alphabet)
        diff = shortest_difference(fsm.transitions, fsm.accepting, fsm.initial, table, acc, init)
        ref_states = run_transitions(table, sym, off, init)
        ref_p = acc[ref_states]
        ref_w = np.full(n_words, bool(acc[init]))
        ref_w[nonempty] = ref_p[off[1:][nonempty] - 1]
        net_dis = np.flatnonzero(ref_p != net_out)
        net_short = None
        if net_dis.size:
            t = net_dis[np.argmin(net_dis - starts[net_dis])]
            net_short = format_word(decode_word(sym[starts[t] : t + 1], fsm.alphabet))
        ref = {"fsm_equivalent": diff is None,
               "fsm_shortest_difference": None if diff is None else format_word(decode_word(diff, fsm.alphabet)),
               "net_word_agreement": float((ref_w == net_word).mean()) if n_words else 1.0,
               "net_prefix_agreement": float((ref_p == net_out).mean()) if n_steps else 1.0,
               "net_shortest_difference": net_short}

    prefix_agreement = float(agree_p.mean()) if n_steps else 1.0
    empty_disagrees = bool(fsm.accepting[fsm.initial]) != (trace.h0_output > 0.5)
    if empty_disagrees:
        notes = (*notes, f"the FSM and the net disagree on the empty word: the initial state q{fsm.initial}'s output "
                         f"({'accept' if fsm.accepting[fsm.initial] else 'reject'}) is not the net's")
    head = _headline(prefix_agreement, variance, held_out=held_out, overlap=overlap, empty_disagrees=empty_disagrees,
                     residual=(covered, m, n, k) if residual_total else None, search=search)
    if search is not None:
        items = add_search_finds(items, search.disagreements, transitions=fsm.transitions, initial=fsm.initial,
                                 alphabet=fsm.alphabet, completed=fsm.completed)
    return FidelityReport(
        headline=head, n_words=n_words, n_prefixes=n_steps, held_out=held_out, overlap=overlap,
        word_agreement=float(agree_w.mean()) if n_words else 1.0, prefix_agreement=prefix_agreement,
        by_length=by_length, beyond_fit=beyond, max_fit_length=max_fit_length, state_agreement=state_agree,
        initial_state_agrees=net_initial == fsm.initial, first_parting=first_parting, variance_explained=variance,
        determinism=determinism, determinism_table=det_rows, coverage=coverage, task=task, reference=ref,
        residual=tuple(items), shortest_disagreements=tuple(shortest), residual_concentration=concentration,
        n_transitions=n * k, notes=tuple(notes), search=None if search is None else search.to_dict(),
        aligned=fsm.metadata.get("aligned"),
    )


def _headline(prefix_agreement: float, variance: float | None, *, held_out: bool | None, overlap: float | None,
              empty_disagrees: bool, residual: tuple | None, search: Any) -> str:
    """The report's first line: agreement on the sampled prefixes, the residual, and what a
    search found (never "agree on every prefix" when a search found a disagreement)."""
    if held_out:
        what = "held-out prefixes"
    elif overlap is not None and overlap >= 1.0:
        what = "prefixes of the FITTING data"
    elif overlap is not None:
        what = f"prefixes ({overlap:.0%} of the words also in the fitting data)"
    else:
        what = "prefixes"
    head = f"{prefix_agreement:.1%} of {what}"
    if variance is not None:
        head += f", {variance:.0%} of hidden variance"
    found = () if search is None else search.disagreements
    if residual is not None:
        covered, m, n, k = residual
        head += f"; {covered:.0%} of the residual is in {m} of {n * k + n} places ({n * k} transitions, {n} state outputs)"
    elif empty_disagrees:
        head += "; the only disagreement is on the empty word (the initial state's output)"
    elif found:
        head += "; no disagreement on the sampled prefixes"
    else:
        head += "; no residual: FSM and net agree on every sampled prefix"
    if search is not None:
        if found:
            but = "but " if residual is None and not empty_disagrees else ""
            head += (f"; {but}search found {len(found)} disagreement(s) in {search.steps_spent} net steps"
                     f" (shortest {format_word(found[0].word)!r}; see the residual)")
        else:
            head += f"; search found no disagreement in {search.steps_spent} net steps"
    return head


def as_specification(spec: Any, alphabet: tuple) -> ExtractedFSM:
    """An automaton to check a net against: an ``ExtractedFSM`` as it is; a ``Language`` or an
    automata-lib ``DFA`` over the same alphabet (as a set) converted, with its columns in the
    order of ``alphabet``."""
    from automata.fa.dfa import DFA


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
) -> FidelityReport:
    """Measure how much of ``model``'s computation ``fsm`` explains, on ``data``.

    Parameters
    ----------
    model : RNNClassifier or RecurrentAdapter
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
    fit_data : Dataset or sequence of words, optional
        The words the FSM was fitted on; the report states how much of ``data`` overlaps them.
        Without it, the FSM's stored fingerprint recognises data identical to the fitting set.
    search : bool or int, default False
        Also search the net for disagreements the sampled data does not show
        (:func:`fsm_extract.analysis.search.search_disagreements`; ``True`` spends 200,000 net steps, an
        int that many, at most ``search.MAX_BUDGET``, 10^9). Its verified finds join the residual,
        charged to the transition where the net's state leaves the automaton's, and the headline
        names them: it never claims agreement on every prefix when search found a disagreement.
    seed : int
        Seed of the search.

    Returns
    -------
    FidelityReport
    """
    model = as_recurrent(model, check=True)
    fsm = as_specification(fsm, model.alphabet)
    if fsm.alphabet != model.alphabet:
        raise ValidationError(f"fsm.alphabet={list(fsm.alphabet)} must equal the model's alphabet {list(model.alphabet)}")
    if search is not False:  # checked before any work

        budget = 200_000 if search is True else check_int("search", search, min=1, max=MAX_BUDGET)
    check_ordered_words(data, "data")  # fit_data may be a set: only membership counts
    if isinstance(data, Dataset):
        if data.alphabet != model.alphabet:
            raise ValidationError(f"data.alphabet={list(data.alphabet)} must equal the model's alphabet {list(model.alphabet)}")
        labels, words = data.labels, list(data.words)
    elif isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise ArgumentTypeError(f"data must be a Dataset or a sequence of words, got {type(data).__name__}")
    else:
        labels, words = None, list(data)
    if fit_data is not None and (isinstance(fit_data, (str, bytes)) or not isinstance(fit_data, (Dataset, Iterable))):
        raise ArgumentTypeError(f"fit_data must be a Dataset or a sequence of words, got {type(fit_data).__name__}")
    fit_words = None if fit_data is None else set(word_keys(fit_data.words if isinstance(fit_data, Dataset) else fit_data, "fit_data"))
    aligned = needs_alignment(fsm)
    trace = collect_trace(model, words, state="h" if aligned else fsm.metadata.get("state", "h"), batch_size=batch_size)
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
    if fsm.metadata.get("features") is not None:

        fmap = FeatureMap.from_dict(fsm.metadata["features"])
        points = fmap.transform(model, trace.hidden)
        point0 = fmap.transform(model, trace.h0[None, :])[0]
    held_out, overlap = None, None
    if fit_words is not None:
        inside = np.fromiter((w in fit_words for w in word_keys(words, "data")), bool, count=len(words))
        overlap = float(inside.mean())
        held_out = overlap == 0.0
        if not held_out:
            notes.append(f"{overlap:.1%} of the evaluated words are in the fitting data: these figures are not all held out")
        max_fit = max((len(w) for w in fit_words), default=0)
    else:
        max_fit = fsm.metadata.get("max_fit_length")
        digest = fsm.metadata.get("fit_digest")
        if digest is not None and digest == words_digest(words):
            held_out, overlap = False, 1.0
            notes.append("the evaluated words are exactly the words the FSM was fitted on: this is not held-out fidelity")
        elif digest is not None:
            notes.append("not the fitting set (fingerprint differs); pass fit_data= to measure partial overlap")
    found = None
    if search is not False:

        found = search_disagreements(model, fsm, budget=budget, seed=seed, max_len=max(int(trace.lengths.max()), 1))
    return evaluate_trace(fsm, trace, labels=labels, reference=reference, held_out=held_out, overlap=overlap,
                          max_fit_length=None if max_fit is None else int(max_fit), notes=tuple(notes),
                          points=points, point0=point0, search=found)
