"""Extraction at scale: time and peak memory of each stage next to the net's raw forward pass.

    python benchmarks/bench_scale.py                      # 10^6 and 10^7 steps, 32 and 256 units
    python benchmarks/bench_scale.py --steps 1e8 --hidden 32 --stages forward,plain   # the slow run
    python benchmarks/bench_scale.py --quick              # smoke run (10^5 steps), seconds
    python benchmarks/bench_scale.py --json out.json

Every (steps, hidden size, stage) runs in a fresh child process, so its peak resident memory
(``ru_maxrss``) is that stage's alone, interpreter and libraries included. The words are random
binary words of length 50, generated chunk by chunk from a seed inside the child (never held as
one list): ``fx.extract`` reads them from a generator, as it would a corpus on disk.

Stages:

- ``forward``: the raw forward pass, the floor for tracing: the same words, already encoded as
  (512, 50) int64 batches, through the model's embedding, ``nn.LSTM`` and head under
  ``torch.no_grad()``; nothing kept.
- ``plain``: ``fx.extract(model, words, refine=False)`` (streamed past ``sample_steps``).
- ``refined``: ``fx.extract(model, words)`` (the default: refinement, merging, the front's knee,
  fitted on a sample, then checked over every word).

The 32-unit net is the bundled Tomita 4 LSTM; the 256-unit one an untrained LSTM of that size
(``seed=0``): timing does not depend on the weights' values, but the extracted automaton does,
so its state count is not a result.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

LENGTH = 50
BATCH = 512


def _words(n_steps: int, seed: int = 0):
    """Random binary words of length 50, n_steps / 50 of them, generated in blocks."""
    rng = np.random.default_rng(seed)
    n_words = n_steps // LENGTH
    block = 20_000
    for lo in range(0, n_words, block):
        bits = rng.integers(0, 2, size=(min(block, n_words - lo), LENGTH), dtype=np.uint8)
        rows = (bits + ord("0")).view(f"S{LENGTH}").ravel()
        yield from (r.decode() for r in rows)


def _model(hidden: int):
    import fsm_extract as fx
    import torch

    if hidden == 32:
        return fx.load_model(os.path.join(os.path.dirname(__file__), "..", "datasets", "models", "tomita4.pt"))
    torch.manual_seed(0)
    return fx.RNNClassifier("01", hidden_size=hidden).eval()


def _child(stage: str, n_steps: int, hidden: int) -> dict:
    import torch

    import fsm_extract as fx

    model = _model(hidden)
    t0 = time.perf_counter()
    out: dict = {}
    if stage == "forward":
        rng = np.random.default_rng(0)
        n_words = n_steps // LENGTH
        with torch.no_grad():
            for lo in range(0, n_words, BATCH):
                ids = torch.from_numpy(rng.integers(0, 2, size=(min(BATCH, n_words - lo), LENGTH)))
                t = time.perf_counter()
                top, _ = model.rnn(model.embedding(ids))
                model.head(top)
                out["net_seconds"] = out.get("net_seconds", 0.0) + time.perf_counter() - t
        seconds = out.pop("net_seconds")  # the encoding of random ids is not the net's work
    else:
        fsm = fx.extract(model, _words(n_steps), refine=stage == "refined")
        seconds = time.perf_counter() - t0
        out = {"states": fsm.n_states, "stream": fsm.metadata.get("stream")}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    return {"stage": stage, "steps": n_steps, "hidden": hidden, "seconds": round(seconds, 2),
            "peak_gb": round(peak, 3), **out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", default="1e6,1e7")
    ap.add_argument("--hidden", default="32,256")
    ap.add_argument("--stages", default="forward,plain,refined")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        stage, steps, hidden = args.child
        print(json.dumps(_child(stage, int(steps), int(hidden))))
        return
    steps = [100_000] if args.quick else [int(float(s)) for s in args.steps.split(",")]
    hiddens = [32] if args.quick else [int(h) for h in args.hidden.split(",")]
    stages = args.stages.split(",")
    rows = []
    print(f"{'steps':>11} {'hidden':>6} {'stage':>8} {'seconds':>8} {'x forward':>9} {'peak GB':>8} {'states':>6}")
    for n in steps:
        for h in hiddens:
            base = None
            for stage in stages:
                res = subprocess.run([sys.executable, __file__, "--child", stage, str(n), str(h)],
                                     capture_output=True, text=True)
                if res.returncode != 0:
                    print(res.stderr[-2000:], file=sys.stderr)
                    raise SystemExit(f"{stage} at {n} steps, {h} units failed")
                row = json.loads(res.stdout.strip().splitlines()[-1])
                if stage == "forward":
                    base = row["seconds"]
                row["x_forward"] = round(row["seconds"] / base, 2) if base else None
                rows.append(row)
                ratio = f"{row['x_forward']:.1f}" if row["x_forward"] is not None else "-"
                print(f"{n:>11,} {h:>6} {stage:>8} {row['seconds']:>8.1f} {ratio:>9} {row['peak_gb']:>8.2f} "
                      f"{row.get('states', '-'):>6}", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
