"""Train the bundled 32-unit LSTMs for Tomita 1-7 and print the training table.

    python scripts/make_models.py [--out datasets/models] [--only tomita3 ...]

Each model is trained with ``fx.train_classifier`` on its language's train split (labels of
every prefix from the reference language), seed 0, early-stopped on the validation split, and
saved as ``<out>/tomitaN.pt``. The table gives the wall time of training on this machine and
the accuracy on the test split, overall and on lengths above 20 (longer than any training word).
Training is deterministic on a CPU with the same torch version and thread count.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

import fsm_extract as fx

NAMES = tuple(f"tomita{n}" for n in range(1, 8))


def train_one(name: str, out: Path, *, seed: int = 0) -> dict:
    n = int(name[len("tomita"):])
    train = fx.datasets.load(name, split="train")
    validation = fx.datasets.load(name, split="validation")
    test = fx.datasets.load(name, split="test")
    t0 = time.perf_counter()
    model = fx.train_classifier(
        train, hidden_size=32, epochs=1000, lr=0.01, batch_size=32, seed=seed, validation=validation,
        language=fx.languages.tomita(n), max_seconds=120, progress=False,
    )
    seconds = time.perf_counter() - t0
    model.save(out / f"{name}.pt")
    pred = model.predict(test.words)
    long = test.lengths > 20
    return {
        "name": name,
        "seconds": seconds,
        "epochs": model.metadata["epochs_run"],
        "test": float((pred == test.labels).mean()),
        "test_long": float((pred[long] == test.labels[long]).mean()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=fx.datasets.bundled_dir() / "models")
    parser.add_argument("--only", nargs="+", choices=NAMES, default=list(NAMES))
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2, as measured)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    print("| language | train time (s) | epochs | test accuracy | test accuracy, lengths > 20 |")
    print("|---|---|---|---|---|")
    for name in args.only:
        r = train_one(name, args.out)
        print(f"| {name} | {r['seconds']:.1f} | {r['epochs']} | {r['test']:.2%} | {r['test_long']:.2%} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
