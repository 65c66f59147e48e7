"""Measure how fsm-extract handles costly-but-valid input (issue 18): each case runs in a fresh
process under an address-space cap, timed with /usr/bin/time; the table gives the exit status,
the first line of stderr (or stdout), the seconds and the peak resident memory.

    python scripts/hostile_inputs.py                      # 4 GB cap
    python scripts/hostile_inputs.py --cap-gb 4 --full-dir /mnt/tiny   # also a real disk-full case

``--full-dir`` names a folder on a (nearly) full file system, e.g. a 64 KiB tmpfs
(``mount -t tmpfs -o size=64k tmpfs /mnt/tiny``); the script fills it before writing there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "fsm_extract.cli"]
PY = [sys.executable, "-c"]


def expanded_checkpoint(path: Path, hidden: int, layers: int) -> Path:
    """Every weight one stored zero expanded with stride 0 (one shared storage)."""
    z = torch.zeros(1)
    sd = {"embedding.weight": z.expand(2, 4)}
    for k in range(layers):
        sd[f"rnn.weight_ih_l{k}"] = z.expand(4 * hidden, 4 if k == 0 else hidden)
        sd[f"rnn.weight_hh_l{k}"] = z.expand(4 * hidden, hidden)
        sd[f"rnn.bias_ih_l{k}"] = z.expand(4 * hidden)
        sd[f"rnn.bias_hh_l{k}"] = z.expand(4 * hidden)
    sd["head.weight"], sd["head.bias"] = z.expand(1, hidden), torch.zeros(1)
    config = {"alphabet": ["0", "1"], "cell": "lstm", "hidden_size": hidden, "num_layers": layers, "embedding_dim": 4}
    torch.save({"format": "fsm-extract/model", "version": 1, "config": config, "state_dict": sd, "metadata": {}}, path)
    return path


def fsm_doc(n: int, *, sparse=(), outputs=None) -> dict:
    return {"format": "fsm-extract/fsm", "version": 1, "alphabet": ["0", "1"], "initial": 0,
            "transitions": [[(q + 1) % n, q] for q in range(n)], "accepting": [q % 2 == 0 for q in range(n)],
            "transition_counts": [list(e) for e in sparse], "output_counts": outputs or [[0, 0]] * n,
            "completed": [], "centroids": None, "cluster_map": None, "metadata": {}}


def random_fsm_json(path: Path, n: int) -> Path:
    import fsm_extract as fx

    rng = np.random.default_rng(0)
    return fx.ExtractedFSM("01", rng.integers(0, n, (n, 2)), rng.random(n) < 0.5, 0).save(path)


def cases(d: Path, full_dir: Path | None) -> list[tuple[str, list[str]]]:
    data = d / "d.jsonl"
    data.write_text("".join(json.dumps({"word": w, "label": i % 2 == 0}) + "\n" for i, w in enumerate(["01", "1", "0", "110"])))
    big1 = expanded_checkpoint(d / "h65536.pt", 65536, 1)
    big4 = expanded_checkpoint(d / "h16384x4.pt", 16384, 4)
    (d / "states30000.json").write_text(json.dumps(fsm_doc(30_000), separators=(",", ":")))
    (d / "overflow.json").write_text(json.dumps(fsm_doc(2, sparse=[(0, 0, 1, 2**62), (0, 0, 0, 2**62)])))
    random_fsm_json(d / "states300.json", 300)
    os.mkfifo(d / "fifo.pt")
    node = d / "node.pt"
    try:
        os.mknod(node, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        os.mkfifo(node)
    out = [
        ("(baseline: import fsm_extract and torch)", PY + ["import fsm_extract"]),
        (f"checkpoint H=65,536 ({big1.stat().st_size:,} B), extract", CLI + ["extract", "--model", str(big1), "--data", str(data), "--out", str(d / "o.json")]),
        (f"checkpoint H=16,384 x 4 layers ({big4.stat().st_size:,} B), extract", CLI + ["extract", "--model", str(big4), "--data", str(data), "--out", str(d / "o.json")]),
        (f"FSM JSON 30,000 states ({(d / 'states30000.json').stat().st_size:,} B), render .dot", CLI + ["render", str(d / "states30000.json"), "--out", str(d / "o.dot")]),
        ("FSM JSON counts summing past 2**63, render .dot", CLI + ["render", str(d / "overflow.json"), "--out", str(d / "o.dot")]),
        (f"FSM 300 states ({(d / 'states300.json').stat().st_size:,} B), render .svg", CLI + ["render", str(d / "states300.json"), "--out", str(d / "o.svg")]),
        ("FSM 300 states, render .dot", CLI + ["render", str(d / "states300.json"), "--out", str(d / "o300.dot")]),
        ("from_regex('a{1000000}')", PY + ["import fsm_extract as fx; fx.languages.from_regex('a{1000000}', alphabet='ab')"]),
        ("from_regex('(a|b)*a(a|b){20}')", PY + ["import fsm_extract as fx; fx.languages.from_regex('(a|b)*a(a|b){20}', alphabet='ab')"]),
        ("from_regex('(a?){3000}')", PY + ["import fsm_extract as fx; fx.languages.from_regex('(a?){3000}', alphabet='ab')"]),
        ("train --out FIFO", CLI + ["train", "--data", str(data), "--epochs", "1", "--quiet", "--out", str(d / "fifo.pt")]),
        ("train --out character device", CLI + ["train", "--data", str(data), "--epochs", "1", "--quiet", "--out", str(node)]),
        ("float64 RecurrentAdapter: extract + fidelity", PY + [textwrap.dedent("""
            import torch, fsm_extract as fx
            torch.manual_seed(0)
            emb, rnn, out = torch.nn.Embedding(2, 3).double(), torch.nn.LSTM(3, 8, batch_first=True).double(), torch.nn.Linear(8, 1).double()
            m = fx.RecurrentAdapter(embedding=emb, rnn=rnn, head=out, alphabet="01")
            words = ["0", "1", "0110", "111", "10101"] * 20
            fsm = fx.extract(m, words, n_states=4); print(f"{fsm.n_states} states;", fx.fidelity(m, fsm, words).headline[:60])
        """)]),
        ("RecurrentAdapter with head=lambda h: lin(h).squeeze()", PY + [textwrap.dedent("""
            import torch, fsm_extract as fx
            lin = torch.nn.Linear(8, 1)
            fx.RecurrentAdapter(embedding=torch.nn.Embedding(2, 3), rnn=torch.nn.LSTM(3, 8, batch_first=True),
                                head=lambda h: lin(h).squeeze(), alphabet="01")
        """)]),
    ]
    if full_dir is not None:
        filler = full_dir / "filler"
        with open(filler, "wb", buffering=0) as f:  # fill the file system, then leave 1 KiB: less than fsm.json needs
            try:
                while True:
                    f.write(b"\0" * 1024)
            except OSError:
                pass
        os.truncate(filler, max(0, filler.stat().st_size - 1024))
        out.append(("disk full: extract --out on a full file system", CLI + ["extract", "--language", "tomita3", "--states", "4",
                                                                              "--no-refine", "--out", str(full_dir / "fsm.json")]))
    return out


def run(argv: list[str], cap_bytes: int, timeout: float) -> tuple[int, str, float, float]:
    report = tempfile.NamedTemporaryFile(suffix=".time", delete=False)
    report.close()
    cmd = ["/usr/bin/time", "-f", "%e %M", "-o", report.name, "prlimit", f"--as={cap_bytes}", "timeout", str(timeout)] + argv
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    seconds, kb = Path(report.name).read_text().split()[-2:]
    os.unlink(report.name)
    lines = [ln for ln in (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines())]
    first = lines[-1] if lines else ""
    return proc.returncode, first, float(seconds), int(kb) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cap-gb", type=float, default=4.0, help="address-space cap of each case (default: 4)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds before a case is stopped (default: 60)")
    ap.add_argument("--full-dir", type=Path, help="a folder on a (nearly) full file system: adds a disk-full case")
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="hostile-"))
    try:
        print("| input | exit | seconds | peak RSS (MB) | output (last line) |\n|---|---|---|---|---|")
        for name, argv in cases(d, args.full_dir):
            rc, line, seconds, mb = run(argv, int(args.cap_gb * 2**30), args.timeout)
            line = line.replace("|", "\\|")
            print(f"| {name} | {rc} | {seconds:.1f} | {mb:.0f} | {line[:150]} |", flush=True)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
