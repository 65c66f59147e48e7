"""The ``fsm-extract`` command line: a thin layer over the public API.

Every error the package raises on bad input is printed as one line on stderr, and the exit
status is 2. Nothing imports this module.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from .errors import FsmExtractError, FsmExtractWarning
from .analysis.search import MAX_BUDGET
from ._checks import atomic_write_text
from . import datasets
from . import languages
from ._checks import check_choice, check_out_path
from .automata.automaton import load_fsm
from .errors import ValidationError
from .analysis.fidelity import fidelity
from .nets.checkpoints import load_model
from .extraction.sweep import sweep
from .extraction.extract import extract
from .automata.render import SUFFIXES
from ._checks import check_out_dir
from .errors import GraphvizNotFoundError
from .nets.training import train_classifier

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse prints usage too)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_source(p: argparse.ArgumentParser, *, model: bool) -> None:
    g = p.add_mutually_exclusive_group(required=True)
    if model:
        g.add_argument("--model", metavar="PATH", help="a checkpoint written by `fsm-extract train` or RNNClassifier.save")
    g.add_argument(
        "--language",
        metavar="NAME",
        help="a bundled language, tomita1..tomita7" + (" (uses its bundled model and splits)" if model else ""),
    )
    if not model:
        g.add_argument("--data", metavar="FILE.jsonl", help='your own JSONL dataset, one {"word": ..., "label": ...} per line')


def _interactive() -> bool:
    """Progress bars only on a terminal: piped or captured stderr keeps just the one error line."""
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def _search_steps(text: str) -> int:
    """``--search STEPS``: an integer from 0 (no search) to the search's ceiling, else one line."""

    value = int(text) if text.strip().lstrip("+-").isdigit() else None
    if value is None or not 0 <= value <= MAX_BUDGET:
        rule = "an integer number of net steps" if value is None else ">= 0" if value < 0 else f"<= {MAX_BUDGET} net steps"
        shown = repr(text.strip()) if value is None else value
        raise argparse.ArgumentTypeError(f"--search={shown} must be {rule} (0 means no search; max_budget={MAX_BUDGET})")
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fsm-extract",
        description="Extract finite-state machines from recurrent networks and measure how much of the net they explain.",
    )
    parser.add_argument("--version", action="version", version="%(prog)s 0.1.0")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train an RNN classifier on a language or a JSONL dataset",
                       description="Train a recurrent classifier (acceptance after every symbol) and save it.")
    _add_source(t, model=False)
    t.add_argument("--out", required=True, metavar="PATH", help="where to write the checkpoint (.pt)")
    t.add_argument("--validation", metavar="FILE.jsonl",
                   help="validation JSONL; training stops once it is 100%% right (default with --language: its validation split)")
    t.add_argument("--cell", choices=("lstm", "gru", "rnn"), default="lstm", help="recurrent cell (default: lstm)")
    t.add_argument("--hidden-size", type=int, default=32, metavar="N", help="hidden units per layer (default: 32)")
    t.add_argument("--layers", type=int, default=1, metavar="N", help="stacked recurrent layers (default: 1)")
    t.add_argument("--epochs", type=int, default=200, metavar="N", help="upper bound on passes over the data (default: 200)")
    t.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (default: 0.01)")
    t.add_argument("--batch-size", type=int, default=32, metavar="N", help="words per optimisation step (default: 32)")
    t.add_argument("--max-seconds", type=float, default=None, metavar="S", help="stop after S seconds, keeping the best weights")
    t.add_argument("--seed", type=int, default=0, help="seed for initialisation and shuffling (default: 0)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser("extract", help="extract a minimised automaton from a trained net",
                       description="Trace the net on the fitting words, cluster its hidden states, count transitions, "
                                   "complete unobserved ones from the net, minimise, and save the automaton as JSON.")
    _add_source(e, model=True)
    e.add_argument("--data", metavar="FILE.jsonl",
                   help="fitting words (default with --language: its train split; labels are not used)")
    e.add_argument("--states", default="16", metavar="K",
                   help="clusters in the abstraction (default: 16), or 'auto': the smallest k whose agreement with the "
                        "net on validation words reaches 99.9%% (see --validation)")
    e.add_argument("--validation", metavar="FILE.jsonl",
                   help="with --states auto: words to choose k on (default with --language: its validation split; "
                        "otherwise 20%% of the fitting words are held out for it)")
    e.add_argument("--method", choices=("kmeans", "gmm"), default="kmeans", help="clustering method (default: kmeans)")
    e.add_argument("--state", choices=("h", "hc"), default="h",
                   help="with --no-refine: cluster hidden vectors (h) or LSTM hidden+cell (hc); refinement always "
                        "uses the full state")
    e.add_argument("--no-refine", action="store_true",
                   help="plain clustering of the hidden states: no behavioural features, splitting or "
                        "counterexample checks (for comparison)")
    e.add_argument("--search", type=_search_steps, default=0, metavar="STEPS",
                   help="when a counterexample round's check finds nothing, also search the net for disagreements "
                        "(up to STEPS net steps per round, e.g. 200000, at most 10^9) and refine on what it finds (default: no search)")
    e.add_argument("--seed", type=int, default=0, help="seed of the clustering (default: 0)")
    e.add_argument("--out", required=True, metavar="FSM.json", help="where to write the automaton")
    e.set_defaults(func=_cmd_extract)

    r = sub.add_parser("render", help="draw an automaton (svg, png, pdf or dot)",
                       description="Draw a saved automaton with Graphviz; the format follows the suffix of --out.")
    r.add_argument("fsm", metavar="FSM.json", help="an automaton written by `fsm-extract extract`")
    r.add_argument("--out", required=True, metavar="PATH", help="output file: .svg, .png, .pdf or .dot")
    r.add_argument("--hide-sink", action="store_true", help="hide a rejecting sink state and the edges into it")
    r.add_argument("--min-confidence", type=float, default=0.99, metavar="P",
                   help="dash transitions whose majority share is below P (default: 0.99)")
    r.add_argument("--show-support", action="store_true", help="print how often each transition was observed")
    r.add_argument("--max-states", type=int, default=100, metavar="N",
                   help="draw at most N states and 2N edges (default: 100; Graphviz's layout of larger ones is slow); .dot has no limit")
    r.set_defaults(func=_cmd_render)

    d = sub.add_parser("demo", help="extract, render and check a bundled model in one go",
                       description="Load a bundled LSTM, extract its automaton, render it, and report agreement "
                                   "with the net on the held-out test split.")
    d.add_argument("--language", default="tomita4", metavar="NAME", help="tomita1..tomita7 (default: tomita4)")
    d.add_argument("--states", type=int, default=16, metavar="K", help="clusters in the abstraction (default: 16)")
    d.add_argument("--seed", type=int, default=0, help="seed of the clustering (default: 0)")
    d.add_argument("--out", default="demo-out", metavar="DIR", help="folder for fsm.json and fsm.svg (default: demo-out)")
    d.set_defaults(func=_cmd_demo)

    f = sub.add_parser("fidelity", help="measure how much of the net an automaton explains",
                       description="Run the net and the automaton side by side on held-out words and report output, "
                                   "state and variance agreement, determinism, coverage, task accuracy, the reference "
                                   "check and the residual (where they part).")
    f.add_argument("--model", metavar="PATH", help="the net's checkpoint (default with --language: the bundled model)")
    a = f.add_mutually_exclusive_group(required=True)
    a.add_argument("--fsm", metavar="FSM.json", help="an automaton written by `fsm-extract extract` (or any saved FSM)")
    a.add_argument("--spec", metavar="REGEX",
                   help="check the net against a specification: a regular expression over the net's alphabet "
                        "(automata-lib syntax, the whole word must match), e.g. '(ab|ba)*'")
    a.add_argument("--dfa", metavar="DFA.json",
                   help="check the net against a DFA in JSON: {states, input_symbols, transitions, initial_state, "
                        "final_states}, automata-lib's keywords")
    g = f.add_mutually_exclusive_group(required=True)
    g.add_argument("--language", metavar="NAME",
                   help="tomita1..tomita7: evaluate on its test split, with its reference DFA and its train split as fitting data")
    g.add_argument("--data", metavar="FILE.jsonl", help="held-out words to evaluate on")
    f.add_argument("--fit-data", metavar="FILE.jsonl", help="the fitting words, to report any overlap with the evaluated words")
    f.add_argument("--json", metavar="OUT.json", help="also write the whole report as JSON")
    f.add_argument("--search", type=_search_steps, default=0, metavar="STEPS",
                   help="also search the net for disagreements the data does not show, spending up to STEPS "
                        "net steps (e.g. 1000000, at most 10^9; default: no search)")
    f.set_defaults(func=_cmd_fidelity)

    w = sub.add_parser("sweep", help="agreement and size against the number of clusters",
                       description="Extract at every k and measure each automaton on held-out words; print a table "
                                   "and optionally plot it.")
    _add_source(w, model=True)
    w.add_argument("--fit-data", metavar="FILE.jsonl", help="fitting words (default with --language: its train split)")
    w.add_argument("--test-data", metavar="FILE.jsonl", help="held-out words (default with --language: its test split)")
    w.add_argument("--states", default="2:65", metavar="A:B", help="k from A to B-1 (default: 2:65), or a comma list")
    w.add_argument("--method", choices=("kmeans", "gmm"), default="kmeans", help="clustering method (default: kmeans)")
    w.add_argument("--seed", type=int, default=0, help="seed of the clustering (default: 0)")
    w.add_argument("--plot", metavar="PATH", help="write the plot (.png, .svg or .pdf)")
    w.add_argument("--json", metavar="OUT.json", help="also write the rows as JSON")
    w.set_defaults(func=_cmd_sweep)
    return parser


def _write_json(path, payload) -> None:
    import json


    atomic_write_text(path, json.dumps(payload, indent=2, default=float) + "\n", name="--json")


def _cmd_fidelity(args: argparse.Namespace) -> None:

    json_out = check_out_path("--json", args.json, suffixes=(".json",)) if args.json is not None else None
    reference, fit_data = None, None
    if args.language is not None:
        check_choice("--language", args.language, datasets.bundled_names())
        reference = languages.tomita(int(args.language[len("tomita"):]))
        fit_data = datasets.load(args.language, split="train")
        model = load_model(args.model) if args.model is not None else datasets.bundled_model(args.language)
        data = datasets.load(args.language, split="test")
    else:
        if args.model is None:
            raise ValidationError("--model is required with --data: name the net's checkpoint")
        model = load_model(args.model)
        data = datasets.load_jsonl(args.data, alphabet=model.alphabet)
    if args.fsm is None:
        fit_data = None  # a specification was not fitted on the language's train split
    if args.fit_data is not None:
        fit_data = datasets.load_jsonl(args.fit_data, alphabet=model.alphabet)
    if args.fsm is not None:
        fsm = load_fsm(args.fsm)
    elif args.spec is not None:
        fsm = languages.from_regex(args.spec, alphabet=model.alphabet)
    else:
        fsm = languages.load_dfa(args.dfa)
    if args.search < 0:
        raise ValidationError(f"--search={args.search} must be >= 0 (net steps; 0 means no search)")
    report = fidelity(model, fsm, data, reference=reference, fit_data=fit_data, search=args.search or False)
    print(report.summary())
    if json_out is not None:
        _write_json(json_out, report.to_dict())
        print(f"report written to {json_out}")


_MAX_K = 10**6  # no abstraction has more clusters than this
_MAX_KS = 10_000  # nor does a sweep try more values of k


def _parse_states(text: str) -> list[int]:

    try:
        if ":" in text:
            a, b = text.split(":")
            lo, hi = int(a), int(b)
            if lo < 1 or hi - lo > _MAX_KS or hi > _MAX_K + 1:
                raise ValidationError(
                    f"--states={text!r} must be a range A:B with 1 <= A, B - A <= {_MAX_KS} and B <= {_MAX_K + 1}"
                )
            ks = list(range(lo, hi))
        else:
            ks = [int(x) for x in text.split(",") if x.strip()]
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ValidationError(f"--states={text!r} must be A:B (k from A to B-1) or a comma list of ints") from None
    if not ks or min(ks) < 1:
        raise ValidationError(f"--states={text!r} must name at least one k >= 1")
    if len(ks) > _MAX_KS or max(ks) > _MAX_K:
        raise ValidationError(f"--states={text!r} must name at most {_MAX_KS} values of k, each <= {_MAX_K}")
    return ks


def _cmd_sweep(args: argparse.Namespace) -> None:

    ks = _parse_states(args.states)
    plot = check_out_path("--plot", args.plot, suffixes=(".png", ".svg", ".pdf")) if args.plot is not None else None
    json_out = check_out_path("--json", args.json, suffixes=(".json",)) if args.json is not None else None
    args.data = None
    model, fit, reference = _load_source(args) if args.language is not None else (None, None, None)
    if args.language is None:

        model = load_model(args.model)
    if args.fit_data is not None:
        fit = datasets.load_jsonl(args.fit_data, alphabet=model.alphabet)
    test = datasets.load(args.language, split="test") if args.language is not None else None
    if args.test_data is not None:
        test = datasets.load_jsonl(args.test_data, alphabet=model.alphabet)
    if fit is None or test is None:
        raise ValidationError("--fit-data and --test-data are required with --model")
    result = sweep(model, fit, test, ks, method=args.method, seed=args.seed, reference=reference, progress=_interactive())
    print(result.table())
    best = result.best()
    print(f"smallest k reaching 99.9% prefix agreement: {best['k']}" if best["prefix_agreement"] >= 0.999
          else f"no k reached 99.9% prefix agreement; the best was k={best['k']} ({best['prefix_agreement']:.2%})")
    if plot is not None:
        result.plot(plot, title=f"{args.language or Path(args.model).stem}: extraction sweep")
        print(f"plot written to {plot}")
    if json_out is not None:
        _write_json(json_out, result.to_dict())


def _load_source(args: argparse.Namespace):
    """(model, fitting data, language or None) from --model/--language and --data."""

    language = None
    if args.language is not None:
        check_choice("--language", args.language, datasets.bundled_names())
        language = languages.tomita(int(args.language[len("tomita"):]))
        model = datasets.bundled_model(args.language)
    else:
        model = load_model(args.model)
    if args.data is not None:
        data = datasets.load_jsonl(args.data, alphabet=model.alphabet)
    elif args.language is not None:
        data = datasets.load(args.language, split="train")
    else:

        raise ValidationError("--data is required with --model: name the JSONL file of fitting words")
    return model, data, language


def _cmd_extract(args: argparse.Namespace) -> None:

    out = check_out_path("--out", args.out, suffixes=(".json",))
    model, data, _ = _load_source(args)
    states = _parse_k(args.states)
    if args.search < 0:
        raise ValidationError(f"--search={args.search} must be >= 0 (net steps per round; 0 means no search)")
    if args.search and (args.no_refine or states == "auto"):
        raise ValidationError(f"--search={args.search} needs refinement: drop --no-refine and --states auto, or --search")
    validation = None
    if args.validation is not None:
        validation = datasets.load_jsonl(args.validation, alphabet=model.alphabet)
    elif states == "auto" and args.language is not None:
        validation = datasets.load(args.language, split="validation")
    fsm = extract(model, data, n_states=states, method=args.method, state=args.state, seed=args.seed,
                  progress=_interactive(), validation=validation, refine=not args.no_refine, search=args.search)
    fsm.save(out)
    k = fsm.metadata["n_clusters"]
    print(f"{fsm.n_states} states ({k} clusters{' chosen automatically' if states == 'auto' else ''}, "
          f"{int(fsm.completed.sum())} completed transitions); saved {out}")


def _parse_k(text: str):

    if text == "auto":
        return "auto"
    try:
        k = int(text)
    except ValueError:
        raise ValidationError(f"--states={text!r} must be a positive integer or 'auto'") from None
    if k < 1:
        raise ValidationError(f"--states={text!r} must be a positive integer or 'auto' (n_states={k} must be >= 1)")
    return k


def _cmd_render(args: argparse.Namespace) -> None:

    out = check_out_path("--out", args.out, suffixes=SUFFIXES)
    fsm = load_fsm(args.fsm)
    path = fsm.render(out, hide_sink=args.hide_sink, min_confidence=args.min_confidence, show_support=args.show_support,
                      max_states=args.max_states)
    print(f"wrote {path}")


def _cmd_demo(args: argparse.Namespace) -> None:
    from tqdm.auto import tqdm


    check_choice("--language", args.language, datasets.bundled_names())
    out_dir = check_out_dir("--out", args.out, files=("fsm.json", "fsm.svg"))
    steps = tqdm(total=4, desc="demo", unit="step", bar_format="{desc}: {n}/{total} {postfix}", disable=not _interactive())
    try:
        steps.set_postfix_str("loading the bundled model")
        model = datasets.bundled_model(args.language)
        train = datasets.load(args.language, split="train")
        test = datasets.load(args.language, split="test")
        language = languages.tomita(int(args.language[len("tomita"):]))
        steps.update()
        steps.set_postfix_str(f"extracting ({args.states} clusters)")
        fsm = extract(model, train, n_states=args.states, seed=args.seed)
        steps.update()
        steps.set_postfix_str("checking on the test split")
        report = fidelity(model, fsm, test, reference=language, fit_data=train)
        steps.update()
        steps.set_postfix_str("rendering")
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValidationError(f"--out={args.out!r} must be a folder that can be created ({exc.strerror})") from None
        fsm.save(out_dir / "fsm.json")
        try:
            drawing = fsm.render(out_dir / "fsm.svg", hide_sink=False)
        except GraphvizNotFoundError as exc:
            drawing = f"not drawn ({' '.join(str(exc).split())})"
        steps.update()
    finally:
        steps.close()
    refine = fsm.metadata["refine"]
    last = refine["counterexample_rounds"][-1]
    print(f"{args.language}: bundled {model.cell.upper()} with {model.hidden_size} units, "
          f"{report.task['net_accuracy']:.2%} right on the test split ({len(test)} words, lengths up to {int(test.lengths.max())})")
    print(f"extracted automaton: {fsm.n_states} states from {args.states} clusters and {len(refine['splits'])} splits "
          f"in {fsm.metadata.get('timing', {}).get('seconds', 0):.1f} s; last counterexample check: {last['disagreements']} disagreements "
          f"in {last['checked_words']} words")
    print(f"fidelity on the test split: {report.headline}")
    eq = report.reference["fsm_equivalent"]
    print(f"language-equivalent to the reference {args.language} DFA ({language.n_states} states): {'yes' if eq else 'no'}")
    print(f"automaton: {out_dir / 'fsm.json'}; diagram: {drawing}")


def _cmd_train(args: argparse.Namespace) -> None:

    out = check_out_path("--out", args.out)
    language = None
    if args.language is not None:

        check_choice("--language", args.language, datasets.bundled_names())
        language = languages.tomita(int(args.language[len("tomita"):]))
        data = datasets.load(args.language, split="train")
        validation = datasets.load(args.language, split="validation")
    else:
        data = datasets.load_jsonl(args.data)
        validation = None
    if args.validation is not None:
        validation = datasets.load_jsonl(args.validation, alphabet=data.alphabet)
    model = train_classifier(
        data,
        cell=args.cell,
        hidden_size=args.hidden_size,
        num_layers=args.layers,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
        validation=validation,
        language=language,
        max_seconds=args.max_seconds,
        progress=not args.quiet and _interactive(),
    )
    model.save(out)
    meta = model.metadata
    acc = meta.get("validation_accuracy", meta.get("train_accuracy"))
    which = {"held-out": f"held-out ({meta['held_out_words']} words)", None: "training"}.get(meta["watched"], meta["watched"])
    print(f"trained {args.cell} ({args.hidden_size} units) in {meta['seconds']:.1f} s, {meta['epochs_run']} epochs "
          f"({meta['stopped']}); {which} accuracy {acc:.4f}; saved {out}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fsm-extract`` console script; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            default_show = warnings.showwarning

            def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
                if issubclass(category, FsmExtractWarning):  # one line, like the errors
                    print(f"fsm-extract {args.command}: warning: {' '.join(str(message).split())}", file=sys.stderr)
                else:
                    default_show(message, category, filename, lineno, file, line)

            warnings.showwarning = show
            args.func(args)
    except FsmExtractError as exc:
        message = " ".join(str(exc).split())  # always one line
        print(f"fsm-extract {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fsm-extract: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `fsm-extract fidelity ... | head`: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
