"""``fx.extract``: from a trained recurrent net to a minimised automaton.

This module only wires the stages together: trace -> abstraction -> counting -> completion ->
automaton -> minimisation.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np

from .._checks import check_bool, check_choice, check_int, check_seed
from ..abstraction.build import build_fsm
from ..abstraction.clustering import Method, make_abstraction
from ..automata.automaton import ExtractedFSM
from ..data.datasets import Dataset
from ..errors import ValidationError
from ..nets.net import as_net
from ..nets.trace import StateKind
from ..words import check_ordered_words, encode_words, words_digest
from .._checks import check_float
from ..analysis.search import MAX_BUDGET
from .refinement import extract_refined
from .sweep import select_n_states

__all__ = ["extract"]


_REFINE_DEFAULTS = {"features": "both", "depth": 2, "threshold": 0.999, "max_rounds": 5, "search": False}


def _refuse_refine_only(auto: bool, **given: Any) -> None:
    """ValidationError naming the first refine-only option given a non-default value when
    extraction does not refine (it would be ignored silently)."""
    for option, value in given.items():
        default = _REFINE_DEFAULTS[option]
        if isinstance(value, str) != isinstance(default, str) or value != default:
            why = ("n_states='auto' extracts without refinement: drop it, or give n_states a number" if auto
                   else "refine=False: drop it, or extract with refine=True")
            raise ValidationError(f"{option}={value!r} applies only to refined extraction, but {why}")


def _refine_options(*, features: Any, depth: Any, threshold: Any, max_rounds: Any, search: Any) -> tuple:
    """The refine-only options of :func:`extract`, checked (``search`` as net steps)."""

    check_choice("features", features, ("both", "hidden", "behaviour"))
    depth = check_int("depth", depth, min=1, max=6)
    threshold = check_float("threshold", threshold, min=0.5, max=1.0)
    max_rounds = check_int("max_rounds", max_rounds, min=0, max=1000)
    search = 200_000 if search is True else 0 if search is False else check_int("search", search, min=0, max=MAX_BUDGET)
    return features, depth, threshold, max_rounds, search


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
    refine: bool = True,
    features: str = "both",
    depth: int = 2,
    threshold: float = 0.999,
    max_rounds: int = 5,
    search: bool | int = False,
) -> ExtractedFSM:
    """Extract a finite-state machine from a recurrent classifier.

    Parameters
    ----------
    model : RNNClassifier or RecurrentAdapter
    data : Dataset or sequence of words
        The words whose hidden states are clustered (the fitting data). Labels are not used:
        the automaton describes the net, not the task. A ``set`` is refused (its order
        changes with ``PYTHONHASHSEED``): pass ``sorted(words)``.
    n_states : int or "auto", default 16
        Clusters in the abstraction (the minimised automaton may be smaller). ``"auto"``
        tries every k = 2, 3, ..., 16, then 20, 24, 32, ... up to ``max_states`` and keeps the smallest
        k whose prefix agreement with the net on ``validation`` reaches ``target``, else the most
        faithful k; ``metadata["auto"]`` records every k tried.
    method : {"kmeans", "gmm"}
    state : {"h", "hc"}
        Cluster hidden vectors, or an LSTM's hidden and cell vectors.
    seed : int
        Same seed, same automaton.
    max_fit_points : int
        Fit the clustering on at most this many steps.
    minimize : bool, default True
    batch_size : int
        Words per batch when tracing.
    progress : bool
    validation : Dataset or sequence of words, optional
        For ``n_states="auto"``: held-out words to choose k on. Default: a seeded 20% of
        ``data`` is held out for choosing, and the automaton is fitted on the other 80%.
    target : float, default 0.999
    max_states : int, default 64
        The largest automaton built: the state budget of refinement and of ``n_states="auto"``,
        and an upper bound on ``n_states``.
    refine : bool, default True
        Refine the clustering until the automaton explains the net (see
        :mod:`fsm_extract.extraction.refinement`): behavioural features, splitting of clusters whose
        transitions are not deterministic, and a counterexample loop. ``False`` keeps plain
        clustering of the hidden states (``state``, ``method``), for comparison.
        ``n_states="auto"`` always uses plain clustering.
    features : {"both", "hidden", "behaviour"}
        With ``refine``: what is clustered (see :mod:`fsm_extract.abstraction.features`). This and the
        next four options are refused (ValidationError) with a non-default value when
        extraction does not refine (``refine=False`` or ``n_states="auto"``).
    depth : int, default 2
        With ``refine``: longest continuation whose output is a feature.
    threshold : float, default 0.999
        With ``refine``: a transition is deterministic when its majority share reaches this.
    max_rounds : int, default 5
        With ``refine``: counterexample rounds. Refinement always traces the full recurrent
        state (``"hc"`` for an LSTM), since behavioural features run the cell from it.
    search : bool or int, default False
        With ``refine``: when a round's counterexample check finds nothing, also search the
        net for disagreements (:func:`fsm_extract.analysis.search.search_disagreements`; ``True``
        spends 200,000 net steps per round, an int that many, at most
        ``search.MAX_BUDGET``, 10^9) and refine on what it finds.
        This is how a rare trigger the fitting data never shows gets into the automaton.

    Returns
    -------
    ExtractedFSM
        ``metadata`` records the method, parameters and fitting size; wall-clock time, the only
        part that differs between two runs with the same seed, is in ``metadata["timing"]``
        (``to_dict(timing=False)`` and ``save(path, timing=False)`` leave it out).
    """
    model = as_net(model, check=True)
    auto = isinstance(n_states, str) and n_states == "auto"
    asked_refine = check_bool("refine", refine)
    refine = asked_refine and not auto
    options = {"features": features, "depth": depth, "threshold": threshold, "max_rounds": max_rounds, "search": search}
    if not refine:
        _refuse_refine_only(auto, **options)
    batch_size = check_int("batch_size", batch_size, min=1)
    if state == "hc" and model.cell != "lstm":
        raise ValidationError(f"state='hc' needs an LSTM, but the model's cell is {model.cell!r}; use state='h'")
    if refine:
        features, depth, threshold, max_rounds, search = _refine_options(**options)
    max_states = check_int("max_states", max_states, min=1)
    if not auto:
        n_states = check_int("n_states", n_states, min=1)
        if n_states > max_states:
            raise ValidationError(f"n_states={n_states} must be <= max_states={max_states}, the largest automaton "
                                  f"extract builds (raise max_states to fit more clusters)")
    check_choice("method", method, ("kmeans", "gmm"))
    check_choice("state", state, ("h", "hc"))
    seed = check_seed("seed", seed)
    minimize = check_bool("minimize", minimize)
    progress = check_bool("progress", progress)
    check_ordered_words(data, "data")
    check_ordered_words(validation, "validation")
    if isinstance(data, Dataset):
        data.check_nonempty("data")
    elif not isinstance(data, (str, bytes)) and isinstance(data, Iterable):
        data = list(data)  # a generator must survive being read twice (trace, fingerprint)
    t0 = time.perf_counter()
    words = list(data.words) if isinstance(data, Dataset) else data
    encode_words(words, model.alphabet)  # every word a str or sequence of known symbols, before any look
    digest = words_digest(words)  # all of data, before any split
    if refine:

        if not any(len(w) for w in words):
            raise ValidationError("data must hold at least one non-empty word, got only empty words")
        fsm = extract_refined(model, words, n_states=n_states, seed=seed, method=method, features=features, depth=depth,
                              threshold=threshold, max_states=max_states, max_rounds=max_rounds,
                              max_fit_points=max_fit_points, minimize=minimize, batch_size=batch_size,
                              progress=progress, metadata={"seed": seed, "fit_digest": digest}, search=search)
        return fsm.with_metadata(timing={"seconds": round(time.perf_counter() - t0, 3)})
    val_trace = None
    if auto:
        if validation is None:
            perm = np.random.default_rng(seed).permutation(len(words))
            n_val = max(1, len(words) // 5) if len(words) > 1 else 0
            val_words = [words[i] for i in np.sort(perm[:n_val])]
            words = [words[i] for i in np.sort(perm[n_val:])]
            validation = val_words
        val_trace = model.trace_words(validation, name="validation", state=state, batch_size=batch_size)
    trace = model.trace_words(words, state=state, batch_size=batch_size, progress=progress)
    if trace.n_steps == 0:
        raise ValidationError("data must hold at least one non-empty word, got only empty words")
    meta = {
        "method": method,
        "n_clusters": None if auto else n_states,
        "state": state,
        "seed": seed,
        "n_fit_words": trace.n_words,
        "n_fit_steps": trace.n_steps,
        "max_fit_length": int(trace.lengths.max()),
        "fit_digest": digest,
    }
    if auto:

        chosen, record = select_n_states(model, trace, val_trace, target=target, max_states=max_states,
                                         method=method, seed=seed, max_fit_points=max_fit_points)
        n_states = record["chosen"]
        meta.update(n_clusters=n_states, auto=record)
    if auto and minimize:
        fsm = chosen.with_metadata(**meta)  # already fitted (and minimised) at the chosen k
    else:
        abstraction = make_abstraction(method, n_states=n_states, seed=seed, max_fit_points=max_fit_points).fit(trace)
        fsm = build_fsm(model, trace, abstraction, minimize=minimize, metadata=meta)
    return fsm.with_metadata(timing={"seconds": round(time.perf_counter() - t0, 3)})
