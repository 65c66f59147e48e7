"""Training for extractability: the regulariser's strength against task accuracy and the share of the net an automaton explains.

The regular tasks of ``bench_imperfect.py``'s suite (its random-DFA recipes, abba-wordlabels,
4th-from-end, mod4-long-h8 and mod5-long-h16: the same tasks, architectures, epochs, data and
held-out words, reused by importing that script) plus Tomita 7 trained to words of length 20
and tested to 60 (LSTM 16, prefix labels, 5 epochs), each net trained once per strength of
``fx.train_classifier(..., extractability=fx.Extractability(strength=s, method=m))`` (default
strengths 0, 0.1, 0.3 and 1.0; strength 0 is plain training). Per (task, strength):

- *task accuracy*: the net's answers against the task's labels on the held-out test words (to
  3-5x the training length), and the change from strength 0 in points;
- *task automaton*: the task's minimal DFA run against the net (``fx.fidelity(net, language,
  test)``): its states are the task's minimal states;
- *default*: ``fx.extract(net, train_words, seed=0)``: states, held-out prefix agreement with the
  NET (``fx.fidelity(net, fsm, test).prefix_agreement``), and whether the states are at most 1.5x
  the task's minimal states;
- *front*: ``fx.pareto(net, train_words, validation=<other held-out words>, seed=0)``: its
  smallest point whose validation agreement reaches 99.9% (else its most faithful, "best"),
  re-measured on the test words;
- *training seconds*, and their ratio to strength 0's for the same task (same epochs).

The summary counts, per strength, the tasks that meet issue 14's target: task accuracy within
0.5 points of strength 0 (or better), default extraction >= 99.9% held-out prefix agreement with
the net, with at most 1.5x the task's minimal states; met where that holds on >= 80% of the
tasks. Training time: at most 2x strength 0's.

Trained nets are cached under ``benchmarks/.cache/regularizer/``, keyed by recipe, strength,
method, a digest of the regulariser's other settings (``--horizon``, ``--horizon-words``, ...,
defaults included) and torch version: a rerun does not retrain (its training seconds are the
cached run's).

``--train-scale K`` (default 1) trains every net on K times its recipe's training words
(``Recipe.train_n * K``, the same seed; the test and validation words are unchanged); the recipe's
cache key includes ``train_n``, so K=1 keeps the existing cached nets.

    python benchmarks/bench_regularizer.py --json rows.json --plot docs/regularizer.png   # 12 tasks x 4 strengths (~13 min, 1 core)
    python benchmarks/bench_regularizer.py --quick                    # smoke run: 2 small tasks, strengths 0 and 0.3
    python benchmarks/bench_regularizer.py --only mod4-long-h8 tomita7-h16 --strengths 0 0.1 --method ternary
    python benchmarks/bench_regularizer.py --only rdfa8-ab-h8 mod4-long-h8 --strengths 0 0.1 --horizon 3
    python benchmarks/bench_regularizer.py --strengths 0 0.1 --no-front --train-scale 4   # 4x the training words
    python benchmarks/bench_regularizer.py --strengths 0 0.1 --no-front --train-scale 4 --train-seed 1   # another training seed
    python benchmarks/bench_regularizer.py --strengths 0 0.1 --no-front --train-scale 4 --horizon 3 --consistency 1   # the centroids' consistency
    python benchmarks/bench_regularizer.py --strengths 0 0.1 --no-front --train-scale 4 --horizon 3 --consistency 1 --every 2   # both targets
    python benchmarks/bench_regularizer.py --strengths 0 0.1 --train-scale 4 --horizon 3 --timing 3   # training time only
    python benchmarks/bench_regularizer.py --strengths 0 0.1 --defaults   # train_classifier's defaults (early stopping)
    python benchmarks/bench_regularizer.py --pool s0.json s1.json s2.json  # runs' --json side by side, the target pooled
    python benchmarks/bench_regularizer.py --list                     # the tasks' recipes
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_imperfect and _machine, also when imported
import bench_imperfect as bi
from _machine import cpu_model

CACHE = Path(__file__).resolve().parent / ".cache" / "regularizer"
FRONT_TARGET = 0.999
AGREEMENT_TARGET = 0.999
STATES_FACTOR = 1.5
ACCURACY_SLACK = 0.005  # 0.5 points
TASK_SHARE = 0.8
TIME_FACTOR = 2.0
STRENGTHS = (0.0, 0.1, 0.3, 1.0)
METHODS = ("centroids", "noise", "ternary")

TOMITA7 = bi.Recipe("tomita7-h16", {"kind": "tomita", "n": 7}, "Tomita 7 (0*1*0*1*, 5 states), LSTM 16, 5 epochs, "
                    "prefix labels, trained to length 20, tested to 60", hidden=16, epochs=5)
TASKS = [r for r in bi.SUITE if r.task["kind"] in ("random_dfa", "regex")] + [TOMITA7]
QUICK = ["rdfa8-ab-h8", "mod4-long-h8"]
QUICK_STRENGTHS = (0.0, 0.3)


# ----------------------------------------------------------------------------- nets
def task_language(recipe: bi.Recipe) -> Any:
    import fsm_extract as fx

    if recipe.task["kind"] == "tomita":
        return fx.languages.tomita(recipe.task["n"])
    return bi.task_language(recipe)


def regularizer(strength: float, options: dict) -> Any:
    """The ``fx.Extractability`` of a strength and the other options (``method``, ``horizon``, ...)."""
    import fsm_extract as fx

    return fx.Extractability(strength=strength, **options)


def net_key(recipe: bi.Recipe, strength: float, options: dict, train_seed: int = 0) -> str:
    """The cache key: the recipe's (its fields and the torch version), the training seed's offset
    (where not 0), the strength and, where the regulariser is on, the method and a digest of
    every other setting of the regulariser, defaults included (strength 0 is plain training
    whatever the options)."""
    seed = f"-t{train_seed}" if train_seed else ""
    if strength == 0:
        return f"{recipe.name}-{recipe.key()}{seed}-s0"
    settings = regularizer(strength, options).to_dict()
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
    return f"{recipe.name}-{recipe.key()}{seed}-s{strength:g}-{settings['method']}-{digest}"


def train_one(recipe: bi.Recipe, language: Any, train: Any, strength: float, options: dict, train_seed: int = 0,
              defaults: bool = False) -> Any:
    """A net of the recipe trained at ``strength`` on its words (a noisy recipe's labels flipped
    as in bench_imperfect): the recipe's epochs and learning rate without early stopping, or with
    ``defaults`` ``train_classifier``'s own (early stopping, up to 200 epochs)."""
    import fsm_extract as fx

    data = train
    if recipe.noise:  # the same flips as bench_imperfect
        flip = np.random.default_rng(recipe.seed + 3003).random(len(train)) < recipe.noise
        data = fx.Dataset(train.words, train.labels ^ flip, train.alphabet, name=f"{recipe.name}/noisy")
    schedule = {} if defaults else {"epochs": recipe.epochs, "lr": recipe.lr, "early_stopping": False}
    return fx.train_classifier(data, cell=recipe.cell, hidden_size=recipe.hidden, seed=recipe.seed + train_seed,
                               language=language if recipe.labels == "prefix" else None, progress=False,
                               extractability=regularizer(strength, options), **schedule)


def _one_thread_quiet() -> None:
    """What every measuring process does first: one torch thread, warnings off (the rows record
    the outcome), and a warm-up training so that no task's timing pays the first calls."""
    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # FewerClustersWarning and friends
    _warm_up()


def timing(recipes: list, strengths: list[float], options: dict, repeats: int) -> list[dict]:
    """The time target measured apart: CPU seconds of training (``time.process_time``, one torch
    thread, best of ``repeats``, the strengths interleaved so that a slow spell of a shared
    machine hits them alike; nothing cached, nothing extracted) and their ratio to strength 0's."""
    _one_thread_quiet()
    rows = []
    for recipe in recipes:
        language = task_language(recipe)
        train = bi.datasets(recipe, language)[0]
        best: dict[float, float] = {}
        for _ in range(repeats):
            for s in strengths:
                t0 = time.process_time()
                train_one(recipe, language, train, s, options)
                best[s] = min(best.get(s, float("inf")), time.process_time() - t0)
        row = {"name": recipe.name, "seconds": {f"{s:g}": round(v, 2) for s, v in best.items()},
               "ratio": {f"{s:g}": round(v / best[0.0], 2) for s, v in best.items()}}
        print(f"{recipe.name:18s} " + "  ".join(f"s={k}: {v:.2f} s ({row['ratio'][k]:.2f}x)" for k, v in row["seconds"].items()),
              flush=True)
        rows.append(row)
    for s in strengths[1:]:
        ratios = [r["ratio"][f"{s:g}"] for r in rows]
        print(f"strength {s:g}: training CPU time x strength 0's: median {np.median(ratios):.2f}, max {max(ratios):.2f}, "
              f"tasks within {TIME_FACTOR:g}x: {sum(x <= TIME_FACTOR for x in ratios)}/{len(ratios)}")
    return rows


def defaults(recipes: list, strengths: list[float], options: dict, train_seed: int = 0) -> list[dict]:
    """What a user who changes nothing but the strength gets: ``fx.train_classifier`` with its
    defaults (early stopping on 10% held out, up to 200 epochs; the recipe's cell, size, seed and
    label noise; the seed ``recipe.seed + train_seed``), then default extraction; per (task,
    strength): epochs run, seconds, held-out accuracy, states, whether the automaton is the
    task's own, and held-out prefix agreement with the net. Nothing cached."""
    import fsm_extract as fx

    _one_thread_quiet()
    rows = []
    for recipe in recipes:
        language = task_language(recipe)
        train, test, _ = bi.datasets(recipe, language)
        for s in strengths:
            t0 = time.perf_counter()
            net = train_one(recipe, language, train, s, options, train_seed, defaults=True)
            seconds = round(time.perf_counter() - t0, 2)
            fsm = fx.extract(net, list(train.words), seed=0)
            row = {"name": recipe.name, "strength": s, "train_seed": train_seed, "epochs_run": net.metadata["epochs_run"], "train_seconds": seconds,
                   "accuracy": float((np.asarray(net.predict(test.words)) == test.labels).mean()),
                   "states": int(fsm.n_states), "task_states": int(bi.agreement(net, language, test)["states"]),
                   "equivalent_to_task": bool(fsm.equivalent(language)),
                   "agreement": float(fx.fidelity(net, fsm, test).prefix_agreement)}
            print(f"{recipe.name:18s} s={s:<4g} {row['epochs_run']:3d} epochs, {seconds:6.1f} s, accuracy {100 * row['accuracy']:6.2f}%, "
                  f"{row['states']} st (task {row['task_states']}{', its own' if row['equivalent_to_task'] else ''}), agreement {100 * row['agreement']:6.2f}%", flush=True)
            rows.append(row)
    for s in strengths:
        rs = [r for r in rows if r["strength"] == s]
        print(f"strength {s:g}: mean accuracy {100 * np.mean([r['accuracy'] for r in rs]):.2f}%, mean agreement "
              f"{100 * np.mean([r['agreement'] for r in rs]):.2f}%, agreement >= 99.9% on "
              f"{sum(r['agreement'] >= AGREEMENT_TARGET for r in rs)}/{len(rs)}")
    return rows


def trained_net(recipe: bi.Recipe, language: Any, train: Any, strength: float, options: dict,
                train_seed: int = 0) -> tuple[Any, float, bool]:
    """(net, training seconds, whether it came from the cache); trained with seed
    ``recipe.seed + train_seed`` (the words are the recipe's whatever ``train_seed``)."""
    import fsm_extract as fx

    path = CACHE / f"{net_key(recipe, strength, options, train_seed)}.pt"
    if path.exists():
        net = fx.load_model(path)
        return net, (getattr(net, "metadata", {}) or {}).get("bench_train_seconds"), True
    t0 = time.perf_counter()
    net = train_one(recipe, language, train, strength, options, train_seed)
    seconds = round(time.perf_counter() - t0, 2)
    net.metadata = {**(getattr(net, "metadata", {}) or {}), "bench_train_seconds": seconds, "recipe": asdict(recipe),
                    "bench_strength": strength, "bench_options": options, "bench_train_seed": train_seed}
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.pt")
    net.save(tmp)
    os.replace(tmp, path)
    return net, seconds, False


_WARM = False


def pooled(runs: list[dict], names: list[str]) -> str:
    """Several sweeps (their --json) side by side: per task and (run, strength), "accuracy /
    default states (= the task's own automaton) / held-out prefix agreement / target met", then
    per strength the target's count in every run and over all (task, run) pairs."""
    labels = [f"+{run.get('train_seed', 0)}" for run in runs]
    strengths = sorted({r["strength"] for run in runs for r in run["rows"]})
    seen = list(dict.fromkeys(r["name"] for run in runs for r in run["rows"]))
    order = [n for n in names if n in seen] + [n for n in seen if n not in names]
    cols = [(i, s) for i in range(len(runs)) for s in strengths]
    lines = ["| task (min states) | " + " | ".join(f"{labels[i]}, s={s:g}" for i, s in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for name in order:
        cells, task_states = [], "?"
        for i, s in cols:
            row = next((r for r in runs[i]["rows"] if r["name"] == name and r["strength"] == s), None)
            if row is None:
                cells.append("-")
                continue
            task_states, d = row["task"]["states"], row["default"]
            cells.append(f"{100 * row['accuracy']:.2f} / {d['states']}{'=' if d['equivalent_to_task'] else ''} / "
                         f"{100 * d['prefix']:.2f} / {'yes' if row['meets_target'] else 'no'}")
        lines.append(f"| {name} ({task_states}) | " + " | ".join(cells) + " |")
    lines.append("")
    for s in strengths:
        per = [[r for r in run["rows"] if r["strength"] == s] for run in runs]
        met = [sum(r["meets_target"] for r in rows) for rows in per]
        total, pairs = sum(met), sum(len(rows) for rows in per)
        own = sum(r["default"]["equivalent_to_task"] for rows in per for r in rows)
        each = ", ".join(f"{labels[i]}: {m}/{len(per[i])}" for i, m in enumerate(met))
        lines.append(f"strength {s:g}: target met on {each}; pooled {total}/{pairs} (task, run) pairs "
                     f"({100 * total / max(pairs, 1):.0f}%); the task's own automaton {own}/{pairs}")
    return "\n".join(lines)


def _warm_up() -> None:
    """One tiny training with and without the regulariser, so no task's timing pays the
    process's first calls."""
    global _WARM
    if _WARM:
        return
    import fsm_extract as fx

    lang = fx.languages.tomita(1)
    data = lang.sample(n=64, min_len=0, max_len=8, seed=0)
    for s in (0.0, 0.1):
        fx.train_classifier(data, hidden_size=4, epochs=2, early_stopping=False, progress=False, extractability=s)
    _WARM = True


# ----------------------------------------------------------------------------- one row
def front_column(net: Any, train: Any, val: Any, test: Any) -> dict:
    import fsm_extract as fx

    t0 = time.perf_counter()
    front = fx.pareto(net, list(train.words), validation=list(val.words), seed=0)
    out: dict = {"seconds": round(time.perf_counter() - t0, 2),
                 "points": [{"n_states": int(p.n_states), "agreement": float(p.agreement)} for p in front.points]}
    chosen = front.best(FRONT_TARGET)
    out["chosen"] = {"reaches_target": bool(chosen.agreement >= FRONT_TARGET),
                     "validation_agreement": float(chosen.agreement), **bi.agreement(net, chosen.fsm, test)}
    return out


def run_one(args: tuple) -> dict:
    recipe, strength, options, front, train_seed = args
    import fsm_extract as fx

    _one_thread_quiet()
    t_all = time.perf_counter()
    language = task_language(recipe)
    train, test, val = bi.datasets(recipe, language)
    net, train_seconds, cached = trained_net(recipe, language, train, strength, options, train_seed)
    row: dict = {"name": recipe.name, "strength": strength, "method": options.get("method", "centroids") if strength else None,
                 "options": options if strength else None,
                 "train_seconds": train_seconds, "cached": cached, "epochs": recipe.epochs,
                 "train_words": len(train), "test_words": len(test), "test_lengths": [int(test.lengths.min()), int(test.lengths.max())],
                 "train_max_len": recipe.train_max_len}
    ext = (getattr(net, "metadata", {}) or {}).get("extractability")
    row["term"] = None if not ext else ext.get("term")
    row["accuracy"] = float((np.asarray(net.predict(test.words)) == test.labels).mean())
    row["task"] = bi.agreement(net, language, test)
    t0 = time.perf_counter()
    fsm = fx.extract(net, list(train.words), seed=0)
    row["default"] = {"seconds": round(time.perf_counter() - t0, 2), "equivalent_to_task": bool(fsm.equivalent(language)),
                      **bi.agreement(net, fsm, test)}
    row["default"]["within_states"] = bool(row["default"]["states"] <= STATES_FACTOR * row["task"]["states"])
    if front:
        row["front"] = front_column(net, train, val, test)
    row["seconds"] = round(time.perf_counter() - t_all, 1)
    return row


# ----------------------------------------------------------------------------- reading the rows
def annotate(rows: list[dict]) -> None:
    """Add each row's change from strength 0 (accuracy, training time) and whether it meets the
    target; None where the task has no strength-0 row."""
    base = {r["name"]: r for r in rows if r["strength"] == 0}
    for r in rows:
        b = base.get(r["name"])
        d = r["default"]
        r["accuracy_delta"] = None if b is None else r["accuracy"] - b["accuracy"]
        r["accuracy_ok"] = None if b is None else bool(r["accuracy"] >= b["accuracy"] - ACCURACY_SLACK - 1e-12)
        r["agreement_ok"] = bool(d["prefix"] >= AGREEMENT_TARGET)
        r["meets_target"] = None if b is None else bool(r["accuracy_ok"] and r["agreement_ok"] and d["within_states"])
        ok = b is not None and r["train_seconds"] and b["train_seconds"]
        r["time_ratio"] = round(r["train_seconds"] / b["train_seconds"], 2) if ok else None


def summarize(rows: list[dict], strengths: list[float]) -> list[dict]:
    out = []
    for s in strengths:
        rs = [r for r in rows if r["strength"] == s]
        if not rs:
            continue
        n = len(rs)
        meets = [r["meets_target"] for r in rs]
        ratios = [r["time_ratio"] for r in rs if r["time_ratio"] is not None]
        deltas = [r["accuracy_delta"] for r in rs if r["accuracy_delta"] is not None]
        count = None if None in meets else sum(meets)
        out.append({
            "strength": s, "tasks": n,
            "accuracy_ok": None if None in meets else sum(bool(r["accuracy_ok"]) for r in rs),
            "agreement_ok": sum(r["agreement_ok"] for r in rs),
            "within_states": sum(r["default"]["within_states"] for r in rs),
            "agreement_and_states": sum(r["agreement_ok"] and r["default"]["within_states"] for r in rs),
            "meets_target": count,
            "target_met": None if count is None else bool(count >= TASK_SHARE * n),
            "front_reaches": None if any("front" not in r for r in rs)
            else sum(bool(r["front"]["chosen"]["reaches_target"]) for r in rs),
            "mean_accuracy": float(np.mean([r["accuracy"] for r in rs])),
            "mean_accuracy_delta": float(np.mean(deltas)) if deltas else None,
            "worst_accuracy_delta": float(min(deltas)) if deltas else None,
            "mean_agreement": float(np.mean([r["default"]["prefix"] for r in rs])),
            "median_time_ratio": float(np.median(ratios)) if ratios else None,
            "max_time_ratio": float(max(ratios)) if ratios else None,
            "time_ok": None if not ratios else sum(x <= TIME_FACTOR for x in ratios),
        })
    return out


# ----------------------------------------------------------------------------- output
pct = bi.pct


def _pts(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:+.2f}"


def _yes(x: bool | None) -> str:
    return "-" if x is None else ("yes" if x else "no")


def table(rows: list[dict]) -> str:
    head = ("| task | task states | strength | task accuracy | vs strength 0 (points) | task automaton vs net | "
            "default extraction: states, agreement | <= 1.5x states | front: smallest >= 99.9% | train (s) | "
            "x strength 0 | meets target |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---|---|---|---:|---:|---|"]
    for r in rows:
        d, t, f = r["default"], r["task"], r.get("front")
        fc = "not run" if f is None else (f"{f['chosen']['states']} st, {pct(f['chosen']['prefix'])}"
                                          + ("" if f["chosen"]["reaches_target"] else " (best)"))
        eq = " (= task)" if d["equivalent_to_task"] else ""
        secs = "-" if r["train_seconds"] is None else f"{r['train_seconds']:.1f}"
        ratio = "-" if r["time_ratio"] is None else f"{r['time_ratio']:.2f}"
        lines.append(f"| {r['name']} | {t['states']} | {r['strength']:g} | {pct(r['accuracy'])} | {_pts(r['accuracy_delta'])} "
                     f"| {pct(t['prefix'])} | {d['states']} st{eq}, {pct(d['prefix'])} | {_yes(d['within_states'])} "
                     f"| {fc} | {secs} | {ratio} | {_yes(r['meets_target'])} |")
    return "\n".join(lines)


def summary_table(summary: list[dict]) -> str:
    lines = [("| strength | tasks | accuracy within 0.5 pt of strength 0 | default >= 99.9% | default <= 1.5x states | "
              "both | **all three (target)** | target met (>= 80%) | front reaches 99.9% | mean accuracy (change) | "
              "mean default agreement | training time x strength 0 (median / max) |"),
             "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    for s in summary:
        n = s["tasks"]

        def c(v: int | None, n: int = n) -> str:
            return "-" if v is None else f"{v}/{n}"

        tr = "-" if s["median_time_ratio"] is None else f"{s['median_time_ratio']:.2f} / {s['max_time_ratio']:.2f}"
        acc = pct(s["mean_accuracy"]) + ("" if s["mean_accuracy_delta"] is None else f" ({_pts(s['mean_accuracy_delta'])})")
        lines.append(f"| {s['strength']:g} | {n} | {c(s['accuracy_ok'])} | {c(s['agreement_ok'])} | {c(s['within_states'])} "
                     f"| {c(s['agreement_and_states'])} | **{c(s['meets_target'])}** | {_yes(s['target_met'])} "
                     f"| {c(s['front_reaches'])} | {acc} | {pct(s['mean_agreement'])} | {tr} |")
    return "\n".join(lines)


def plot(rows: list[dict], names: list[str], path: str, method: str) -> None:
    """Task accuracy (x) against default extraction's held-out prefix agreement (y), one curve
    per task through the strengths (its strength-0 point hollow), on logit axes so that 99%,
    99.9% and 100% stay apart; 100% is drawn at the edge. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    top_x, top_y = 1 - 1e-4, 1 - 1e-5  # where 100% is drawn (2,000 test words; ~60,000 test prefixes)
    fig, ax = plt.subplots(figsize=(10, 7.5))
    colors = [plt.get_cmap("tab10")(i) for i in range(10)] + ["black", "darkgoldenrod"]
    markers = "osD^v<>pP*Xh"
    lows = ([], [])
    for i, name in enumerate(names):
        rs = sorted((r for r in rows if r["name"] == name), key=lambda r: r["strength"])
        if not rs:
            continue
        x = [min(r["accuracy"], top_x) for r in rs]
        y = [min(r["default"]["prefix"], top_y) for r in rs]
        lows[0].extend(x)
        lows[1].extend(y)
        color, marker = colors[i % len(colors)], markers[i % len(markers)]
        ax.plot(x, y, "-" if i < 10 else "--", marker=marker, color=color, label=name, lw=1.4, ms=6, alpha=0.9)
        ax.plot([x[j] for j, r in enumerate(rs) if r["strength"] == 0], [y[j] for j, r in enumerate(rs) if r["strength"] == 0],
                marker, mfc="white", mec=color, ms=6, mew=1.4)
        for r, xi, yi in zip(rs, x, y):
            ax.annotate(f"{r['strength']:g}", (xi, yi), textcoords="offset points", xytext=(4, 3), fontsize=7, color=color)
    ax.set_xscale("logit")
    ax.set_yscale("logit")
    def ticks(values: list[float], top: float, grid: tuple) -> list[float]:
        low = min(values, default=0.5)
        floor = max((t for t in grid if t <= low), default=grid[0])
        return [t for t in grid if t >= floor] + [top]

    grid = (0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)
    for axis, values, top, extra in ((ax.xaxis, lows[0], top_x, ()), (ax.yaxis, lows[1], top_y, (0.9999,))):
        marks = ticks(values, top, grid + extra)
        axis.set_major_locator(FixedLocator(marks))
        axis.set_minor_locator(NullLocator())
        axis.set_major_formatter(FuncFormatter(lambda v, _, top=top: "100%" if abs(v - top) < 1e-12 else f"{100 * v:g}%"))
        (ax.set_xlim if axis is ax.xaxis else ax.set_ylim)(marks[0] - 0.3 * (1 - marks[0]) * marks[0], 1 - (1 - top) * 0.6)
    ax.axhline(AGREEMENT_TARGET, color="0.4", ls="--", lw=0.8)
    ax.text(ax.get_xlim()[0], AGREEMENT_TARGET, " 99.9% target", va="bottom", fontsize=8, color="0.3")
    ax.set_xlabel("task accuracy of the net, held-out words (logit scale; 100% at the right edge)")
    ax.set_ylabel("default extraction's held-out prefix agreement with the net (logit scale; 100% at the top)")
    ax.set_title(f"Extractability regulariser ({method}): one curve per task through the strengths (labels); "
                 "hollow: strength 0", fontsize=10)
    ax.grid(True, lw=0.4, alpha=0.5)
    ax.legend(fontsize=8, loc="lower right", ncol=2)
    fig.tight_layout()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format=target.suffix.lstrip(".") or "png", dpi=110)
        os.replace(tmp, target)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.remove(tmp)


def _write_json(path: str, obj: Any) -> None:
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent if str(target.parent) else ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=1, default=str)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _progress(row: dict) -> None:
    d = row["default"]
    train = "cached" if row["cached"] else f"trained in {row['train_seconds']} s"
    f = row.get("front")
    fr = "" if f is None else f" | front {f['chosen']['states']} st {pct(f['chosen']['prefix'])}"
    print(f"{row['name']:18s} s={row['strength']:<4g} acc {pct(row['accuracy'])} | default {d['states']} st "
          f"(task {row['task']['states']}) {pct(d['prefix'])}{fr} | {train}; {row['seconds']} s in all", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: {', '.join(QUICK)} at strengths {', '.join(f'{s:g}' for s in QUICK_STRENGTHS)}")
    p.add_argument("--only", nargs="+", metavar="NAME", help="these tasks only")
    p.add_argument("--strengths", nargs="+", type=float, metavar="S",
                   help=f"strengths to sweep (default {' '.join(f'{s:g}' for s in STRENGTHS)}); 0 is the baseline")
    p.add_argument("--method", default="centroids", choices=METHODS, help="the regulariser's mechanism (default centroids)")
    p.add_argument("--horizon", type=float, help="Extractability(horizon=...): unlabelled words this many times the "
                   "longest training word (0: off; default: the package's)")
    p.add_argument("--horizon-words", type=int, help="Extractability(horizon_words=...) (default: the package's)")
    p.add_argument("--horizon-every", type=int, help="Extractability(horizon_every=...) (default: the package's)")
    p.add_argument("--anneal-epochs", type=int, help="Extractability(anneal_epochs=...) (default: the package's)")
    p.add_argument("--consistency", type=float, help="Extractability(consistency=...): the centroids' consistency "
                   "(0: off; default: the package's)")
    p.add_argument("--every", type=int, help="Extractability(every=...): the term on every K-th batch only "
                   "(default: the package's)")
    p.add_argument("--no-front", action="store_true", help="skip fx.pareto")
    p.add_argument("--train-scale", type=int, default=1, metavar="K",
                   help="train on K times each recipe's training words (train_n * K, same seed; test and validation "
                   "words unchanged; part of the cache key, so K=1 reuses the cached nets) (default 1)")
    p.add_argument("--train-seed", type=int, default=0, metavar="N",
                   help="train every net with seed recipe.seed + N (the same words; part of the cache key) (default 0)")
    p.add_argument("--timing", type=int, metavar="R",
                   help="only measure training time: CPU seconds, best of R, strengths interleaved, nothing cached or extracted")
    p.add_argument("--defaults", action="store_true",
                   help="train with train_classifier's defaults (early stopping, up to 200 epochs) instead of the recipe's epochs")
    p.add_argument("--jobs", type=int, default=1, help="(task, strength) runs in parallel processes (default 1; "
                   "training times are only comparable at 1)")
    p.add_argument("--json", metavar="PATH", help="also write the rows and the summary here")
    p.add_argument("--plot", metavar="PATH", help="write the accuracy-vs-agreement plot here (PNG)")
    p.add_argument("--from-json", metavar="PATH", help="redo the tables (and --plot) from an earlier --json; run nothing")
    p.add_argument("--pool", nargs="+", metavar="PATH",
                   help="pool earlier --json runs (say, one per --train-seed): a per-task table, side by side, and the "
                   "target counted over every (task, run) pair; run nothing")
    p.add_argument("--list", action="store_true", help="print the tasks' recipes and exit")
    a = p.parse_args(argv)
    names = [r.name for r in TASKS]
    if a.list:
        for r in TASKS:
            print(f"{r.name:18s} {r.note}")
        return 0
    if a.pool:
        runs = []
        for path in a.pool:
            with open(path, encoding="utf-8") as f:
                runs.append(json.load(f))
        print(pooled(runs, names))
        return 0
    if a.from_json:
        with open(a.from_json, encoding="utf-8") as f:
            saved = json.load(f)
        rows = saved["rows"]
        print(table(rows) + "\n\n" + summary_table(saved["summary"]))
        if a.plot:
            plot(rows, [n for n in names if any(r["name"] == n for r in rows)], a.plot, saved["method"])
            print(f"plot: {a.plot}")
        return 0
    chosen = a.only or (QUICK if a.quick else names)
    unknown = [n for n in chosen if n not in names]
    if unknown:
        print(f"unknown task(s) {unknown}; the tasks are {names}", file=sys.stderr)
        return 2
    strengths = sorted(set(a.strengths if a.strengths is not None else (QUICK_STRENGTHS if a.quick else STRENGTHS)))
    if any(s < 0 for s in strengths):
        print(f"--strengths {strengths} must be >= 0", file=sys.stderr)
        return 2
    if a.train_scale < 1:
        print(f"--train-scale {a.train_scale} must be >= 1", file=sys.stderr)
        return 2
    recipes = [r if a.train_scale == 1 else replace(r, train_n=r.train_n * a.train_scale) for r in TASKS if r.name in chosen]
    import torch

    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; Python {platform.python_version()}, torch {torch.__version__}")
    print(f"{len(recipes)} tasks x strengths {', '.join(f'{s:g}' for s in strengths)} ({a.method}); front "
          f"{'not run' if a.no_front else 'fx.pareto'}; jobs {a.jobs}; train words x{a.train_scale}; training seed +{a.train_seed}; {time.strftime('%Y-%m-%d %H:%M')}")
    if 0.0 not in strengths:
        print("no strength 0 in the sweep: no baseline, so no accuracy change, time ratio or target", file=sys.stderr)
    given = {"horizon": a.horizon, "horizon_words": a.horizon_words, "horizon_every": a.horizon_every,
             "anneal_epochs": a.anneal_epochs, "consistency": a.consistency, "every": a.every}
    options = {"method": a.method, **{k: v for k, v in given.items() if v is not None}}
    try:
        settings = regularizer(1.0, options).to_dict()
    except (ValueError, TypeError) as e:
        print(f"bad regulariser options: {e}", file=sys.stderr)
        return 2
    print("regulariser: " + ", ".join(f"{k}={v}" for k, v in settings.items() if k != "strength"))
    if a.timing:
        if 0.0 not in strengths:
            print("--timing needs strength 0 among --strengths", file=sys.stderr)
            return 2
        rows = timing(recipes, strengths, options, a.timing)
        if a.json:
            _write_json(a.json, {"method": a.method, "options": settings, "train_scale": a.train_scale, "timing": rows})
        return 0
    if a.defaults:
        rows = defaults(recipes, strengths, options, a.train_seed)
        if a.json:
            _write_json(a.json, {"method": a.method, "options": settings, "train_scale": a.train_scale,
                                 "train_seed": a.train_seed, "defaults": rows})
        return 0
    tasks = [(r, s, options, not a.no_front, a.train_seed) for r in recipes for s in strengths]
    t0 = time.perf_counter()
    rows: list[dict] = bi.run_tasks(run_one, tasks, a.jobs, _progress)
    wall = time.perf_counter() - t0
    rows.sort(key=lambda r: (names.index(r["name"]), r["strength"]))
    annotate(rows)
    summary = summarize(rows, strengths)
    print()
    print(table(rows))
    print()
    print(summary_table(summary))
    print(f"\ntask accuracy: the net's word answers against the task's labels on the held-out test words; agreement: "
          f"held-out prefix agreement with the NET; target: accuracy >= strength 0's - 0.5 pt, default extraction "
          f">= 99.9% with <= 1.5x the task's minimal states, on >= 80% of tasks; wall time {wall:.0f} s")
    if a.json:
        _write_json(a.json, {"method": a.method, "options": settings, "strengths": strengths, "train_scale": a.train_scale, "train_seed": a.train_seed, "wall_seconds": round(wall, 1),
                             "rows": rows, "summary": summary})
    if a.plot:
        plot(rows, [n for n in names if n in chosen], a.plot, a.method)
        print(f"plot: {a.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
