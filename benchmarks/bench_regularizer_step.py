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

With ``--against DIR`` (a directory holding another version's ``fsm_extract`` package, for
example ``git worktree add /tmp/old 749834f``), that version's "regularised" and "+ consistency"
steps run in the same blocks, on their own copy of the net (same seed), as "baseline: ...".

    python benchmarks/bench_regularizer_step.py                # widths 8 16 32
    python benchmarks/bench_regularizer_step.py --hidden 16 --blocks 100
    python benchmarks/bench_regularizer_step.py --against /tmp/old --blocks 40   # old and new side by side
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

import numpy as np
import torch


def _other_package(path: Path) -> tuple:
    """(fsm_extract, its Regularizer) imported from ``path`` beside the one already imported
    (the current package's modules are put back afterwards)."""
    def ours() -> dict:
        return {k: m for k, m in sys.modules.items() if k == "fsm_extract" or k.startswith("fsm_extract.")}

    saved = ours()
    for name in saved:
        del sys.modules[name]
    sys.path.insert(0, str(path))
    try:
        fx = importlib.import_module("fsm_extract")
        regularizer = importlib.import_module("fsm_extract.nets.extractability").Regularizer
    finally:
        sys.path.pop(0)
        for name in ours():
            del sys.modules[name]
        sys.modules.update(saved)
    if not Path(fx.__file__).resolve().is_relative_to(path.resolve()):
        raise SystemExit(f"--against {path}: imported fsm_extract from {fx.__file__}, not from there")
    return fx, regularizer


def measure(hidden: int, blocks: int, steps: int, against: Path | None = None) -> dict:
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
    if against is not None:
        runs.update(_baseline_runs(against, hidden, ids, valid))
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


def _baseline_runs(path: Path, hidden: int, ids: torch.Tensor, valid: torch.Tensor) -> dict:
    """The other version's regularised steps, on its own net and optimiser."""
    fx, regularizer = _other_package(path)
    torch.manual_seed(0)
    model = fx.RNNClassifier("abc", hidden_size=hidden)
    regs = {"baseline: regularised": regularizer(model, fx.Extractability(strength=0.1), epochs=5, seed=0),
            "baseline: + consistency": regularizer(model, fx.Extractability(strength=0.1, consistency=1.0), epochs=5,
                                                   seed=0)}
    opt = torch.optim.Adam([*model.parameters(), *(p for reg in regs.values() for p in reg.parameters())], lr=1e-2)

    def step(reg: object) -> None:
        opt.zero_grad()
        logits, term = reg.logits(model, ids, valid)
        (logits.sum() if term is None else logits.sum() + term).backward()
        opt.step()

    return {name: (lambda r=r: step(r)) for name, r in regs.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, nargs="+", default=[8, 16, 32], help="LSTM widths (default 8 16 32)")
    p.add_argument("--blocks", type=int, default=60, help="interleaved blocks per variant (default 60)")
    p.add_argument("--steps", type=int, default=10, help="steps per block (default 10)")
    p.add_argument("--against", type=Path, metavar="DIR",
                   help="also time another version's regularised steps: DIR holds its fsm_extract package")
    a = p.parse_args(argv)
    if a.against is not None and not (a.against / "fsm_extract" / "__init__.py").is_file():
        print(f"--against {a.against}: no fsm_extract/__init__.py there", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    print("ms per step (min / first quartile over the blocks), and x plain")
    for hidden in a.hidden:
        res = measure(hidden, a.blocks, a.steps, a.against)
        base = res["plain"]
        print(f"LSTM {hidden:3d}: " + "; ".join(f"{name} {lo:.2f} / {q:.2f} ({lo / base[0]:.2f}x / {q / base[1]:.2f}x)"
                                               for name, (lo, q) in res.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
