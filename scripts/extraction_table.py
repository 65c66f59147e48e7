"""Plain k-means extraction (refine=False) on every bundled Tomita model: the README's extraction table.

    python scripts/extraction_table.py [--states 16] [--seed 0]

For each bundled 32-unit LSTM: extract with ``fx.extract(model, train_split, n_states=K)``,
then report the minimised automaton's size, its word-level agreement with the net on the
held-out test split (overall and on lengths above 20, longer than any fitting word), whether
it is language-equivalent to the reference DFA (automata-lib), and the extraction time.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

import fsm_extract as fx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=16, help="clusters (default 16)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    fx.extract(fx.datasets.bundled_model("tomita1"), ["01"], n_states=2)  # warm the numba cache
    print(f"| language | reference states | k | FSM states | agreement (test) | agreement (test, len > 20) | equivalent | time (s) |")
    print("|---|---|---|---|---|---|---|---|")
    n_equiv = 0
    for n in range(1, 8):
        name = f"tomita{n}"
        lang = fx.languages.tomita(n)
        model = fx.datasets.bundled_model(name)
        train, test = fx.datasets.load(name, split="train"), fx.datasets.load(name, split="test")
        t0 = time.perf_counter()
        fsm = fx.extract(model, train, n_states=args.states, seed=args.seed, refine=False)
        seconds = time.perf_counter() - t0
        agree = fsm.predict(test.words) == model.predict(test.words)
        long = test.lengths > 20
        eq = fsm.equivalent(lang)
        n_equiv += eq
        print(f"| {name} | {lang.n_states} | {args.states} | {fsm.n_states} | {agree.mean():.2%} | {agree[long].mean():.2%} "
              f"| {'yes' if eq else 'no'} | {seconds:.2f} |", flush=True)
    print(f"\nlanguage-equivalent: {n_equiv} of 7")
    return 0


if __name__ == "__main__":
    sys.exit(main())
