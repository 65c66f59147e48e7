"""Does ``fx.extract`` land on the same automaton whatever the starting ``n_states``?

For every bundled Tomita model and k in 4, 8, 16, 32: the extracted automaton's size, whether
it is the reference automaton, and the seconds it took (defaults otherwise: refinement,
merging, the front's knee).

    python scripts/landing_table.py
"""

from __future__ import annotations

import time
import warnings

import fsm_extract as fx


def main() -> int:
    warnings.simplefilter("ignore", fx.FsmExtractWarning)
    ks = (4, 8, 16, 32)
    print("| language | reference states | " + " | ".join(f"k = {k}" for k in ks) + " |")
    print("|---|---|" + "---|" * len(ks))
    misses = 0
    for n in range(1, 8):
        name, lang = f"tomita{n}", fx.languages.tomita(n)
        model, train = fx.datasets.bundled_model(name), fx.datasets.load(name, split="train")
        cells = []
        for k in ks:
            t0 = time.perf_counter()
            fsm = fx.extract(model, train, n_states=k, seed=0)
            same = fsm.equivalent(lang)
            misses += not same
            cells.append(f"{fsm.n_states}{'' if same else ' (not the reference)'}, {time.perf_counter() - t0:.1f} s")
        print(f"| {name} | {lang.n_states} | " + " | ".join(cells) + " |", flush=True)
    print(f"\n{7 * len(ks) - misses} of {7 * len(ks)} runs give the reference automaton")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
