"""Costly but well-formed input (issue 18): every resource a file or an argument asks for is
checked against what the file holds and against a stated limit before it is allocated, and
outputs never replace anything but a regular file.

Each test here failed before its fix. The heavy reproductions run in a subprocess under an
address-space cap, so a regression fails the test instead of exhausting the machine.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import fsm_extract as fx
from fsm_extract.errors import DataFormatError, FsmExtractError, ValidationError

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


# ============================================================================= 1. checkpoints
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


def test_cli_prints_one_line_for_a_huge_checkpoint(tmp_path):
    path = _expanded_checkpoint(tmp_path / "huge.pt", hidden=65536, layers=1)
    data = fx.Dataset(["01", "1"], [True, False], "01").to_jsonl(tmp_path / "d.jsonl")
    proc, _ = _run_capped(f"""
        import sys
        from fsm_extract.cli import main
        sys.exit(main(["extract", "--model", {str(path)!r}, "--data", {str(data)!r}, "--out", {str(tmp_path / 'o.json')!r}]))
    """)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1 and "max_parameters" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o.json").exists()


# ============================================================================= 2. FSM JSON
def _fsm_doc(n: int, alphabet=("0", "1"), *, sparse=(), outputs=None) -> dict:
    """A valid FSM document of ``n`` states: a cycle on the first symbol, self-loops on the rest."""
    return {
        "format": "fsm-extract/fsm", "version": 1, "alphabet": list(alphabet), "initial": 0,
        "transitions": [[(q + 1) % n] + [q] * (len(alphabet) - 1) for q in range(n)],
        "accepting": [q % 2 == 0 for q in range(n)], "transition_counts": [list(e) for e in sparse],
        "output_counts": outputs if outputs is not None else [[0, 0]] * n, "completed": [],
        "centroids": None, "cluster_map": None, "metadata": {},
    }


def _write_doc(path: Path, doc: dict) -> Path:
    import json

    path.write_text(json.dumps(doc, separators=(",", ":")))
    return path


def test_fsm_json_with_30000_states_is_refused_fast(tmp_path):
    """Issue 18, 2: 743 KB of JSON asked for a dense 13.4 GiB table (bare MemoryError)."""
    path = _write_doc(tmp_path / "big.json", _fsm_doc(30_000))
    assert path.stat().st_size < 800_000
    t0 = time.perf_counter()
    with pytest.raises(DataFormatError) as info:
        fx.load_fsm(path)
    assert time.perf_counter() - t0 < 10
    msg = str(info.value)
    assert "big.json" in msg and "30000 states" in msg and "max_states=4096" in msg and "\n" not in msg


def test_fsm_state_limit_can_be_raised_by_keyword(tmp_path):
    path = _write_doc(tmp_path / "m.json", _fsm_doc(100))
    with pytest.raises(DataFormatError, match="100 states.*max_states=50"):
        fx.load_fsm(path, max_states=50)
    assert fx.load_fsm(path, max_states=100).n_states == 100
    assert fx.ExtractedFSM.from_dict(_fsm_doc(100), max_states=100).n_states == 100
    with pytest.raises(DataFormatError, match="max_states=99"):
        fx.ExtractedFSM.from_dict(_fsm_doc(100), max_states=99)
    with pytest.raises(ValidationError, match="max_states=0 must be >= 1"):
        fx.load_fsm(path, max_states=0)


def test_fsm_table_limit_counts_the_alphabet(tmp_path):
    """The dense table is states x symbols x states: 600 states on 100 symbols is 36 million counts."""
    alphabet = [f"s{i}" for i in range(100)]
    path = _write_doc(tmp_path / "wide.json", _fsm_doc(600, alphabet))
    with pytest.raises(DataFormatError, match=r"600 x 100 x 600 = 36,000,000 counts.*max_states=4096"):
        fx.load_fsm(path)
    assert fx.load_fsm(path, max_states=8192).n_states == 600


@pytest.mark.parametrize("where", ["transition_counts", "output_counts"])
def test_counts_summing_past_int64_are_refused(tmp_path, where):
    """Two counts of 2**62 load today and give a support of -2**63."""
    big = 2**62
    doc = (_fsm_doc(2, sparse=[(0, 0, 1, big), (0, 0, 0, big)]) if where == "transition_counts"
           else _fsm_doc(2, outputs=[[big, big], [0, 0]]))
    with pytest.raises(DataFormatError, match=rf"{where} must sum to at most 2\*\*63 - 1"):
        fx.load_fsm(_write_doc(tmp_path / "over.json", doc))
    counts = np.zeros((2, 2, 2), np.int64)
    counts[0, 0] = big
    outputs = np.array([[big, big], [0, 0]], np.int64)
    with pytest.raises(ValidationError, match=rf"{where} must sum to at most 2\*\*63 - 1"):
        if where == "transition_counts":
            fx.ExtractedFSM("01", [[1, 0], [1, 1]], [False, True], 0, counts)
        else:
            fx.ExtractedFSM("01", [[1, 0], [1, 1]], [False, True], 0, output_counts=outputs)


def test_counts_just_below_int64_load(tmp_path):
    big = 2**62
    doc = _fsm_doc(2, sparse=[(0, 0, 1, big), (0, 0, 0, big - 1)])
    fsm = fx.load_fsm(_write_doc(tmp_path / "ok.json", doc))
    assert int(fsm.support[0, 0]) == 2**63 - 1 and int(fsm.transition_counts.sum()) == 2**63 - 1


def test_constructing_a_huge_fsm_without_counts_is_refused_before_allocating():
    """transition_counts=None means a dense zero table: 200,000 states would be 640 GB."""
    n = 200_000
    t0 = time.perf_counter()
    with pytest.raises(ValidationError) as info:
        fx.ExtractedFSM("01", np.zeros((n, 2), np.int64), np.zeros(n, bool), 0)
    assert time.perf_counter() - t0 < 10
    msg = str(info.value)
    assert "transition_counts=None" in msg and "200000 x 2 x 200000" in msg


# ============================================================================= 3. regexes
@pytest.mark.parametrize("pattern, needle", [
    ("a{1000000}", "NFA of 2,000,001 states"),            # issue 18, 5: past 60 s at 3.7 GB
    ("(a{1000}){1000}", "NFA of 2,001,001 states"),
    ("(a|b)*a(a|b){20}", "DFA of more than max_states=4000"),  # 2**21 DFA states from 90 NFA states
    ("(a?){3000}", "visiting more than 800,000 NFA states"),  # automata-lib's closures: minutes, GBs
])
def test_costly_regex_is_refused_fast(pattern, needle):
    t0 = time.perf_counter()
    with pytest.raises(ValidationError) as info:
        fx.languages.from_regex(pattern, alphabet="ab")
    assert time.perf_counter() - t0 < 10
    msg = str(info.value)
    assert needle in msg and f"pattern={pattern!r}" in msg and "max_states" in msg


def test_regex_limit_can_be_raised_by_keyword():
    with pytest.raises(ValidationError, match=r"NFA of 81 states.*4 x max_states=20"):
        fx.languages.from_regex("a{40}", alphabet="ab", max_states=20)
    with pytest.raises(ValidationError, match=r"DFA of more than max_states=30"):
        fx.languages.from_regex("a{40}", alphabet="ab", max_states=30)
    lang = fx.languages.from_regex("a{40}", alphabet="ab", max_states=41)
    assert lang.n_states == 42 and lang.accepts("a" * 40) and not lang.accepts("a" * 39)
    big = fx.languages.from_regex("(a|b)*a(a|b){9}", alphabet="ab")  # 1,024 DFA states
    assert big.n_states == 1024
    with pytest.raises(ValidationError, match="max_states=0 must be >= 1"):
        fx.languages.from_regex("a", alphabet="ab", max_states=0)


def test_regex_of_the_largest_allowed_size_is_built_in_seconds():
    """A 4,000-state chain: the subset construction and the minimisation (Moore refinement,
    quadratic on a chain, now with faster row ids) stay within a few seconds."""
    t0 = time.perf_counter()
    lang = fx.languages.from_regex("(ab){1999}", alphabet="ab")
    assert lang.n_states == 4000 and lang.accepts("ab" * 1999) and not lang.accepts("ab" * 1998)
    assert time.perf_counter() - t0 < 10


_REGEX_PIECES = ["a", "b", ".", "()", "[ab]", "(a|b)", "a*", "b+", "a?", "(ab)*", "a{2}", "b{1,3}", "(a|bb){0,2}",
                 "(a&.)", "(ab|b)*a", "(a^b)"]


def test_estimate_and_subset_construction_agree_with_automata_lib():
    """The bounded construction accepts the same language as automata-lib's DFA.from_nfa, and
    the estimate is exactly the NFA's size (an upper bound where '&' is involved)."""
    from automata.fa.dfa import DFA
    from automata.fa.nfa import NFA
    from hypothesis import given, settings, strategies as st

    from fsm_extract.data._regex import estimate_nfa_states

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.sampled_from(_REGEX_PIECES), min_size=1, max_size=4), st.sampled_from(["", "|", "*", "{2,}"]))
    def run(pieces, op):
        pattern = ("(" + "".join(pieces) + ")" + op) if op in ("*", "{2,}") else op.join(pieces) if op else "".join(pieces)
        nfa = NFA.from_regex(pattern, input_symbols={"a", "b"})
        estimate = estimate_nfa_states(pattern, "ab")
        assert estimate >= len(nfa.states) and ("&" in pattern or estimate == len(nfa.states))
        ours = fx.languages.from_regex(pattern, alphabet="ab")
        assert ours == fx.Language("ab", DFA.from_nfa(nfa))

    run()


def test_row_ids_partition_rows_like_numpy_unique(rng):
    from fsm_extract.data.dfa_tables import _row_ids

    for n, k, high in [(1, 1, 1), (50, 3, 4), (1000, 5, 3), (200, 2, 10**12)]:
        rows = rng.integers(0, high, (n, k))
        ours = _row_ids(rows)
        _, theirs = np.unique(rows, axis=0, return_inverse=True)
        pairs = set(zip(ours.tolist(), theirs.reshape(-1).tolist()))
        assert len(pairs) == len(set(ours.tolist())) == len(set(theirs.reshape(-1).tolist()))
        assert sorted(set(ours.tolist())) == list(range(len(pairs)))


# ============================================================================= 4. render
def _random_fsm(n: int, k: int = 2, seed: int = 0) -> fx.ExtractedFSM:
    rng = np.random.default_rng(seed)
    return fx.ExtractedFSM([str(i) for i in range(k)], rng.integers(0, n, (n, k)), rng.random(n) < 0.5, 0)


needs_dot = pytest.mark.skipif(__import__("shutil").which("dot") is None, reason="Graphviz dot not installed")


@pytest.mark.parametrize("n, k, what", [(300, 2, "300 states"), (60, 10, "edges")])
def test_render_refuses_a_diagram_too_large_for_dot(tmp_path, n, k, what):
    """Issue 18, 5: a 300-state FSM (8 KB of JSON) ran past 60 s in dot."""
    fsm = _random_fsm(n, k)
    t0 = time.perf_counter()
    with pytest.raises(ValidationError) as info:
        fsm.render(tmp_path / "big.svg")
    assert time.perf_counter() - t0 < 10
    msg = str(info.value)
    assert what in msg and "max_states=100" in msg and ".dot" in msg and "\n" not in msg
    assert list(tmp_path.iterdir()) == []
    dot = fsm.render(tmp_path / "big.dot")  # the DOT source has no size limit: no layout runs
    assert dot.read_text() == fsm.to_dot()


@needs_dot
def test_render_limit_can_be_raised_by_keyword(tmp_path):
    chain = fx.ExtractedFSM("a", [[(q + 1) % 120] for q in range(120)], [q % 3 == 0 for q in range(120)], 0)
    with pytest.raises(ValidationError, match="120 states.*max_states=100"):
        chain.render(tmp_path / "c.svg")
    assert chain.render(tmp_path / "c.svg", max_states=120).read_bytes().startswith(b"<?xml")
    with pytest.raises(ValidationError, match="max_states=0 must be >= 1"):
        chain.render(tmp_path / "c.svg", max_states=0)


@needs_dot
def test_render_stops_dot_after_the_timeout(tmp_path):
    fsm = _random_fsm(100, 2)  # about 4 s of layout
    t0 = time.perf_counter()
    with pytest.raises(fx.GraphvizTimeoutError) as info:
        fsm.render(tmp_path / "slow.svg", timeout=0.2)
    assert time.perf_counter() - t0 < 3
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, FsmExtractError)
    assert "timeout=0.2" in str(info.value) and "slow.svg" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_cli_render_of_a_large_fsm_is_one_line(tmp_path, capsys):
    from fsm_extract.cli import main

    path = _random_fsm(300).save(tmp_path / "big.json")
    assert path.stat().st_size < 12_000
    t0 = time.perf_counter()
    assert main(["render", str(path), "--out", str(tmp_path / "big.svg")]) == 2
    assert time.perf_counter() - t0 < 10
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "max_states=100" in err and "--max-states" in err
    assert not (tmp_path / "big.svg").exists()
    assert main(["render", str(path), "--out", str(tmp_path / "big.dot")]) == 0


# ============================================================================= 5. outputs
import os  # noqa: E402
import socket  # noqa: E402
import stat  # noqa: E402


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


# ============================================================================= 6. float64 / bfloat16 models
class _Net(torch.nn.Module):
    def __init__(self, cell=torch.nn.LSTM, layers=1):
        super().__init__()
        self.emb = torch.nn.Embedding(2, 3)
        self.rnn = cell(3, 6, num_layers=layers, batch_first=True)
        self.out = torch.nn.Linear(6, 1)


def _adapter(net, embedding=None):
    return fx.RecurrentAdapter(embedding=embedding or net.emb, rnn=net.rnn, head=net.out, alphabet="01")


WORDS = ["", "0", "1", "0110", "111", "1010101", "00", "01", "10"] * 4


@pytest.mark.parametrize("cell, layers", [(torch.nn.LSTM, 1), (torch.nn.LSTM, 2), (torch.nn.GRU, 1)])
def test_float64_model_matches_its_float32_copy(cell, layers):
    """Issue 18, 8: float64 weights failed on every call with a torch dtype error."""
    torch.manual_seed(0)
    net32 = _Net(cell, layers)
    net64 = __import__("copy").deepcopy(net32).double()
    a32, a64 = _adapter(net32), _adapter(net64)
    for state in (["h", "hc"] if cell is torch.nn.LSTM else ["h"]):
        t32, t64 = fx.collect_trace(a32, WORDS, state=state), fx.collect_trace(a64, WORDS, state=state)
        assert t64.hidden.dtype == np.float32 and t64.outputs.dtype == np.float32
        np.testing.assert_allclose(t64.hidden, t32.hidden, atol=1e-5)
        np.testing.assert_allclose(t64.outputs, t32.outputs, atol=1e-5)
        assert abs(t64.h0_output - t32.h0_output) < 1e-6
    np.testing.assert_allclose(a64.predict_proba(WORDS), a32.predict_proba(WORDS), atol=1e-5)
    fsm = fx.extract(a64, WORDS, n_states=3, seed=0)
    report = fx.fidelity(a64, fsm, WORDS)
    assert fsm.n_states >= 1 and 0 <= report.to_dict()["prefix_agreement"] <= 1


def test_float64_step_from_and_a_float32_embedding():
    """step_from takes float32 states and runs them in the model's dtype; an embedding giving
    float32 (one-hot) inputs to a float64 net is cast to the net's dtype."""
    from fsm_extract.nets.net import step_from

    torch.manual_seed(0)
    net = _Net().double()
    adapter = _adapter(net, embedding=lambda ids: torch.nn.functional.one_hot(ids, 2).float() @ torch.ones(2, 3))
    states = np.random.default_rng(0).normal(size=(5, 12)).astype(np.float32)
    nxt, out = step_from(adapter, states, np.array([0, 1, 0, 1, 1]), state="hc")
    assert nxt.dtype == np.float32 and out.dtype == np.float32 and np.isfinite(nxt).all()
    assert fx.collect_trace(adapter, WORDS).n_steps > 0


def test_bfloat16_model_extracts_and_measures():
    torch.manual_seed(0)
    net = _Net().to(torch.bfloat16)
    adapter = _adapter(net)
    trace = fx.collect_trace(adapter, WORDS, state="hc")
    assert trace.hidden.dtype == np.float32 and np.isfinite(trace.hidden).all()
    ref = fx.collect_trace(_adapter(__import__("copy").deepcopy(net).float()), WORDS, state="hc")
    np.testing.assert_allclose(trace.hidden, ref.hidden, atol=0.1)  # bfloat16 keeps 8 bits of mantissa
    fsm = fx.extract(adapter, WORDS, n_states=3, seed=0)
    fx.fidelity(adapter, fsm, WORDS)


# ============================================================================= 7. the head's output shape
def test_a_squeezing_head_is_caught_at_construction():
    """Issue 18, 9: ``lambda h: lin(h).squeeze()`` gave a bare IndexError on the (1, H) state."""
    torch.manual_seed(0)
    net = _Net()
    with pytest.raises(ValidationError) as info:
        fx.RecurrentAdapter(embedding=net.emb, rnn=net.rnn, head=lambda h: net.out(h).squeeze(), alphabet="01")
    msg = str(info.value)
    assert msg.startswith("head must map") and "squeeze" in msg and "(1, 6) gave shape ()" in msg


def test_a_bad_head_swapped_in_later_is_a_validation_error():
    torch.manual_seed(0)
    net = _Net()
    adapter = _adapter(net)
    adapter.head = lambda h: net.out(h).squeeze()
    with pytest.raises(ValidationError, match=r"head must map .*gave shape \(\)"):
        fx.collect_trace(adapter, ["01", "1"])


@pytest.mark.parametrize("head, needle", [
    (lambda h: (h.sum(-1, keepdim=True) > 0).long(), "dtype torch.int64"),
    (lambda h: h[..., :3], "gave shape (2, 3, 3)"),
    (lambda h: h.sum().reshape(1), "gave shape (1,)"),
    (lambda h: "logit", "gave str"),
    (lambda h: 1 / 0, "raised ZeroDivisionError"),
])
def test_heads_of_the_wrong_kind_are_refused_at_construction(head, needle):
    net = _Net()
    with pytest.raises(ValidationError) as info:
        fx.RecurrentAdapter(embedding=net.emb, rnn=net.rnn, head=head, alphabet="01")
    assert str(info.value).startswith("head must map") and needle in str(info.value)


def test_heads_of_every_allowed_shape_are_accepted():
    net = _Net()
    for head in (net.out, lambda h: net.out(h)[..., 0], lambda h: torch.cat([-net.out(h), net.out(h)], -1)):
        adapter = fx.RecurrentAdapter(embedding=net.emb, rnn=net.rnn, head=head, alphabet="01")
        assert fx.collect_trace(adapter, ["01", ""]).n_steps == 2


class _NormHead(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.norm, self.lin = torch.nn.BatchNorm1d(6), torch.nn.Linear(6, 1)

    def forward(self, h):
        return self.lin(self.norm(h.reshape(-1, 6))).reshape(*h.shape[:-1], 1)


def test_the_head_probe_leaves_a_training_batch_norm_head_alone():
    """A head module is probed in eval mode: a batch of one does not break batch norm and its
    running statistics do not move; its training mode is restored."""
    net, head = _Net(), _NormHead()
    head.train()
    before = head.norm.running_mean.clone()
    fx.RecurrentAdapter(embedding=net.emb, rnn=net.rnn, head=head, alphabet="01")
    assert head.training and torch.equal(head.norm.running_mean, before)
