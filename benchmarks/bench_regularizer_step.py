"""One training step with and without the extractability regulariser: where its cost is.

A batch of 32 random words of length 20 over three symbols, an LSTM of each given width, one
torch thread; per step: forward, backward and Adam. Three variants run interleaved in short
blocks (so that a slow spell of a shared machine hits them alike), and the minimum and the first
quartile over the blocks are reported with their ratio to plain training:

- plain: ``model(ids)``;
- regularised: ``Regularizer(..., Extractability(strength=0.1))`` (the default: the centroids'
  pull and separation on every step's full state);
- + consistency: ``Extractability(strength=0.1, consistency=1)`` (every step also run again from
  the previous state's soft centroid);
- + consistency, every 2nd batch: ``Extractability(strength=0.1, consistency=1, every=2)`` (the
  term on every second batch only: the mean of a regularised and a plain step);
- + windows every batch: ``Extractability(strength=0.1, horizon=3, horizon_every=1)`` (16 windows
  of long words ride in every batch; the default ``horizon_every=4`` carries them every 4th).

    python benchmarks/bench_regularizer_step.py                # widths 8 16 32
    python benchmarks/bench_regularizer_step.py --hidden 16 --blocks 100
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def measure(hidden: int, blocks: int, steps: int) -> dict:
    import fsm_extract as fx
    from fsm_extract.nets.extractability import Regularizer

    torch.manual_seed(0)
    model = fx.RNNClassifier("abc", hidden_size=hidden)
    ids = torch.randint(0, 3, (32, 20))
    valid = torch.ones(32, 20, dtype=torch.bool)
    rng = np.random.default_rng(0)
    words = (rng.integers(0, 3, size=20_000), np.arange(0, 20_001, 20))  # 1,000 training words of length 20
    regs = {"regularised": Regularizer(model, fx.Extractability(strength=0.1), epochs=5, seed=0),
            "+ consistency": Regularizer(model, fx.Extractability(strength=0.1, consistency=1.0), epochs=5, seed=0),
            "+ consistency, every 2nd batch": Regularizer(model, fx.Extractability(strength=0.1, consistency=1.0, every=2),
                                                          epochs=5, seed=0),
            "+ windows every batch": Regularizer(model, fx.Extractability(strength=0.1, horizon=3, horizon_every=1),
                                                 epochs=5, seed=0, words=words)}
    opt = torch.optim.Adam([*model.parameters(), *(p for reg in regs.values() for p in reg.parameters())], lr=1e-2)

    def plain() -> None:
        opt.zero_grad()
        model(ids).sum().backward()
        opt.step()

    def regularised(reg: Regularizer) -> None:
        opt.zero_grad()
        logits, term = reg.logits(model, ids, valid)
        (logits.sum() if term is None else logits.sum() + term).backward()
        opt.step()

    runs = {"plain": plain, **{name: (lambda r=r: regularised(r)) for name, r in regs.items()}}
    for run in runs.values():
        for _ in range(20):
            run()
    ms: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(blocks):
        for name, run in runs.items():
            t0 = time.perf_counter()
            for _ in range(steps):
                run()
            ms[name].append((time.perf_counter() - t0) / steps * 1e3)
    return {name: (float(np.min(v)), float(np.percentile(v, 25))) for name, v in ms.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, nargs="+", default=[8, 16, 32], help="LSTM widths (default 8 16 32)")
    p.add_argument("--blocks", type=int, default=60, help="interleaved blocks per variant (default 60)")
    p.add_argument("--steps", type=int, default=10, help="steps per block (default 10)")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    print("ms per step (min / first quartile over the blocks), and x plain")
    for hidden in a.hidden:
        res = measure(hidden, a.blocks, a.steps)
        base = res["plain"]
        print(f"LSTM {hidden:3d}: " + "; ".join(f"{name} {lo:.2f} / {q:.2f} ({lo / base[0]:.2f}x / {q / base[1]:.2f}x)"
                                               for name, (lo, q) in res.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
