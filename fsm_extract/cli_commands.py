"""The commands of the ``fsm-extract`` command line (:mod:`fsm_extract.cli` parses the
arguments and calls one of these). Each is a thin layer over the public API."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from . import datasets, languages
from ._checks import atomic_write_text, check_choice, check_existing_file, check_out_dir, check_out_path
from .analysis.fidelity import as_specification, fidelity
from .automata.automaton import load_fsm
from .automata.render import SUFFIXES
from .cli_train_options import extractability_from_args
from .errors import DataFormatError, GraphvizNotFoundError, ValidationError
from .extraction.extract import extract
from .extraction.pareto import pareto
from .extraction.refinement import Refinement
from .extraction.sweep import sweep
from .nets.checkpoints import load_model
from .nets.next_symbol import train_next_symbol
from .nets.training import train_classifier

__all__: list[str] = []


def _interactive() -> bool:
    """Progress bars only on a terminal: piped or captured stderr keeps just the one error line."""
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def _write_json(path, payload) -> None:
    atomic_write_text(path, json.dumps(payload, indent=2, default=float) + "\n", name="--json")


def _fidelity_inputs(args: argparse.Namespace) -> tuple[Any, Any, Any, Any, Any]:
    """(model, fsm or specification, data, reference, fit data) of `fidelity` and `report`."""
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
        data = check_existing_file("--data", args.data)  # read chunk by chunk (streamed when large)
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
    return model, fsm, data, reference, fit_data


def _cmd_fidelity(args: argparse.Namespace) -> None:

    json_out = check_out_path("--json", args.json, suffixes=(".json",)) if args.json is not None else None
    model, fsm, data, reference, fit_data = _fidelity_inputs(args)
    report = fidelity(model, fsm, data, reference=reference, fit_data=fit_data, search=args.search or False,
                      **_scale(args))
    print(report.summary())
    if json_out is not None:
        _write_json(json_out, report.to_dict())
        print(f"report written to {json_out}")


def _cmd_report(args: argparse.Namespace) -> None:

    out = check_out_path("--out", args.out, suffixes=(".html", ".htm"))
    json_out = check_out_path("--json", args.json, suffixes=(".json",)) if args.json is not None else None
    if args.max_states < 1:
        raise ValidationError(f"--max-states={args.max_states} must be >= 1")
    model, fsm, data, reference, fit_data = _fidelity_inputs(args)
    front_fit, validation = fit_data, None
    if args.front and args.language is not None:
        front_fit = front_fit if front_fit is not None else datasets.load(args.language, split="train")
        validation = datasets.load(args.language, split="validation")
    if args.front and front_fit is None:
        raise ValidationError("--front needs the fitting words: pass --fit-data FILE.jsonl (or use --language)")
    started = time.perf_counter()
    report = fidelity(model, fsm, data, reference=reference, fit_data=fit_data, search=args.search or False)
    front = None
    if args.front:
        front = pareto(model, front_fit, validation=validation, max_states=args.max_states, progress=_interactive())
    drawn = as_specification(fsm, model.alphabet)
    command = "fsm-extract " + shlex.join(args.argv) if getattr(args, "argv", None) else None
    path = report.to_html(out, fsm=drawn, front=front, title=args.title, command=command)
    print(report.headline)
    print(f"report written to {path} ({path.stat().st_size / 1024:.0f} KiB, {time.perf_counter() - started:.1f} s)")
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


def _cmd_pareto(args: argparse.Namespace) -> None:

    plot = check_out_path("--plot", args.plot, suffixes=(".png", ".svg", ".pdf")) if args.plot is not None else None
    json_out = check_out_path("--json", args.json, suffixes=(".json",)) if args.json is not None else None
    out = check_out_path("--out", args.out, suffixes=(".json",)) if args.out is not None else None
    if not 0.0 <= args.target <= 1.0:
        raise ValidationError(f"--target={args.target} must be a share in [0, 1], e.g. 0.99")
    if args.max_states < 1:
        raise ValidationError(f"--max-states={args.max_states} must be >= 1")
    if args.at is not None and args.at < 1:
        raise ValidationError(f"--at={args.at} must be >= 1 (a number of states)")
    if args.at is not None and out is None:
        raise ValidationError(f"--at={args.at} needs --out: it names the automaton to save")
    model, data, _ = _load_source(args, stream=True)
    validation = None
    if args.validation is not None:
        validation = check_existing_file("--validation", args.validation)  # read chunk by chunk
    elif args.language is not None:
        validation = datasets.load(args.language, split="validation")
    front = pareto(model, data, validation=validation, max_states=args.max_states, seed=args.seed,
                   progress=_interactive(), sample_steps=args.sample_steps)
    print(f"front measured on {front.evaluated_on}")
    print(front.table())
    knee, choice = front.knee(), front.choice()
    chosen = choice if args.at is None else front.at(args.at)
    best = front.best(args.target)
    reached = best.agreement >= args.target
    print(f"knee: {knee.n_states} states, {knee.agreement:.2%} of held-out prefixes")
    if choice is not knee:
        print(f"the knee fails the counterexample check the fine automaton passed: the smallest that passes it has "
              f"{choice.n_states} states ({choice.agreement:.2%})")
    print(f"what `fsm-extract extract` returns: {choice.n_states} states")
    print(f"smallest reaching {args.target:.2%}: {best.n_states} states ({best.agreement:.2%})" if reached
          else f"no automaton reached {args.target:.2%}; the most faithful has {best.n_states} states ({best.agreement:.2%})")
    if out is not None:
        chosen.fsm.save(out)
        print(f"saved the {chosen.n_states}-state automaton to {out}")
    if plot is not None:
        front.plot(plot, title=f"{args.language or Path(args.model).stem}: extraction front ({front.evaluated_on})")
        print(f"plot written to {plot}")
    if json_out is not None:
        _write_json(json_out, front.to_dict())
        print(f"front written to {json_out}")


def _scale(args: argparse.Namespace) -> dict[str, Any]:
    """The keywords of --sample-steps, --engine, --scheduler and --device."""
    engine = args.engine or ("dask" if args.scheduler else "local")
    return {"sample_steps": args.sample_steps, "engine": engine, "scheduler": args.scheduler, "device": args.device}


def _load_source(args: argparse.Namespace, *, stream: bool = False):
    """(model, fitting data, language or None) from --model/--language and --data; with
    ``stream``, --data stays a path (read chunk by chunk)."""

    language = None
    if args.language is not None:
        check_choice("--language", args.language, datasets.bundled_names())
        language = languages.tomita(int(args.language[len("tomita"):]))
        model = datasets.bundled_model(args.language)
    else:
        model = load_model(args.model)
    if args.data is not None:
        data = check_existing_file("--data", args.data) if stream else datasets.load_jsonl(args.data, alphabet=model.alphabet)
    elif args.language is not None:
        data = datasets.load(args.language, split="train")
    else:

        raise ValidationError("--data is required with --model: name the JSONL file of fitting words")
    return model, data, language


def _cmd_extract(args: argparse.Namespace) -> None:

    out = check_out_path("--out", args.out, suffixes=(".json",))
    model, data, _ = _load_source(args, stream=True)
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
    refine = False if args.no_refine else Refinement(search=args.search)
    fsm = extract(model, data, n_states=states, method=args.method, state=args.state, seed=args.seed,
                  progress=_interactive(), validation=validation, refine=refine, **_scale(args))
    if getattr(args, "argv", None):  # how to make it again (shown by `fsm-extract report`)
        fsm = fsm.with_metadata(command="fsm-extract " + shlex.join(args.argv))
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


def _fold_arg(text: str) -> Any:
    if text in ("auto", "off"):
        return None if text == "off" else text
    try:
        share = float(text)
    except ValueError:
        raise ValidationError(f"--fold={text!r} must be 'auto', 'off' or a traffic share in [0, 1)") from None
    if not 0.0 <= share < 1.0:
        raise ValidationError(f"--fold={text!r} must be a traffic share in [0, 1), 'auto' or 'off'")
    return share


def _cmd_render(args: argparse.Namespace) -> None:
    out = check_out_path("--out", args.out, suffixes=SUFFIXES + (".txt", ".html"))
    table = out.suffix.lower() in (".txt", ".html")
    if table and args.view == "diagram":
        raise ValidationError(f"--view=diagram needs --out ending in {', '.join(SUFFIXES)}, got {str(out)!r}")
    on_off = {"auto": "auto", "on": True, "off": False}
    fold = _fold_arg(args.fold)
    fsm = load_fsm(args.fsm)
    if table:
        text = fsm.to_table(fmt="html" if out.suffix.lower() == ".html" else "text")
        if out.suffix.lower() == ".html":
            text = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{Path(args.fsm).name}</title></head>'
                    f"<body>{text}</body></html>\n")
        path = atomic_write_text(out, text)
    else:
        path = fsm.render(out, hide_sink=args.hide_sink, min_confidence=args.min_confidence, show_support=args.show_support,
                          max_states=args.max_states, highlight=args.highlight, fold=fold, rankdir=args.rankdir,
                          collapse_chains=on_off[args.collapse_chains], clusters=on_off[args.clusters], view=args.view)
    print(f"wrote {path}")


def _cmd_demo(args: argparse.Namespace) -> None:


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


def _text_words(path: str) -> list[str]:
    """The non-empty lines of a UTF-8 text file, each a word of characters."""
    p = check_existing_file("--data", path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path!r} must be UTF-8 text: {exc.reason} at byte {exc.start}") from None
    words = [line for line in text.split("\n") if line]
    if not words:
        raise ValidationError(f"{path!r} must hold at least one non-empty line (a word)")
    return words


def _train_next_symbol(args: argparse.Namespace, data: Any, validation: Any, out: Path, extractability: Any) -> None:
    model = train_next_symbol(
        data, cell=args.cell, hidden_size=args.hidden_size, num_layers=args.layers, epochs=args.epochs, lr=args.lr,
        batch_size=args.batch_size, seed=args.seed, validation=validation, max_seconds=args.max_seconds,
        progress=not args.quiet and _interactive(), extractability=extractability or 0.0,
    )
    model.save(out)
    meta = model.metadata
    bits = meta.get("validation_bits_per_symbol", meta.get("train_bits_per_symbol"))
    which = {"held-out": f"held-out ({meta['held_out_words']} words)", None: "training"}.get(meta["watched"], meta["watched"])
    print(f"trained a next-symbol {args.cell} ({args.hidden_size} units, alphabet of {len(model.alphabet)}) in "
          f"{meta['seconds']:.1f} s, {meta['epochs_run']} epochs ({meta['stopped']}); {which} {bits:.4f} bits per "
          f"symbol; saved {out}")


def _cmd_train(args: argparse.Namespace) -> None:

    out = check_out_path("--out", args.out)
    extractability = extractability_from_args(args)
    language = None
    if args.language is not None:

        check_choice("--language", args.language, datasets.bundled_names())
        language = languages.tomita(int(args.language[len("tomita"):]))
        data = datasets.load(args.language, split="train")
        validation = datasets.load(args.language, split="validation")
    elif args.next_symbol and str(args.data).endswith(".txt"):
        data, validation = _text_words(args.data), None
    else:
        data = datasets.load_jsonl(args.data)
        validation = None
    if args.validation is not None:
        validation = (_text_words(args.validation) if args.next_symbol and str(args.validation).endswith(".txt")
                      else datasets.load_jsonl(args.validation, alphabet=data.alphabet))
    if args.next_symbol:
        return _train_next_symbol(args, data, validation, out, extractability)
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
        extractability=extractability or 0.0,
    )
    model.save(out)
    meta = model.metadata
    acc = meta.get("validation_accuracy", meta.get("train_accuracy"))
    which = {"held-out": f"held-out ({meta['held_out_words']} words)", None: "training"}.get(meta["watched"], meta["watched"])
    reg = meta["extractability"]
    extra = "" if reg is None else (f"; extractability {reg['strength']:g} ({reg['method']}"
                                    + (f", consistency {reg['consistency']:g}" if reg.get("consistency") else "")
                                    + (f", horizon {reg['horizon']:g}" if reg.get("horizon") else "")
                                    + (f", every {reg['every']} batches" if reg.get("every", 1) > 1 else "")
                                    + f"), last term {reg['term']:.4g}")
    print(f"trained {args.cell} ({args.hidden_size} units) in {meta['seconds']:.1f} s, {meta['epochs_run']} epochs "
          f"({meta['stopped']}); {which} accuracy {acc:.4f}{extra}; saved {out}")


