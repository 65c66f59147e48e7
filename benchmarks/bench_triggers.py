"""Planted triggers: does the toolkit find a rare behaviour that sampled data does not show?

Each case (seeded by its trigger length and index):

- a random DFA (``fx.languages.random_dfa``) of 4-8 states over 2 or 3 symbols, a random
  trigger of the given length, and the planted language ``plant_trigger(dfa, trigger)``: the
  DFA's answer flipped on every word that contains the trigger;
- the net: ``exact_lstm(planted, distractors=4, amplitude=0.1, seed=i)`` (permuted units, four
  distractor units that blur every state), exact on the planted language;
- the sampled data: 1,000 words of the *base* DFA's task, lengths 0-20 (``dfa.sample``), on
  which the trigger is rare or absent.

Every net step is counted at the net itself (a counting wrapper around the embedding sees every
batch the toolkit runs, padding included), so the figures are what was computed, not what a
function says it spent. Per case, with a budget of ``--budget`` net steps (default 10^6):

- ``extract``: ``fx.extract(net, data, refine=fx.Refinement(max_rounds=2))`` (refined, the default, with two
  counterexample rounds: more rounds cost more net steps than the search needs): does it
  recover the planted language exactly?
- ``search``: ``fx.search_disagreements(net, fsm, budget=<what extract left>)``: does it report a
  verified word that contains the trigger? Every word it reports is checked against the planted
  language (a false alarm is a reported word on which the net and the FSM agree; the net is
  exact, so that is a word where the planted language and the FSM agree).
- found = exact recovery or a trigger word found, within the budget;
- ``extract+search``: ``fx.extract(net, data, refine=fx.Refinement(search=100_000))``: the counterexample loop also
  searches; does the automaton it returns equal the planted language? (its steps are reported;
  it is not held to the budget)
- ``L*``: AALpy's ``run_Lstar`` (DFA, Rivest-Schapire counterexample processing, its cache)
  with its ``RandomWordEqOracle`` (walks of 10-60 symbols, as many as the budget allows), the
  net as the system under learning, stepped one symbol at a time by a NumPy copy of its LSTM
  (checked against the torch net on 300 words before use), stopped when it has spent the same
  budget. Found = its last hypothesis equals the planted language, or one of its
  counterexamples contains the trigger.

    pip install -e ".[bench]"                             # AALpy, for the L* baseline (not a runtime dependency)
    python benchmarks/bench_triggers.py                   # 20 cases per length 4, 8, 12, 16
    python benchmarks/bench_triggers.py --cases 2 --lengths 4,8 --budget 200000   # smoke run
    python benchmarks/bench_triggers.py --no-lstar        # without the baseline
    python benchmarks/bench_triggers.py --jobs 2          # cases in parallel processes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import defaultdict
from multiprocessing import get_context

import numpy as np
import _lstar  # benchmarks/_lstar.py: the L* baseline (the script's own folder is on sys.path)
from _machine import cpu_model  # benchmarks/_machine.py

ALPHABETS = {2: "01", 3: "abc"}


class CountingEmbedding:
    """Wraps a net's embedding: every id it embeds is one net step (padding included)."""

    def __init__(self, embedding) -> None:
        self.embedding, self.steps = embedding, 0

    def __call__(self, ids):
        self.steps += int(ids.numel())
        return self.embedding(ids)


def make_case(length: int, index: int):
    import fsm_extract as fx
    from fsm_extract.nets.exact import exact_lstm, plant_trigger

    rng = np.random.default_rng([length, index])
    n_states, k = int(rng.integers(4, 9)), int(rng.integers(2, 4))
    alphabet = ALPHABETS[k]
    base = fx.languages.random_dfa(n_states=n_states, alphabet=alphabet, seed=int(rng.integers(2**31)))
    trigger = "".join(alphabet[a] for a in rng.integers(0, k, length))
    planted = plant_trigger(base, trigger)
    net = exact_lstm(planted, distractors=4, amplitude=0.1, seed=index)
    data = base.sample(n=1000, min_len=0, max_len=20, seed=index)
    return base, trigger, planted, net, data


def counted(net):
    from fsm_extract.nets.models import RecurrentAdapter

    counter = CountingEmbedding(net.embedding)
    model = RecurrentAdapter(embedding=counter, rnn=net.rnn, head=net.head, alphabet=net.alphabet)
    counter.steps = 0  # the adapter's probe of the embedding is not a step of the method
    return model, counter


def run_lstar(net, planted, trigger: str, budget: int, seed: int) -> dict:
    run = _lstar.run_lstar(net, budget=budget, num_walks=budget // 10 + 1, min_walk_len=10, max_walk_len=60,
                           reset_after_cex=False, seed=seed)
    last = run.last
    exact = last is not None and _lstar.hypothesis_equals(last, planted)
    cex_trigger = any(trigger in c for c in run.cex)
    return {"found": bool(exact or cex_trigger), "exact": bool(exact), "cex_with_trigger": bool(cex_trigger),
            "steps": run.steps, "seconds": run.seconds, "stopped": run.stopped,
            "hypothesis_states": len(last.states) if last is not None else 0}


def run_case(args: tuple) -> dict:
    length, index, budget, lstar, search_per_round, max_rounds = args
    import torch

    import fsm_extract as fx

    torch.set_num_threads(1)
    base, trigger, planted, net, data = make_case(length, index)
    model, counter = counted(net)
    row = {"length": length, "case": index, "states": base.n_states, "symbols": len(base.alphabet),
           "planted_states": planted.n_states, "trigger": trigger,
           "trigger_in_data": sum(trigger in "".join(w) for w in data.words)}

    t0 = time.perf_counter()
    fsm = fx.extract(model, data, seed=index, refine=fx.Refinement(max_rounds=max_rounds))
    row["extract_steps"], row["extract_seconds"] = counter.steps, round(time.perf_counter() - t0, 2)
    row["extract_exact"] = bool(fsm.equivalent(planted))

    left = budget - counter.steps
    row["search_found"] = False
    row["search_steps"] = row["search_seconds"] = row["reported"] = row["false_alarms"] = 0
    if left > 0 and not row["extract_exact"]:
        before, t0 = counter.steps, time.perf_counter()
        result = fx.search_disagreements(model, fsm, budget=left, seed=index)
        row["search_steps"], row["search_seconds"] = counter.steps - before, round(time.perf_counter() - t0, 2)
        words = ["".join(d.word) for d in result.disagreements]
        row["reported"] = len(words)
        row["false_alarms"] = int(sum(planted.accepts(w) == fsm.accepts(w) for w in words))
        row["search_found"] = any(trigger in w for w in words)
        row["shortest_found"] = min((w for w in words if trigger in w), key=len, default=None)
    row["steps"] = row["extract_steps"] + row["search_steps"]
    row["seconds"] = round(row["extract_seconds"] + row["search_seconds"], 2)
    row["found"] = bool((row["extract_exact"] or row["search_found"]) and row["steps"] <= budget)

    model2, counter2 = counted(net)
    t0 = time.perf_counter()
    fsm2 = fx.extract(model2, data, seed=index, refine=fx.Refinement(search=search_per_round, max_rounds=8))
    row["loop_exact"] = bool(fsm2.equivalent(planted))
    row["loop_steps"], row["loop_seconds"] = counter2.steps, round(time.perf_counter() - t0, 2)

    if lstar:
        row["lstar"] = run_lstar(net, planted, trigger, budget, seed=index)
    return row


def summarise(rows: list[dict], lstar: bool, budget: int) -> str:
    by_len = defaultdict(list)
    for r in rows:
        by_len[r["length"]].append(r)
    head = ("| trigger length | cases | trigger in sampled data | extract exact | search finds trigger | **found** "
            "| false alarms | net steps (median / max) | seconds (median / max) | extract+search exact | its steps (median) |")
    sep = "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    if lstar:
        head += " **L\\* found** | L\\* exact | L\\* steps (median) | L\\* seconds (median) |"
        sep += "---:|---:|---:|---:|"
    lines = [head, sep]
    for length in sorted(by_len):
        rs = by_len[length]
        n = len(rs)
        steps = np.array([r["steps"] for r in rs])
        secs = np.array([r["seconds"] for r in rs])
        need_search = [r for r in rs if not r["extract_exact"]]
        line = (f"| {length} | {n} | {sum(r['trigger_in_data'] > 0 for r in rs)} "
                f"| {sum(r['extract_exact'] for r in rs)} | {sum(r['search_found'] for r in need_search)} of {len(need_search)} "
                f"| **{sum(r['found'] for r in rs)} ({100 * np.mean([r['found'] for r in rs]):.0f}%)** "
                f"| {sum(r['false_alarms'] for r in rs)} of {sum(r['reported'] for r in rs)} "
                f"| {np.median(steps):,.0f} / {steps.max():,.0f} | {np.median(secs):.1f} / {secs.max():.1f} "
                f"| {sum(r['loop_exact'] for r in rs)} | {np.median([r['loop_steps'] for r in rs]):,.0f} |")
        if lstar:
            ls = [r["lstar"] for r in rs]
            line += (f" **{sum(x['found'] for x in ls)} ({100 * np.mean([x['found'] for x in ls]):.0f}%)** "
                     f"| {sum(x['exact'] for x in ls)} | {np.median([x['steps'] for x in ls]):,.0f} "
                     f"| {np.median([x['seconds'] for x in ls]):.1f} |")
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lengths", default="4,8,12,16")
    p.add_argument("--cases", type=int, default=20)
    p.add_argument("--budget", type=int, default=1_000_000, help="net steps per case (extract + search; L* the same)")
    p.add_argument("--search-per-round", type=int, default=100_000, help="search budget per round of extract+search")
    p.add_argument("--max-rounds", type=int, default=2,
                   help="counterexample rounds of the extraction before the search (default 2: the search finds "
                        "rare behaviour at a fraction of the cost of more rounds)")
    p.add_argument("--no-lstar", action="store_true")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--json", help="also write every case's row here")
    a = p.parse_args(argv)
    lengths = [int(x) for x in a.lengths.split(",")]
    lstar = not a.no_lstar
    if lstar:
        try:
            import aalpy  # noqa: F401
        except ImportError:
            print("the L* baseline needs AALpy: pip install aalpy (or run with --no-lstar)", file=sys.stderr)
            return 2
    import torch

    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; Python {platform.python_version()}, torch {torch.__version__}"
          + (f", aalpy {__import__('importlib.metadata').metadata.version('aalpy')}" if lstar else ""))
    print(f"budget {a.budget:,} net steps per case; {a.cases} cases per length {lengths}; extract max_rounds "
          f"{a.max_rounds}; jobs {a.jobs}")
    tasks = [(length, i, a.budget, lstar, a.search_per_round, a.max_rounds) for length in lengths for i in range(a.cases)]
    t0 = time.perf_counter()
    rows = []
    if a.jobs > 1:
        with get_context("spawn").Pool(a.jobs) as pool:
            for row in pool.imap(run_case, tasks):
                rows.append(row)
                _progress(row)
    else:
        for task in tasks:
            rows.append(run_case(task))
            _progress(rows[-1])
    print()
    print(summarise(rows, lstar, a.budget))
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)
    return 0


def _progress(row: dict) -> None:
    ls = row.get("lstar")
    print(f"L={row['length']:2d} case {row['case']:2d} k={row['symbols']} n={row['states']} planted={row['planted_states']:3d} "
          f"exact={row['extract_exact']!s:5} search={row['search_found']!s:5} found={row['found']!s:5} "
          f"steps={row['steps']:>9,} {row['seconds']:5.1f}s loop_exact={row['loop_exact']!s:5} "
          + (f"| L* found={ls['found']!s:5} exact={ls['exact']!s:5} steps={ls['steps']:,} {ls['seconds']}s" if ls else ""),
          flush=True)


if __name__ == "__main__":
    sys.exit(main())
