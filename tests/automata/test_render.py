"""Tests of fsm_extract.automata.render: DOT source and rendered files."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from fsm_extract.automata import render as render_module
from fsm_extract.automata.automaton import ExtractedFSM
from fsm_extract.errors import ArgumentTypeError, GraphvizNotFoundError, MissingFileError, ValidationError
import time

import fsm_extract as fx
from fsm_extract.errors import FsmExtractError

from ..helpers import _random_fsm


HAVE_DOT = shutil.which("dot") is not None


needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="the Graphviz `dot` program is not installed")


@pytest.fixture
def fsm() -> ExtractedFSM:
    """q0 -0,1-> q1 (accepting) -0-> q1, -1-> q2; q2 is a rejecting sink; (q2, 1) was completed;
    q1 -0-> q1 is weakly supported (8 of 10)."""
    counts = np.zeros((3, 2, 3), np.int64)
    counts[0, 0, 1] = counts[0, 1, 1] = 20
    counts[1, 0, 1], counts[1, 0, 2] = 8, 2
    counts[1, 1, 2] = 5
    counts[2, 0, 2] = 3
    return ExtractedFSM.from_counts(counts, [[3, 0], [0, 9], [7, 0]], initial=0, alphabet="01",
                                    completion=[[0, 0], [0, 0], [0, 2]])


def edges(dot: str) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for a, b, attrs in re.findall(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$", dot, re.M):
        out.setdefault((a, b), []).append(attrs)
    return out


def test_to_dot_states_start_and_double_circles(fsm):
    dot = fsm.to_dot()
    assert dot.startswith("digraph fsm {") and "rankdir=LR" in dot
    assert re.search(r'q1 \[label=q1 shape=doublecircle\]', dot)
    assert re.search(r'q0 \[label=q0 shape=circle\]', dot) and re.search(r"q2 \[label=q2", dot)
    assert re.search(r"__start \[label=\"\" .*shape=none", dot) and ("__start", "q0") in edges(dot)


def test_to_dot_merges_parallel_edges_and_dashes_weak_ones(fsm):
    e = edges(fsm.to_dot())
    assert len(e[("q0", "q1")]) == 1 and 'label="0,1"' in e[("q0", "q1")][0]
    assert "style=dashed" not in e[("q0", "q1")][0]
    weak = e[("q1", "q1")][0]  # confidence 0.8 < 0.99
    assert "style=dashed" in weak and "color=red3" in weak and "label=0" in weak
    completed = [a for a in e[("q2", "q2")] if "label=1" in a][0]
    assert "style=dashed" in completed and "gray" in completed
    solid = [a for a in e[("q2", "q2")] if "label=0" in a][0]
    assert "style=dashed" not in solid
    relaxed = edges(fsm.to_dot(min_confidence=0.5))
    assert "style=dashed" not in relaxed[("q1", "q1")][0]


def test_to_dot_hide_sink(fsm):
    dot = fsm.to_dot(hide_sink=True)
    assert "q2" not in edges(dot).__repr__() and not re.search(r"^\s*q2 \[", dot, re.M)
    assert "hidden" in dot  # a comment says so
    assert "q2 [" in fsm.to_dot()
    initial_sink = ExtractedFSM("a", [[0]], [False], 0)  # never hide the initial state
    assert "q0 [" in initial_sink.to_dot(hide_sink=True)


def test_to_dot_options_and_labels(fsm):
    dot = fsm.to_dot(show_support=True, title='My "FSM"', rankdir="TB")
    assert "rankdir=TB" in dot and r'label="My \"FSM\""' in dot
    assert r'label="0,1\nn=40 100%"' in dot and r'label="0\nn=10 80%"' in dot
    assert r"\n(completed)" in dot and r'q1 [label="q1\nacc 100%\nn=9"' in dot
    odd = ExtractedFSM(['"', "a:b"], [[0, 0]], [True], 0)
    assert r'label="\",a:b"' in odd.to_dot()


def test_dfa_diagrams_are_plain():
    fsm = ExtractedFSM("ab", [[1, 0], [1, 1]], [False, True], 0)  # no evidence: given transitions
    assert "dashed" not in fsm.to_dot()


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        (dict(min_confidence=1.5), ValidationError, "min_confidence=1.5"),
        (dict(rankdir="XY"), ValidationError, "rankdir='XY'"),
        (dict(hide_sink="yes"), ArgumentTypeError, "hide_sink"),
        (dict(title=3), ArgumentTypeError, "title=3"),
    ],
)
def test_to_dot_validates_options(fsm, kwargs, error, text):
    with pytest.raises(error, match=re.escape(text)):
        fsm.to_dot(**kwargs)
    with pytest.raises(ArgumentTypeError, match="ExtractedFSM"):
        render_module.to_dot("not an fsm")  # type: ignore[arg-type]


def test_render_dot_without_the_binary(fsm, tmp_path):
    path = fsm.render(tmp_path / "m.dot", hide_sink=True)
    assert path == tmp_path / "m.dot" and path.read_text() == fsm.to_dot(hide_sink=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.dot"]


@needs_dot
@pytest.mark.parametrize("suffix, magic", [(".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_render_binary_formats(fsm, tmp_path, suffix, magic):
    path = render_module.render(fsm, tmp_path / f"m{suffix}", title="t")
    assert path.read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [f"m{suffix}"]  # no temp files left


@needs_dot
def test_repr_svg(fsm):
    assert "<svg" in fsm._repr_svg_()


def test_render_rejects_unknown_suffix_before_writing(fsm, tmp_path):
    with pytest.raises(ValidationError) as info:
        fsm.render(tmp_path / "m.jpg")
    assert "m.jpg" in str(info.value) and ".svg, .png, .pdf, .dot" in str(info.value)
    with pytest.raises(MissingFileError):
        fsm.render(tmp_path / "missing" / "m.svg")
    assert list(tmp_path.iterdir()) == []


def test_render_without_dot_writes_the_dot_source(fsm, tmp_path, monkeypatch):
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(GraphvizNotFoundError) as info:
        fsm.render(out / "diagram.svg")
    msg = str(info.value)
    assert "diagram.dot" in msg and "apt-get install graphviz" in msg and "brew install graphviz" in msg
    assert isinstance(info.value, RuntimeError)
    assert [p.name for p in out.iterdir()] == ["diagram.dot"]
    assert (out / "diagram.dot").read_text() == fsm.to_dot()
    assert fsm._repr_svg_() is None


def test_repr_svg_skips_large_automata():
    big = ExtractedFSM("a", [[(q + 1) % 101] for q in range(101)], [False] * 101, 0)
    assert big._repr_svg_() is None


needs_dot = pytest.mark.skipif(__import__("shutil").which("dot") is None, reason="Graphviz dot not installed")


@pytest.mark.parametrize("n, k, what", [(300, 2, "300 states"), (60, 10, "edges")])
def test_render_refuses_a_diagram_too_large_for_dot(tmp_path, n, k, what):
    """Issue 18, 5: a 300-state FSM (8 KB of JSON) ran past 60 s in dot."""
    fsm = _random_fsm(n, k)
    t0 = time.perf_counter()
    with pytest.raises(ValidationError) as info:  # a diagram asked for (view="auto" would draw the table)
        fsm.render(tmp_path / "big.svg", view="diagram")
    assert time.perf_counter() - t0 < 10
    msg = str(info.value)
    assert what in msg and "max_states=100" in msg and ".dot" in msg and "view='table'" in msg and "\n" not in msg
    assert list(tmp_path.iterdir()) == []
    dot = fsm.render(tmp_path / "big.dot", view="diagram")  # the DOT source has no size limit: no layout runs
    assert dot.read_text() == fsm.to_dot(view="diagram")


@needs_dot
def test_render_limit_can_be_raised_by_keyword(tmp_path):
    chain = fx.ExtractedFSM("a", [[(q + 1) % 120] for q in range(120)], [q % 3 == 0 for q in range(120)], 0)
    plain = dict(view="diagram", collapse_chains=False)  # collapsed, the ring is 80 nodes
    with pytest.raises(ValidationError, match="120 nodes for 120 states.*max_states=100"):
        chain.render(tmp_path / "c.svg", **plain)
    assert chain.render(tmp_path / "c.svg", max_states=120, **plain).read_bytes().startswith(b"<?xml")
    with pytest.raises(ValidationError, match="max_states=0 must be >= 1"):
        chain.render(tmp_path / "c.svg", max_states=0)


@needs_dot
def test_render_stops_dot_after_the_timeout(tmp_path):
    fsm = _random_fsm(100, 2)  # about 4 s of layout
    t0 = time.perf_counter()
    with pytest.raises(fx.GraphvizTimeoutError) as info:
        fsm.render(tmp_path / "slow.svg", timeout=0.2, view="diagram")
    assert time.perf_counter() - t0 < 3
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, FsmExtractError)
    assert "timeout=0.2" in str(info.value) and "slow.svg" in str(info.value)
    assert list(tmp_path.iterdir()) == []
