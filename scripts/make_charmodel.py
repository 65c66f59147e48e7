"""Train a character-class LSTM on the interpreter's own standard library, extract its automaton.

    python scripts/make_charmodel.py [--out datasets/models] [--docs docs] [--quick]

A real net on real data without a download: the pure-Python standard-library modules listed in
``STDLIB_FILES`` (read from ``sysconfig.get_paths()["stdlib"]``; missing ones are skipped and the
used ones recorded) are normalised to ASCII and each character is mapped to one of the 14
character classes of ``CLASSES`` (letters, digits, space, newline, quotes, ``#``, brackets, ...).
A word is a piece of code: up to ``MAX_LINES`` consecutive lines (at most ``MAX_SYMBOLS``
characters, cut at line boundaries). Whole files are held out: ``VALIDATION_FILES`` for early
stopping, ``TEST_FILES`` for every figure.

Steps (all seeded): train ``fx.train_next_symbol`` (LSTM); measure held-out bits per character
class against unigram, bigram and trigram models; ``fx.extract`` the automaton from a seeded
subset of the training chunks; ``fx.fidelity`` on the test chunks; and interpret the states:
each state's share of the test positions, its top next classes, example contexts (the original
text before the position) and the lexical context Python's own ``tokenize`` gives those
positions (inside a string, a triple-quoted string, a comment, at a line start, in an indent,
inside brackets, other code).

Writes ``<out>/charclass_lstm.pt``, ``<out>/charclass_fsm.json``, ``<out>/charclass_figures.json``
and ``<docs>/charclass_fsm.svg``; prints the figures and the state table (markdown).
``--quick`` is a small smoke run (few files, tiny net, seconds), not the bundled model.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import platform
import sys
import sysconfig
import time
import tokenize
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import fsm_extract as fx

#: Pure-Python standard-library modules, sorted (paths relative to the stdlib directory).
STDLIB_FILES = (
    "abc.py", "argparse.py", "ast.py", "base64.py", "bisect.py", "calendar.py", "colorsys.py",
    "configparser.py", "contextlib.py", "copy.py", "csv.py", "dataclasses.py", "difflib.py",
    "enum.py", "fnmatch.py", "fractions.py", "functools.py", "getopt.py", "gettext.py", "glob.py",
    "heapq.py", "html/parser.py", "json/__init__.py", "json/decoder.py", "json/encoder.py",
    "keyword.py", "numbers.py", "operator.py", "pprint.py", "queue.py", "random.py", "sched.py",
    "shlex.py", "statistics.py", "string.py", "textwrap.py", "tokenize.py", "urllib/parse.py",
)
#: Held out whole: early stopping watches these.
VALIDATION_FILES = ("copy.py", "getopt.py", "glob.py", "queue.py")
#: Held out whole: every reported figure is measured on these.
TEST_FILES = ("colorsys.py", "csv.py", "json/decoder.py", "sched.py", "shlex.py", "textwrap.py")
#: The --quick run's files (train, validation, test as above).
QUICK_FILES = ("bisect.py", "colorsys.py", "fnmatch.py", "getopt.py", "keyword.py", "sched.py")

#: Character classes: (symbol, characters). Every other printable ASCII character is "op".
CLASSES = (
    ("a", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"),
    ("0", "0123456789"),
    ("SP", " \t"),
    ("NL", "\n"),
    ("'", "'"),
    ('"', '"'),
    ("#", "#"),
    ("(", "([{"),
    (")", ")]}"),
    (":", ":"),
    ("=", "="),
    (".", "."),
    (",", ","),
    ("op", "!$%&*+-/;<>?@\\^`|~"),
)
ALPHABET = tuple(name for name, _ in CLASSES)
CLASS_OF = {c: name for name, chars in CLASSES for c in chars}
MAX_LINES = 8
MAX_SYMBOLS = 200
SEED = 0
#: Automaton sizes (k-means clusters) also measured, for the size/fidelity trade-off.
SIZES = (4, 8, 12, 24, 32)
#: Positions' lexical contexts, from tokenize (see ``lexical_contexts``).
CONTEXTS = ("triple-quoted string", "string", "comment", "line start", "indent", "in brackets", "code")


# --------------------------------------------------------------------------- data
def normalise(text: str) -> str:
    """ASCII only: tabs become spaces, CR and every other non-printable or non-ASCII character
    is dropped (so each remaining character has a class)."""
    text = text.replace("\r\n", "\n").replace("\t", " ")
    return "".join(c for c in text if c == "\n" or c in CLASS_OF)


def read_sources(files: tuple[str, ...] = STDLIB_FILES, stdlib: str | None = None) -> dict[str, str]:
    """``{relative path: normalised text}`` of the files that exist, in the given order."""
    root = Path(stdlib or sysconfig.get_paths()["stdlib"])
    out = {}
    for name in files:
        path = root / name
        if path.is_file():
            out[name] = normalise(path.read_text(encoding="utf-8", errors="ignore"))
    return out


def to_word(text: str) -> tuple[str, ...]:
    """The character-class word of (normalised) text: one symbol per character."""
    return tuple(CLASS_OF[c] if c != "\n" else "NL" for c in text)


def chunk_offsets(text: str, *, max_lines: int = MAX_LINES, max_symbols: int = MAX_SYMBOLS) -> list[tuple[int, int]]:
    """(start, end) character offsets of consecutive chunks of whole lines: up to ``max_lines``
    lines and ``max_symbols`` characters (a longer single line is a chunk of its own)."""
    lines = text.splitlines(keepends=True)
    out, start, pos, n = [], 0, 0, 0
    for line in lines:
        if n and (n == max_lines or pos + len(line) - start > max_symbols):
            out.append((start, pos))
            start, n = pos, 0
        pos += len(line)
        n += 1
    if n:
        out.append((start, pos))
    return out


def build_corpus(sources: dict[str, str]) -> dict[str, list[dict]]:
    """Chunks by split (``train``, ``validation``, ``test``: held out by file); each chunk a dict
    with ``file``, ``start``, ``text`` and ``word`` (its class symbols)."""
    splits: dict[str, list[dict]] = {"train": [], "validation": [], "test": []}
    for name, text in sources.items():
        split = "test" if name in TEST_FILES else "validation" if name in VALIDATION_FILES else "train"
        for start, end in chunk_offsets(text):
            piece = text[start:end]
            splits[split].append({"file": name, "start": start, "text": piece, "word": to_word(piece)})
    return splits


def quick_split(sources: dict[str, str]) -> dict[str, list[dict]]:
    """--quick: the same, with QUICK_FILES (one file for validation, one for test)."""
    global TEST_FILES, VALIDATION_FILES
    saved = TEST_FILES, VALIDATION_FILES
    TEST_FILES, VALIDATION_FILES = ("sched.py",), ("getopt.py",)
    try:
        return build_corpus(sources)
    finally:
        TEST_FILES, VALIDATION_FILES = saved


def test_chunks(stdlib: str | None = None) -> list[dict]:
    """The held-out test chunks (for tests and notebooks)."""
    return build_corpus(read_sources(TEST_FILES, stdlib))["test"]


# --------------------------------------------------------------------------- baselines
def ngram_bits(train: list[tuple[str, ...]], test: list[tuple[str, ...]], *, order: int) -> float:
    """Mean bits per prediction (every symbol and the end of every word, as fx.fidelity counts)
    of an add-one-smoothed n-gram model of class symbols (order 1 = unigram); contexts are
    padded with a start symbol."""
    vocab = len(ALPHABET) + 1
    counts: dict[tuple, Counter] = {}
    for word in train:
        padded = ("<s>",) * (order - 1) + word + ("$",)
        for i in range(order - 1, len(padded)):
            counts.setdefault(padded[i - order + 1 : i], Counter())[padded[i]] += 1
    bits, n = 0.0, 0
    for word in test:
        padded = ("<s>",) * (order - 1) + word + ("$",)
        for i in range(order - 1, len(padded)):
            c = counts.get(padded[i - order + 1 : i], Counter())
            p = (c[padded[i]] + 1) / (sum(c.values()) + vocab)
            bits -= math.log2(p)
            n += 1
    return bits / n


# --------------------------------------------------------------------------- interpretation
def lexical_contexts(text: str) -> np.ndarray:
    """For each position ``p`` of ``text`` (after ``p`` characters, ``p = 0 .. len(text)``), its
    lexical context as an index into CONTEXTS, from Python's tokenize on the whole file: inside a
    (triple-quoted) string when the opening quote is read and the closing one not yet; in a comment
    from after ``#`` to before the newline; then line start (column 0), indent (only spaces since
    the line start), in brackets (bracket depth > 0), code. -1 where tokenize fails."""
    n = len(text)
    ctx = np.full(n + 1, -1, np.int64)
    line_starts = [0]
    for i, c in enumerate(text):
        if c == "\n":
            line_starts.append(i + 1)
    off = lambda rc: line_starts[rc[0] - 1] + rc[1]
    strings, comments, depth = [], [], np.zeros(n + 2, np.int64)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            a, b = off(tok.start), off(tok.end)
            if tok.type == tokenize.STRING:
                triple = tok.string.lstrip("rbuRBUfF")[:3] in ('"""', "'''")
                strings.append((a, b, triple))
            elif tok.type == tokenize.COMMENT:
                comments.append((a, b))
            elif tok.type == tokenize.OP and tok.string in "([{":
                depth[b] += 1
            elif tok.type == tokenize.OP and tok.string in ")]}":
                depth[b] -= 1
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return ctx
    depth = np.cumsum(depth)[: n + 1]
    col0 = np.zeros(n + 1, bool)
    col0[[s for s in line_starts if s <= n]] = True
    indent = np.zeros(n + 1, bool)
    run = False
    for p in range(1, n + 1):  # only spaces read since the line start
        run = (run or col0[p - 1]) and text[p - 1] == " "
        indent[p] = run
    ctx[:] = np.where(col0, 3, np.where(indent, 4, np.where(depth > 0, 5, 6)))
    for a, b in comments:
        ctx[a + 1 : b + 1] = 2
    for a, b, triple in strings:
        ctx[a + 1 : b] = 0 if triple else 1
    return ctx


def interpret_states(fsm, chunks: list[dict], sources: dict[str, str], *, examples: int = 3, width: int = 15,
                     seed: int = SEED) -> list[dict]:
    """Per state: share of the test positions that lead to it, top next classes (the state's
    distribution), the lexical contexts of its positions, and example contexts (the last
    ``width`` characters of the original text before seeded sample positions)."""
    contexts = {name: lexical_contexts(text) for name, text in sources.items()}
    visits = [[] for _ in range(fsm.n_states)]  # (chunk index, position)
    lex = np.zeros((fsm.n_states, len(CONTEXTS) + 1), np.int64)  # last column: unknown
    for ci, ch in enumerate(chunks):
        path = fsm.run(ch["word"])
        file_ctx = contexts[ch["file"]][ch["start"] : ch["start"] + len(ch["text"]) + 1]
        for p, q in enumerate(path.tolist()):
            visits[q].append((ci, p))
            lex[q, file_ctx[p]] += 1
    total = sum(len(v) for v in visits)
    rng = np.random.default_rng(seed)
    names = list(ALPHABET) + ["$"]
    rows = []
    for q in range(fsm.n_states):
        probs = fsm.output_probs[q]
        top = np.argsort(-probs, kind="stable")[:3]
        picks = rng.choice(len(visits[q]), size=min(examples, len(visits[q])), replace=False) if visits[q] else []
        shown = []
        for i in sorted(int(i) for i in picks):
            ci, p = visits[q][i]
            text = chunks[ci]["text"]
            shown.append(("^" if p < width else "") + text[max(0, p - width) : p])
        n_lex = lex[q, : len(CONTEXTS)].sum()
        lex_share = {CONTEXTS[j]: float(lex[q, j] / n_lex) for j in np.argsort(-lex[q, : len(CONTEXTS)])
                     if n_lex and lex[q, j]}
        rows.append({
            "state": q, "initial": q == fsm.initial, "visits": len(visits[q]),
            "share": len(visits[q]) / max(total, 1),
            "top_next": [[names[j], float(probs[j])] for j in top],
            "lexical": lex_share, "examples": shown,
        })
    return rows


def state_table(rows: list[dict], *, min_share: float = 0.0) -> str:
    """A markdown table of ``interpret_states`` rows (states in order of share)."""
    esc = lambda s: json.dumps(s)[1:-1].replace("|", "\\|").replace("`", "'")
    lines = ["| state | share | top next classes | lexical context (tokenize) | example contexts |",
             "|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: -r["share"]):
        if r["share"] < min_share:
            continue
        top = ", ".join(f"`{esc(s)}` {p:.2f}" for s, p in r["top_next"])
        lex = ", ".join(f"{k} {v:.0%}" for k, v in list(r["lexical"].items())[:2])
        ex = " ".join(f"`{esc(e)}`" for e in r["examples"])
        lines.append(f"| {r['state']}{' (start)' if r['initial'] else ''} | {r['share']:.1%} | {top} | {lex} | {ex} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=fx.datasets.bundled_dir() / "models")
    parser.add_argument("--docs", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    parser.add_argument("--quick", action="store_true", help="a small smoke run (seconds)")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--max-seconds", type=float, default=360.0, help="training wall-time limit")
    parser.add_argument("--fit-chunks", type=int, default=600, help="training chunks the automaton is fitted on")
    parser.add_argument("--states", type=int, default=16, help="k-means clusters (automaton states)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    threadpool_limits(limits=args.threads)  # NumPy / scikit-learn pools too
    if args.quick:
        args.hidden, args.max_seconds, args.fit_chunks, args.states = 16, 10.0, 60, 6
    args.out.mkdir(parents=True, exist_ok=True)
    args.docs.mkdir(parents=True, exist_ok=True)

    files = QUICK_FILES if args.quick else STDLIB_FILES
    sources = read_sources(files)
    corpus = quick_split(sources) if args.quick else build_corpus(sources)
    train, validation, test = (corpus[k] for k in ("train", "validation", "test"))
    words = lambda chunks: [c["word"] for c in chunks]
    print(f"{len(sources)} files; chunks train {len(train)}, validation {len(validation)}, test {len(test)}; "
          f"symbols train {sum(len(c['word']) for c in train)}, test {sum(len(c['word']) for c in test)}")

    t0 = time.perf_counter()
    net = fx.train_next_symbol(
        words(train), alphabet=ALPHABET, hidden_size=args.hidden, epochs=3 if args.quick else 200, lr=0.01,
        batch_size=32, seed=SEED, validation=words(validation), max_seconds=args.max_seconds, progress=False,
    )
    train_seconds = time.perf_counter() - t0
    net.save(args.out / "charclass_lstm.pt")
    print(f"trained in {train_seconds:.0f} s: {net.metadata.get('epochs_run')} epochs, "
          f"validation bits/class {net.metadata.get('validation_bits_per_symbol'):.4f}")

    rng = np.random.default_rng(SEED)
    fit_idx = np.sort(rng.choice(len(train), size=min(args.fit_chunks, len(train)), replace=False))
    fit_words = [train[i]["word"] for i in fit_idx]
    t0 = time.perf_counter()
    # Plain k-means on the hidden states (refine=False): refinement's behavioural features grow
    # as |alphabet| ** depth x (|alphabet| + 1) columns, too slow here with 14 classes (see the docs).
    fsm = fx.extract(net, fit_words, seed=SEED, n_states=args.states, refine=False)
    extract_seconds = time.perf_counter() - t0
    fsm.save(args.out / "charclass_fsm.json", timing=False)
    print(f"extracted {fsm.n_states} states in {extract_seconds:.0f} s")

    t0 = time.perf_counter()
    report = fx.fidelity(net, fsm, words(test))
    fidelity_seconds = time.perf_counter() - t0
    print(report)
    rep = report.to_dict()
    sizes = []
    for k in (() if args.quick else SIZES):
        other = fx.extract(net, fit_words, seed=SEED, n_states=k, refine=False)
        ns_k = fx.fidelity(net, other, words(test)).to_dict()["next_symbol"]
        sizes.append({"n_clusters": k, "n_states": other.n_states, "argmax_agreement": ns_k["argmax_agreement"],
                      "total_variation": ns_k["total_variation"], "kl_divergence": ns_k["kl_divergence"],
                      "bits_fsm": ns_k["bits_per_symbol"]["fsm"], "price": ns_k["bits_per_symbol"]["price"],
                      "ndcg5": ns_k["ndcg5"]})
        print(f"k={k}: {other.n_states} states, agreement {ns_k['argmax_agreement']:.4f}, "
              f"price {ns_k['bits_per_symbol']['price']:+.4f} bits", flush=True)

    baselines = {f"{name}_bits_per_symbol": ngram_bits(words(train), words(test), order=k)
                 for name, k in (("unigram", 1), ("bigram", 2), ("trigram", 3))}
    rows = interpret_states(fsm, test, sources)
    table = state_table(rows)
    print(table)

    svg = args.docs / "charclass_fsm.svg"
    try:
        fsm.render(svg, title=f"character-class LSTM ({args.hidden} units) on the stdlib: {fsm.n_states} states")
        rendered = str(svg)
    except fx.errors.FsmExtractError as exc:  # no Graphviz: the .dot is written beside
        rendered = f"not rendered: {exc}"

    ns = rep.get("next_symbol", rep)
    figures = {
        "command": "python scripts/make_charmodel.py" + (" --quick" if args.quick else ""),
        "python": platform.python_version(), "torch": torch.__version__, "fsm_extract": fx.__version__,
        "seed": SEED, "threads": args.threads, "quick": args.quick,
        "stdlib_dir": sysconfig.get_paths()["stdlib"], "files_used": list(sources),
        "files_missing": [f for f in files if f not in sources],
        "test_files": [f for f in sources if f in TEST_FILES] if not args.quick else ["sched.py"],
        "validation_files": [f for f in sources if f in VALIDATION_FILES] if not args.quick else ["getopt.py"],
        "classes": {name: chars for name, chars in CLASSES}, "max_lines": MAX_LINES, "max_symbols": MAX_SYMBOLS,
        "chunks": {k: len(v) for k, v in corpus.items()},
        "symbols": {k: sum(len(c["word"]) for c in v) for k, v in corpus.items()},
        "net": {"cell": "lstm", "hidden_size": args.hidden, "epochs_run": net.metadata.get("epochs_run"),
                "best_epoch": net.metadata.get("best_epoch"), "stopped": net.metadata.get("stopped"),
                "validation_bits_per_symbol": net.metadata.get("validation_bits_per_symbol"),
                "train_seconds": train_seconds, "max_seconds": args.max_seconds},
        "extraction": {"method": "kmeans on h, refine=False", "n_clusters": args.states, "fit_chunks": len(fit_words), "fit_symbols": sum(map(len, fit_words)),
                       "n_states": fsm.n_states, "seconds": extract_seconds},
        "fidelity_seconds": fidelity_seconds,
        "sizes": sizes,
        "test": {key: ns.get(key) for key in ("n_positions", "argmax_agreement", "total_variation", "kl_divergence",
                                              "bits_per_symbol", "ndcg5", "wer")},
        "baselines": baselines,
        "states": rows,
        "render": rendered,
    }
    (args.out / "charclass_figures.json").write_text(json.dumps(figures, indent=1) + "\n")
    print(json.dumps({k: figures[k] for k in ("net", "extraction", "test", "baselines")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
