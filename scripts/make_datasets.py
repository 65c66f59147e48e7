"""Regenerate the bundled Tomita splits, byte for byte.

    python scripts/make_datasets.py [--out datasets] [--only tomita3 ...]

writes ``<out>/tomita{1..7}/{train,validation,test}.jsonl``. Every split is drawn with
:meth:`fsm_extract.data.languages.Language.sample` (balanced per length, uniform inside each class)
from a fixed seed, ``seed = 1000 * n + split_index`` (train 0, validation 1, test 2), so the
files only change if the sampler does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fsm_extract import languages

# split -> (index in the seed, number of words, min_len, max_len)
SPLITS = {
    "train": (0, 2000, 0, 20),
    "validation": (1, 500, 0, 60),
    "test": (2, 2000, 0, 60),
}


def seed_for(n: int, split: str) -> int:
    """The seed of split ``split`` of Tomita ``n``: ``1000 * n + split_index``."""
    return 1000 * n + SPLITS[split][0]


def make_datasets(out: str | Path = "datasets", names: list[str] | None = None) -> list[Path]:
    """Write the splits of ``names`` (default: all seven Tomita languages) under ``out``."""
    out = Path(out)
    written = []
    for n in range(1, 8):
        name = f"tomita{n}"
        if names is not None and name not in names:
            continue
        lang = languages.tomita(n)
        (out / name).mkdir(parents=True, exist_ok=True)
        for split, (_, size, min_len, max_len) in SPLITS.items():
            data = lang.sample(n=size, min_len=min_len, max_len=max_len, seed=seed_for(n, split))
            written.append(data.to_jsonl(out / name / f"{split}.jsonl"))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "datasets"),
                        help="output folder (default: the repository's datasets/)")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=[f"tomita{n}" for n in range(1, 8)],
                        help="regenerate only these languages")
    args = parser.parse_args(argv)
    for path in make_datasets(args.out, args.only):
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
