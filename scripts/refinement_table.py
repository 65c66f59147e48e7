"""Plain k-means against refined extraction on every bundled Tomita model (the README table).

    python scripts/refinement_table.py [--states 4 8] [--seed 0]

For each bundled 32-unit LSTM and each starting k: extract with ``refine=False`` (plain
k-means on hidden states) and with ``refine=True`` (the default: behavioural features,
splitting, counterexamples), both fitted on the train split; report the minimised automaton's
size, its prefix and word agreement with the net on the held-out test split (overall and on
lengths above 20), language equivalence to the reference DFA, and the extraction time.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

import fsm_extract as fx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, nargs="+", default=[4, 8], help="starting k (default 4 8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    fx.extract(fx.datasets.bundled_model("tomita1"), ["0101", "11"], n_states=2)  # warm caches (numba, torch)
    print("| language | k | method | FSM states | prefix agr. | word agr. | prefix agr. len > 20 | word agr. len > 20 | equivalent | time (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    totals = {False: 0, True: 0}
    for n in range(1, 8):
        name = f"tomita{n}"
        lang = fx.languages.tomita(n)
        model = fx.datasets.bundled_model(name)
        train, test = fx.datasets.load(name, split="train"), fx.datasets.load(name, split="test")
        for k in args.states:
            for refine in (False, True):
                t0 = time.perf_counter()
                fsm = fx.extract(model, train, n_states=k, seed=args.seed, refine=refine)
                seconds = time.perf_counter() - t0
                rep = fx.fidelity(model, fsm, test, reference=lang)
                beyond = rep.beyond_fit or {}
                eq = rep.reference["fsm_equivalent"]
                totals[refine] += eq
                print(f"| {name} | {k} | {'refined' if refine else 'plain k-means'} | {fsm.n_states} | "
                      f"{rep.prefix_agreement:.2%} | {rep.word_agreement:.2%} | {beyond.get('prefix_agreement', 0):.2%} | "
                      f"{beyond.get('word_agreement', 0):.2%} | {'yes' if eq else 'no'} | {seconds:.2f} |", flush=True)
    runs = 7 * len(args.states)
    print(f"\nequivalent to the reference: plain k-means {totals[False]} of {runs}, refined {totals[True]} of {runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
