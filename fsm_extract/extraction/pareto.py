"""``fx.pareto``, and the fitting both it and ``fx.extract`` (by default) run: a fine automaton
fitted on part of the words, merged down one size at a time, every size measured on the words
held out (see :mod:`fsm_extract.extraction.front`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from .._checks import check_int, check_seed
from ..abstraction.merging import merge_path
from ..abstraction.engine import sample_steps_for
from ..data.corpus import Corpus, in_memory
from ..data.datasets import Dataset
from ..errors import ValidationError
from ..abstraction.codebook import use_codebook
from ..nets.net import Net, as_net
from ..words import check_ordered_words, encode_words
from .front import ParetoFront, measure_words, tally_corpus
from .refinement import Refinement, extract_refined, passes_check

__all__ = ["pareto", "fit_front", "held_out_split", "split_for_front", "words_and_labels", "HELD_OUT", "MIN_SPLIT_WORDS"]

#: Share of the words held out for measuring the front when no validation words are given.
HELD_OUT = 0.2
#: Below this many words nothing is held out: the front is measured on the fitting words (and says so).
MIN_SPLIT_WORDS = 10


def held_out_split(words: list, labels: np.ndarray | None, seed: int) -> tuple[list, list, np.ndarray | None]:
    """A seeded :data:`HELD_OUT` share of ``words`` held out: (fitting words, held-out words,
    their labels or None). With fewer than :data:`MIN_SPLIT_WORDS` words, both are all of them."""
    if len(words) < MIN_SPLIT_WORDS:
        return list(words), list(words), labels
    perm = np.random.default_rng(seed).permutation(len(words))
    n_val = max(1, int(round(HELD_OUT * len(words))))
    val, fit = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    return [words[i] for i in fit], [words[i] for i in val], None if labels is None else labels[val]


def split_for_front(net: Net, words: list, labels: np.ndarray | None, validation: Any,
                    seed: int) -> tuple[list, list, np.ndarray | None, str]:
    """(fitting words, held-out words, their labels, where they come from): ``validation``
    when given (it must hold a non-empty word), else :func:`held_out_split`; a split whose
    held-out words are all empty measures on the fitting words (and says so)."""
    if validation is not None:
        held, held_labels = words_and_labels(validation, "validation", net)
        if not any(len(w) for w in held):
            raise ValidationError(f"validation must hold at least one non-empty word to measure the front on, got "
                                  f"{len(held)} empty word(s)" if held else
                                  "validation must hold at least one non-empty word to measure the front on, got none")
        return words, held, held_labels, "validation"
    fit, held, held_labels = held_out_split(words, labels, seed)
    if len(words) < MIN_SPLIT_WORDS:
        return fit, held, held_labels, "the fitting words (too few to hold out)"
    if not any(len(w) for w in held):
        return list(words), list(words), labels, "the fitting words (the held-out share had only empty words)"
    return fit, held, held_labels, "held out from data"


def words_and_labels(data: Any, name: str, net: Net) -> tuple[list, np.ndarray | None]:
    check_ordered_words(data, name)
    if isinstance(data, Dataset):
        if data.alphabet != net.alphabet:
            raise ValidationError(f"{name}.alphabet={list(data.alphabet)} must equal the model's alphabet {list(net.alphabet)}")
        data.check_nonempty(name)
        return list(data.words), data.labels.astype(np.int64)
    words = list(data) if not isinstance(data, (str, bytes)) and hasattr(data, "__iter__") else data
    encode_words(words, net.alphabet, name=name)  # names the problem, if any
    return words, None


def fit_front(net: Net, words: list, held_out: list | tuple, *, held_out_labels: np.ndarray | None = None, seed: int = 0,
              refine: dict, source: str = "held out from data") -> tuple[ParetoFront, Any]:
    """Fit the fine automaton on ``words`` (:func:`~fsm_extract.extraction.refinement.extract_refined`
    with the keywords ``refine``), merge it down (scored on ``words`` and on what a search found
    while fitting), and measure every size on ``held_out`` (words, or ``(corpus, fitted word
    indices or None)``: every other word of a corpus, chunk by chunk)."""
    finds: list = []  # a search's verified disagreements (symbol ids): scored when merging, kept by the knee
    fine = extract_refined(net, words, seed=seed, search_finds=finds, **refine)
    finds = [[net.alphabet[i] for i in w] for w in finds]
    found = measure_words(net, finds) if finds else None
    path = merge_path(fine, measure_words(net, list(words) + finds))
    lengths = [len(w) for w in words]
    longest = max(lengths, default=0)
    if isinstance(held_out, tuple):  # (corpus, words fitted on): counted chunk by chunk
        evaluated = tally_corpus(net, path, held_out[0], max_fit_length=longest, exclude=held_out[1])
    else:
        evaluated = measure_words(net, held_out, name="validation")
    held = ("held out from data", "validation", "the words of data not fitted on")
    front = ParetoFront.of(path, evaluated, labels=held_out_labels, max_fit_length=longest,
                           evaluated_on=f"{evaluated.n_words} held-out words" + (f" ({source})" if source == held[2] else "")
                           if source in held else f"{evaluated.n_words} words: {source}", found=found)
    if fine.metadata["refine"]["check_passed"] and refine["refinement"].tolerance is None:
        front = replace(front, checked=_checked_choice(net, front, refine["refinement"], max(lengths, default=0), seed))
    return front, fine


def _checked_choice(net: Net, front: ParetoFront, options: Refinement, max_fit_length: int, seed: int) -> dict:
    """The smallest automaton from the knee up that passes the counterexample check the fine
    automaton passed (a bisection over the sizes); the knee where it passes, or where the largest
    fails this check too (the check draws other random words than the fine automaton's last)."""
    knee = front.knee(options.tolerance)
    sizes = sorted({p.n_states for p in front.candidates if p.n_states >= knee.n_states})
    by_size = {p.n_states: p for p in reversed(front.candidates)}  # the most faithful of each size
    tried: dict[int, bool] = {}

    def ok(n: int) -> bool:
        if n not in tried:
            tried[n] = passes_check(net, by_size[n].fsm, options, max_fit_length=max_fit_length, seed=seed)
        return tried[n]

    lo, hi = 0, len(sizes) - 1  # the answer is in sizes[lo..hi]
    if not ok(sizes[0]) and ok(sizes[hi]):  # (where the largest fails too, this check cannot tell: the knee)
        lo = 1
        while lo < hi:
            mid = (lo + hi) // 2
            if ok(sizes[mid]):
                hi = mid
            else:
                lo = mid + 1
    return {"knee": knee.n_states, "chosen": sizes[lo], "passed": {str(n): v for n, v in sorted(tried.items())}}


def pareto(
    model: Any,
    data: Any,
    *,
    validation: Any = None,
    max_states: int = 64,
    seed: int = 0,
    n_states: int | None = None,
    refine: Refinement | None = None,
    progress: bool = False,
    sample_steps: int | None = None,
) -> ParetoFront:
    """The front of automaton size against held-out agreement with the net.

    Parameters
    ----------
    model : RNNClassifier, RecurrentAdapter or Net
    data : Dataset or sequence of words
        The fitting words (a ``set`` is refused).
    validation : Dataset or sequence of words, optional
        Held-out words the front is measured on. Default: a seeded 20% of ``data`` is held out
        (nothing below 10 words: then the front is measured on the fitting words). With
        labels (a Dataset), each point also has its task accuracy.
    max_states : int, default 64
        The fine automaton's state budget (the largest point).
    seed : int, default 0
    n_states : int, optional
        Starting clusters of the fine automaton (default 16, or ``max_states`` if smaller).
    refine : Refinement, optional
        Options of the fine automaton's refinement (``merge`` and ``tolerance`` are not used).
    progress : bool
    sample_steps : int, optional
        Default as :func:`fsm_extract.extract` (10^6 steps, fewer for wide nets). ``data`` or ``validation`` holding more steps than this (a long list, a generator, the
        path of a ``.jsonl`` or ``.txt`` file) is read chunk by chunk and replaced by a seeded
        sample of whole words holding about this many steps (the front is refined and measured
        on samples; ``ParetoFront.evaluated_on`` says so).

    Returns
    -------
    ParetoFront
        ``.points``, ``.at(n)``, ``.best(target)``, ``.knee()``, ``.table()``, ``.plot(path)``,
        ``.to_dict()``.
    """
    net = as_net(model, check=True)
    max_states = check_int("max_states", max_states, min=1)
    n_states = min(16, max_states) if n_states is None else check_int("n_states", n_states, min=1, max=max_states)
    seed = check_seed("seed", seed)
    options = Refinement() if refine is None else Refinement.of(refine)
    sample_steps = sample_steps_for(net, sample_steps)
    streamed = None  # (corpus, fitted word indices or None): held-out words measured chunk by chunk
    if validation is not None:
        validation = in_memory(validation, net.alphabet, sample_steps=sample_steps, name="validation")
        if isinstance(validation, Corpus):
            streamed, validation = (validation, None), None
    data = in_memory(data, net.alphabet, sample_steps=sample_steps, name="data")
    note = ""
    if isinstance(data, Corpus):
        index = data.sample(sample_steps, seed=seed)
        note = f"fitted on a seeded sample of {index.size} of the {data.n_words} words of data"
        streamed = streamed or (data, index)
        data = _part(data, index)
    words, labels = words_and_labels(data, "data", net)
    use_codebook(net, words, seed=seed)  # a next-symbol net's output classes
    if streamed is None:
        words, held_out, held_labels, source = split_for_front(net, words, labels, validation, seed)
    else:
        held_out, held_labels = streamed, None
        source = "validation" if streamed[1] is None else "the words of data not fitted on"
    if not any(len(w) for w in words):
        raise ValidationError("data must hold at least one non-empty word, got only empty words")
    front, _ = fit_front(net, words, held_out, held_out_labels=held_labels, seed=seed, source=source,
                         refine={"n_states": n_states, "refinement": options, "max_states": max_states,
                                 "progress": progress, "metadata": {"seed": seed}})
    return replace(front, evaluated_on=f"{front.evaluated_on}; {note}") if note else front


def _part(corpus: Corpus, index: np.ndarray) -> Any:
    """The words at ``index`` of ``corpus``: a Dataset when they have labels, else a list."""
    words = corpus.words(index)
    return Dataset(tuple(words), corpus.labels(index), corpus.alphabet) if corpus.has_labels else words


def sampled(data: Any, net: Net, name: str, *, sample_steps: int, seed: int) -> tuple[Any, str]:
    """``data`` as it is when it holds at most ``sample_steps`` steps in memory; else a seeded
    sample of its words holding about that many (read chunk by chunk), and a note saying so."""
    out = in_memory(data, net.alphabet, sample_steps=sample_steps, name=name)
    if not isinstance(out, Corpus):
        return out, ""
    index = out.sample(sample_steps, seed=seed)
    return _part(out, index), f"{name}: a seeded sample of {index.size} of its {out.n_words} words"
