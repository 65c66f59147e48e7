"""Tests of the readable drawing of large automata (issue 16, part 3): chains collapsed, rare
states folded, strongly connected components boxed, a word's path highlighted, the table view."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from fsm_extract.analysis.figures import automaton_svg
from fsm_extract.automata.automaton import ExtractedFSM
from fsm_extract.automata.diagram import HIGHLIGHT
from fsm_extract.automata.drawn_graph import strongly_connected, traffic_share
from fsm_extract.automata.render import to_svg
from fsm_extract.automata.table import symbol_set_label
from fsm_extract.cli import main
from fsm_extract.errors import ArgumentTypeError, UnknownSymbolError, ValidationError

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="the Graphviz `dot` program is not installed")
PLAIN = dict(fold=None, collapse_chains=False, clusters=False, view="diagram")


def with_evidence(alphabet, table, accepting, visits, initial=0, **kw) -> ExtractedFSM:
    """An acceptor whose evidence says state q was visited ``visits[q]`` times (its transitions
    observed as often, spread over the symbols)."""
    table = np.asarray(table)
    n, k = table.shape
    counts = np.zeros((n, k, n), np.int64)
    for q in range(n):
        for a in range(k):
            counts[q, a, table[q, a]] = max(1, visits[q] // k)
    outputs = np.array([[0, v] if acc else [v, 0] for v, acc in zip(visits, accepting)])
    return ExtractedFSM(alphabet, table, np.asarray(accepting), initial, counts, outputs, **kw)


def nodes(dot: str) -> dict[str, str]:
    return dict(re.findall(r"^\s*(\w+) \[(.*)\]$", dot, re.M))


def edges(dot: str) -> list[tuple[str, str, str]]:
    return re.findall(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$", dot, re.M)


@pytest.fixture
def chain() -> ExtractedFSM:
    """q0 (accepting, initial) -a,b-> q1 -> q2 -> q3 (rejecting, each on every symbol); q3 -a-> q0,
    -b-> q4 (accepting, loops)."""
    return ExtractedFSM("ab", [[1, 1], [2, 2], [3, 3], [0, 4], [4, 4]], [True, False, False, False, True], 0)


def hubs_and_chains(n_hubs: int = 5, chain_len: int = 7, seed: int = 0, rare: tuple[int, ...] = (1, 3)) -> ExtractedFSM:
    """A ring of ``n_hubs`` hubs, each entering on 'a' its own chain of ``chain_len`` states whose
    last state goes on 'a' to the next hub ('b': random hubs); the hubs in ``rare`` are rarely
    visited. 40 states by default, one strongly connected component."""
    rng = np.random.default_rng(seed)
    n = n_hubs * (1 + chain_len)
    table = np.zeros((n, 2), np.int64)
    for h in range(n_hubs):
        first = n_hubs + h * chain_len
        table[h] = [first, rng.integers(n_hubs)]
        for i in range(chain_len - 1):
            table[first + i] = first + i + 1
        table[first + chain_len - 1] = [(h + 1) % n_hubs, rng.integers(n_hubs)]
    accepting = [q < n_hubs and q % 2 == 0 for q in range(n)]
    visits = [2 if q in rare else 1000 if q < n_hubs else 200 for q in range(n)]
    return with_evidence("ab", table, accepting, visits)


# ----------------------------------------------------------------------------- chains
def test_a_chain_collapses_to_one_node_with_its_label(chain):
    dot = chain.to_dot(collapse_chains=True)
    found = nodes(dot)
    assert "chain_q1" in found and not {"q1", "q2", "q3"} & set(found)
    assert 'label="q1 → q2 → q3\\n(3 states)"' in found["chain_q1"] and "peripheries=1" in found["chain_q1"]
    drawn = {(a, b) for a, b, _ in edges(dot)}
    assert drawn == {("__start", "q0"), ("q0", "chain_q1"), ("chain_q1", "q0"), ("chain_q1", "q4"), ("q4", "q4")}
    assert 'label="a,b"' in [attrs for a, b, attrs in edges(dot) if (a, b) == ("q0", "chain_q1")][0]
    assert "chain_" not in chain.to_dot()  # automatic: only above 30 states
    assert "chain_" not in chain.to_dot(collapse_chains=False)


def test_chains_need_one_way_in_and_the_same_output():
    # q2 is also entered from q4, so q1 -> q2 is no link: the chain is q2 -> q3 only
    fsm = ExtractedFSM("ab", [[1, 1], [2, 2], [3, 3], [0, 4], [2, 4]], [True, False, False, False, True], 0)
    assert "chain_q1" not in fsm.to_dot(collapse_chains=True) and "chain_q2" in fsm.to_dot(collapse_chains=True)
    mixed = ExtractedFSM("ab", [[1, 1], [2, 2], [3, 3], [0, 4], [4, 4]], [True, False, True, False, True], 0)
    assert "chain_" not in mixed.to_dot(collapse_chains=True)  # q1, q2, q3 alternate outputs


# ----------------------------------------------------------------------------- folding
def test_a_rare_state_folds_with_its_share():
    fsm = with_evidence("ab", [[1, 2], [0, 2], [2, 3], [3, 0]], [True, False, True, False], [480, 480, 30, 10])
    share = traffic_share(fsm)
    assert share.round(3).tolist() == [0.48, 0.48, 0.03, 0.01]
    dot = fsm.to_dot(fold=0.02)
    found = nodes(dot)
    assert "rare_q3" in found and "q3" not in found and "q2" in found
    assert 'label="rare states (1, 1.0% of traffic)\\nq3"' in found["rare_q3"]
    assert {("q2", "rare_q3"), ("rare_q3", "rare_q3"), ("rare_q3", "q0")} <= {(a, b) for a, b, _ in edges(dot)}
    both = nodes(fsm.to_dot(fold=0.05))  # q2 and q3, rare, in one strongly connected component (with q0, q1)
    assert "rare_q2" in both and "(2, 4.0% of traffic)" in both["rare_q2"]
    assert "rare_" not in fsm.to_dot()  # automatic: only above 30 states


def test_the_initial_state_and_a_highlighted_path_are_never_folded():
    fsm = with_evidence("ab", [[1, 2], [0, 2], [2, 3], [3, 0]], [True, False, True, False], [5, 480, 480, 30])
    found = nodes(fsm.to_dot(fold=0.1))
    assert "q0" in found and "rare_q3" in found
    assert "q3" in nodes(fsm.to_dot(fold=0.1, highlight="bbb"))


def test_rare_states_group_by_strongly_connected_component():
    table = [[1, 3], [2, 2], [1, 0], [4, 4], [0, 0]]
    fsm = with_evidence("ab", table, [True] * 5, [1000, 5, 5, 5, 5])
    assert strongly_connected(fsm.transitions, np.ones(5, bool)).tolist() == [0, 0, 0, 0, 0]
    table = [[1, 3], [2, 2], [1, 1], [4, 4], [4, 0]]  # components {1, 2} (closed) and {0, 3, 4}
    fsm = with_evidence("ab", table, [True] * 5, [1000, 5, 5, 5, 5])
    labels = strongly_connected(fsm.transitions, np.ones(5, bool))
    assert labels[1] == labels[2] != labels[0] and labels[0] == labels[3] == labels[4]
    found = nodes(fsm.to_dot(fold=0.1))
    assert "rare_q1" in found and "(2," in found["rare_q1"]  # the component {1, 2}
    assert "rare_q3" in found and "q3 q4" in found["rare_q3"]  # the rare states of component {0, 3, 4}
    assert not {"q1", "q2", "q3", "q4"} & set(found)


# ----------------------------------------------------------------------------- highlight and clusters
def test_highlight_marks_exactly_the_path(chain):
    word = "abab"
    path = chain.run(word).tolist()  # 0 1 2 3 4
    dot = chain.to_dot(highlight=word, **PLAIN)
    lit_edges = {(a, b) for a, b, attrs in edges(dot) if HIGHLIGHT in attrs}
    assert lit_edges == {("__start", f"q{path[0]}")} | {(f"q{p}", f"q{t}") for p, t in zip(path, path[1:])}
    lit_nodes = {name for name, attrs in nodes(dot).items() if HIGHLIGHT in attrs}
    assert lit_nodes == {f"q{q}" for q in path}
    labels = [attrs for a, b, attrs in edges(dot) if (a, b) == ("q3", "q4")]
    assert any("step 4" in attrs for attrs in labels)
    assert "path of 'abab': q0 → q1 → q2 → q3 → q4 (accept)" in dot
    loop = chain.to_dot(highlight="abbbb", **PLAIN)  # q4 -b-> q4 is taken once: step 5
    assert any(HIGHLIGHT in attrs and "step 5" in attrs for a, b, attrs in edges(loop) if (a, b) == ("q4", "q4"))
    collapsed = nodes(chain.to_dot(highlight=word, collapse_chains=True))
    assert HIGHLIGHT in collapsed["chain_q1"] and "steps 2,3 inside" in collapsed["chain_q1"]


def test_strongly_connected_components_are_clusters():
    fsm = hubs_and_chains()
    dot = fsm.to_dot(collapse_chains=False, fold=None)
    clusters = re.findall(r"subgraph cluster_scc\d+ \{\s*\n\s*.*label=\"strongly connected: (\d+) states\"", dot)
    assert clusters == ["40"]
    assert "cluster_" not in fsm.to_dot(clusters=False)
    small = hubs_and_chains(n_hubs=3, chain_len=2)  # 9 states: automatic clusters only above 15
    assert "cluster_" not in small.to_dot() and "cluster_" in small.to_dot(clusters=True)
    assert "rankdir=TB" in fsm.to_dot(rankdir="TB")


# ----------------------------------------------------------------------------- table
def test_the_table_has_one_row_per_state_for_every_output_kind(chain):
    text = chain.to_table()
    lines = text.splitlines()
    assert lines[0].split() == ["state", "output", "traffic", "a", "b"]
    assert len(lines) == 2 + chain.n_states + 2 and lines[2].split() == ["->", "q0", "accept", "-", "q1", "q1"]
    html = chain.to_table(fmt="html")
    assert html.count("<tr>") == 1 + chain.n_states and "&lt;" not in html.split("</table>")[0].replace("&gt;", "")
    moore = ExtractedFSM("ab", [[1, 0], [1, 1]], None, 0, output_kind="classes", classes=[2, 0])
    assert "class 2" in moore.to_table() and "class 2" in moore.to_dot(view="table")
    probs = [[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]]
    nxt = ExtractedFSM("ab", [[1, 0], [1, 1]], None, 0, output_kind="next-symbol", classes=[0, 1],
                       codebook=probs, output_probs=probs)
    assert "a:0.50 b:0.30 $:0.20" in nxt.to_table() and "$:0.70" in nxt.to_dot(fold=0.5, collapse_chains=True)


def test_the_table_marks_completed_transitions_and_groups_large_alphabets():
    fsm = ExtractedFSM.from_counts(np.array([[[3, 0], [0, 0]], [[0, 2], [0, 2]]]), [[3, 0], [0, 4]], initial=0,
                                   alphabet="ab", completion=[[0, 1], [0, 0]])
    rows = fsm.to_table().splitlines()
    assert rows[2].split()[-2:] == ["q0", "q1*"] and "completed from the net" in rows[-1]
    assert rows[2].split()[3] == "75.0%" or "%" in rows[2]
    alphabet = "abcdefghij"
    big = ExtractedFSM(alphabet, [[0] * 7 + [1] * 3, [1] * 10], [True, False], 0)
    header, first = big.to_table().splitlines()[0], big.to_table().splitlines()[2]
    assert header.split() == ["state", "output", "traffic", "transitions"]
    assert "q0: a-g; q1: h-j" in first
    assert symbol_set_label([0, 1, 2, 4], tuple(alphabet)) == "a-c,e"
    assert symbol_set_label(list(range(10)), tuple(alphabet)) == "any"
    sixteen = tuple("abcdefghijklmnop")
    assert symbol_set_label([a for a in range(16) if a not in (2, 7, 12)], sixteen) == "not {c,h,m}"
    assert symbol_set_label([0, 1, 2, 3, 4, 5, 7], tuple(alphabet)) == "a-f,h"  # shorter than not {g,i,j}
    assert symbol_set_label([0, 1], ("0", "1")) == "0,1"
    assert 'label="a-g"' in big.to_dot()


def test_view_auto_draws_the_table_above_80_nodes():
    rng = np.random.default_rng(1)
    fsm = ExtractedFSM("ab", rng.integers(0, 120, (120, 2)), rng.random(120) < 0.5, 0)
    dot = fsm.to_dot()
    assert "<TABLE" in dot and dot.count("<TR>") == 1 + 120  # header, states
    assert "<TABLE" not in fsm.to_dot(view="diagram")


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("kwargs, error, text", [
    (dict(fold=1.5), ValidationError, "fold=1.5 must be a traffic share in [0, 1)"),
    (dict(fold=-0.1), ValidationError, "fold=-0.1"),
    (dict(fold="most"), ValidationError, "fold='most' must be 'auto'"),
    (dict(fold=True), ArgumentTypeError, "fold=True"),
    (dict(collapse_chains="yes"), ArgumentTypeError, "collapse_chains='yes' must be True, False or 'auto'"),
    (dict(clusters=1), ArgumentTypeError, "clusters=1 must be True, False or 'auto'"),
    (dict(view="graph"), ValidationError, "view='graph' must be one of 'auto', 'diagram', 'table'"),
    (dict(highlight="abc"), UnknownSymbolError, "highlight='abc' holds symbol 'c' at position 2"),
    (dict(highlight=5), ArgumentTypeError, "highlight=5"),
])
def test_options_are_validated(chain, kwargs, error, text):
    with pytest.raises(error, match=re.escape(text)):
        chain.to_dot(**kwargs)


def test_table_options_are_validated(chain, tmp_path):
    with pytest.raises(ValidationError, match=re.escape("fmt='md' must be one of 'text', 'html'")):
        chain.to_table(fmt="md")
    with pytest.raises(ValidationError, match="max_symbol_columns=0 must be >= 1"):
        chain.to_table(max_symbol_columns=0)
    with pytest.raises(ValidationError, match="fold=2"):
        chain.render(tmp_path / "x.svg", fold=2)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- sizes, report, CLI
@needs_dot
def test_a_40_state_automaton_is_drawn_far_narrower():
    fsm = hubs_and_chains()
    assert fsm.n_states == 40

    def width(**options) -> float:
        return float(re.search(r'<svg width="([\d.]+)pt"', to_svg(fsm, **options)).group(1))

    before, after = width(**PLAIN), width()
    assert after < 0.6 * before, (before, after)
    svg = to_svg(fsm)
    assert "rare states (2, &lt;0.1% of traffic)" in svg and "(7 states)" in svg and "q5 → q6" in svg


@needs_dot
def test_the_report_draws_large_automata_readable_or_as_a_table():
    svg, note = automaton_svg(hubs_and_chains(), [])
    assert svg.startswith("<svg") and "rare states" in svg and "folded" in note
    rng = np.random.default_rng(1)
    big = ExtractedFSM("ab", rng.integers(0, 120, (120, 2)), rng.random(120) < 0.5, 0)
    table, note = automaton_svg(big, [])
    assert table.startswith('<table class="fsm-table">') and "transition table" in note


def test_cli_render_options(tmp_path, capsys):
    path = tmp_path / "fsm.json"
    hubs_and_chains().save(path)
    assert main(["render", str(path), "--out", str(tmp_path / "a.dot"), "--highlight", "abab", "--fold", "0.05",
                 "--collapse-chains", "off", "--clusters", "on", "--rankdir", "TB"]) == 0
    dot = (tmp_path / "a.dot").read_text()
    assert HIGHLIGHT in dot and "rare states" in dot and "chain_" not in dot and "cluster_" in dot and "rankdir=TB" in dot
    assert main(["render", str(path), "--out", str(tmp_path / "t.txt")]) == 0
    assert len((tmp_path / "t.txt").read_text().splitlines()) == 2 + 40 + 2
    assert main(["render", str(path), "--out", str(tmp_path / "t.html")]) == 0
    assert (tmp_path / "t.html").read_text().startswith("<!DOCTYPE html>")
    assert main(["render", str(path), "--out", str(tmp_path / "b.dot"), "--fold", "2"]) != 0
    assert main(["render", str(path), "--out", str(tmp_path / "c.txt"), "--view", "diagram"]) != 0
    err = capsys.readouterr().err
    assert "--fold='2' must be a traffic share in [0, 1)" in err and "--view=diagram needs --out" in err
    assert not (tmp_path / "b.dot").exists() and not (tmp_path / "c.txt").exists()


def test_the_table_flags_residual_transitions_and_notebooks_show_it_for_large_automata():
    import numpy as np

    import fsm_extract as fx

    small = fx.ExtractedFSM("ab", [[1, 0], [0, 1]], [True, False], 0)
    rows = small.to_table(mark=[(0, "b")]).splitlines()
    assert rows[2].split()[-1] == "q0!" and rows[3].split()[-1] == "q1"  # only the marked one
    assert "q0!" in small.to_table(fmt="html", mark=[(0, "b")])
    assert small._repr_html_() is None  # a drawable automaton shows its diagram
    rng = np.random.default_rng(0)
    big = fx.ExtractedFSM("ab", rng.integers(0, 150, (150, 2)), rng.random(150) < 0.5, 0)
    html = big._repr_html_()
    assert big._repr_svg_() is None and html.startswith('<table class="fsm-table">') and html.count("<tr>") == 151
