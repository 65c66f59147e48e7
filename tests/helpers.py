"""Helpers that tests in several folders share (not fixtures: those are in the conftest files).

Subprocesses run from the repository root, so a child can ``from tests.helpers import ...``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import torch

import fsm_extract as fx


REPO = Path(__file__).resolve().parents[1]


CAP_BYTES = 3 * 2**30  # address-space cap of the subprocess reproductions (torch imports under it)


def _run_capped(code: str, *, timeout: float = 120.0) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``code`` in a fresh Python under a 3 GiB address-space cap; (process, seconds)."""
    def cap() -> None:  # pragma: no cover - runs in the child
        resource.setrlimit(resource.RLIMIT_AS, (CAP_BYTES, CAP_BYTES))

    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=cap, cwd=REPO)
    return proc, time.perf_counter() - t0


def _expanded_checkpoint(path: Path, hidden: int, layers: int, *, cell: str = "lstm") -> Path:
    """A checkpoint whose every weight is one stored zero expanded with stride 0 (issue 18, 1)."""
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[cell] * hidden
    z = torch.zeros(1)
    sd = {"embedding.weight": z.expand(2, 4)}
    for k in range(layers):
        sd[f"rnn.weight_ih_l{k}"] = z.expand(gates, 4 if k == 0 else hidden)
        sd[f"rnn.weight_hh_l{k}"] = z.expand(gates, hidden)
        sd[f"rnn.bias_ih_l{k}"] = z.expand(gates)
        sd[f"rnn.bias_hh_l{k}"] = z.expand(gates)
    sd["head.weight"] = z.expand(1, hidden)
    sd["head.bias"] = torch.zeros(1)
    config = {"alphabet": ["0", "1"], "cell": cell, "hidden_size": hidden, "num_layers": layers, "embedding_dim": 4}
    torch.save({"format": "fsm-extract/model", "version": 1, "config": config, "state_dict": sd, "metadata": {}}, path)
    return path


def _random_fsm(n: int, k: int = 2, seed: int = 0) -> fx.ExtractedFSM:
    rng = np.random.default_rng(seed)
    return fx.ExtractedFSM([str(i) for i in range(k)], rng.integers(0, n, (n, k)), rng.random(n) < 0.5, 0)


def _peak_rss_mb(code: str, timeout: float = 300) -> tuple[dict, float]:
    """Run ``code`` in a fresh one-thread Python; it prints one JSON line. Returns it and the
    child's peak resident memory in MiB."""
    prog = textwrap.dedent(code) + textwrap.dedent("""
        import resource, json as _j
        print(_j.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **RESULT}))
    """)
    env = {"OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=timeout, env=env,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return res, res["rss_mb"]


def _alphabet(k: int) -> list[str]:
    return [chr(0x41 + i) if i < 26 else chr(0x61 + i - 26) if i < 52 else chr(0x100 + i) for i in range(k)]


class CountingEmbedding:
    """An embedding that counts the ids it embeds: one net step each, padding included."""

    def __init__(self, embedding):
        self.embedding, self.steps = embedding, 0

    def __call__(self, ids):
        self.steps += int(ids.numel())
        return self.embedding(ids)


def run_cli(capsys, *argv):
    """(exit status, stdout, stderr) of ``fsm-extract argv``; argparse's SystemExit included."""
    from fsm_extract.cli import main

    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err
