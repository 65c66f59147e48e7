"""Beyond accept/reject: Moore machines from C-class nets, probabilistic automata from next-symbol nets,
each side by side with the peers issue 15 names, in one run.

**Classes nets** (``output_kind="classes"``). Random Moore machines
(``fsm_extract.data.moore.random_moore``, 3-8 states, 3-4 classes, 2-3 symbols), LSTMs trained on
the class of every prefix (``fx.train_classifier(data, language=machine)``, words to length 15),
plus two exactly-built nets (``fx.networks.exact_moore``). Per net:

- *fx*: ``fx.extract(fx.as_net(net), train_words, seed=0)``: states, language-equivalent to the
  machine (``fsm.equivalent(reference)``; "non-empty words only" where it equals the machine on
  every non-empty prefix but not on the empty word: a net whose empty-prefix class, the head's
  bias alone, is wrong computes such a machine), prefix agreement with the NET on 1,000 held-out
  words to length 45, seconds, net steps (``Net.steps``: every symbol it ran, padding included);
- *L\\**: AALpy's ``run_Lstar(..., automaton_type="moore")`` on the same net (a NumPy copy of its
  cell and head, checked against the torch net on 300 words, stepped one symbol at a time; the
  output of a step is the argmax class), with ``RandomWordEqOracle`` (2,000 walks of length 1-45
  per equivalence query), stopped when it has fed the net as many symbols as fx's extraction
  spent: states, equivalence, agreement, seconds, steps.

**Next-symbol nets** (``output_kind="next-symbol"``). Ten random PDFAs
(``fx.languages.random_pdfa``, 3-8 states, 2-4 symbols), an LSTM next-symbol model
(``fx.train_next_symbol``, hidden 32, seed 0) trained on 16,000 sampled words each. Every method
is measured against the NET at every prefix (the empty one and the whole word included) of the
same 1,000 held-out words sampled from the PDFA: mean per-step total variation (TV), KL(net ||
automaton) in bits, NDCG@5 and WER (``fsm_extract.analysis.distributions``; the net is the
reference), and bits per symbol on what really came next. Methods:

- *fx*: ``fx.extract(fx.as_net(net), train_words, seed=0)`` (each state's distribution is its
  ``output_probs``);
- *ALERGIA*: AALpy's ``run_Alergia`` on 3,000 words sampled from the NET (ancestral sampling from
  its next-symbol distributions, seeded), as a stochastic Mealy machine with one dummy input whose
  outputs are the symbols and ``$`` (end of word): that is a PDFA with end-of-word, states not
  labelled by their incoming symbol (``"mc"`` would split every state by the symbol that led to
  it). ``eps`` is chosen on a log grid (1e-12 .. 2, walked upwards until the count passes fx's)
  so that its state count is as close as possible to fx's (ties: the eps nearest AALpy's default
  0.05). Its distributions are re-estimated from the counts of its training words parsed through
  it, with add-one smoothing (else a symbol unseen in a rare state has probability 0 and KL is
  infinite); a transition never observed goes where the initial state goes on that symbol. A
  second column does the same on 30,000 net samples (ten times the data);
- *n-gram*: order chosen so that its number of contexts (``sum_{j<n} k^j``, word starts
  included) is closest to fx's state count (ties: the larger), add-one smoothing, trained on the
  same 3,000 net samples; as an automaton its states are its contexts;
- references (not peers): the *PDFA* itself, and *PDFA structure, net means* (the PDFA's states
  with, in each, the mean of the net's distributions over the training words' prefixes there):
  what an automaton with the true structure explains of the net.

Trained nets are cached under ``benchmarks/.cache/outputs/`` (key: recipe and torch version).

    python benchmarks/bench_outputs.py --json rows.json      # the whole suite (~13 min on 1 core; +4 min training)
    python benchmarks/bench_outputs.py --quick               # smoke run: 2 classes nets, 2 PDFAs
    python benchmarks/bench_outputs.py --only m5c4-ab-h32 pdfa5-abcd
    python benchmarks/bench_outputs.py --list
    python benchmarks/bench_outputs.py --only pdfa3-ab pdfa8-ab --train-n 4000   # nets on 4,000 words

``--train-n N`` trains every next-symbol net on N sampled words instead of 16,000 (its own cache
entry; fx.extract then fits on those N words too; the classes nets are left as they are).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import signal
import sys
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

# benchmarks/_machine.py (the script's own folder is on sys.path)
from _machine import cpu_model

CACHE = Path(__file__).resolve().parent / ".cache" / "outputs"
TEST_N, TEST_MAX_LEN = 1000, 45  # classes nets: held-out words
LSTAR_WALKS = 2000
ALERGIA_WORDS = 3000
ALERGIA_BIG_WORDS = 30000  # a second ALERGIA column: ten times the data
ALERGIA_SECONDS = 30.0  # an ALERGIA run of the eps grid taking longer ends the grid
SAMPLE_MAX_LEN = 500  # ancestral sampling from a net: a word is cut here (counted)
TV_TARGET, STATES_TARGET = 0.02, 8


# ----------------------------------------------------------------------------- the suite
@dataclass(frozen=True)
class MooreRecipe:
    """A classes net: a random Moore machine and an LSTM trained on every prefix's class, or
    (``exact``) ``fx.networks.exact_moore`` of the machine."""

    name: str
    n_states: int
    n_classes: int
    alphabet: str
    seed: int
    hidden: int = 32
    epochs: int = 5
    exact: bool = False
    distractors: int = 0
    train_n: int = 2000
    train_max_len: int = 15
    kind: str = "classes"

    def note(self) -> str:
        how = (f"exact_moore(distractors={self.distractors})" if self.exact
               else f"LSTM {self.hidden}, {self.epochs} epochs, {self.train_n} words to length {self.train_max_len}")
        return (f"random_moore({self.n_states} states, {self.n_classes} classes, {self.alphabet!r}, "
                f"seed={self.seed}); {how}")


@dataclass(frozen=True)
class PdfaRecipe:
    """A next-symbol net: an LSTM trained on words sampled from a random PDFA."""

    name: str
    n_states: int
    alphabet: str
    seed: int
    hidden: int = 32
    train_n: int = 16000  # 4,000 before issue 15's last round (`--train-n 4000` reproduces those nets)
    epochs: int = 30
    kind: str = "next-symbol"

    def note(self) -> str:
        return (f"random_pdfa({self.n_states} states, {self.alphabet!r}, seed={self.seed}); "
                f"LSTM {self.hidden} next-symbol, {self.train_n} words, <= {self.epochs} epochs (early stopping)")


def _key(recipe: Any) -> str:
    import torch

    blob = json.dumps({**asdict(recipe), "torch": torch.__version__}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


SUITE: list = [
    MooreRecipe("m3c3-ab-h16", 3, 3, "ab", 12, hidden=16, epochs=3),
    MooreRecipe("m4c3-abc-h16", 4, 3, "abc", 2, hidden=16, epochs=4),
    MooreRecipe("m5c4-ab-h32", 5, 4, "ab", 3, hidden=32, epochs=5),
    MooreRecipe("m6c3-abc-h32", 6, 3, "abc", 4, hidden=32, epochs=5),
    MooreRecipe("m7c4-ab-h24", 7, 4, "ab", 5, hidden=24, epochs=4),
    MooreRecipe("m8c4-abc-h32", 8, 4, "abc", 6, hidden=32, epochs=6),
    MooreRecipe("exact-m5c3-ab", 5, 3, "ab", 7, exact=True),
    MooreRecipe("exact-m8c4-abc-d4", 8, 4, "abc", 8, exact=True, distractors=4),
    PdfaRecipe("pdfa3-ab", 3, "ab", 1),
    PdfaRecipe("pdfa4-abc", 4, "abc", 2),
    PdfaRecipe("pdfa5-ab", 5, "ab", 3),
    PdfaRecipe("pdfa5-abcd", 5, "abcd", 4),
    PdfaRecipe("pdfa6-abc", 6, "abc", 5),
    PdfaRecipe("pdfa6-ab", 6, "ab", 6),
    PdfaRecipe("pdfa7-abcd", 7, "abcd", 7),
    PdfaRecipe("pdfa7-abc", 7, "abc", 8),
    PdfaRecipe("pdfa8-ab", 8, "ab", 9),
    PdfaRecipe("pdfa8-abc", 8, "abc", 10),
]
QUICK = ["m3c3-ab-h16", "exact-m5c3-ab", "pdfa3-ab", "pdfa4-abc"]


# ----------------------------------------------------------------------------- shared helpers
def _quiet() -> None:
    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # FewerClustersWarning and friends: the rows record the outcome


def _cached(recipe: Any, train: Any) -> tuple[Any, float | None, bool]:
    """(net, training seconds, from the cache?) of a recipe."""
    import fsm_extract as fx

    path = CACHE / f"{recipe.name}-{_key(recipe)}.pt"
    if path.exists():
        net = fx.load_model(path)
        return net, (getattr(net, "metadata", {}) or {}).get("bench_train_seconds"), True
    t0 = time.perf_counter()
    net = train()
    seconds = round(time.perf_counter() - t0, 2)
    net.metadata = {**(getattr(net, "metadata", {}) or {}), "bench_train_seconds": seconds, "recipe": asdict(recipe)}
    CACHE.mkdir(parents=True, exist_ok=True)
    net.save(path)
    return net, seconds, False


def run_table(table: np.ndarray, initial: int, symbols: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The state of a deterministic automaton at every prefix of CSR-encoded words, the empty
    one included: ndarray of shape (n_steps + n_words,), word ``i`` owning positions
    ``offsets[i] + i .. offsets[i + 1] + i`` (the layout of fx's next-symbol measures)."""
    n = offsets.size - 1
    lengths = np.diff(offsets)
    out = np.empty(symbols.size + n, np.int64)
    state = np.full(n, initial, np.int64)
    first = offsets[:-1] + np.arange(n)
    out[first] = initial
    for t in range(int(lengths.max()) if n else 0):
        active = np.flatnonzero(lengths > t)
        state[active] = table[state[active], symbols[offsets[:-1][active] + t]]
        out[first[active] + t + 1] = state[active]
    return out


# ----------------------------------------------------------------------------- classes nets
def moore_machine(recipe: MooreRecipe) -> Any:
    from fsm_extract.data.moore import random_moore

    return random_moore(n_states=recipe.n_states, n_classes=recipe.n_classes, alphabet=recipe.alphabet,
                        seed=recipe.seed)


def _walk(table: np.ndarray, outputs: np.ndarray, machine: Any, starts: set) -> bool:
    """Whether every (automaton state, machine state) pair reachable from ``starts`` in the
    product has equal classes."""
    seen, queue = set(starts), list(starts)
    while queue:
        h, q = queue.pop()
        if int(outputs[h]) != int(machine.outputs[q]):
            return False
        for a in range(table.shape[1]):
            nxt = (int(table[h, a]), int(machine.transitions[q, a]))
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return True


def moore_equal(table: np.ndarray, outputs: np.ndarray, initial: int, machine: Any) -> bool:
    """Whether a Moore machine (table in the machine's symbol order) gives every prefix the
    machine's class (breadth-first over the product)."""
    return _walk(table, outputs, machine, {(int(initial), int(machine.initial))})


def moore_equal_nonempty(table: np.ndarray, outputs: np.ndarray, initial: int, machine: Any) -> bool:
    """Whether a Moore machine gives every NON-EMPTY prefix the machine's class (a net that is
    wrong only on the empty word computes the machine with another initial class)."""
    return _walk(table, outputs, machine, {(int(table[initial, a]), int(machine.transitions[machine.initial, a]))
                                           for a in range(table.shape[1])})


def prefix_agreement(net_classes: np.ndarray, table: np.ndarray, outputs: np.ndarray, initial: int,
                     symbols: np.ndarray, offsets: np.ndarray) -> float:
    """Share of non-empty prefixes where the automaton's class is the net's argmax class."""
    states = run_table(table, initial, symbols, offsets)
    n = offsets.size - 1
    is_step = np.ones(states.size, bool)
    is_step[offsets[:-1] + np.arange(n)] = False
    return float((outputs[states[is_step]] == net_classes).mean())


def lstar_moore(net: Any, budget: int, *, seed: int = 0) -> dict:
    """AALpy's Moore L* on ``net`` (see the module docstring), stopped at ``budget`` net steps."""
    from _lstar import NumpyNet, Stop
    from aalpy.base import SUL
    from aalpy.learning_algs import run_Lstar
    from aalpy.oracles import RandomWordEqOracle

    class NumpyMoore(NumpyNet):
        """NumpyNet with a C-class head: ``accepts`` (what ``step`` returns) is the argmax class."""

        def __init__(self, model: Any) -> None:
            super().__init__(model)
            sd = model.state_dict()
            self.head_W = sd["head.weight"].double().numpy()
            self.head_B = sd["head.bias"].double().numpy()

        def accepts(self) -> int:  # type: ignore[override]
            return int(np.argmax(self.head_W @ self.h + self.head_B))

    np_net = NumpyMoore(net)
    index = {s: i for i, s in enumerate(net.alphabet)}
    rng = np.random.default_rng(seed)
    words = ["".join(net.alphabet[a] for a in rng.integers(0, len(net.alphabet), m))
             for m in rng.integers(0, TEST_MAX_LEN, 300)]
    mine = np.array([np_net.accepts_word(w, index) for w in words])
    if not (mine == np.asarray(net.predict(words))).all():
        raise AssertionError("the NumPy copy of the net used for L* disagrees with the torch net")

    stopped = {"why": "converged"}

    class NetSUL(SUL):
        def __init__(self) -> None:
            super().__init__()
            self.steps = 0

        def pre(self) -> None:
            np_net.reset()

        def post(self) -> None:
            pass

        def step(self, letter: Any) -> int:
            if letter is None:
                return np_net.accepts()  # the empty word: no step
            if self.steps >= budget:
                stopped["why"] = "budget"
                raise Stop
            self.steps += 1
            return np_net.step(index[letter])

    sul = NetSUL()
    alphabet = list(net.alphabet)
    random.seed(seed)
    oracle = RandomWordEqOracle(alphabet, sul, num_walks=LSTAR_WALKS, min_walk_len=1, max_walk_len=TEST_MAX_LEN,
                                reset_after_cex=True)
    hypotheses: list = []
    find_cex = oracle.find_cex

    def recording(hypothesis: Any) -> Any:
        hypotheses.append(hypothesis)
        return find_cex(hypothesis)

    oracle.find_cex = recording
    t0 = time.perf_counter()
    try:
        run_Lstar(alphabet, sul, oracle, automaton_type="moore", print_level=0)
    except Stop:
        pass
    out = {"stopped": stopped["why"], "steps": sul.steps, "seconds": round(time.perf_counter() - t0, 2),
           "hypotheses": len(hypotheses)}
    if hypotheses:
        h = hypotheses[-1]
        states = list(h.states)
        number = {id(s): i for i, s in enumerate(states)}
        out["table"] = np.array([[number[id(s.transitions[a])] for a in alphabet] for s in states], np.int64)
        out["outputs"] = np.array([int(s.output) for s in states], np.int64)
        out["initial"] = number[id(h.initial_state)]
    return out


def run_moore(recipe: MooreRecipe) -> dict:
    import fsm_extract as fx

    _quiet()
    t_all = time.perf_counter()
    machine = moore_machine(recipe)
    train = machine.sample(n=recipe.train_n, max_len=recipe.train_max_len, seed=recipe.seed)
    test = machine.sample(n=TEST_N, max_len=TEST_MAX_LEN, seed=recipe.seed + 1001)
    if recipe.exact:
        net, train_seconds, cached = fx.networks.exact_moore(machine, distractors=recipe.distractors,
                                                             seed=recipe.seed), None, False
    else:
        net, train_seconds, cached = _cached(recipe, lambda: fx.train_classifier(
            train, language=machine, hidden_size=recipe.hidden, epochs=recipe.epochs, seed=0, progress=False,
            early_stopping=False))
    row: dict = {"name": recipe.name, "kind": "classes", "recipe": asdict(recipe), "machine_states": machine.n_states,
                 "train_seconds": train_seconds, "cached": cached}
    trace = fx.collect_trace(net, list(test.words))
    net_classes = np.asarray(trace.probs).argmax(1)
    symbols, offsets = trace.symbols, trace.offsets
    truth = machine.outputs[run_table(machine.transitions, machine.initial, symbols, offsets)]
    n = offsets.size - 1
    is_step = np.ones(truth.size, bool)
    is_step[offsets[:-1] + np.arange(n)] = False
    row["net_prefix_accuracy"] = float((truth[is_step] == net_classes).mean())
    row["net_word_accuracy"] = float((np.asarray(net.predict(test.words)) == test.labels).mean())
    empty_class = int(np.asarray(net.predict([""]))[0])
    row["net_empty_word_correct"] = empty_class == int(machine.outputs[machine.initial])

    reference = fx.ExtractedFSM(machine.alphabet, machine.transitions, None, machine.initial, output_kind="classes",
                                classes=machine.outputs)
    counted = fx.as_net(net)
    t0 = time.perf_counter()
    fsm = fx.extract(counted, list(train.words), seed=0)
    seconds = round(time.perf_counter() - t0, 2)
    classes = np.asarray(fsm.classes, np.int64)
    mine = prefix_agreement(net_classes, fsm.transitions, classes, fsm.initial, symbols, offsets)
    report = fx.fidelity(net, fsm, list(test.words))
    row["fx"] = {"states": int(fsm.n_states), "equivalent": bool(fsm.equivalent(reference)),
                 "equivalent_bfs": moore_equal(fsm.transitions, classes, fsm.initial, machine),
                 "equivalent_nonempty": moore_equal_nonempty(fsm.transitions, classes, fsm.initial, machine),
                 "prefix": mine, "fidelity_prefix": float(report.prefix_agreement), "seconds": seconds,
                 "steps": int(counted.steps)}
    ls = lstar_moore(net, int(counted.steps), seed=recipe.seed)
    col = {k: ls[k] for k in ("stopped", "steps", "seconds", "hypotheses")}
    if "table" in ls:
        col.update(states=int(ls["table"].shape[0]),
                   equivalent=moore_equal(ls["table"], ls["outputs"], ls["initial"], machine),
                   equivalent_nonempty=moore_equal_nonempty(ls["table"], ls["outputs"], ls["initial"], machine),
                   prefix=prefix_agreement(net_classes, ls["table"], ls["outputs"], ls["initial"], symbols, offsets))
    row["lstar"] = col
    row["seconds"] = round(time.perf_counter() - t_all, 1)
    return row


# ----------------------------------------------------------------------------- next-symbol nets
def sample_from_net(net: Any, n: int, *, seed: int, max_len: int = SAMPLE_MAX_LEN) -> tuple[list, int, int]:
    """``n`` words drawn from a next-symbol net by ancestral sampling (torch, seeded): (words,
    net steps spent, words cut at ``max_len``)."""
    import torch

    k = len(net.alphabet)
    gen = torch.Generator().manual_seed(seed)
    words: list[list[int]] = [[] for _ in range(n)]
    alive = torch.arange(n)
    state = None
    steps = cut = 0
    with torch.no_grad():
        logits = net.empty_logit()[None, :].expand(n, -1)
        for t in range(max_len + 1):
            probs = torch.softmax(logits.double(), dim=-1)
            draw = torch.multinomial(probs, 1, generator=gen)[:, 0]
            if t == max_len:
                cut = int((draw != k).sum())
                break
            go = draw != k
            for i, a in zip(alive[go].tolist(), draw[go].tolist()):
                words[i].append(a)
            alive, ids = alive[go], draw[go]
            if not alive.numel():
                break
            if state is not None:
                state = tuple(s[:, go] for s in state) if isinstance(state, tuple) else state[:, go]
            out, state = net.rnn(net.embedding(ids[:, None]), state)
            logits = net.head(out[:, 0])
            steps += int(ids.numel())
    return ["".join(net.alphabet[a] for a in w) for w in words], steps, cut


def encode(words: list, alphabet: tuple) -> tuple[np.ndarray, np.ndarray]:
    from fsm_extract.words import encode_words

    return encode_words(words, alphabet)


def counts_on(table: np.ndarray, initial: int, words: list, alphabet: tuple) -> np.ndarray:
    """(n_states, k + 1) counts of what followed each state when ``words`` are run through the
    automaton (the last column: the word ended there)."""
    symbols, offsets = encode(words, alphabet)
    states = run_table(table, initial, symbols, offsets)
    k = len(alphabet)
    n = offsets.size - 1
    target = np.full(states.size, k, np.int64)
    first = offsets[:-1] + np.arange(n)
    nxt = np.ones(states.size, bool)
    nxt[first + np.diff(offsets)] = False
    target[nxt] = symbols
    counts = np.zeros((table.shape[0], k + 1))
    np.add.at(counts, (states, target), 1)
    return counts


def add_one(counts: np.ndarray) -> np.ndarray:
    return (counts + 1.0) / (counts.sum(1, keepdims=True) + counts.shape[1])


def alergia_automaton(words: list, alphabet: tuple, eps: float) -> tuple[np.ndarray, int, int, int]:
    """(table (n, k) with unseen transitions completed, initial, states, unseen transitions) of
    AALpy's ALERGIA on ``words`` (a stochastic Mealy machine with one dummy input; see the
    module docstring)."""
    from aalpy.learning_algs import run_Alergia

    data = [[("x", s) for s in w] + [("x", "$")] for w in words]
    model = run_Alergia(data, automaton_type="smm", eps=eps)
    states = list(model.states)
    number = {id(s): i for i, s in enumerate(states)}
    col = {s: a for a, s in enumerate(alphabet)}
    table = np.full((len(states), len(alphabet)), -1, np.int64)
    for s in states:
        for dest, out, _ in s.transitions["x"]:
            if out != "$":
                table[number[id(s)], col[out]] = number[id(dest)]
    initial = number[id(model.initial_state)]
    unseen = int((table < 0).sum())
    for a in range(len(alphabet)):  # never observed: go where the initial state goes on that symbol
        fallback = table[initial, a] if table[initial, a] >= 0 else initial
        table[table[:, a] < 0, a] = fallback
    return table, initial, len(states), unseen


class _Slow(Exception):
    """Raised by the interval timer inside an ALERGIA run that takes too long."""


def _alergia_timed(words: list, alphabet: tuple, eps: float, seconds: float) -> tuple | None:
    """:func:`alergia_automaton`, or None after ``seconds`` (AALpy's merge loop is quadratic
    in the states; the large eps values of the grid can make thousands)."""
    def alarm(signum: int, frame: Any) -> None:
        raise _Slow

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return alergia_automaton(words, alphabet, eps)
    except _Slow:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def alergia_tuned(words: list, alphabet: tuple, target: int) -> dict:
    """ALERGIA with the eps of a log grid (1e-12 .. 2, and AALpy's default 0.05) whose state
    count is closest to ``target`` (ties: the eps nearest 0.05 in log scale). The grid is walked
    upwards and left once the state count passes ``target`` (state counts grow with eps), or
    once a run takes over ``ALERGIA_SECONDS``."""
    grid = sorted({float(e) for e in np.logspace(-12, np.log10(2.0), 30)} | {0.05})
    tried, grid_record = [], []
    t0 = time.perf_counter()
    for eps in grid:
        t1 = time.perf_counter()
        got = _alergia_timed(words, alphabet, eps, ALERGIA_SECONDS)
        if got is None:
            grid_record.append([eps, None])
            break
        table, initial, n, unseen = got
        tried.append({"eps": eps, "states": n, "unseen": unseen, "seconds": round(time.perf_counter() - t1, 3),
                      "table": table, "initial": initial})
        grid_record.append([eps, n])
        if n > target:
            break
    best = min(tried, key=lambda r: (abs(r["states"] - target), abs(np.log(r["eps"] / 0.05))))
    return {**best, "tuning_seconds": round(time.perf_counter() - t0, 2), "grid": grid_record}


def ngram_automaton(order: int, alphabet: tuple) -> tuple[np.ndarray, int]:
    """The contexts of an n-gram model of ``order`` (the last ``order - 1`` symbols, shorter at a
    word's start) as a deterministic automaton: (table, initial)."""
    k = len(alphabet)
    contexts: list[tuple] = [()]
    for j in range(1, order):
        contexts += [c + (a,) for c in contexts if len(c) == j - 1 for a in range(k)]
    index = {c: i for i, c in enumerate(contexts)}
    table = np.empty((len(contexts), k), np.int64)
    for c, i in index.items():
        for a in range(k):
            nxt = c + (a,)
            table[i, a] = index[nxt[-(order - 1):] if order > 1 and len(nxt) > order - 1 else (nxt if order > 1 else ())]
    return table, 0


def ngram_order(k: int, target: int) -> int:
    """The order whose number of contexts is closest to ``target`` (ties: the larger)."""
    sizes = {n: sum(k**j for j in range(n)) for n in range(1, 9)}
    return min(sizes, key=lambda n: (abs(sizes[n] - target), -n))


def measures(net_p: np.ndarray, q: np.ndarray, target: np.ndarray) -> dict:
    from fsm_extract.analysis.distributions import (
        bits_per_symbol,
        kl_divergence,
        ndcg_at_k,
        total_variation,
        word_error_rate,
    )

    return {"tv": float(total_variation(net_p, q).mean()), "kl": float(kl_divergence(net_p, q).mean()),
            "ndcg5": float(ndcg_at_k(net_p, q, k=5).mean()), "wer": float(word_error_rate(net_p, q)),
            "bits": float(bits_per_symbol(q, target))}


def positions(trace: Any) -> tuple[np.ndarray, np.ndarray]:
    """The net's distribution at every prefix position (fx's layout: per word, the empty prefix
    then each step) and what came next there (end of word = n_symbols)."""
    offsets, symbols = trace.offsets, trace.symbols
    n = offsets.size - 1
    total = symbols.size + n
    first = offsets[:-1] + np.arange(n)
    is_step = np.ones(total, bool)
    is_step[first] = False
    p = np.empty((total, np.asarray(trace.probs).shape[1]))
    p[is_step] = trace.probs
    p[~is_step] = trace.h0_probs
    p /= p.sum(1, keepdims=True)
    k = p.shape[1] - 1
    target = np.full(total, k, np.int64)
    nxt = np.ones(total, bool)
    nxt[first + np.diff(offsets)] = False
    target[nxt] = symbols
    return p, target


def run_pdfa(recipe: PdfaRecipe) -> dict:
    import fsm_extract as fx

    _quiet()
    t_all = time.perf_counter()
    pdfa = fx.languages.random_pdfa(n_states=recipe.n_states, alphabet=recipe.alphabet, seed=recipe.seed)
    alphabet = pdfa.alphabet
    train = pdfa.sample(n=recipe.train_n, seed=recipe.seed)
    test = pdfa.sample(n=TEST_N, seed=recipe.seed + 1001)
    net, train_seconds, cached = _cached(recipe, lambda: fx.train_next_symbol(
        train, alphabet=alphabet, hidden_size=recipe.hidden, seed=0, epochs=recipe.epochs, progress=False))
    row: dict = {"name": recipe.name, "kind": "next-symbol", "recipe": asdict(recipe), "pdfa_states": pdfa.n_states,
                 "n_symbols": len(alphabet), "train_seconds": train_seconds, "cached": cached,
                 "epochs_run": (net.metadata or {}).get("epochs_run")}
    trace = fx.collect_trace(net, test)
    net_p, target = positions(trace)
    symbols, offsets = trace.symbols, trace.offsets
    row["positions"] = int(net_p.shape[0])
    with np.errstate(divide="ignore"):
        true_p = np.vstack(pdfa.prefix_probs(test))
    row["entropy_rate"] = float(-np.log2(true_p[np.arange(target.size), target]).mean())  # the PDFA on its own words
    row["net_bits"] = float(-np.log2(net_p[np.arange(target.size), target]).mean())

    def automaton(table: np.ndarray, initial: int, probs: np.ndarray) -> dict:
        return measures(net_p, probs[run_table(table, initial, symbols, offsets)], target)

    row["pdfa"] = {"states": pdfa.n_states, **automaton(pdfa.transitions, pdfa.initial, pdfa.probs)}
    tr_trace = fx.collect_trace(net, train)
    tr_p, _ = positions(tr_trace)
    tr_states = run_table(pdfa.transitions, pdfa.initial, tr_trace.symbols, tr_trace.offsets)
    means = np.zeros_like(pdfa.probs)
    np.add.at(means, tr_states, tr_p)
    seen = np.bincount(tr_states, minlength=pdfa.n_states)
    means = np.where(seen[:, None] > 0, means / np.maximum(seen, 1)[:, None], pdfa.probs)
    row["pdfa_net_means"] = {"states": pdfa.n_states, **automaton(pdfa.transitions, pdfa.initial, means)}

    counted = fx.as_net(net)
    t0 = time.perf_counter()
    fsm = fx.extract(counted, train, seed=0)
    seconds = round(time.perf_counter() - t0, 2)
    mine = automaton(fsm.transitions, fsm.initial, np.asarray(fsm.output_probs))
    t0 = time.perf_counter()
    rep = fx.fidelity(net, fsm, test).to_dict()
    fid_seconds = round(time.perf_counter() - t0, 2)
    row["fx"] = {"states": int(fsm.n_states), "seconds": seconds, "steps": int(counted.steps), **mine,
                 "fidelity": {"prefix_agreement": rep["prefix_agreement"], "tv": rep["total_variation"],
                              "kl": rep["kl_divergence"], "bits": rep["bits_per_symbol"], "ndcg5": rep["ndcg5"],
                              "wer": rep["wer"], "seconds": fid_seconds},
                 "codebook": (fsm.metadata.get("codebook") or {}).get("n_outputs"),
                 "front": [p[0] for p in (fsm.metadata.get("front") or {}).get("points", [])]}
    fx_states = run_table(fsm.transitions, fsm.initial, tr_trace.symbols, tr_trace.offsets)
    refit = np.zeros_like(np.asarray(fsm.output_probs, dtype=np.float64))
    np.add.at(refit, fx_states, tr_p)
    seen = np.bincount(fx_states, minlength=fsm.n_states)
    refit = np.where(seen[:, None] > 0, refit / np.maximum(seen, 1)[:, None], np.asarray(fsm.output_probs))
    row["fx_refit"] = {"states": int(fsm.n_states), **automaton(fsm.transitions, fsm.initial, refit)}
    if fsm.n_states != pdfa.n_states:  # what the front holds at the PDFA's size
        t0 = time.perf_counter()
        front = fx.pareto(net, train, seed=0)
        try:
            point = front.at(pdfa.n_states)
        except Exception as exc:  # noqa: BLE001 - no point that small: record why
            row["fx_at_pdfa_size"] = {"error": f"{type(exc).__name__}: {exc}"}
        else:
            f = point.fsm
            row["fx_at_pdfa_size"] = {"states": int(f.n_states), "held_out_agreement": float(point.agreement),
                                      "pareto_seconds": round(time.perf_counter() - t0, 2),
                                      **automaton(f.transitions, f.initial, np.asarray(f.output_probs))}
    target_states = int(fsm.n_states)

    t0 = time.perf_counter()
    samples, sample_steps, cut = sample_from_net(net, ALERGIA_WORDS, seed=recipe.seed)
    row["net_samples"] = {"words": len(samples), "steps": sample_steps, "cut": cut,
                          "seconds": round(time.perf_counter() - t0, 2),
                          "mean_length": float(np.mean([len(w) for w in samples]))}

    for key, words in (("alergia", samples), ("alergia_big", None)):
        if words is None:
            t0 = time.perf_counter()
            words, steps, cut = sample_from_net(net, ALERGIA_BIG_WORDS, seed=recipe.seed + 7)
            row["net_samples_big"] = {"words": len(words), "steps": steps, "cut": cut,
                                      "seconds": round(time.perf_counter() - t0, 2)}
        al = alergia_tuned(words, alphabet, target_states)
        probs = add_one(counts_on(al["table"], al["initial"], words, alphabet))
        row[key] = {"words": len(words), "states": al["states"], "eps": al["eps"], "unseen_transitions": al["unseen"],
                    "seconds": al["seconds"], "tuning_seconds": al["tuning_seconds"], "grid": al["grid"],
                    **automaton(al["table"], al["initial"], probs)}

    t0 = time.perf_counter()
    order = ngram_order(len(alphabet), target_states)
    table, initial = ngram_automaton(order, alphabet)
    probs = add_one(counts_on(table, initial, samples, alphabet))
    row["ngram"] = {"order": order, "states": int(table.shape[0]), "seconds": round(time.perf_counter() - t0, 3),
                    **automaton(table, initial, probs)}
    row["seconds"] = round(time.perf_counter() - t_all, 1)
    return row


# ----------------------------------------------------------------------------- output
def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _eq(col: dict) -> str:
    if col.get("equivalent"):
        return "yes"
    return "non-empty words only" if col.get("equivalent_nonempty") else "no"


def moore_table(rows: list[dict]) -> str:
    lines = [("| net | machine states | net accuracy (prefixes / words) | net right on the empty word | fx: states "
              "| fx = machine | fx agreement | fx (s) | fx net steps | L*: states | L* = machine | L* agreement "
              "| L* (s) | L* steps | L* stopped |"),
             "|---|---:|---|---|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---|"]
    for r in rows:
        f, ls = r["fx"], r["lstar"]
        lines.append(
            f"| {r['name']} | {r['machine_states']} | {pct(r['net_prefix_accuracy'])} / {pct(r['net_word_accuracy'])} "
            f"| {'yes' if r['net_empty_word_correct'] else 'no'} | {f['states']} | {_eq(f)} "
            f"| {pct(f['prefix'])} | {f['seconds']:.1f} "
            f"| {f['steps']:,} | {ls.get('states', '-')} | {_eq(ls)} "
            f"| {pct(ls.get('prefix'))} | {ls['seconds']:.1f} | {ls['steps']:,} | {ls['stopped']} |")
    return "\n".join(lines)


METHODS = (("fx", "fx.extract"), ("alergia", "ALERGIA"), ("ngram", "n-gram"), ("alergia_big", "ALERGIA, 30,000 words"),
           ("fx_refit", "fx structure, net means"), ("pdfa", "PDFA itself"),
           ("pdfa_net_means", "PDFA structure, net means"))


DIGITS = {"kl": 5, "ndcg5": 5}


def pdfa_tables(rows: list[dict]) -> str:
    head = [("| task | PDFA states | symbols | entropy rate (bits) | net bits/symbol | fx: states | = PDFA states "
             "| fx (s) | fx net steps | ALERGIA: states (eps) | ALERGIA (s) | n-gram: order, states | n-gram (s) "
             "| ALERGIA 30,000 words: states (eps) | its (s) |"),
            "|---|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---|---:|---|---:|"]
    for r in rows:
        f, a, g, b = r["fx"], r["alergia"], r["ngram"], r["alergia_big"]
        head.append(
            f"| {r['name']} | {r['pdfa_states']} | {r['n_symbols']} | {r['entropy_rate']:.4f} | {r['net_bits']:.4f} "
            f"| {f['states']} | {'yes' if f['states'] == r['pdfa_states'] else 'no'} | {f['seconds']:.1f} "
            f"| {f['steps']:,} | {a['states']} ({a['eps']:.2g}) | {a['seconds']:.2f} | {g['order']}, {g['states']} "
            f"| {g['seconds']:.2f} | {b['states']} ({b['eps']:.2g}) | {b['seconds']:.2f} |")
    out = ["\n".join(head)]
    for key, title in (("tv", "mean per-step total variation to the net (lower is better)"),
                       ("kl", "mean KL(net || automaton), bits (lower is better)"),
                       ("ndcg5", "mean NDCG@5 against the net (higher is better)"),
                       ("wer", "WER against the net (lower is better)"),
                       ("bits", "bits per symbol on the held-out words (net in the first table)")):
        lines = [f"**{title}**\n", "| task | " + " | ".join(t for _, t in METHODS) + " |",
                 "|---|" + "---:|" * len(METHODS)]
        for r in rows:
            cells = []
            for m, _ in METHODS:
                v = r[m][key]
                cells.append(pct(v) if key == "wer" else f"{v:.{DIGITS.get(key, 4)}f}")
            lines.append(f"| {r['name']} | " + " | ".join(cells) + " |")
        mean = [float(np.mean([r[m][key] for r in rows])) for m, _ in METHODS]
        lines.append("| **mean** | " + " | ".join(f"**{pct(v)}**" if key == "wer" else f"**{v:.{DIGITS.get(key, 4)}f}**"
                                                for v in mean)
                     + " |")
        out.append("\n".join(lines))
    larger = [r for r in rows if "fx_at_pdfa_size" in r]
    if larger:
        lines = [("**where fx's automaton is not the PDFA's size: the front's point at the PDFA's size "
                  "(`fx.pareto(net, train, seed=0).at(pdfa.n_states)`) against the chosen one**\n"),
                 ("| task | PDFA states | chosen: states, TV, KL, NDCG@5, WER | at PDFA size: states, held-out "
                  "agreement, TV, KL, NDCG@5, WER |"), "|---|---:|---|---|"]
        for r in larger:
            f, a = r["fx"], r["fx_at_pdfa_size"]
            cell = (a["error"] if "error" in a else f"{a['states']}, {pct(a['held_out_agreement'])}, {a['tv']:.4f}, "
                    f"{a['kl']:.5f}, {a['ndcg5']:.5f}, {pct(a['wer'])}")
            lines.append(f"| {r['name']} | {r['pdfa_states']} | {f['states']}, {f['tv']:.4f}, {f['kl']:.5f}, "
                         f"{f['ndcg5']:.5f}, {pct(f['wer'])} | {cell} |")
        out.append("\n".join(lines))
    return "\n\n".join(out)


def summary(moore: list[dict], pdfa: list[dict]) -> str:
    lines = []
    if moore:
        fx_eq = sum(r["fx"]["equivalent"] for r in moore)
        ls_eq = sum(bool(r["lstar"].get("equivalent")) for r in moore)
        lines.append(f"- classes nets: fx.extract equivalent to the machine on {fx_eq} of {len(moore)}, L* at the same "
                     f"net-step budget on {ls_eq} of {len(moore)}; mean agreement with the net "
                     f"{pct(np.mean([r['fx']['prefix'] for r in moore]))} (fx) vs "
                     f"{pct(np.mean([r['lstar'].get('prefix', 0.0) for r in moore]))} (L*); time "
                     f"{sum(r['fx']['seconds'] for r in moore):.1f} s vs {sum(r['lstar']['seconds'] for r in moore):.1f} s")
        fx_ne = sum(r["fx"]["equivalent"] or r["fx"]["equivalent_nonempty"] for r in moore)
        ls_ne = sum(bool(r["lstar"].get("equivalent") or r["lstar"].get("equivalent_nonempty")) for r in moore)
        lines.append(f"- counting nets wrong only on the empty word as right (the automaton equals the machine on every "
                     f"non-empty word): fx {fx_ne} of {len(moore)}, L* {ls_ne} of {len(moore)}; nets wrong on the empty "
                     f"word: {sum(not r['net_empty_word_correct'] for r in moore)}")
        exact = [r for r in moore if r["recipe"]["exact"]]
        if exact:
            lines.append(f"- exactly-built Moore nets recovered exactly by fx.extract: "
                         f"{sum(r['fx']['equivalent'] for r in exact)} of {len(exact)}")
    if pdfa:
        same = sum(r["fx"]["states"] == r["pdfa_states"] for r in pdfa)
        tv = float(np.mean([r["fx"]["tv"] for r in pdfa]))
        lines.append(f"- PDFA tasks where fx's automaton has the PDFA's number of states: {same} of {len(pdfa)} "
                     f"(target >= {STATES_TARGET} of 10): {'met' if same >= STATES_TARGET * len(pdfa) / 10 else 'NOT met'}")
        lines.append(f"- mean per-step TV of fx's automaton to the net: {tv:.4f} (target <= {TV_TARGET}): "
                     f"{'met' if tv <= TV_TARGET else 'NOT met'}; per task "
                     f"{sum(r['fx']['tv'] <= TV_TARGET for r in pdfa)} of {len(pdfa)} within; the PDFA itself "
                     f"{np.mean([r['pdfa']['tv'] for r in pdfa]):.4f}, PDFA structure with net means "
                     f"{np.mean([r['pdfa_net_means']['tv'] for r in pdfa]):.4f} (within {TV_TARGET}: "
                     f"{sum(r['pdfa_net_means']['tv'] <= TV_TARGET for r in pdfa)} of {len(pdfa)}), fx's structure with "
                     f"net means {np.mean([r['fx_refit']['tv'] for r in pdfa]):.4f}")
        for key, better, name in (("ndcg5", max, "NDCG@5"), ("kl", min, "KL"), ("tv", min, "TV")):
            for peer, title in (("alergia", "ALERGIA"), ("ngram", "n-gram"), ("alergia_big", "ALERGIA on 30,000 words")):
                wins = sum(better(r["fx"][key], r[peer][key]) == r["fx"][key] and r["fx"][key] != r[peer][key]
                           for r in pdfa)
                ties = sum(r["fx"][key] == r[peer][key] for r in pdfa)
                lines.append(f"- {name}: fx better than {title} on {wins} of {len(pdfa)} tasks ({ties} ties); mean "
                             f"{np.mean([r['fx'][key] for r in pdfa]):.5f} vs {np.mean([r[peer][key] for r in pdfa]):.5f}")
        lines.append("- state count equal to fx's: " + ", ".join(
            f"{title} on {sum(r[peer]['states'] == r['fx']['states'] for r in pdfa)} of {len(pdfa)}"
            for peer, title in (("alergia", "ALERGIA"), ("ngram", "n-gram"), ("alergia_big", "ALERGIA on 30,000 words"))))
        lines.append(f"- time: fx.extract {sum(r['fx']['seconds'] for r in pdfa):.1f} s in all "
                     f"({sum(r['fx']['steps'] for r in pdfa):,} net steps); ALERGIA's chosen runs "
                     f"{sum(r['alergia']['seconds'] for r in pdfa):.1f} s (eps search "
                     f"{sum(r['alergia']['tuning_seconds'] for r in pdfa):.1f} s), on 30,000 words "
                     f"{sum(r['alergia_big']['seconds'] for r in pdfa):.1f} s (search "
                     f"{sum(r['alergia_big']['tuning_seconds'] for r in pdfa):.1f} s); sampling 3,000 words from the "
                     f"net {sum(r['net_samples']['seconds'] for r in pdfa):.1f} s "
                     f"({sum(r['net_samples']['steps'] for r in pdfa):,} net steps)")
    return "\n".join(lines)


def fsm_extract_source() -> str:
    """Where ``fsm_extract`` was imported from, with its git commit (and whether its files differ
    from it) when it lies in a git checkout: the package changes under a benchmark that others edit."""
    import subprocess

    import fsm_extract as fx

    pkg = Path(fx.__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=pkg, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=pkg, capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return str(pkg)
    return f"{pkg} (commit {commit}{', with uncommitted changes' if dirty else ''})"


def _progress(row: dict) -> None:
    train = "cached" if row["cached"] else ("exact" if row["train_seconds"] is None else f"trained {row['train_seconds']} s")
    if row["kind"] == "classes":
        f, ls = row["fx"], row["lstar"]
        print(f"{row['name']:20s} net {pct(row['net_prefix_accuracy'])} | fx {f['states']} st eq={f['equivalent']} "
              f"{pct(f['prefix'])} {f['seconds']} s {f['steps']:,} steps | L* {ls.get('states')} st "
              f"eq={ls.get('equivalent')} {pct(ls.get('prefix'))} {ls['seconds']} s {ls['steps']:,} steps "
              f"({ls['stopped']}) | {train}; {row['seconds']} s", flush=True)
    else:
        f, a, g = row["fx"], row["alergia"], row["ngram"]
        print(f"{row['name']:20s} pdfa {row['pdfa_states']} st | fx {f['states']} st TV {f['tv']:.4f} KL {f['kl']:.4f} "
              f"NDCG {f['ndcg5']:.4f} {f['seconds']} s | ALERGIA {a['states']} st TV {a['tv']:.4f} KL {a['kl']:.4f} "
              f"NDCG {a['ndcg5']:.4f} | {g['order']}-gram {g['states']} st TV {g['tv']:.4f} KL {g['kl']:.4f} "
              f"NDCG {g['ndcg5']:.4f} | {train}; {row['seconds']} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help=f"smoke run: {', '.join(QUICK)}")
    p.add_argument("--only", nargs="+", metavar="NAME", help="these tasks of the suite only")
    p.add_argument("--json", help="also write every task's row here")
    p.add_argument("--list", action="store_true", help="print the suite's recipes and exit")
    p.add_argument("--train-n", type=int, metavar="N",
                   help="train every next-symbol (PDFA) net on N words sampled from its PDFA instead of the "
                        "recipe's 16,000 (a separate cache entry; fx.extract fits on the same N words)")
    a = p.parse_args(argv)
    if a.train_n is not None and a.train_n < 1:
        p.error("--train-n must be at least 1")
    suite = [replace(r, train_n=a.train_n) if a.train_n is not None and r.kind == "next-symbol" else r
             for r in SUITE]
    names = [r.name for r in suite]
    if a.list:
        for r in suite:
            print(f"{r.name:20s} {r.kind:12s} {r.note()}")
        return 0
    chosen = a.only or (QUICK if a.quick else names)
    unknown = [n for n in chosen if n not in names]
    if unknown:
        print(f"unknown task(s) {unknown}; the suite has {names}", file=sys.stderr)
        return 2
    try:
        import aalpy  # noqa: F401
    except ImportError:
        print("the L* and ALERGIA peers need AALpy: pip install aalpy", file=sys.stderr)
        return 2
    import importlib.metadata

    import torch

    _quiet()
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; Python {platform.python_version()}, torch "
          f"{torch.__version__} (1 thread), NumPy {np.__version__}, aalpy {importlib.metadata.version('aalpy')}")
    print(f"{len(chosen)} tasks; {time.strftime('%Y-%m-%d %H:%M')}; fsm_extract from {fsm_extract_source()}")
    t0 = time.perf_counter()
    rows = []
    for r in suite:
        if r.name in chosen:
            rows.append(run_moore(r) if r.kind == "classes" else run_pdfa(r))
            _progress(rows[-1])
    moore = [r for r in rows if r["kind"] == "classes"]
    pdfa = [r for r in rows if r["kind"] == "next-symbol"]
    if moore:
        print("\n" + moore_table(moore))
    if pdfa:
        print("\n" + pdfa_tables(pdfa))
    print("\n" + summary(moore, pdfa))
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
