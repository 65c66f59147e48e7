"""Tests of the HTML report (fsm_extract.analysis.html, html_sections, figures): the parts of the
page, every figure against ``to_dict()``, no external resource, escaping, atomic writes, bad
arguments, the notebook views; and (slow) the page as Chromium renders it."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess

import numpy as np
import pytest

import fsm_extract as fx
from fsm_extract.analysis.fidelity import evaluate_trace
from fsm_extract.analysis.search import Disagreement, SearchResult
from fsm_extract.cli import main as cli_main
from fsm_extract.errors import ArgumentTypeError, FsmExtractError, MissingFileError, ValidationError, WriteError
from fsm_extract.extraction.front import FrontPoint, ParetoFront
from fsm_extract.extraction.sweep import SweepResult

from .conftest import HIDDEN, LABELS, OUTPUTS, WORDS, ends_with_a, make_trace, parity_fsm

SVG_NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
SECTIONS = ("automaton", "lengths", "residual", "states", "search", "details", "provenance")


@pytest.fixture(scope="module")
def report():
    return evaluate_trace(parity_fsm(), make_trace(WORDS, HIDDEN, OUTPUTS), labels=LABELS, reference=ends_with_a(),
                          held_out=True, max_fit_length=2)


def _front() -> ParetoFront:
    fsm = parity_fsm()
    pts = (FrontPoint(n_states=1, agreement=0.75, word_agreement=0.5, beyond_agreement=None, task_accuracy=0.5, fsm=fsm),
           FrontPoint(n_states=2, agreement=0.999, word_agreement=0.99, beyond_agreement=0.98, task_accuracy=1.0, fsm=fsm))
    return ParetoFront(points=pts, candidates=pts, net_accuracy=1.0, evaluated_on="40 held-out words")


def _search() -> SearchResult:
    found = Disagreement(word="abba", net_accepts=True, fsm_accepts=False, step=2, state=1, symbol="b", strategy="explore")
    return SearchResult(disagreements=(found,), steps_spent=900, budget=1000,
                        by_strategy={"explore": {"steps": 900, "found": 1}})


def _resolve(d, key: str):
    """The value at a dotted ``data-key`` in a dict (list indices as numbers); a list is counted."""
    value = d
    for part in key.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return len(value) if isinstance(value, list) else value


def _figures(page: str) -> list[tuple[str, object]]:
    return [(k, json.loads(v.replace("&quot;", '"').replace("&#x27;", "'").replace("&amp;", "&")))
            for k, v in re.findall(r'data-key="([^"]+)" data-value="([^"]*)"', page)]


def test_page_has_every_part_and_its_figures_are_the_to_dict_values(report, tmp_path):
    path = report.to_html(tmp_path / "r.html", fsm=parity_fsm(), front=_front(), search=_search(), command="x --y")
    assert path == tmp_path / "r.html"
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for part in (*SECTIONS, "front"):
        assert f'<section id="{part}">' in page, part
    assert page.count("<svg") >= 2  # the diagram and the front plot (and the legend's samples)
    d = report.to_dict()
    d["search"] = _search().to_dict()
    figures = _figures(page)
    assert len(figures) > 40
    for key, value in figures:
        if key.startswith("front."):
            assert _resolve({"front": _front().to_dict()}, key) == value, key
        else:
            assert _resolve(d, key) == value, key
    keys = {k for k, _ in figures}
    assert {"prefix_agreement", "word_agreement", "residual.0.share", "examples.1.agreement", "headline",
            "search.disagreements", "front.points.1.agreement", "reference.fsm_equivalent"} <= keys
    embedded = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(embedded) == json.loads(json.dumps(d))  # the page carries the whole to_dict
    assert "<code>abba</code>" in page and "x --y" in page  # the search's find; the command


def test_the_diagram_marks_residual_and_completed_transitions(report):
    dot = parity_fsm().to_dot(mark=[(1, "b")])
    assert re.search(r'q1 -> q1 \[label=b color=red3 .*style=dashed', dot)  # residual (red) and completed (dashed)
    assert "red3" not in parity_fsm().to_dot()
    from fsm_extract.analysis.html_sections import residual_marks

    assert residual_marks(report.to_dict()) == [(1, "b")]  # the conflict at (q0, a) changes no answer: not marked
    with pytest.raises(ValidationError, match="mark symbol 'c'"):
        parity_fsm().to_dot(mark=[(0, "c")])
    with pytest.raises(ArgumentTypeError, match="mark"):
        parity_fsm().to_dot(mark="ab")


def test_no_external_resources(report, tmp_path):
    page = report.to_html(tmp_path / "r.html", fsm=parity_fsm(), front=_front()).read_text(encoding="utf-8")
    assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) <= SVG_NAMESPACES
    for needle in ("<link", "@import", " src=", "url(http", "<iframe"):
        assert needle not in page, needle


def test_odd_symbols_and_titles_are_escaped(tmp_path):
    alphabet = ("<b>", "&'\"")
    sym = {"a": alphabet[0], "b": alphabet[1]}
    words = [[sym[c] for c in w] for w in WORDS]
    fsm = parity_fsm(alphabet=alphabet)
    rep = evaluate_trace(fsm, make_trace(words, HIDDEN, OUTPUTS, alphabet=alphabet), held_out=True)
    title = "<script>alert(1)</script>"
    page = rep.to_html(tmp_path / "odd.html", fsm=fsm, title=title).read_text(encoding="utf-8")
    assert "<b>" not in page and "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;" in page
    figures = dict(_figures(page))  # the data attributes survive the escaping
    assert figures["prefix_agreement"] == rep.prefix_agreement
    assert "</script>" not in page.split('id="report-data">')[1].split("</script>")[0]


def test_written_atomically_and_bad_arguments_raise_package_errors(report, tmp_path, monkeypatch):
    out = tmp_path / "r.html"
    out.write_text("old")
    for kwargs, error in [({"fsm": "q0"}, ArgumentTypeError), ({"front": 42}, ArgumentTypeError),
                          ({"search": [1]}, ArgumentTypeError), ({"title": 3}, ArgumentTypeError),
                          ({"fsm": fx.ExtractedFSM("ab", [[0, 0]], [True], 0)}, ValidationError)]:
        with pytest.raises(error) as info:
            report.to_html(out, **kwargs)
        assert isinstance(info.value, FsmExtractError)
    with pytest.raises(ValidationError, match=r"\.html"):
        report.to_html(tmp_path / "r.txt")
    with pytest.raises(MissingFileError):
        report.to_html(tmp_path / "missing" / "r.html")
    with pytest.raises(ArgumentTypeError):
        report.to_html(3)

    def fail(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(out), "write_text", fail)
    with pytest.raises(WriteError, match="r.html"):
        report.to_html(out)
    monkeypatch.undo()
    assert out.read_text() == "old"
    assert not list(tmp_path.glob(".*.tmp"))


def test_without_dot_the_page_says_why(report, tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    page = report.to_html(tmp_path / "r.html", fsm=parity_fsm()).read_text(encoding="utf-8")
    assert "diagram not drawn" in page and "Graphviz" in page
    assert '<section id="residual">' in page


def test_next_symbol_report_shows_its_measures(tmp_path):
    from fsm_extract.nets.next_symbol import train_next_symbol

    pdfa = fx.languages.random_pdfa(n_states=3, alphabet="ab", seed=0)
    words = pdfa.sample(n=60, seed=1)
    net = train_next_symbol(words, hidden_size=6, epochs=2, seed=0, progress=False)
    fsm = fx.extract(net, words, n_states=4, refine=False)
    rep = fx.fidelity(net, fsm, pdfa.sample(n=30, seed=2))
    page = rep.to_html(tmp_path / "ns.html", fsm=fsm).read_text(encoding="utf-8")
    d = rep.to_dict()
    figures = dict(_figures(page))
    for key in ("total_variation", "kl_divergence", "ndcg5", "wer", "bits_per_symbol.price", "next_symbol.by_length.0.wer"):
        assert figures[key] == _resolve(d, key), key
    assert '<section id="next-symbol">' in page and "most probable next symbols" in page
    assert d["examples"][0]["top_next"][0][0] in {"a", "b", "$"}


def test_notebook_views(report):
    html = report._repr_html_()
    assert report.headline.split(";")[0] in html and "q1 --b--&gt;" in html and "<svg" not in html.split("</style>")[0]
    assert "abba" in _search()._repr_html_()
    front_html = _front()._repr_html_()
    assert "<svg" in front_html and "(knee)" in front_html
    rows = ({"k": 2, "n_states": 2, "prefix_agreement": 0.9, "word_agreement": 0.8, "state_agreement": 0.9,
             "variance_explained": 0.7, "determinism": 1.0, "equivalent": None, "seconds": 0.1},)
    sweep_html = SweepResult(rows=rows, evaluated_on="9 held-out words")._repr_html_()
    assert "<svg" in sweep_html and "90.00%" in sweep_html


def test_state_examples_are_the_shortest_distinct_prefixes(report):
    ex = report.to_dict()["examples"]
    assert [e["prefixes"] for e in ex] == [["ε", "b", "aa"], ["a", "ab", "ba"]]
    assert [e["visits"] for e in ex] == [24, 8] and sum(e["share"] for e in ex) == pytest.approx(1.0)
    assert ex[0]["agreement"] == pytest.approx(23 / 24) and ex[1]["agreement"] == pytest.approx(5 / 8)
    assert [e["output"] for e in ex] == ["reject", "accept"]


def test_cli_report(t4_exact, tmp_path, capsys):
    model, data = t4_exact
    out = tmp_path / "r.html"
    rc = cli_main(["report", "--model", str(model), "--data", str(data), "--spec", "(0|1)*", "--out", str(out),
                   "--json", str(tmp_path / "r.json")])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    page = out.read_text(encoding="utf-8")
    assert "fsm-extract report --model" in page  # the command that made it
    d = json.loads((tmp_path / "r.json").read_text())
    assert dict(_figures(page))["prefix_agreement"] == d["prefix_agreement"]
    rc = cli_main(["report", "--model", str(model), "--data", str(data), "--spec", "(0|1)*", "--out", str(out),
                   "--front"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--front needs the fitting words" in err


# ----------------------------------------------------------------------------- in a browser

def _png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.mark.slow
def test_tomita7_report_renders_in_headless_chromium(tmp_path):
    """The report of the bundled tomita7 model, opened in headless Chromium: a screenshot of the
    expected size that is not blank, and no console message (errors of the inline script)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    model = fx.datasets.bundled_model("tomita7")
    train, test = fx.datasets.load("tomita7", split="train"), fx.datasets.load("tomita7", split="test")
    fsm = fx.extract(model, train, seed=0)
    rep = fx.fidelity(model, fsm, test, reference=fx.languages.tomita(7), fit_data=train, search=20_000)
    path = rep.to_html(tmp_path / "tomita7.html", fsm=fsm)
    assert path.stat().st_size < 2 * 2**20
    shot = tmp_path / "shot.png"
    proc = subprocess.run([chromium, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
                           "--enable-logging=stderr", "--v=0", f"--screenshot={shot}", "--window-size=1400,3000",
                           path.as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    assert _png_size(shot) == (1400, 3000)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.std() > 0.05  # not blank: text, tables and the diagram
    assert (pixels[..., :3].mean(axis=2) < 0.5).mean() > 0.005  # dark ink on a fair share of the page
