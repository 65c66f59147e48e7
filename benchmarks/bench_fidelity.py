"""Benchmark of the fidelity report (``fx.fidelity``) on the bundled Tomita-3 LSTM.

Data: ``fx.languages.tomita(3).sample(n=10000, min_len=0, max_len=60, seed=0)`` (about 330,000
prefixes). Automata: ``fx.extract(model, train, n_states=k)`` on the bundled ``tomita3/train``
split, for k = 8 and k = 16, each extracted twice: with plain clustering of the hidden states
(``refine=False``; at k = 8 this automaton has a residual) and with the default refined
extraction (behavioural features of the full LSTM state). Wall times, best of k repeats (5 by
default), each after one untimed warm-up call (JIT compilation, caches):

- ``collect_trace``   the net's forward pass over every word (``fx.collect_trace``),
- ``features``        refined automata only: mapping every traced state to the behavioural
                      features the automaton's clusters live in (runs the net's cell and head
                      on every state: the continuation outputs), as ``fx.fidelity`` does,
- ``evaluate_trace``  everything else beyond the forward pass, on that trace, with the task
                      labels and the reference DFA (``fsm_extract.analysis.fidelity.evaluate_trace``),
- ``fx.fidelity``     the whole public call (trace + features + fingerprint + report).

Target: ``evaluate_trace`` <= 5 s.

    python benchmarks/bench_fidelity.py                  # full run
    python benchmarks/bench_fidelity.py --quick          # 1,000 words, 2 repeats
    python benchmarks/bench_fidelity.py --threads 1      # torch threads for the forward pass
    python benchmarks/bench_fidelity.py --profile        # cProfile of evaluate_trace, k = 8
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import io
import os
import platform
import pstats
import time
from collections.abc import Callable

import numpy as np
from _machine import cpu_model  # benchmarks/_machine.py (the script's own folder is on sys.path)
import torch

import fsm_extract as fx
from fsm_extract.analysis.fidelity import evaluate_trace

TARGET_S = 5.0


def best_of(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    out = fn()  # warm-up, untimed
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-words", type=int, default=10_000)
    ap.add_argument("--max-len", type=int, default=60)
    ap.add_argument("--ks", default="8,16", help="comma-separated numbers of clusters")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    ap.add_argument("--quick", action="store_true", help="1,000 words, 2 repeats")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of evaluate_trace for the first k")
    args = ap.parse_args()
    if args.quick:
        args.n_words, args.repeats = 1_000, 2
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    ks = [int(k) for k in args.ks.split(",")]

    lang = fx.languages.tomita(3)
    model = fx.datasets.bundled_model("tomita3")
    train = fx.datasets.load("tomita3", split="train")
    data = lang.sample(n=args.n_words, min_len=0, max_len=args.max_len, seed=0)
    n_prefixes = int(data.lengths.sum())
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; Python {platform.python_version()}, "
          f"NumPy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"data: {len(data)} tomita3 words, lengths 0-{args.max_len}, {n_prefixes} prefixes; best of {args.repeats}\n")

    variants = [("plain", {"refine": False}), ("refined", {})]
    if "refine" not in inspect.signature(fx.extract).parameters:
        variants = [("plain", {})]
    rows = []
    for k in ks:
        for name, options in variants:
            fsm = fx.extract(model, train, n_states=k, **options)
            state = fsm.metadata.get("state", "h")
            t_trace, trace = best_of(lambda: fx.collect_trace(model, data, state=state), args.repeats)
            t_feat, points, point0 = None, None, None
            if fsm.metadata.get("features") is not None:
                from fsm_extract.abstraction.features import FeatureMap

                fmap = FeatureMap.from_dict(fsm.metadata["features"])
                t_feat, points = best_of(lambda: fmap.transform(model, trace.hidden), args.repeats)
                point0 = fmap.transform(model, trace.h0[None, :])[0]

            def report():
                return evaluate_trace(fsm, trace, labels=data.labels, reference=lang, points=points, point0=point0,
                                      max_fit_length=fsm.metadata.get("max_fit_length"))

            t_eval, rep = best_of(report, args.repeats)
            t_total, full = best_of(lambda: fx.fidelity(model, fsm, data, reference=lang), args.repeats)
            assert full.prefix_agreement == rep.prefix_agreement
            n_places = sum(1 for it in rep.residual if it.count)
            rows.append((k, name, fsm.n_states, rep.prefix_agreement, n_places, t_trace, t_feat, t_eval, t_total))
            print(f"k={k} {name}: {rep.headline}")
            if args.profile and k == ks[0]:
                prof = cProfile.Profile()
                prof.enable()
                report()
                prof.disable()
                s = io.StringIO()
                pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(15)
                print(s.getvalue())

    print()
    print("| k | extraction | FSM states | prefix agreement | residual places | collect_trace (s) | features (s) "
          f"| evaluate_trace (s) | fx.fidelity total (s) | evaluate_trace <= {TARGET_S:g} s |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for k, name, n, agree, places, t_trace, t_feat, t_eval, t_total in rows:
        feat = "-" if t_feat is None else f"{t_feat:.3f}"
        print(f"| {k} | {name} | {n} | {agree:.2%} | {places} | {t_trace:.3f} | {feat} | {t_eval:.3f} | {t_total:.3f} | "
              f"{'yes' if t_eval <= TARGET_S else 'NO'} |")


if __name__ == "__main__":
    main()
