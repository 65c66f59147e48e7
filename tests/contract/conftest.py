"""The bad-input contract, fuzzed and table-driven: what every file of this folder shares.

Every public function and CLI command, given wrong types, wrong shapes, NaN or infinite values,
empty inputs, unknown symbols, mismatched alphabets, missing files, corrupted or foreign JSON and
checkpoints, or parameters out of range, raises the package's own error: a subclass of
:class:`fsm_extract.FsmExtractError` *and* of the fitting built-in, whose message names the
argument. The CLI prints one line and exits 2. Writes are atomic: nothing half-written is left.

The folder, by concern:

- ``test_fsm_files.py``, ``test_checkpoints.py``, ``test_jsonl.py``, ``test_regex.py``: file
  fuzzing of ``load_fsm`` / ``ExtractedFSM.from_dict``, ``load_model``, ``datasets.load_jsonl``,
  and a small ``from_regex`` fuzz;
- ``test_cli_fuzz.py``: random subcommands, options and values, run in-process;
  ``test_cli_input.py``: the CLI's one-line errors, case by case;
- ``test_bad_input_table.py``: table-driven bad-input cases for the public functions;
- ``test_writes.py``: atomic writes under simulated write failures; ``test_output_paths.py``:
  outputs never replace anything but a regular file;
- ``test_determinism.py``: same seed, same automaton; ``test_bounded_memory.py``: costly but
  valid input in bounded memory (slow).

Known violations are kept as ``xfail(strict=True, reason="BUG: ...")`` tests (:func:`_bug`); the
fuzzers steer around exactly those inputs, so they stay green while the bugs are open.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import fsm_extract as fx
from fsm_extract.cli import main as cli_main


def _settings(n: int, *, explore: bool = False) -> settings:
    """Default runs are derandomized (the same examples every run: no flaky failures while others
    edit the package); the ``slow`` variants draw fresh examples each run to explore."""
    return settings(max_examples=n, deadline=None, database=None, derandomize=not explore,
                    suppress_health_check=list(HealthCheck))


FUZZ = _settings(500)


FUZZ_SLOW = _settings(4000, explore=True)


WORDS = ["0101", "000", "1", "1000", "", "110", "0001", "11", "0110", "10101", "1111", "0000", "10", "01"]


LABELS = [True, False, True, False, True, True, False, True, False, True, True, False, True, False]


def _bug(reason: str):
    return pytest.mark.xfail(strict=True, reason=f"BUG: {reason}")


def _leftovers(directory) -> list[str]:
    """Temporary files of atomic_write (``.<name>.<random>.tmp``) left anywhere under ``directory``."""
    return sorted(str(p) for p in Path(directory).rglob(".*.tmp"))


# ============================================================================= shared inputs


@pytest.fixture(scope="package")
def ctx(tmp_path_factory):
    """Small real objects and files every contract test uses (built once for the folder)."""
    d = tmp_path_factory.mktemp("contract_inputs")
    torch.manual_seed(0)
    model = fx.RNNClassifier("01", hidden_size=4)
    gru = fx.RNNClassifier("01", cell="gru", hidden_size=4)
    ds = fx.Dataset(WORDS, LABELS, "01", name="tiny")
    ds_ab = fx.Dataset(["ab", "ba", "a"], [True, False, True], "ab")
    fsm = fx.extract(model, ds, n_states=3)
    fsm_dfa = fx.ExtractedFSM.from_automata(fx.languages.tomita(4).dfa, alphabet="01")
    trace = fx.collect_trace(model, WORDS)
    abstraction = fx.KMeansAbstraction(n_states=3).fit(trace)

    files = SimpleNamespace(dir=d)
    files.model = model.save(d / "m.pt")
    files.gru = gru.save(d / "gru.pt")
    files.data = ds.to_jsonl(d / "d.jsonl")
    files.data_ab = ds_ab.to_jsonl(d / "ab.jsonl")
    files.one_class = fx.Dataset(["0", "00", "1"], [True, True, True], "01").to_jsonl(d / "one_class.jsonl")
    (d / "empty.jsonl").write_text("")
    files.empty = d / "empty.jsonl"
    (d / "bad.jsonl").write_text('{"word": "01", "label": true}\n{"word": 5, "label": true}\n')
    files.bad = d / "bad.jsonl"
    files.fsm = fsm.save(d / "fsm.json")
    files.fsm_dfa = fsm_dfa.save(d / "fsm_dfa.json")
    (d / "foreign.json").write_text(json.dumps({"format": "something-else", "version": 1}))
    files.foreign = d / "foreign.json"
    (d / "garbage.bin").write_bytes(bytes(range(256)) * 4)
    files.garbage = d / "garbage.bin"
    rng = np.random.default_rng(0)  # costly but valid: 300 states is minutes of dot; 30,000 a 13 GiB table
    files.big_fsm = fx.ExtractedFSM("01", rng.integers(0, 300, (300, 2)), rng.random(300) < 0.5, 0).save(d / "big_fsm.json")
    (d / "huge_fsm.json").write_text(json.dumps(dict(fsm.to_dict(), transitions=[[(q + 1) % 30_000, q] for q in range(30_000)],
                                                     accepting=[False] * 30_000, transition_counts=[], completed=[],
                                                     output_counts=[[0, 0]] * 30_000, centroids=None, cluster_map=None,
                                                     cluster_centroids=None)))
    (d / "adir").mkdir()
    files.adir = d / "adir"
    for name in ("fifo.json", "fifo.pt", "fifo.svg"):  # special output paths: never replaced
        os.mkfifo(d / name)
    try:
        os.mknod(d / "dev.json", stat.S_IFCHR | 0o600, os.makedev(1, 3))  # like /dev/null
    except PermissionError:
        os.mkfifo(d / "dev.json")
    (d / "dangling.json").symlink_to(d / "nothing-here.json")
    (d / "link_fifo.svg").symlink_to(d / "fifo.svg")
    (d / "link_target.json").write_text("{}")
    (d / "link.json").symlink_to(d / "link_target.json")  # a good output: the target is replaced
    (d / "afile").write_text("not a folder")
    files.afile = d / "afile"
    return SimpleNamespace(model=model, gru=gru, ds=ds, ds_ab=ds_ab, fsm=fsm, fsm_dfa=fsm_dfa, trace=trace,
                           abstraction=abstraction, files=files, valid_fsm_dict=fsm.to_dict(),
                           checkpoints=_base_checkpoints())


def _base_checkpoints() -> list[dict]:
    """Valid checkpoint payloads (as RNNClassifier.save writes them) of a few tiny nets."""
    out = []
    torch.manual_seed(1)
    for cell, layers, hidden, alphabet in [("lstm", 1, 2, "01"), ("gru", 2, 3, "01"), ("rnn", 1, 2, ("ab", "c"))]:
        m = fx.RNNClassifier(alphabet, cell=cell, hidden_size=hidden, num_layers=layers)
        out.append({
            "format": "fsm-extract/model",
            "version": 1,
            "config": dict(m.config),
            "state_dict": {k: v.detach().clone() for k, v in m.state_dict().items()},
            "metadata": {"note": "fuzz base"},
        })
    return out


# ============================================================================= JSON values (FSM and JSONL fuzzers)


_SPECIAL = st.sampled_from([
    math.nan, math.inf, -math.inf, -1, -(2**31), 2**31, 2**63 - 1, 2**63, 2**64, 10**30, -10**30, 0.5, 1e308,
    -0.0, True, False, None, "", "0", "x", [], {}, [[]], [0], [[0, 1]], {"a": 1},
])


_JSON_LEAF = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
              | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8) | _SPECIAL)


_JSON = st.recursive(_JSON_LEAF, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
                     max_leaves=12)


# ============================================================================= running the CLI in-process


def _run_cli(capsys, argv):
    try:
        rc = cli_main(argv)
    except SystemExit as exc:  # argparse: usage errors (2), --help and --version (0)
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err
