"""File fuzzing of ``load_model`` (checkpoints): random bytes, truncated or flipped files, mutated
payloads and costly configs raise only DataFormatError (or MissingFileError), naming the file."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import fsm_extract as fx

from .conftest import FUZZ, FUZZ_SLOW


_CFG_POOLS = {
    "alphabet": ["01", ["0", "1"], ["0", "0"], [], "", None, 5, ["0", 1], {"0": 1}, ["0", ""], ("0", "1"),
                 ["a", "b", "c"], b"01", [["0"]]],
    "cell": ["lstm", "gru", "rnn", "LSTM", "x", None, 1, ["lstm"], ""],
    "hidden_size": [-1, 0, 1, 2, 3, 4, 65537, 10**20, True, 2.0, "4", None, [4]],
    "num_layers": [-1, 0, 1, 2, 3, 65, True, 1.0, None, "1"],
    "embedding_dim": [-1, 0, 1, 2, 4, 65537, None, "4", 2.5, False],
}


_NON_TENSORS = [None, 1, 1.5, "x", [1.0], {"a": 1}, (1, 2), b"\x00"]


_DTYPES = [torch.int64, torch.bool, torch.float16, torch.float64, torch.uint8, torch.int8]


_SMALL_SHAPES = st.lists(st.integers(0, 5), min_size=0, max_size=3)


def _tensor_strategy():
    return st.builds(lambda shape, fill: torch.full(tuple(shape), fill), _SMALL_SHAPES,
                     st.floats(allow_nan=True, allow_infinity=True, width=32))


_TORCH_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**62), 2**62) | st.floats() | st.text(max_size=6) | _tensor_strategy(),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6) | st.integers(0, 5), c, max_size=4),
    max_leaves=10,
)


def _serialize(payload, legacy: bool = False) -> bytes:
    buf = io.BytesIO()
    if legacy:
        torch.save(payload, buf, _use_new_zipfile_serialization=False)
    else:
        torch.save(payload, buf)
    return buf.getvalue()


@st.composite
def _mutated_payload(draw, bases: list[dict]):
    base = draw(st.sampled_from(bases))
    payload = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    payload["state_dict"] = {k: v.clone() for k, v in base["state_dict"].items()}
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["config_value", "config_drop", "config_type", "sd_drop", "sd_shape", "sd_nan",
                                   "sd_dtype", "sd_nontensor", "sd_extra", "sd_type", "format", "version", "drop",
                                   "metadata", "sd_expand", "costly"]))
        cfg, sd = payload.get("config"), payload.get("state_dict")
        if op.startswith("config") and not isinstance(cfg, dict):
            continue
        if op.startswith("sd") and not (isinstance(sd, dict) and sd):
            continue
        if op == "config_value":
            key = draw(st.sampled_from(sorted(_CFG_POOLS)))
            cfg[key] = draw(st.sampled_from(_CFG_POOLS[key]))
        elif op == "config_drop":
            cfg.pop(draw(st.sampled_from(sorted(cfg))), None) if cfg else None
        elif op == "config_type":
            payload["config"] = draw(st.sampled_from([None, [], "x", 5, torch.zeros(2)]))
        elif op == "sd_drop":
            sd.pop(draw(st.sampled_from(sorted(sd))))
        elif op == "sd_shape":
            sd[draw(st.sampled_from(sorted(sd)))] = torch.zeros(tuple(draw(_SMALL_SHAPES)))
        elif op == "sd_nan":
            key = draw(st.sampled_from(sorted(sd)))
            if not isinstance(sd[key], torch.Tensor):
                continue
            t = sd[key].clone().float()
            if t.numel():
                t.view(-1)[draw(st.integers(0, t.numel() - 1))] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
            sd[key] = t
        elif op == "sd_dtype":
            key = draw(st.sampled_from(sorted(sd)))
            if isinstance(sd[key], torch.Tensor):
                sd[key] = sd[key].to(draw(st.sampled_from(_DTYPES)))
        elif op == "sd_nontensor":
            sd[draw(st.sampled_from(sorted(sd)))] = draw(st.sampled_from(_NON_TENSORS))
        elif op == "sd_extra":
            # string keys only: a non-string key is a known bug (test_load_model_state_dict_with_int_key)
            sd[draw(st.sampled_from(["extra", "rnn.weight_ih_l9", "head.weight.x", ""]))] = torch.zeros(2)
        elif op == "sd_type":
            payload["state_dict"] = draw(st.sampled_from([None, [], "x", torch.zeros(2), [("head.bias", torch.zeros(1))]]))
        elif op == "format":
            payload["format"] = draw(st.sampled_from(["", "fsm-extract/fsm", "FSM-EXTRACT/MODEL", None, 1]))
        elif op == "version":
            payload["version"] = draw(st.sampled_from([0, 2, -1, "1", None, 1.5, 10**30]))
        elif op == "drop":
            payload.pop(draw(st.sampled_from(sorted(payload))), None)
        elif op == "metadata":
            payload["metadata"] = draw(st.sampled_from([None, [], "x", {"a": math.nan}, {"k": torch.zeros(1)}]))
        elif op == "sd_expand":  # costly but well-formed: one stored value read with stride 0, or overlapping rows
            key = draw(st.sampled_from(sorted(sd)))
            if isinstance(sd[key], torch.Tensor) and sd[key].numel() > 1:
                shape = tuple(sd[key].shape)
                sd[key] = (torch.zeros(1).expand(shape) if len(shape) == 1 or draw(st.booleans())
                           else torch.zeros(sum(shape)).as_strided(shape, (1,) * len(shape)))
        elif op == "costly":  # a small file whose config asks for a huge net, every weight expanded from one value
            payload["config"] = cfg = {"alphabet": ["0", "1"], "cell": draw(st.sampled_from(["lstm", "gru", "rnn"])),
                                       "hidden_size": draw(st.sampled_from([1024, 16384, 65536])),
                                       "num_layers": draw(st.integers(1, 4)), "embedding_dim": 4}
            payload["state_dict"] = _expanded_weights(cfg)
            break  # the last mutation: cloning or casting these weights would materialise them
    return payload


def _expanded_weights(cfg: dict) -> dict:
    """The weights ``cfg`` asks for, each one stored zero expanded with stride 0."""
    z, h = torch.zeros(1), cfg["hidden_size"]
    gh = {"lstm": 4, "gru": 3, "rnn": 1}[cfg["cell"]] * h
    sd = {"embedding.weight": z.expand(2, 4), "head.weight": z.expand(1, h), "head.bias": z.expand(1)}
    for k in range(cfg["num_layers"]):
        sd.update({f"rnn.weight_ih_l{k}": z.expand(gh, 4 if k == 0 else h), f"rnn.weight_hh_l{k}": z.expand(gh, h),
                   f"rnn.bias_ih_l{k}": z.expand(gh), f"rnn.bias_hh_l{k}": z.expand(gh)})
    return sd


@st.composite
def _checkpoint_bytes(draw, bases: list[dict]):
    kind = draw(st.sampled_from(["random_bytes", "truncated", "flipped", "random_value", "mutated", "mutated",
                                 "mutated", "mutated", "valid"]))
    legacy = draw(st.booleans())
    if kind == "random_bytes":
        return draw(st.binary(max_size=400))
    if kind == "random_value":
        return _serialize(draw(_TORCH_VALUES), legacy)
    if kind == "valid":
        return _serialize(draw(st.sampled_from(bases)), legacy)
    raw = _serialize(draw(_mutated_payload(bases)) if kind == "mutated" else draw(st.sampled_from(bases)), legacy)
    if kind == "truncated":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if kind == "flipped":
        data = bytearray(raw)
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        return bytes(data)
    return raw


def _fuzz_checkpoints(ctx, tmp: Path, config) -> int:
    seen = []

    @config
    @given(_checkpoint_bytes(ctx.checkpoints))
    def run(raw):
        path = tmp / "model.pt"
        path.write_bytes(raw)
        try:
            model = fx.load_model(path)
        except (fx.DataFormatError, fx.MissingFileError) as exc:
            assert str(path) in str(exc)
        else:
            assert isinstance(model, fx.RNNClassifier)
            assert all(torch.isfinite(t).all() for t in model.state_dict().values())
            model.predict([(), (model.alphabet[0],)])
        seen.append(1)

    run()
    return len(seen)


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch's notes on odd pickle protocols and casts
def test_fuzz_load_model(ctx, tmp_path):
    """>= 500 generated checkpoint files: only DataFormatError (or MissingFileError) escapes."""
    assert _fuzz_checkpoints(ctx, tmp_path, FUZZ) >= 500


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fuzz_load_model_slow(ctx, tmp_path):
    assert _fuzz_checkpoints(ctx, tmp_path, FUZZ_SLOW) >= 4000


def test_load_model_state_dict_with_int_key(ctx, tmp_path):
    payload = dict(ctx.checkpoints[0])
    payload["state_dict"] = {**payload["state_dict"], 5: torch.zeros(1)}
    (tmp_path / "m.pt").write_bytes(_serialize(payload))
    with pytest.raises(fx.DataFormatError):
        fx.load_model(tmp_path / "m.pt")


def test_load_model_wrong_shape_message_names_the_weight(ctx, tmp_path):
    payload = dict(ctx.checkpoints[0])
    payload["state_dict"] = {**payload["state_dict"], "rnn.weight_hh_l0": torch.zeros(3, 3)}
    (tmp_path / "m.pt").write_bytes(_serialize(payload))
    with pytest.raises(fx.DataFormatError, match="rnn.weight_hh_l0"):
        fx.load_model(tmp_path / "m.pt")


def test_load_model_bad_map_location_names_the_argument(ctx):
    with pytest.raises(fx.ValidationError, match="map_location"):
        fx.load_model(ctx.files.model, map_location="bogus")
