"""The ``fsm-extract`` command line: a thin layer over the public API.

Every error the package raises on bad input is printed as one line on stderr, and the exit
status is 2. Nothing imports this module.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from .analysis.search import MAX_BUDGET
from .cli_commands import (
    _cmd_demo,
    _cmd_extract,
    _cmd_fidelity,
    _cmd_pareto,
    _cmd_render,
    _cmd_report,
    _cmd_sweep,
    _cmd_train,
)
from .errors import FsmExtractError, FsmExtractWarning
from .nets.extractability import METHODS

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


def _add_extract(sub) -> None:  # noqa: ANN001 - argparse's subparsers action
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
    _add_scale(e)
    e.add_argument("--out", required=True, metavar="FSM.json", help="where to write the automaton")
    e.set_defaults(func=_cmd_extract)


def _add_scale(p: argparse.ArgumentParser) -> None:
    """Options of the passes over large data: sample size, engine, scheduler, device."""
    p.add_argument("--sample-steps", type=int, default=None, metavar="N",
                   help="data with more steps than N is streamed: fitted on a seeded sample of about N steps, then "
                        "counted chunk by chunk in bounded memory (default: 1000000, fewer for nets wider than 64 units)")
    p.add_argument("--engine", choices=("local", "dask"), default=None,
                   help="where the passes over streamed data run (default: local; dask with --scheduler)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="a Dask scheduler's address (e.g. tcp://10.0.0.5:8786): run the passes on its workers")
    p.add_argument("--device", metavar="DEVICE", help="where the net runs, e.g. cuda (default: where its weights are)")


def _search_steps(text: str) -> int:
    """``--search STEPS``: an integer from 0 (no search) to the search's ceiling, else one line."""

    value = int(text) if text.strip().lstrip("+-").isdigit() else None
    if value is None or not 0 <= value <= MAX_BUDGET:
        rule = "an integer number of net steps" if value is None else ">= 0" if value < 0 else f"<= {MAX_BUDGET} net steps"
        shown = repr(text.strip()) if value is None else value
        raise argparse.ArgumentTypeError(f"--search={shown} must be {rule} (0 means no search; max_budget={MAX_BUDGET})")
    return value


def _add_pareto(sub) -> None:  # noqa: ANN001 - argparse's subparsers action
    p = sub.add_parser("pareto", help="the front: automaton size against held-out agreement with the net",
                       description="Fit a fine automaton, merge it down one state at a time, and measure every size on "
                                   "held-out words: the most faithful automaton of each size, the knee (what `extract` "
                                   "returns) and the smallest reaching --target.")
    _add_source(p, model=True)
    p.add_argument("--data", metavar="FILE.jsonl",
                   help="fitting words (default with --language: its train split; labels give task accuracy)")
    p.add_argument("--validation", metavar="FILE.jsonl",
                   help="held-out words to measure the front on (default with --language: its validation split; "
                        "otherwise 20%% of the fitting words are held out)")
    p.add_argument("--max-states", type=int, default=64, metavar="N", help="the largest automaton (default: 64)")
    p.add_argument("--target", type=float, default=0.99, metavar="P",
                   help="report the smallest automaton whose held-out prefix agreement reaches P (default: 0.99)")
    p.add_argument("--at", type=int, default=None, metavar="N",
                   help="with --out: save the most faithful automaton of at most N states (default: what `extract` returns)")
    p.add_argument("--out", metavar="FSM.json", help="save the automaton `extract` returns (or --at N's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the clustering and the split (default: 0)")
    p.add_argument("--sample-steps", type=int, default=None, metavar="N",
                   help="data past N steps is fitted on a seeded sample of about N steps, and the front measured chunk "
                        "by chunk on the rest (or on all of --validation) (default: 1000000, fewer for wide nets)")
    p.add_argument("--plot", metavar="PATH", help="write the plot (.png, .svg or .pdf)")
    p.add_argument("--json", metavar="OUT.json", help="also write the front as JSON")
    p.set_defaults(func=_cmd_pareto)


def _add_fidelity_inputs(f: argparse.ArgumentParser) -> None:
    """The inputs `fidelity` and `report` share: the net, the automaton (or a specification), the words."""
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
    f.add_argument("--search", type=_search_steps, default=0, metavar="STEPS",
                   help="also search the net for disagreements the data does not show, spending up to STEPS "
                        "net steps (e.g. 1000000, at most 10^9; default: no search)")


def _add_report(sub) -> None:  # noqa: ANN001 - argparse's subparsers action
    p = sub.add_parser("report", help="one self-contained HTML page: fidelity, the automaton, residual, states, front",
                       description="Measure the automaton as `fidelity` does and write one HTML file that opens offline: "
                                   "the headline and figures, the automaton (transitions that carry residual in red, "
                                   "those completed from the net dashed grey), agreement by length, the residual with "
                                   "witnesses, what each state means, what a search found, how it was made; with "
                                   "--front, also the extraction front.")
    _add_fidelity_inputs(p)
    p.add_argument("--out", required=True, metavar="REPORT.html", help="where to write the page (.html)")
    p.add_argument("--front", action="store_true",
                   help="also compute the front (`fsm-extract pareto`: automaton size against held-out agreement) on "
                        "the fitting words (--fit-data, or the language's train split) and include it")
    p.add_argument("--max-states", type=int, default=64, metavar="N", help="with --front: the largest automaton (default: 64)")
    p.add_argument("--title", metavar="TEXT", help="the page's title")
    p.add_argument("--json", metavar="OUT.json", help="also write the whole report as JSON")
    p.set_defaults(func=_cmd_report)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fsm-extract",
        description="Extract finite-state machines from recurrent networks and measure how much of the net they explain.",
    )
    parser.add_argument("--version", action="version", version="%(prog)s 0.1.0")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train an RNN classifier on a language or a JSONL dataset",
                       description="Train a recurrent classifier (acceptance, or a class for class-id labels, after every "
                                   "symbol; or with --next-symbol a next-symbol model) and save it.")
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
    t.add_argument("--extractability", type=float, default=0.0, metavar="S",
                   help="strength of the regulariser that makes the net's states fall into few regions, so that an "
                        "extracted automaton explains more of it (default: 0, none; try 0.1-0.3)")
    t.add_argument("--extractability-method", choices=METHODS, default=None,
                   help="how the regulariser works (default: centroids; needs --extractability > 0)")
    t.add_argument("--extractability-consistency", type=float, default=None, metavar="C",
                   help="weight of the centroids' consistency: each step, run again from the previous state's "
                        "centroid, must land where the net did (default: 0, off; needs --extractability > 0; "
                        "measured with the Python API's horizon=3 and 4x the benchmark's words: benchmarks/README.md)")
    t.add_argument("--extractability-horizon", type=float, default=None, metavar="X",
                   help="also apply the term to unlabelled words up to X times the longest training word (0: off, or "
                        ">= 1; default: 0; needs --extractability > 0)")
    t.add_argument("--extractability-every", type=int, default=None, metavar="K",
                   help="compute the regulariser's term on every K-th batch only; the others cost a plain batch "
                        "(default: 1, every batch; needs --extractability > 0)")
    t.add_argument("--next-symbol", action="store_true",
                   help="train a next-symbol (language) model on the words of --data (labels ignored; a .txt file: one "
                        "word per line, each character a symbol)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_cmd_train)

    _add_extract(sub)

    r = sub.add_parser("render", help="draw an automaton (svg, png, pdf or dot) or write its table (txt, html)",
                       description="Draw a saved automaton with Graphviz; the format follows the suffix of --out. "
                                   "Above 30 states rare states are folded and chains collapsed, above 15 strongly "
                                   "connected components are boxed, above 80 nodes the transition table is drawn.")
    r.add_argument("fsm", metavar="FSM.json", help="an automaton written by `fsm-extract extract`")
    r.add_argument("--out", required=True, metavar="PATH",
                   help="output file: .svg, .png, .pdf or .dot (a diagram), .txt or .html (the transition table)")
    r.add_argument("--highlight", metavar="WORD", default=None, help="draw the path this word takes, step by step")
    r.add_argument("--fold", default="auto", metavar="SHARE",
                   help="fold states with less than SHARE of the traffic (e.g. 0.01) into one node per strongly "
                        "connected component; 'auto' (default: 0.01 above 30 states) or 'off'")
    r.add_argument("--collapse-chains", choices=("auto", "on", "off"), default="auto",
                   help="draw chains of states (one way in, one way out) as one node (default: auto, above 30 states)")
    r.add_argument("--clusters", choices=("auto", "on", "off"), default="auto",
                   help="box strongly connected components (default: auto, above 15 states)")
    r.add_argument("--view", choices=("auto", "diagram", "table"), default="auto",
                   help="draw the diagram or the transition table (default: auto, the table above 80 nodes)")
    r.add_argument("--rankdir", choices=("LR", "TB", "RL", "BT"), default="LR", help="layout direction (default: LR)")
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
    _add_fidelity_inputs(f)
    _add_scale(f)
    f.add_argument("--json", metavar="OUT.json", help="also write the whole report as JSON")
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

    _add_pareto(sub)
    _add_report(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fsm-extract`` console script; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else map(str, argv))  # recorded for reproduction
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
