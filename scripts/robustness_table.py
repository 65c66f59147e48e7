"""How often ``fx.extract`` recovers a known automaton from a disguised exact LSTM.

    python scripts/robustness_table.py [--n-states 3 5 8 10] [--amplitudes 0 0.3 1.0]
        [--per-cell 50] [--alphabet abc] [--distractors 4] [--modes refined plain] [--all-failures]

For each number of DFA states ``n`` and each distractor amplitude, ``--per-cell`` random minimal
DFAs (``fx.languages.random_dfa(n_states=n, alphabet=..., seed=i)``, ``i = 0..per_cell-1``, the
same DFAs in every amplitude column) are turned into exact LSTMs with
``fsm_extract.nets.exact.exact_lstm(lang, distractors=..., amplitude=..., seed=i)`` (distractor
units, permuted hidden units). ``fx.extract`` is run on ``lang.sample(n=2000, min_len=0,
max_len=2n+10, seed=0)`` with ``n_states = P + 1`` clusters, ``P`` the number of the net's
(state, last symbol) units, i.e. its number of distinct hidden states without distractors, h0
not counted. A cell gives the share of DFAs whose extracted automaton is language-equivalent to the DFA.
Mode ``refined`` is ``fx.extract``'s default; ``plain`` is ``refine=False`` (k-means on hidden
states). An extraction that raises counts as a failure. Failures of the default mode are
listed (``--all-failures``: of every mode).

The full default grid (4 x 3 cells, 50 DFAs each, both modes) took about 16 minutes on 2
shared cores; amplitude 0.1 is left out of the default columns because
``tests/nets/test_exact.py`` covers it (350 random DFAs, 2-10 states, 2-4 symbols, all recovered).
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

import fsm_extract as fx
from fsm_extract.nets.exact import exact_lstm

MODES = ("refined", "plain")


def run_one(n: int, amplitude: float, seed: int, *, alphabet: str, distractors: int, modes: list[str], n_words: int) -> dict:
    lang = fx.languages.random_dfa(n_states=n, alphabet=alphabet, seed=seed)
    model = exact_lstm(lang, distractors=distractors, amplitude=amplitude, seed=seed)
    n_units = sum(1 for u in model.metadata["unit_state"] if u >= 0)
    data = lang.sample(n=n_words, min_len=0, max_len=2 * n + 10, seed=0)
    out = {}
    for mode in modes:
        try:
            fsm = fx.extract(model, data, n_states=n_units + 1, seed=0, refine=mode == "refined")
            out[mode] = (fsm.equivalent(lang), fsm.n_states, "")
        except fx.FsmExtractError as exc:
            out[mode] = (False, 0, f"{type(exc).__name__}: {exc}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-states", type=int, nargs="+", default=[3, 5, 8, 10])
    parser.add_argument("--amplitudes", type=float, nargs="+", default=[0.0, 0.3, 1.0])
    parser.add_argument("--per-cell", type=int, default=50)
    parser.add_argument("--alphabet", default="abc")
    parser.add_argument("--distractors", type=int, default=4)
    parser.add_argument("--words", type=int, default=2000, help="fitting words per extraction")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--all-failures", action="store_true", help="list the failures of every mode")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    results: dict = {}
    failures: list[str] = []
    for n in args.n_states:
        for amp in args.amplitudes:
            for seed in range(args.per_cell):
                r = run_one(n, amp, seed, alphabet=args.alphabet, distractors=args.distractors, modes=args.modes,
                            n_words=args.words)
                for mode, (ok, n_fsm, err) in r.items():
                    results.setdefault((mode, n, amp), []).append(ok)
                    if not ok and (mode == args.modes[0] or args.all_failures):
                        failures.append(f"{mode}: n_states={n} amplitude={amp} seed={seed}: "
                                        + (err or f"extracted {n_fsm} states, not equivalent"))
            print(f"done n_states={n} amplitude={amp} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    print("Command: python scripts/robustness_table.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    print(f"\nAlphabet {args.alphabet!r}, {args.distractors} distractor units, {args.per_cell} random DFAs per cell, "
          f"{args.words} fitting words of length 0..2n+10, n_states = P + 1 clusters.")
    for mode in args.modes:
        title = "fx.extract (default: refined)" if mode == "refined" else "fx.extract(refine=False) (plain k-means)"
        print(f"\n{title}: share of DFAs recovered exactly\n")
        print("| DFA states | " + " | ".join(f"amplitude {a:g}" for a in args.amplitudes) + " |")
        print("|---|" + "---|" * len(args.amplitudes))
        for n in args.n_states:
            cells = []
            for a in args.amplitudes:
                oks = results[(mode, n, a)]
                cells.append(f"{sum(oks)}/{len(oks)} ({100 * sum(oks) / len(oks):.0f}%)")
            print(f"| {n} | " + " | ".join(cells) + " |")
    print(f"\nFailures ({len(failures)}{'' if args.all_failures else ', ' + args.modes[0] + ' mode only'}):")
    for line in failures:
        print(f"- {line}")
    print(f"\nTotal time {time.perf_counter() - t0:.0f} s, torch threads {args.threads}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
