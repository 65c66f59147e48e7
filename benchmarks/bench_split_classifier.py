"""Which classifier should carry a refinement split into hidden space?

    python benchmarks/bench_split_classifier.py [--language tomita7] [--states 4]

Runs the refinement of ``fx.extract`` on a bundled model and, at every split it makes,
takes the split members (their feature points and the successor group each belongs to) and
measures, with 5-fold cross-validation on those members, how often each candidate classifier
puts a held-out member into its own group: nearest centroid (what the package uses),
logistic regression, and decision trees of depth 3 and 8. Also the time to fit each.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.tree import DecisionTreeClassifier

import fsm_extract as fx
from fsm_extract.abstraction import splitting as refine_module


class NearestCentroid:
    def fit(self, x, y):
        self.classes_ = np.unique(y)
        self.centres_ = np.stack([x[y == c].mean(0) for c in self.classes_])
        return self

    def predict(self, x):
        return self.classes_[refine_module.nearest_centroid(x, self.centres_)]


CANDIDATES = {
    "nearest centroid": NearestCentroid,
    "logistic regression": lambda: LogisticRegression(max_iter=2000),
    "tree, depth 3": lambda: DecisionTreeClassifier(max_depth=3, random_state=0),
    "tree, depth 8": lambda: DecisionTreeClassifier(max_depth=8, random_state=0),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", default="tomita7")
    parser.add_argument("--states", type=int, default=4)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    groups_seen: list[tuple[np.ndarray, np.ndarray]] = []
    original = refine_module.refine_partition

    def recording(*a, **k):
        return original(*a, **k, on_split=lambda pts, grp: groups_seen.append((pts.copy(), grp.copy())))

    import fsm_extract.extraction.refinement as refined

    refined.refine_partition = recording
    try:
        model = fx.datasets.bundled_model(args.language)
        fsm = fx.extract(model, fx.datasets.load(args.language, split="train"), n_states=args.states)
    finally:
        refined.refine_partition = original
    print(f"{args.language}, k={args.states}: {len(groups_seen)} splits, final automaton {fsm.n_states} states\n")
    scores = {name: [] for name in CANDIDATES}
    seconds = {name: 0.0 for name in CANDIDATES}
    used = 0
    for pts, grp in groups_seen:
        keep = grp >= 0
        x, y = pts[keep], grp[keep]
        if np.bincount(y).min(initial=10**9) < 5 or np.unique(y).size < 2:
            continue
        used += 1
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
        for name, make in CANDIDATES.items():
            correct = 0
            for tr, te in folds.split(x, y):
                t0 = time.perf_counter()
                clf = make().fit(x[tr], y[tr])
                seconds[name] += time.perf_counter() - t0
                correct += int((clf.predict(x[te]) == y[te]).sum())
            scores[name].append(correct / y.size)
    print(f"splits with >= 5 members in every group: {used}\n")
    print("| classifier | mean held-out accuracy | worst split | fit time, all folds (s) |")
    print("|---|---|---|---|")
    for name in CANDIDATES:
        s = np.array(scores[name])
        print(f"| {name} | {s.mean():.3f} | {s.min():.3f} | {seconds[name]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
