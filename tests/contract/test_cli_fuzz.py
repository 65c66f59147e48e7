"""A CLI fuzz: random subcommands, options and values (valid, or about one in eight invalid),
run in-process. Exit 0 or 2 only; exit 2 prints exactly one line on stderr and leaves no output
file and no temporary file behind; special files and symlinks are never replaced."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st


from .conftest import _leftovers, _run_cli, _settings


_FAST_LANGS = ["tomita0", "tomita8", "x", "TOMITA4", "tomita"]  # invalid: fail fast before any bundled file


_BAD_INTS = ["0", "-1", "x", "1.5", "", "99999999999999999999", "nan", "1e3"]


_BAD_FLOATS = ["nan", "inf", "-inf", "-1", "x", "", "1e999"]


_GOOD_MODELS = ["{IN}/m.pt", "{IN}/gru.pt"]


_BAD_MODELS = ["{IN}/missing.pt", "{IN}/fsm.json", "{IN}/d.jsonl", "{IN}/garbage.bin", "{IN}/adir", "",
               "{IN}/mi\nssing.pt"]


_GOOD_DATA = ["{IN}/d.jsonl"]


_BAD_DATA = ["{IN}/ab.jsonl", "{IN}/one_class.jsonl", "{IN}/empty.jsonl", "{IN}/bad.jsonl", "{IN}/missing.jsonl",
             "{IN}/fsm.json", "{IN}/m.pt", "{IN}/adir", "{IN}/garbage.bin"]


_GOOD_FSMS = ["{IN}/fsm.json"]


_BAD_FSMS = ["{IN}/fsm_dfa.json", "{IN}/foreign.json", "{IN}/missing.json", "{IN}/m.pt", "{IN}/d.jsonl",
             "{IN}/garbage.bin", "{IN}/adir"]


def _opt(flag, good, bad=(), pct=35):
    """An option: its flag, valid values, invalid values and how often (%) it is given at all."""
    return (flag, list(good), list(bad), pct)


def _cli_spec(langs_good=()):
    """Per command: ``source`` (a required exclusive group), ``required`` and ``optional`` options.
    ``langs_good`` are valid bundled language names (slow: only in the slow fuzz)."""
    lang = lambda pct=35: _opt("--language", langs_good, _FAST_LANGS, pct)  # noqa: E731
    return {
        "train": {
            "source": [_opt("--data", _GOOD_DATA, _BAD_DATA)] + ([lang()] if langs_good else [_opt("--language", [], _FAST_LANGS)]),
            "required": [_opt("--out", ["{OUT}/t.pt"], ["{OUT}/missing/t.pt", "{OUT}", "{IN}/adir", "{IN}/fifo.pt",
                                                          "{IN}/dev.json"])],
            "optional": [
                _opt("--validation", _GOOD_DATA, _BAD_DATA, 20), _opt("--cell", ["lstm", "gru", "rnn"], ["x"]),
                # always given: the defaults (32 units, 200 epochs) would make a run slow
                _opt("--hidden-size", ["2", "4"], ["0", "-3", "70000", "x"], 100),
                _opt("--layers", ["1", "2"], ["0", "65", "x"]),
                _opt("--epochs", ["1", "2"], ["0", "-1", "x", "1000001"], 100),
                _opt("--lr", ["0.01", "0.1"], ["0", "11"] + _BAD_FLOATS), _opt("--batch-size", ["4", "32"], ["0", "-1", "x"]),
                _opt("--max-seconds", ["1"], ["0"] + _BAD_FLOATS, 20), _opt("--seed", ["0", "7"], ["-1", "4294967296", "x"]),
                _opt("--extractability", ["0", "0.3"], ["-1"] + _BAD_FLOATS, 20),
                _opt("--extractability-method", ["centroids", "noise", "ternary"], ["x"], 15),
            ],
            "flags": ["--quiet"],
        },
        "extract": {
            "source": [_opt("--model", _GOOD_MODELS, _BAD_MODELS)] + ([lang()] if langs_good else [_opt("--language", [], _FAST_LANGS)]),
            "required": [_opt("--out", ["{OUT}/e.json", "{OUT}/a\nb.json", "{IN}/link.json"],
                              ["{OUT}/e.txt", "{OUT}/missing/e.json", "{OUT}", "{IN}/fifo.json", "{IN}/dangling.json",
                               "{IN}/dev.json"])],
            "optional": [
                _opt("--data", _GOOD_DATA, _BAD_DATA, 85), _opt("--states", ["2", "3", "auto"], _BAD_INTS + ["1000"], 70),
                _opt("--validation", _GOOD_DATA, _BAD_DATA, 20), _opt("--method", ["kmeans", "gmm"], ["x"]),
                _opt("--state", ["h", "hc"], ["x"]), _opt("--seed", ["0", "3"], ["-1", "4294967296", "x"]),
            ],
        },
        "render": {  # big_fsm: a valid 300-state FSM (refused but to .dot); huge_fsm: 30,000 states
            "positional": (_GOOD_FSMS + ["{IN}/big_fsm.json"], _BAD_FSMS + ["{IN}/huge_fsm.json"]),
            "required": [_opt("--out", ["{OUT}/r.svg", "{OUT}/r.dot", "{OUT}/r.png", "{OUT}/r.pdf", "{OUT}/r.txt",
                                        "{OUT}/r.html"],
                              ["{OUT}/r.jpg", "{OUT}/missing/r.svg", "{OUT}", "{OUT}/r", "{IN}/fifo.svg",
                               "{IN}/link_fifo.svg"])],
            "optional": [_opt("--min-confidence", ["0.5", "0.99", "1"], ["2"] + _BAD_FLOATS),
                         _opt("--max-states", ["20", "100"], ["0", "-1", "x"], 20),
                         _opt("--fold", ["auto", "off", "0.05"], ["2", "-0.1", "x", "nan"], 20),
                         _opt("--view", ["auto", "diagram", "table"], ["x"], 20),
                         _opt("--highlight", ["", "01"], ["\u00e9"], 15),
                         _opt("--collapse-chains", ["auto", "on", "off"], ["x"], 10),
                         _opt("--clusters", ["auto", "on", "off"], ["x"], 10),
                         _opt("--rankdir", ["LR", "TB"], ["UP"], 10)],
            "flags": ["--hide-sink", "--show-support"],
        },
        "demo": {
            "source": [lang(100)] if langs_good else [_opt("--language", [], _FAST_LANGS, 100)],
            "required": [],
            "optional": [_opt("--states", ["4"], ["0", "-1", "x"]), _opt("--seed", ["0"], ["-1", "x"]),
                         _opt("--out", ["{OUT}/demo"], ["{IN}/afile", "{OUT}", "{IN}/fifo.json"], 95)],
        },
        "fidelity": {
            "source": [_opt("--data", _GOOD_DATA, _BAD_DATA)] + ([lang()] if langs_good else [_opt("--language", [], _FAST_LANGS)]),
            "required": [_opt("--fsm", _GOOD_FSMS, _BAD_FSMS)],
            "optional": [_opt("--model", ["{IN}/m.pt"], _BAD_MODELS + ["{IN}/gru.pt"], 95),
                         _opt("--fit-data", _GOOD_DATA, _BAD_DATA),
                         _opt("--json", ["{OUT}/f.json"], ["{OUT}/f.txt", "{OUT}/missing/f.json", "{OUT}", "{IN}/fifo.json",
                                                           "{IN}/dangling.json"])],
        },
        "report": {
            "source": [_opt("--data", _GOOD_DATA, _BAD_DATA)] + ([lang()] if langs_good else [_opt("--language", [], _FAST_LANGS)]),
            "required": [_opt("--fsm", _GOOD_FSMS, _BAD_FSMS),
                         _opt("--out", ["{OUT}/r.html", "{OUT}/a\nb.html", "{OUT}/r.htm"],
                              ["{OUT}/r.txt", "{OUT}/missing/r.html", "{OUT}", "{IN}/fifo.json", "{IN}/dangling.json",
                               "{IN}/dev.json"])],
            "optional": [_opt("--model", ["{IN}/m.pt"], _BAD_MODELS + ["{IN}/gru.pt"], 95),
                         _opt("--fit-data", _GOOD_DATA, _BAD_DATA),
                         _opt("--max-states", ["2", "4"], ["0", "-1", "x"], 100),
                         _opt("--title", ["a <b> & 'c'", "", "t\u00e9st"], []),
                         _opt("--json", ["{OUT}/r.json"], ["{OUT}/r.txt", "{OUT}/missing/r.json", "{IN}/fifo.json"], 20)],
            "flags": ["--front"],
        },
        "sweep": {
            "source": [_opt("--model", _GOOD_MODELS, _BAD_MODELS)] + ([lang()] if langs_good else [_opt("--language", [], _FAST_LANGS)]),
            "required": [],
            "optional": [
                _opt("--fit-data", _GOOD_DATA, _BAD_DATA, 85), _opt("--test-data", _GOOD_DATA, _BAD_DATA, 85),
                # no huge A:B range: a known bug (test_cli_sweep_states_overflow)
                _opt("--states", ["2", "2,3", "1:3"], ["0", "x", "3:2", "a:b", "", ",", "2:3:4", "1000"], 100),
                _opt("--method", ["kmeans", "gmm"], ["x"]), _opt("--seed", ["0"], ["-1", "x"]),
                _opt("--plot", ["{OUT}/s.png", "{OUT}/s.svg"], ["{OUT}/s.txt", "{OUT}/missing/s.svg"], 15),
                _opt("--json", ["{OUT}/s.json"], ["{OUT}/s.txt", "{IN}/fifo.json", "{IN}/dev.json"]),
            ],
        },
        "pareto": {
            "source": [_opt("--model", _GOOD_MODELS, _BAD_MODELS)] + ([lang()] if langs_good else [_opt("--language", [], _FAST_LANGS)]),
            "required": [],
            "optional": [
                _opt("--data", _GOOD_DATA, _BAD_DATA, 85), _opt("--validation", _GOOD_DATA, _BAD_DATA, 20),
                # always given: the default budget (64 states) would make a run slow
                _opt("--max-states", ["2", "4"], ["0", "-1", "x"], 100),
                _opt("--target", ["0.5", "0.99"], ["2", "-0.1"] + _BAD_FLOATS),
                _opt("--at", ["1", "3"], ["0", "-1", "x"], 20), _opt("--seed", ["0"], ["-1", "x"]),
                _opt("--out", ["{OUT}/p.json", "{IN}/link.json"], ["{OUT}/p.txt", "{OUT}/missing/p.json", "{IN}/fifo.json",
                                                                  "{IN}/dev.json"], 40),
                _opt("--plot", ["{OUT}/p.png"], ["{OUT}/p.txt", "{OUT}/missing/p.svg"], 15),
                _opt("--json", ["{OUT}/pf.json"], ["{OUT}/pf.txt", "{IN}/fifo.json", "{IN}/dev.json"]),
            ],
        },
    }


_JUNK = ["--bogus", "--bogus=1", "-x", "extra_positional", "--out", "--states", "--", "-"]


def _random_argv(rnd, spec, command):
    """A command line for ``command``: a random subset of its options, each value valid or (about
    one time in eight) invalid, in random order; sometimes a required option is left out, two
    exclusive ones are given, or a junk token or --help is added."""
    s = spec[command]

    def value(good, bad, p_bad=0.12):
        return rnd.choice(bad) if bad and (not good or rnd.random() < p_bad) else rnd.choice(good)

    pairs: list[list[str]] = []
    sources = s.get("source", [])
    if sources and (command == "demo" or rnd.random() > 0.04):  # demo's default language is slow
        primary = sources[0] if len(sources) == 1 or rnd.random() > 0.15 else rnd.choice(sources[1:])
        pairs.append([primary[0], value(primary[1], primary[2])])
        if len(sources) > 1 and rnd.random() < 0.04:  # both of an exclusive group
            other = rnd.choice(sources)
            pairs.append([other[0], value(other[1], other[2])])
    for flag, good, bad, _ in s.get("required", []):
        if rnd.random() > 0.04:
            pairs.append([flag, value(good, bad)])
    for flag, good, bad, pct in s.get("optional", []):
        if rnd.random() * 100 < pct:
            pairs.append([flag, value(good, bad)])
    for flag in s.get("flags", []):
        if rnd.random() < 0.5:
            pairs.append([flag])
    if rnd.random() < 0.06:
        pairs.append([rnd.choice(_JUNK)])
    if rnd.random() < 0.02:
        pairs.append(["--help"])
    rnd.shuffle(pairs)
    argv = [command]
    if "positional" in s and rnd.random() > 0.04:
        argv.append(value(*s["positional"]))
    return argv + [a for pair in pairs for a in pair]


def _cli_argv(spec, command):
    """Command lines drawn from a hypothesis-chosen seed (hypothesis' own choices cluster on
    boundary values, which would skew the mix of valid and invalid values)."""
    import random

    return st.integers(0, 2**32 - 1).map(lambda seed: _random_argv(random.Random(seed), spec, command))


def _outputs_named(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--out", "--json", "--plot")]


def _fuzz_cli(ctx, capsys, base: Path, argvs, config) -> list:
    """Run every generated command line; return the (argv, exit status) pairs."""
    seen = []
    in_dir = str(ctx.files.dir)

    @config
    @given(argvs)
    def run(template):
        out_dir = tempfile.mkdtemp(dir=base)
        argv = [a.replace("{IN}", in_dir).replace("{OUT}", out_dir) for a in template]
        named = _outputs_named(argv)
        existed = {p: os.path.exists(p) for p in named}
        rc, out, err = _run_cli(capsys, argv)
        assert rc in (0, 2), (argv, rc, err)
        if rc == 2:
            assert err.endswith("\n") and err.count("\n") == 1, (argv, err)
            assert "Traceback" not in err
            assert err.startswith("fsm-extract"), (argv, err)
            for p in named:  # a failed command leaves no new output behind
                assert existed[p] or not os.path.exists(p), (argv, p)
        assert _leftovers(out_dir) == [], argv
        for p in named:  # special files and symlinks are never replaced
            if "fifo" in p or "dev.json" in p:
                assert not os.path.isfile(p) or os.path.islink(p), (argv, p)
            if "link" in p or "dangling" in p:
                assert os.path.islink(p), (argv, p)
        seen.append((argv, rc))

    run()
    return seen


_COMMANDS = ["train", "extract", "render", "demo", "fidelity", "sweep", "pareto", "report"]


_CLI_EXAMPLES = {"train": 36, "extract": 36, "render": 36, "demo": 36, "fidelity": 36, "sweep": 36, "pareto": 36,
                 "report": 36}  # 288


@pytest.mark.parametrize("command", _COMMANDS)
def test_fuzz_cli(ctx, capsys, tmp_path, monkeypatch, command):
    """288 generated command lines (36 per subcommand): exit 0 or 2 only; exit 2 prints exactly one
    line on stderr and leaves no output file and no temporary file behind."""
    monkeypatch.chdir(tmp_path)  # demo's default --out is relative
    n = _CLI_EXAMPLES[command]
    config = _settings(n)
    seen = _fuzz_cli(ctx, capsys, tmp_path, _cli_argv(_cli_spec(), command), config)
    assert len(seen) >= n


def test_fuzz_cli_top_level(ctx, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argvs = st.lists(st.sampled_from(["--version", "--help", "-h", "bogus", "Train", "", "-v", "--bogus", "extract",
                                      "render", "--out", "x"]), max_size=3)
    assert len(_fuzz_cli(ctx, capsys, tmp_path, argvs, _settings(40))) >= 20


@pytest.mark.slow
@pytest.mark.parametrize("command", _COMMANDS)
def test_fuzz_cli_slow_with_bundled_languages(ctx, capsys, tmp_path, monkeypatch, command):
    """The same with valid bundled languages in the pools (bundled models and splits: slow)."""
    monkeypatch.chdir(tmp_path)
    config = _settings(40, explore=True)
    spec = _cli_spec(["tomita4", "tomita1"])
    assert len(_fuzz_cli(ctx, capsys, tmp_path, _cli_argv(spec, command), config)) >= 40
