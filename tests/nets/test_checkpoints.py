"""Tests of fsm_extract.nets.checkpoints and nets._checkpoint: load_model round trips, refuses
corrupted or foreign files, and checks every weight against the config and the parameter limit
before torch allocates it."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch

import fsm_extract as fx
from fsm_extract.errors import DataFormatError, MissingFileError, ValidationError
from fsm_extract.nets.checkpoints import load_model
from fsm_extract.nets.models import RNNClassifier

from ..helpers import _expanded_checkpoint, _run_capped


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(2)
    m = RNNClassifier("01", cell="gru", hidden_size=6, num_layers=2)
    path = m.save(tmp_path / "m.pt")
    m2 = fx.load_model(path)
    assert m2.config == m.config and m2.alphabet == ("0", "1")
    words = ["0101", "1", "", "000111"]
    np.testing.assert_array_equal(m.predict_proba(words), m2.predict_proba(words))


def test_load_missing_and_corrupted(tmp_path):
    with pytest.raises(MissingFileError, match="path=") as ei:
        load_model(tmp_path / "nope.pt")
    assert isinstance(ei.value, FileNotFoundError)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(DataFormatError, match="checkpoint"):
        load_model(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(DataFormatError, match="format"):
        load_model(foreign)
    m = RNNClassifier("01", hidden_size=4)
    payload = {"format": "fsm-extract/model", "version": 99, "config": m.config, "state_dict": m.state_dict()}
    torch.save(payload, foreign)
    with pytest.raises(DataFormatError, match="version 99"):
        load_model(foreign)
    payload["version"] = 1
    payload["config"] = dict(m.config, hidden_size=5)  # weights do not fit the config
    torch.save(payload, foreign)
    with pytest.raises(DataFormatError, match="invalid"):
        load_model(foreign)
    sd = {k: v.clone() for k, v in m.state_dict().items()}
    sd["head.bias"][0] = float("nan")
    torch.save({"format": "fsm-extract/model", "version": 1, "config": m.config, "state_dict": sd}, foreign)
    with pytest.raises(DataFormatError, match="finite"):
        load_model(foreign)


def _payload(model: fx.RNNClassifier) -> dict:
    return {"format": "fsm-extract/model", "version": 1, "config": dict(model.config),
            "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()}, "metadata": {}}


def test_stride0_weights_are_refused_naming_the_weight(tmp_path):
    path = _expanded_checkpoint(tmp_path / "small.pt", hidden=8, layers=1)
    with pytest.raises(DataFormatError) as info:
        fx.load_model(path)
    msg = str(info.value)
    assert "'embedding.weight'" in msg and "stride" in msg and "small.pt" in msg


def test_overlapping_strides_are_refused(tmp_path):
    torch.manual_seed(0)
    payload = _payload(fx.RNNClassifier("01", hidden_size=2))
    # 4 x 4 elements read from 7 stored values: rows overlap
    payload["state_dict"]["embedding.weight"] = torch.arange(7.0).as_strided((2, 4), (1, 1))
    torch.save(payload, tmp_path / "overlap.pt")
    with pytest.raises(DataFormatError, match=r"'embedding.weight'.*(overlap|stride)"):
        fx.load_model(tmp_path / "overlap.pt")


def test_view_into_a_tiny_storage_is_refused(tmp_path):
    """The pickle declares a 64 x 64 weight over a storage of 4 values (bytes patched)."""
    torch.save({"w": torch.ones(64, 64)}, tmp_path / "full.pt")
    src = zipfile.ZipFile(tmp_path / "full.pt")
    with zipfile.ZipFile(tmp_path / "short.pt", "w") as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("data/0"):
                data = data[:16]
            if info.filename.endswith("data.pkl"):
                data = data.replace(b"M\x00\x10", b"K\x04")  # storage numel 4096 -> 4
            out.writestr(info, data)
    with pytest.raises(DataFormatError):
        fx.load_model(tmp_path / "short.pt")


def test_parameter_limit_is_checked_and_can_be_raised(tmp_path):
    torch.manual_seed(0)
    model = fx.RNNClassifier("01", hidden_size=16)
    n = sum(v.numel() for v in model.state_dict().values())
    path = model.save(tmp_path / "m.pt")
    with pytest.raises(DataFormatError) as info:
        fx.load_model(path, max_parameters=n - 1)
    msg = str(info.value)
    assert f"max_parameters={n - 1:,}" in msg and f"{n:,} parameters" in msg and "hidden_size=16" in msg
    assert fx.load_model(path, max_parameters=n).hidden_size == 16
    with pytest.raises(ValidationError, match="max_parameters=0 must be >= 1"):
        fx.load_model(path, max_parameters=0)


def test_compressed_records_cannot_ask_for_more_than_the_limit(tmp_path):
    """torch reads deflated zip records: a 16 KiB file may unpack to 16 MiB. The unpacked size
    is checked against the parameter limit before torch reads anything."""
    torch.manual_seed(0)
    path = fx.RNNClassifier("01", hidden_size=2).save(tmp_path / "m.pt")
    src = zipfile.ZipFile(path)
    with zipfile.ZipFile(tmp_path / "bomb.pt", "w", compression=zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info.filename))
        out.writestr("m/extra", bytes(16 * 2**20))
    assert (tmp_path / "bomb.pt").stat().st_size < 100_000
    with pytest.raises(DataFormatError, match=r"bomb.pt.*unpack.*max_parameters=1,000"):
        fx.load_model(tmp_path / "bomb.pt", max_parameters=1000)


@pytest.mark.parametrize("hidden, layers", [(65536, 1), (16384, 4)], ids=["H65536", "H16384x4"])
def test_huge_expanded_checkpoint_is_refused_fast_in_little_memory(tmp_path, hidden, layers):
    """Issue 18, 1: a 2.4 KB file asking for 68.7 GB, and a 3.3 KB one asking for 34 GB."""
    path = _expanded_checkpoint(tmp_path / "huge.pt", hidden=hidden, layers=layers)
    assert path.stat().st_size < 4000
    proc, seconds = _run_capped(f"""
        import fsm_extract as fx
        try:
            fx.load_model({str(path)!r})
        except fx.DataFormatError as exc:
            print("REFUSED", exc)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "REFUSED" in proc.stdout and "max_parameters" in proc.stdout
    assert seconds < 30  # the child's own work is well under 10 s; most of this is importing torch
