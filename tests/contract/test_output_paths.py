"""Outputs never replace anything but a regular file (issue 18, 6): FIFOs, devices, sockets and
folders are refused, a symlink is followed only to a regular file, an unwritable folder is refused
before the work, and a full disk is one package error that leaves nothing behind (the CLI: one
line, exit 2)."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
import torch

import fsm_extract as fx
from fsm_extract.errors import FsmExtractError, ValidationError


@pytest.fixture(scope="module")
def small():
    """A tiny model, dataset and FSM, and their files (built once)."""
    torch.manual_seed(0)
    model = fx.RNNClassifier("01", hidden_size=2)
    ds = fx.Dataset(["01", "1", "001", "10"], [True, False, True, False], "01")
    fsm = fx.ExtractedFSM("01", [[1, 0], [1, 1]], [False, True], 0)
    return model, ds, fsm


WRITERS = {
    "ExtractedFSM.save": (".json", lambda s, p: s[2].save(p)),
    "RNNClassifier.save": (".pt", lambda s, p: s[0].save(p)),
    "render.dot": (".dot", lambda s, p: s[2].render(p)),
    "Dataset.to_jsonl": (".jsonl", lambda s, p: s[1].to_jsonl(p)),
}


def _make_special(kind: str, path: Path) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        try:
            os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))  # like /dev/null
        except PermissionError:
            pytest.skip("mknod needs root")
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    elif kind == "directory":
        path.mkdir()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*.tmp"))


@pytest.mark.parametrize("kind", ["fifo", "device", "socket", "directory"])
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_writers_refuse_special_files(small, tmp_path, writer, kind):
    """Issue 18, 6: --out NODE turned a device node into a zip file; FIFOs likewise."""
    suffix, write = WRITERS[writer]
    target = tmp_path / f"out{suffix}"
    _make_special(kind, target)
    before = os.lstat(target).st_mode
    with pytest.raises(ValidationError) as info:
        write(small, target)
    assert str(target) in str(info.value) and "\n" not in str(info.value)
    assert os.lstat(target).st_mode == before and _leftovers(tmp_path) == []


def test_writing_through_a_symlink_replaces_its_target(small, tmp_path):
    """A symlink to a regular file stays a symlink: the file it points to gets the new content."""
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "fsm.json"
    real.write_text("OLD")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert small[2].save(link) == link
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert fx.load_fsm(real).n_states == 2 and _leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", ["dangling", "fifo", "directory"])
def test_symlinks_to_anything_but_a_regular_file_are_refused(small, tmp_path, kind):
    target = tmp_path / "target"
    if kind != "dangling":
        _make_special(kind, target)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    with pytest.raises(ValidationError, match="symlink"):
        small[2].save(link)
    assert link.is_symlink() and os.readlink(link) == str(target) and _leftovers(tmp_path) == []


def _no_write_access(monkeypatch, folder: Path) -> None:
    real_access = os.access

    def access(path, mode, *args, **kwargs):
        if Path(path).resolve() == folder.resolve() and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


def test_an_unwritable_folder_is_refused_before_the_work(small, tmp_path, monkeypatch, capsys):
    from fsm_extract.nets import training
    from fsm_extract.cli import main

    locked = tmp_path / "locked"
    locked.mkdir()
    _no_write_access(monkeypatch, locked)
    with pytest.raises(ValidationError, match="not writable"):
        small[2].save(locked / "fsm.json")
    data = small[1].to_jsonl(tmp_path / "d.jsonl")
    monkeypatch.setattr(training, "train_classifier", lambda *a, **k: pytest.fail("trained before checking --out"))
    assert main(["train", "--data", str(data), "--out", str(locked / "m.pt"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out=" in err and "not writable" in err
    assert main(["demo", "--out", str(locked / "demo")]) == 2
    assert "not writable" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(small, tmp_path):  # pragma: no cover - CI runs as root
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(ValidationError, match="not writable"):
        small[2].save(locked / "fsm.json")


class _DiskFull(OSError):
    def __init__(self):
        super().__init__(28, "No space left on device (simulated)")


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_disk_full_is_one_package_error_and_leaves_nothing(small, tmp_path, monkeypatch, writer):
    suffix, write = WRITERS[writer]

    def full(self, *args, **kwargs):
        raise _DiskFull()

    monkeypatch.setattr(Path, "write_text", full)
    monkeypatch.setattr(Path, "write_bytes", full)
    monkeypatch.setattr(torch, "save", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")))
    with pytest.raises(fx.WriteError) as info:
        write(small, tmp_path / f"out{suffix}")
    msg = str(info.value)
    assert f"out{suffix}" in msg and "could not be written" in msg and "\n" not in msg
    assert isinstance(info.value, OSError) and isinstance(info.value, FsmExtractError)
    assert list(tmp_path.iterdir()) == []


def test_cli_disk_full_is_one_line_exit_2(small, tmp_path, monkeypatch, capsys):
    from fsm_extract.cli import main

    model = small[0].save(tmp_path / "m.pt")
    data = small[1].to_jsonl(tmp_path / "d.jsonl")
    monkeypatch.setattr(Path, "write_text", lambda self, *a, **k: (_ for _ in ()).throw(_DiskFull()))
    rc = main(["extract", "--model", str(model), "--data", str(data), "--states", "2", "--out", str(tmp_path / "e.json")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "No space left on device" in err and "e.json" in err
    assert not (tmp_path / "e.json").exists() and _leftovers(tmp_path) == []


@pytest.mark.parametrize("command", ["train", "extract"])
def test_cli_refuses_a_fifo_out_before_the_work(small, tmp_path, monkeypatch, capsys, command):
    from fsm_extract.extraction import extract as pipeline
    from fsm_extract.nets import training
    from fsm_extract.cli import main

    model = small[0].save(tmp_path / "m.pt")
    data = small[1].to_jsonl(tmp_path / "d.jsonl")
    out = tmp_path / ("out.pt" if command == "train" else "out.json")
    os.mkfifo(out)
    monkeypatch.setattr(training, "train_classifier", lambda *a, **k: pytest.fail("trained before checking --out"))
    monkeypatch.setattr(pipeline, "extract", lambda *a, **k: pytest.fail("extracted before checking --out"))
    argv = (["train", "--data", str(data), "--quiet"] if command == "train"
            else ["extract", "--model", str(model), "--data", str(data)]) + ["--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "FIFO" in err and stat.S_ISFIFO(os.lstat(out).st_mode)


def test_cli_demo_refuses_special_files_in_its_folder(tmp_path, capsys):
    from fsm_extract.cli import main

    (tmp_path / "demo").mkdir()
    os.mkfifo(tmp_path / "demo" / "fsm.svg")
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fsm.svg" in err and "FIFO" in err
