"""benchmarks/bench_regularizer.py: its task list and how it reads rows against issue 14's target
(no net is trained here)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_regularizer.py"


def _module():
    spec = importlib.util.spec_from_file_location("bench_regularizer", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_list_runs_and_names_the_regular_tasks():
    out = subprocess.run([sys.executable, str(BENCH), "--list"], capture_output=True, text=True, timeout=60, check=True).stdout
    names = [line.split()[0] for line in out.splitlines()]
    assert "tomita7-h16" in names and "mod5-long-h16" in names and "4th-from-end" in names
    assert not any(n.startswith("dyck1") or n.endswith("bundled") for n in names)  # regular, trained here


def test_unknown_task_is_refused():
    r = subprocess.run([sys.executable, str(BENCH), "--only", "nope"], capture_output=True, text=True, timeout=60,
                       check=False)
    assert r.returncode == 2 and "nope" in r.stderr


def _row(name, strength, accuracy, prefix, states, task_states=4, seconds=10.0):
    return {"name": name, "strength": strength, "accuracy": accuracy, "train_seconds": seconds,
            "task": {"states": task_states, "prefix": 0.99},
            "default": {"states": states, "prefix": prefix, "within_states": states <= 1.5 * task_states}}


def test_target_reading():
    bench = _module()
    rows = [_row("a", 0.0, 0.95, 0.97, 8), _row("a", 0.3, 0.946, 0.9995, 6, seconds=15.0),
            _row("b", 0.0, 0.99, 0.9995, 4), _row("b", 0.3, 0.98, 1.0, 4, seconds=25.0)]
    bench.annotate(rows)
    assert [r["meets_target"] for r in rows] == [False, True, True, False]  # b at 0.3 lost 1 point
    assert rows[1]["time_ratio"] == 1.5 and rows[3]["time_ratio"] == 2.5
    s0, s3 = bench.summarize(rows, [0.0, 0.3])
    assert (s0["meets_target"], s0["target_met"]) == (1, False)
    assert (s3["meets_target"], s3["accuracy_ok"], s3["agreement_ok"], s3["time_ok"]) == (1, 1, 2, 1)
    assert s3["max_time_ratio"] == 2.5


def test_pool_counts_the_target_over_runs(tmp_path):
    """--pool: two runs side by side, the target counted per run and over all (task, run) pairs."""
    import json

    bench = _module()
    runs = []
    for seed, (acc_a, acc_b) in enumerate([(0.946, 0.98), (0.95, 0.99)]):
        rows = [_row("a", 0.0, 0.95, 0.97, 8), _row("a", 0.3, acc_a, 0.9995, 6),
                _row("b", 0.0, 0.99, 0.9995, 4), _row("b", 0.3, acc_b, 1.0, 4)]
        for r in rows:
            r["default"]["equivalent_to_task"] = r["default"]["states"] == r["task"]["states"]
        bench.annotate(rows)
        path = tmp_path / f"s{seed}.json"
        path.write_text(json.dumps({"train_seed": seed, "rows": rows}))
        runs.append(str(path))
    out = subprocess.run([sys.executable, str(BENCH), "--pool", *runs], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    assert "| a (4) | 95.00 / 8 / 97.00 / no | 94.60 / 6 / 99.95 / yes | 95.00 / 8 / 97.00 / no |" in out
    assert "strength 0.3: target met on +0: 1/2, +1: 2/2; pooled 3/4 (task, run) pairs (75%); the task's own automaton 2/4" in out
    assert "strength 0: target met on +0: 1/2, +1: 1/2; pooled 2/4" in out
