"""Extract an automaton from a corpus too large for memory, then measure it on another.

    python examples/large_corpus.py                     # 10^7 steps: under a minute on 2 cores
    python examples/large_corpus.py --steps 1e8         # 10^8 steps: a few minutes, about 1 GB
    python examples/large_corpus.py --dask              # the same passes on a two-worker Dask cluster

The words are written to a JSONL file first (as a corpus on disk would be), then streamed: the
automaton is refined on a seeded sample of about 10^6 steps and checked against the net over every
word, chunk by chunk; its fidelity is measured on a held-out file the same way. Memory stays flat
whatever ``--steps`` is.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

import fsm_extract as fx

MODEL = Path(__file__).resolve().parents[1] / "datasets" / "models" / "tomita4.pt"


def write_corpus(path: Path, n_steps: int, *, length: int = 50, seed: int = 0) -> None:
    """Random binary words of ``length``, ``n_steps / length`` of them, one JSON object a line."""
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for lo in range(0, n_steps // length, 10_000):
            bits = rng.integers(0, 2, size=(min(10_000, n_steps // length - lo), length), dtype=np.uint8)
            rows = (bits + ord("0")).view(f"S{length}").ravel()
            fh.writelines(json.dumps({"word": r.decode()}) + "\n" for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", default="1e7", help="steps in the fitting corpus (default: 1e7)")
    ap.add_argument("--dask", action="store_true", help="run the passes on a local two-worker Dask cluster")
    ap.add_argument("--sample-steps", type=int, default=None, help="fx.extract's sample_steps (default: its own)")
    args = ap.parse_args()
    n_steps = int(float(args.steps))
    model = fx.load_model(MODEL)
    with tempfile.TemporaryDirectory() as tmp:
        fit, held = Path(tmp) / "fit.jsonl", Path(tmp) / "held.jsonl"
        write_corpus(fit, n_steps, seed=0)
        write_corpus(held, max(n_steps // 5, 50_000), seed=1)
        options = {"sample_steps": args.sample_steps}  # refined on the sample, then checked over every word
        if args.dask:
            from distributed import Client, LocalCluster

            cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
            options.update(engine="dask", scheduler=cluster.scheduler_address)
        fsm = fx.extract(model, fit, progress=True, **options)
        stream = fsm.metadata["stream"]
        print(f"{fsm.n_states} states from {stream['words']:,} words ({stream['steps']:,} steps), clustering "
              f"fitted on {stream['sample_words']:,} of them, on the {stream['engine']} engine, in "
              f"{fsm.metadata['timing']['seconds']:.1f} s")
        report = fx.fidelity(model, fsm, held, reference=fx.languages.tomita(4), sample_steps=args.sample_steps)
        print(report.headline)
        for note in report.notes:
            print("-", note)
        if args.dask:
            cluster.close()


if __name__ == "__main__":
    main()
