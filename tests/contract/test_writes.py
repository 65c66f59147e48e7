"""Atomic writes: every writer (Python API and CLI) under a simulated half-write or failed
rename leaves the old file (or nothing) and no temporary file; a successful write replaces the
target."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest
import torch

import fsm_extract as fx
from fsm_extract.cli import main as cli_main

from .conftest import _leftovers


class _DiskFull(OSError):
    def __init__(self):
        super().__init__(28, "No space left on device (simulated)")


def _patch_half_writes(monkeypatch):
    """Every way the package writes a file writes half of it, then fails."""
    orig_text, orig_bytes = Path.write_text, Path.write_bytes

    def write_text(self, data, *args, **kwargs):
        orig_text(self, data[: len(data) // 2], *args, **kwargs)
        raise _DiskFull()

    def write_bytes(self, data):
        orig_bytes(self, bytes(data)[: len(data) // 2])
        raise _DiskFull()

    def torch_save(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"PK\x03\x04 half a checkpoint")
        raise _DiskFull()

    def savefig(self, fname, *args, **kwargs):
        Path(fname).write_bytes(b"\x89PNG half a plot")
        raise _DiskFull()

    import matplotlib.figure

    monkeypatch.setattr(Path, "write_text", write_text)
    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    monkeypatch.setattr(torch, "save", torch_save)
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)


def _patch_failing_rename(monkeypatch):
    def replace(src, dst, *args, **kwargs):
        raise _DiskFull()

    monkeypatch.setattr(os, "replace", replace)


def _sweep_result():
    row = {"k": 2, "n_states": 2, "prefix_agreement": 0.9, "word_agreement": 0.8, "state_agreement": 0.9,
           "variance_explained": 0.7, "determinism": 1.0, "equivalent": None, "seconds": 0.1}
    return fx.SweepResult(rows=(row, dict(row, k=3, n_states=3)), evaluated_on="10 held-out words")


def _cli(argv):
    """Run the CLI; a failed write must be one line on stderr and exit 2 (issue 18: it was a
    traceback and exit 1), re-raised here as an OSError carrying that line."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = cli_main([str(a) for a in argv])
    if rc == 2:
        line = err.getvalue()
        assert line.count("\n") == 1 and "Traceback" not in line, line
        raise OSError(line)
    assert rc == 0  # only reached when the write did not fail


WRITERS = {
    "ExtractedFSM.save": (".json", lambda c, p: c.fsm.save(p)),
    "RNNClassifier.save": (".pt", lambda c, p: c.model.save(p)),
    "render.svg": (".svg", lambda c, p: c.fsm.render(p)),
    "render.dot": (".dot", lambda c, p: c.fsm.render(p)),
    "Dataset.to_jsonl": (".jsonl", lambda c, p: c.ds.to_jsonl(p)),
    "SweepResult.plot": (".png", lambda c, p: _sweep_result().plot(p)),
    "cli extract --out": (".json", lambda c, p: _cli(["extract", "--model", c.files.model, "--data", c.files.data,
                                                      "--states", "2", "--out", p])),
    "cli train --out": (".pt", lambda c, p: _cli(["train", "--data", c.files.data, "--epochs", "1", "--hidden-size",
                                                  "2", "--quiet", "--out", p])),
    "cli fidelity --json": (".json", lambda c, p: _cli(["fidelity", "--model", c.files.model, "--fsm", c.files.fsm,
                                                        "--data", c.files.data, "--json", p])),
    "cli sweep --json": (".json", lambda c, p: _cli(["sweep", "--model", c.files.model, "--fit-data", c.files.data,
                                                     "--test-data", c.files.data, "--states", "2", "--json", p])),
}


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
@pytest.mark.parametrize("failure", ["half-write", "rename"])
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_failed_write_leaves_nothing_half_written(ctx, tmp_path, monkeypatch, capsys, writer, failure, existing):
    suffix, write = WRITERS[writer]
    target = tmp_path / f"out{suffix}"
    if existing:
        target.write_bytes(b"OLD CONTENT")
    (_patch_half_writes if failure == "half-write" else _patch_failing_rename)(monkeypatch)
    with pytest.raises(OSError, match="simulated"):
        write(ctx, target)
    monkeypatch.undo()
    capsys.readouterr()
    if existing:
        assert target.read_bytes() == b"OLD CONTENT"
    else:
        assert not target.exists()
    assert _leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ([target.name] if existing else [])


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_successful_write_replaces_the_target_and_leaves_no_temporary(ctx, tmp_path, capsys, writer):
    suffix, write = WRITERS[writer]
    target = tmp_path / f"out{suffix}"
    target.write_bytes(b"OLD CONTENT")
    write(ctx, target)
    capsys.readouterr()
    assert target.read_bytes() != b"OLD CONTENT" and target.stat().st_size > 0
    assert _leftovers(tmp_path) == []
