"""``fx.extract``: from a trained recurrent net to a minimised automaton.

This module only wires the stages together: trace -> abstraction -> counting -> completion ->
automaton -> minimisation, and by default refinement -> merging -> the front's knee:

1. refine the clustering until the automaton explains the net (behavioural features,
   splitting, a counterexample loop: :mod:`fsm_extract.extraction.refinement`), fitted on the
   words not held out;
2. merge it down one state at a time (:func:`fsm_extract.abstraction.merging.merge_path`) and
   measure every size on the held-out words (:mod:`fsm_extract.extraction.front`);
3. return the knee: the smallest automaton within
   :func:`~fsm_extract.extraction.front.knee_tolerance` of the most faithful, raised, where
   the fine automaton passed its counterexample check, to the smallest that passes it too
   (:meth:`~fsm_extract.extraction.front.ParetoFront.choice`). ``n_states`` is a starting
   point: on clean nets the answer is the same from any k, on imperfect ones it can still move
   (README, "Merging and the front"). ``metadata["front"]`` records every size measured.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np

from .._checks import check_bool, check_choice, check_int, check_seed
from ..abstraction.build import build_fsm, own_run_probs
from ..abstraction.clustering import Method, make_abstraction
from ..automata.automaton import ExtractedFSM
from ..data.datasets import Dataset
from ..errors import ArgumentTypeError, ValidationError
from ..abstraction.codebook import use_codebook
from ..data.corpus import Corpus, in_memory
from ..nets.net import as_net, move_net
from ..nets.trace import StateKind
from ..words import check_ordered_words, encode_words, words_digest
from .front import knee_tolerance
from .pareto import fit_front, sampled, split_for_front
from .refinement import Refinement, extract_refined
from ..abstraction.engine import Engine, check_engine, sample_steps_for
from .streaming import extract_streamed
from .sweep import select_n_states

__all__ = ["extract"]


#: The keywords of :class:`Refinement` ``extract`` took before it existed; they keep working for
#: one release, with a DeprecationWarning.
_DEPRECATED = ("features", "depth", "threshold", "max_rounds", "search")


def _refinement(refine: Any, auto: bool, deprecated: dict[str, Any]) -> Refinement | None:
    """The refinement options: ``refine`` (True, False or a Refinement) and the deprecated
    keywords folded in; ValidationError when they are given but extraction does not refine."""
    unknown = sorted(set(deprecated) - set(_DEPRECATED))
    if unknown:
        raise ArgumentTypeError(f"extract() got an unexpected keyword argument {unknown[0]!r}")
    options = Refinement.of(refine)
    if deprecated:
        warnings.warn(f"extract({', '.join(f'{k}=...' for k in deprecated)}) is deprecated: pass "
                      f"refine=fx.Refinement({', '.join(f'{k}=...' for k in deprecated)})", DeprecationWarning,
                      stacklevel=3)
        if options is None or auto:
            defaults = Refinement()
            for option, value in deprecated.items():
                default = getattr(defaults, option)
                if isinstance(value, str) != isinstance(default, str) or value != default:
                    why = ("n_states='auto' extracts without refinement: drop it, or give n_states a number" if auto
                           else "refine=False: drop it, or extract with refine=True")
                    raise ValidationError(f"{option}={value!r} applies only to refined extraction, but {why}")
        else:
            options = dataclasses.replace(options, **deprecated)
    return None if auto else options


def _fitting_words(data: Any) -> list:
    """The fitting words of ``data`` (a Dataset or a sequence of words), checked."""
    check_ordered_words(data, "data")
    if isinstance(data, Dataset):
        data.check_nonempty("data")
        return list(data.words)
    if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        return data  # encode_words names the problem
    return list(data)  # a generator must survive being read twice (trace, fingerprint)


def _checked(net: Any, *, auto: bool, n_states: Any, method: Any, state: Any, seed: Any, max_fit_points: Any,
             minimize: Any, batch_size: Any, progress: Any, max_states: Any) -> tuple[dict[str, Any], int]:
    """``extract``'s clustering keywords checked, as a dict, and ``max_states``."""
    batch_size = check_int("batch_size", batch_size, min=1)
    check_choice("state", state, ("h", "hc"))
    if state == "hc" and net.cell != "lstm":
        raise ValidationError(f"state='hc' needs an LSTM, but the model's cell is {net.cell!r}; use state='h'")
    max_states = check_int("max_states", max_states, min=1)
    if not auto:
        n_states = check_int("n_states", n_states, min=1)
        if n_states > max_states:
            raise ValidationError(f"n_states={n_states} must be <= max_states={max_states}, the largest automaton "
                                  f"extract builds (raise max_states to fit more clusters)")
    check_choice("method", method, ("kmeans", "gmm"))
    cluster = {"n_states": n_states, "method": method, "state": state, "seed": check_seed("seed", seed),
               "max_fit_points": max_fit_points, "minimize": check_bool("minimize", minimize),
               "batch_size": batch_size, "progress": check_bool("progress", progress)}
    return cluster, max_states


def _from_corpus(net: Any, corpus: Corpus, cluster: dict[str, Any], *, options: Refinement | None, validation: Any,
                 max_states: int, sample_steps: int, passes: dict[str, Any]) -> ExtractedFSM:
    """Streamed extraction (:mod:`~fsm_extract.extraction.streaming`) with ``extract``'s options:
    ``cluster`` its clustering keywords, ``passes`` where the passes run."""
    refined = None
    if options is not None:
        def refined(words: list) -> ExtractedFSM:  # the in-memory refined extraction of a sample
            return extract(net, words, **cluster, validation=validation, max_states=max_states, refine=options,
                           sample_steps=max(sample_steps, _steps(words)))
    fsm = extract_streamed(net, corpus, refined=refined, cluster=cluster, sample_steps=sample_steps, passes=passes,
                           meta={"seed": cluster["seed"]})
    return fsm.with_metadata(fit_digest=corpus.digest)  # the whole corpus's fingerprint, not the sample's


def _steps(words: Any) -> int:
    return sum(len(w) for w in words)


def _streamed(data: Any, net: Any, *, sample_steps: int, engine: str, auto: bool, progress: bool) -> Any:
    """``data`` in memory (:func:`~fsm_extract.data.corpus.in_memory`), or a :class:`Corpus` to
    stream; ``n_states="auto"`` refuses to stream."""
    out = in_memory(data, net.alphabet, sample_steps=sample_steps, engine=engine, progress=progress)
    if auto and isinstance(out, Corpus):
        raise ValidationError(f"n_states='auto' needs its data in memory, but data holds more than sample_steps="
                              f"{sample_steps} steps (or engine='dask'): give n_states a number, or raise sample_steps")
    return out


def _split_validation(words: list, seed: int) -> tuple[list, list]:
    """A seeded 20% of ``words`` held out for choosing ``n_states="auto"``: (fit, validation)."""
    perm = np.random.default_rng(seed).permutation(len(words))
    n_val = max(1, len(words) // 5) if len(words) > 1 else 0
    return [words[i] for i in np.sort(perm[n_val:])], [words[i] for i in np.sort(perm[:n_val])]


def _on_the_front(net: Any, words: list, data: Any, validation: Any, *, seed: int, refine: dict) -> ExtractedFSM:
    """The knee of the front (see :class:`Refinement`, ``merge``): fitted on the words not held
    out, chosen on the held-out ones; ``metadata["front"]`` records every size measured."""
    labels = data.labels.astype(np.int64) if isinstance(data, Dataset) else None
    fit, held, held_labels, source = split_for_front(net, words, labels, validation, seed)
    front, fine = fit_front(net, fit, held, held_out_labels=held_labels, seed=seed, refine=refine, source=source)
    options = refine["refinement"]
    point = front.choice(options.tolerance)
    best = max(p.agreement for p in front.points)
    record = {"chosen": point.n_states, "fine_states": fine.n_states, "held_out_words": len(held),
              "measured_on": source, "tolerance": knee_tolerance(best) if options.tolerance is None else options.tolerance,
              "points": [[p.n_states, round(p.agreement, 6), round(p.word_agreement, 6)] for p in front.points]}
    if front.checked is not None:
        record["checked"] = front.checked
    if point.found_agreement is not None:
        record["search_finds_explained"] = round(point.found_agreement, 6)
    return point.fsm.with_metadata(front=record)


def extract(
    model: Any,
    data: Any,
    *,
    n_states: int | Literal["auto"] = 16,
    method: Method = "kmeans",
    state: StateKind = "h",
    seed: int = 0,
    max_fit_points: int = 100_000,
    minimize: bool = True,
    batch_size: int = 512,
    progress: bool = False,
    validation: Any = None,
    target: float = 0.999,
    max_states: int = 64,
    refine: bool | Refinement = True,
    sample_steps: int | None = None,
    engine: Engine = "local",
    scheduler: Any = None,
    device: Any = None,
    **deprecated: Any,
) -> ExtractedFSM:
    """Extract a finite-state machine from a recurrent classifier.

    Parameters
    ----------
    model : RNNClassifier, RecurrentAdapter or Net
    data : Dataset, sequence or iterable of words, or path
        The words whose hidden states are clustered (the fitting data). Labels are not used:
        the automaton describes the net, not the task. A ``set`` is refused (its order
        changes with ``PYTHONHASHSEED``): pass ``sorted(words)``. A generator, or the path of a
        ``.jsonl`` file (``{"word": ...}`` per line) or a ``.txt`` file (a word per line), is
        read once and streamed (``sample_steps``).
    n_states : int or "auto", default 16
        Clusters in the abstraction (the minimised automaton may be smaller). ``"auto"``
        tries every k = 2, 3, ..., 16, then 20, 24, 32, ... up to ``max_states`` and keeps the
        smallest k whose prefix agreement with the net on ``validation`` reaches ``target``,
        else the most faithful k; ``metadata["auto"]`` records every k tried.
    method : {"kmeans", "gmm"}
    state : {"h", "hc"}
        Without refinement: cluster hidden vectors, or an LSTM's hidden and cell vectors.
        Refinement always traces the full recurrent state (behavioural features run the cell
        from it).
    seed : int
        Same seed, same automaton.
    max_fit_points : int
        Fit the clustering on at most this many steps.
    minimize : bool, default True
        ``False`` also skips merging (``Refinement.merge``): the refined automaton as built.
    batch_size : int
        Words per batch when tracing.
    progress : bool
    validation : Dataset or sequence of words, optional
        Held-out words: where the refined automaton is chosen on the front, and where
        ``n_states="auto"`` chooses k. Default: a seeded 20% of ``data`` (none below 10 words).
    target : float, default 0.999
        For ``n_states="auto"``.
    max_states : int, default 64
        The largest automaton built (refinement's and ``"auto"``'s budget; >= ``n_states``).
    refine : bool or Refinement, default True
        Refine, merge, and land on the front's knee (the module docstring). A
        :class:`~fsm_extract.extraction.refinement.Refinement` sets the options (``merge=False``:
        the refined automaton as built; ``search=True``: also search the net for rare
        behaviour). ``False``: plain clustering (``state``, ``method``); ``"auto"`` always uses it.
    sample_steps : int, optional
        Default: 10^6, fewer for nets wider than 64 units (2^27 over the width of the full
        state: 262,144 for a 256-unit LSTM), so a sample's trace stays near 1 GB. Data holding
        more steps than this is streamed in bounded memory
        (:mod:`fsm_extract.extraction.streaming`): the abstraction (and refinement) is fitted on
        a seeded sample of whole words holding about this many steps, and every word is then
        traced and counted chunk by chunk. The same seed gives the same automaton whether the
        words come as a list, a generator or a file. ``metadata["stream"]`` records it.
    engine : {"local", "dask"}, default "local"
        Where the passes over streamed data run: in this process, or as tasks on a Dask cluster
        (``pip install "fsm-extract[dask]"``); both give the same automaton. ``"dask"`` always
        streams.
    scheduler : str or distributed.Client, optional
        With ``engine="dask"``: the scheduler's address (``"tcp://host:8786"``) or a client.
        Default: a local cluster in this process.
    device : str or torch.device, optional
        Where the net runs (``"cuda"`` on a GPU); the model is moved there. Default: where
        its weights are.
    **deprecated
        ``features``, ``depth``, ``threshold``, ``max_rounds``, ``search``: :class:`Refinement`'s
        options as keywords (DeprecationWarning; a non-default value without refinement raises).

    Returns
    -------
    ExtractedFSM
        ``metadata`` records the method, parameters and fitting size; wall-clock time, the only
        part that differs between two runs with the same seed, is in ``metadata["timing"]``
        (``to_dict(timing=False)`` and ``save(path, timing=False)`` leave it out).
    """
    net = as_net(model, check=True)
    if device is not None:
        move_net(net, device)
    auto = isinstance(n_states, str) and n_states == "auto"
    options = _refinement(refine, auto, deprecated)
    cluster, max_states = _checked(net, auto=auto, n_states=n_states, method=method, state=state, seed=seed,
                                   max_fit_points=max_fit_points, minimize=minimize, batch_size=batch_size,
                                   progress=progress, max_states=max_states)
    check_ordered_words(validation, "validation")
    sample_steps = sample_steps_for(net, sample_steps)
    engine = check_engine(engine, scheduler)
    t0 = time.perf_counter()
    if validation is not None:  # a file or a long iterable: a seeded sample of it
        validation, _ = sampled(validation, net, "validation", sample_steps=sample_steps, seed=cluster["seed"])
    streamed = _streamed(data, net, sample_steps=sample_steps, engine=engine, auto=auto, progress=cluster["progress"])
    if isinstance(streamed, Corpus):
        fsm = _from_corpus(net, streamed, cluster, options=options, validation=validation, max_states=max_states,
                           sample_steps=sample_steps, passes={"engine": engine, "scheduler": scheduler})
        return fsm.with_metadata(timing={"seconds": round(time.perf_counter() - t0, 3)})
    fsm, words = _held_in_memory(net, data, _fitting_words(streamed), cluster, options=options, auto=auto,
                                 validation=validation, target=target, max_states=max_states)
    return own_run_probs(net, fsm, words).with_metadata(timing={"seconds": round(time.perf_counter() - t0, 3)})


def _held_in_memory(net: Any, data: Any, words: list, cluster: dict[str, Any], *, options: Refinement | None,
                    auto: bool, validation: Any, target: float, max_states: int) -> tuple[ExtractedFSM, list]:
    """In-memory extraction of ``words`` (``data`` as given): refined, or plain (:func:`_plain`);
    the automaton and the words it was fitted on."""
    encode_words(words, net.alphabet)  # every word a str or sequence of known symbols, before any look
    meta = {"seed": cluster["seed"], "fit_digest": words_digest(words)}  # the digest covers all of data, before any split
    if net.output_kind == "next-symbol":  # its output classes: a codebook of distributions
        meta["codebook"] = use_codebook(net, words, seed=cluster["seed"])
    if options is None:
        return _plain(net, words, cluster, auto=auto, validation=validation, target=target, max_states=max_states,
                      meta=meta)
    if not any(len(w) for w in words):
        raise ValidationError("data must hold at least one non-empty word, got only empty words")
    refine_kw = {"n_states": cluster["n_states"], "method": cluster["method"], "refinement": options,
                 "max_states": max_states, "max_fit_points": cluster["max_fit_points"], "minimize": cluster["minimize"],
                 "batch_size": cluster["batch_size"], "progress": cluster["progress"], "metadata": meta}
    if options.merge and cluster["minimize"]:
        return _on_the_front(net, words, data, validation, seed=cluster["seed"], refine=refine_kw), words
    return extract_refined(net, words, seed=cluster["seed"], **refine_kw), words


def _plain(net: Any, words: list, cluster: dict[str, Any], *, auto: bool, validation: Any, target: float,
           max_states: int, meta: dict[str, Any]) -> tuple[ExtractedFSM, list]:
    """In-memory extraction without refinement (``n_states="auto"`` too): the automaton and the
    words it was fitted on (auto holds some out)."""
    seed, state, method, batch_size = cluster["seed"], cluster["state"], cluster["method"], cluster["batch_size"]
    n_states, minimize, max_fit_points = cluster["n_states"], cluster["minimize"], cluster["max_fit_points"]
    if auto and validation is None:
        words, validation = _split_validation(words, seed)
    trace = net.trace_words(words, state=state, batch_size=batch_size, progress=cluster["progress"])
    if trace.n_steps == 0:
        raise ValidationError("data must hold at least one non-empty word, got only empty words")
    meta.update(method=method, n_clusters=None if auto else n_states, state=state, n_fit_words=trace.n_words,
                n_fit_steps=trace.n_steps, max_fit_length=int(trace.lengths.max()))
    if auto:
        val_trace = net.trace_words(validation, name="validation", state=state, batch_size=batch_size)
        chosen, record = select_n_states(net, trace, val_trace, target=target, max_states=max_states,
                                         method=method, seed=seed, max_fit_points=max_fit_points)
        n_states = record["chosen"]
        meta.update(n_clusters=n_states, auto=record)
    if auto and minimize:
        return chosen.with_metadata(**meta), words  # already fitted (and minimised) at the chosen k
    abstraction = make_abstraction(method, n_states=n_states, seed=seed, max_fit_points=max_fit_points).fit(trace)
    return build_fsm(net, trace, abstraction, minimize=minimize, metadata=meta), words
