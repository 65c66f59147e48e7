"""Benchmark of transition counting: the Numba kernel against NumPy baselines.

One run measures transitions per second of

- ``count_transitions``  the public function (argument checks and dtype casts included),
- ``kernel``             the Numba kernel alone, on arrays already validated and cast,
- ``np.add.at``          ``np.add.at(counts, (prev, symbols, labels), 1)`` on a 3-D array,
- ``np.add.at flat``     ``np.add.at(flat_counts, index, 1)`` on a 1-D array (faster in NumPy 2),
- ``np.bincount``        ``np.bincount(index, minlength=...)`` on flattened indices,
- ``copy``               ``np.copyto`` of the labels and symbols arrays into preallocated ones:
                         the memory-bandwidth reference (it reads the bytes the kernel reads and
                         also writes them back),

where ``index = prev * n_symbols * n_states + symbols * n_states + labels``. Every baseline's
time includes building ``prev`` (the state before each step, with ``initial_label`` at each
word's first step) and, where used, ``index`` with vectorised NumPy: that is what a user would
have to do. Timings are best-of-k wall times (k = 5 up to 10^7 transitions, 3 above), taken
after the JIT was warmed up and after one untimed call that also checks every method returns
the same counts. Ratios are against baselines measured in the same run, on the same arrays.

Data: uniformly random labels and symbols (the worst case for the count array's cache use:
every step touches a random cell) and word lengths uniform in [0, 100] (mean 50, about 1% empty).

    python benchmarks/bench_counting.py                       # full run, 10^6..10^8
    python benchmarks/bench_counting.py --quick               # smoke run, a few seconds
    python benchmarks/bench_counting.py --sizes 1e7 --states 64,256
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numba
import numpy as np
from _machine import cpu_model  # benchmarks/_machine.py (the script's own folder is on sys.path)

from fsm_extract.automata.counting import _count_transitions_kernel, _transition_args, count_transitions

N_SYMBOLS = 4


def make_trace(n_steps: int, n_states: int, n_symbols: int, seed: int) -> tuple[np.ndarray, ...]:
    """Random ``labels`` int32, ``symbols`` int32, ``offsets`` int64 with mean word length 50."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 101, size=n_steps // 50 + 100)
    ends = np.cumsum(lengths)
    k = int(np.searchsorted(ends, n_steps))  # ends[k] >= n_steps: cut the last word there
    offsets = np.concatenate([[0], ends[:k], [n_steps]]).astype(np.int64)
    labels = rng.integers(0, n_states, size=n_steps, dtype=np.int32)
    symbols = rng.integers(0, n_symbols, size=n_steps, dtype=np.int32)
    return labels, symbols, offsets


def _prev(labels: np.ndarray, offsets: np.ndarray, initial_label: int) -> np.ndarray:
    prev = np.empty_like(labels)
    prev[1:] = labels[:-1]
    starts = offsets[:-1]
    prev[starts[starts < offsets[1:]]] = initial_label
    return prev


def _flat_index(prev: np.ndarray, symbols: np.ndarray, labels: np.ndarray, n_states: int, n_symbols: int) -> np.ndarray:
    index = prev.astype(np.int64)
    index *= n_symbols * n_states
    index += symbols * np.int64(n_states)
    index += labels
    return index


def best_of(fn: Callable[[], object], k: int) -> float:
    best = float("inf")
    for _ in range(k):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_one(n_steps: int, n_states: int, repeats: int, seed: int) -> dict[str, float]:
    S, A, init = n_states, N_SYMBOLS, 0
    labels, symbols, offsets = make_trace(n_steps, S, A, seed)
    checked = _transition_args(labels, symbols, offsets, init, S, A)
    out_l, out_s = np.empty_like(labels), np.empty_like(symbols)

    def public():
        return count_transitions(labels, symbols, offsets, init, S, A)

    def kernel():
        return _count_transitions_kernel(*checked)

    def add_at():
        counts = np.zeros((S, A, S), dtype=np.int64)
        np.add.at(counts, (_prev(labels, offsets, init), symbols, labels), 1)
        return counts

    def add_at_flat():
        counts = np.zeros(S * A * S, dtype=np.int64)
        np.add.at(counts, _flat_index(_prev(labels, offsets, init), symbols, labels, S, A), 1)
        return counts.reshape(S, A, S)

    def bincount():
        index = _flat_index(_prev(labels, offsets, init), symbols, labels, S, A)
        return np.bincount(index, minlength=S * A * S).reshape(S, A, S)

    def copy():
        np.copyto(out_l, labels)
        np.copyto(out_s, symbols)

    methods = {"public": public, "kernel": kernel, "add_at": add_at, "add_at_flat": add_at_flat,
               "bincount": bincount, "copy": copy}
    expected = public()  # untimed first calls: correctness check, page faults, warm caches
    for name in ("kernel", "add_at", "add_at_flat", "bincount"):
        got = methods[name]()
        if not np.array_equal(np.asarray(got).reshape(expected.shape), expected):
            raise AssertionError(f"{name} disagrees with count_transitions at n={n_steps}, n_states={S}")
    copy()
    return {name: n_steps / best_of(fn, repeats) for name, fn in methods.items()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="1e6,1e7,1e8", help="numbers of transitions, comma-separated")
    p.add_argument("--states", default="8,16,64,256", help="numbers of abstract states, comma-separated")
    p.add_argument("--quick", action="store_true", help="smoke run: 10^6 transitions, 8 and 64 states, best of 2")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    states = [int(s) for s in args.states.split(",")]
    if args.quick:
        sizes, states = [10**6], [8, 64]

    # Warm the JIT (loads the on-disk cache, or compiles once) before any timing.
    t0 = time.perf_counter()
    count_transitions(np.zeros(3, np.int32), np.zeros(3, np.int32), np.array([0, 3]), 0, 2, 2)
    warm = time.perf_counter() - t0

    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical cores; numpy {np.__version__}, "
          f"numba {numba.__version__}; n_symbols={N_SYMBOLS}; JIT warm-up {warm:.2f} s\n")
    print("| transitions | n_states | count_transitions | kernel only | np.add.at | np.add.at flat "
          "| np.bincount | copy | x add.at | x add.at flat | x bincount | % of copy |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    started = time.perf_counter()
    for n in sizes:
        repeats = 2 if args.quick else (5 if n <= 10**7 else 3)
        for S in states:
            r = bench_one(n, S, repeats, args.seed)
            m = {k: v / 1e6 for k, v in r.items()}
            print(f"| {n:.0e} | {S} | {m['public']:,.0f} | {m['kernel']:,.0f} | {m['add_at']:,.0f} "
                  f"| {m['add_at_flat']:,.0f} | {m['bincount']:,.0f} | {m['copy']:,.0f} "
                  f"| {r['public'] / r['add_at']:.1f} | {r['public'] / r['add_at_flat']:.1f} "
                  f"| {r['public'] / r['bincount']:.1f} | {100 * r['public'] / r['copy']:.0f}% |", flush=True)
    print(f"\nFigures in millions of transitions per second (best of k); ratios use count_transitions "
          f"(the public function, checks included). Total {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
