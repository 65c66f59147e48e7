"""The package's shape: layers imported one way, no cycles, small modules and functions.

Every import of the package is parsed, those inside functions included (only imports under
``if TYPE_CHECKING:`` are skipped: they never run). A module may import from its own layer and
the layers below it (see ../shared/design.md, "Architecture: layers"), never from above, and
the imports between modules must form no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fsm_extract"

#: Lowest first. A top-level module not listed here is part of the public API layer.
LAYERS = {
    "base": ["errors", "_checks", "_limits", "words"],
    "data": ["data"],
    "automata": ["automata"],
    "nets": ["nets"],
    "abstraction": ["abstraction"],
    "analysis": ["analysis"],
    "extraction": ["extraction"],
}
RANK = {name: i for i, name in enumerate(LAYERS)}
API = len(LAYERS)  # __init__, cli and the public facades (languages, datasets, networks)

MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 120
MAX_PARAMETERS = 14
#: Functions allowed more, each with its reason.
PARAMETER_EXCEPTIONS = {
    # issue 14 asked for `extractability=` beside the 14 keywords users already pass (all public)
    "nets.training.train_classifier": 15,
    # the same keywords as train_classifier (alphabet= in place of language=), as the issue asked
    "nets.next_symbol.train_next_symbol": 15,
    # issue 17 asked for engine= (with its scheduler=), device= and streaming (sample_steps=) beside
    # the 14 keywords extract already took (all public)
    "extraction.extract.extract": 18,
}


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(p for p in parts if p != "__init__")
        out[name] = path
    return out


def layer_of(module: str) -> int:
    top = module.split(".")[0] if module else ""
    for layer, members in LAYERS.items():
        if top in members:
            return RANK[layer]
    return API


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skip.update(id(n) for n in ast.walk(inner))
    return skip


def imports_of(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package modules ``module`` imports (by any import statement that can run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("fsm_extract"):
                target = node.module[len("fsm_extract"):].lstrip(".")
            else:
                continue
            for alias in node.names:  # "from . import x" imports the module x
                full = f"{target}.{alias.name}".lstrip(".")
                found.add(full if full in known else target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("fsm_extract."):
                    found.add(alias.name[len("fsm_extract."):])
    found.discard(module)
    return {m for m in found if m in known and m != ""}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: imports_of(m, p, known) for m, p in known.items()}


def test_no_import_goes_up_a_layer():
    upward = [f"{m} (layer {layer_of(m)}) imports {t} (layer {layer_of(t)})"
              for m, targets in graph().items() for t in sorted(targets) if layer_of(t) > layer_of(m)]
    assert not upward, "\n".join(upward)


def test_no_import_cycle():
    g = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for t in sorted(g[m]):
            if state.get(t) == 1:
                cycles.append(" -> ".join(stack[stack.index(t):] + [t]) if t in stack else f"{m} -> {t}")
            elif t not in state:
                visit(t, stack + [t])
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m, [m])
    assert not cycles, "\n".join(cycles)


def test_subpackages_do_not_import_the_public_api_layer():
    bad = [f"{m} imports {t}" for m, targets in graph().items() if layer_of(m) < API
           for t in targets if layer_of(t) == API]
    assert not bad, "\n".join(bad)


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


@pytest.mark.parametrize("name", sorted(modules()))
def test_module_size_function_size_and_parameters(name):
    path = modules()[name]
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{name}: {len(text.splitlines())} lines"
    tree = ast.parse(text)
    for fn in _functions(tree):
        length = fn.end_lineno - fn.lineno + 1
        assert length <= MAX_FUNCTION_LINES, f"{name}.{fn.name}: {length} lines"
        a = fn.args
        n = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) - (1 if a.args and a.args[0].arg in ("self", "cls") else 0)
        assert n <= PARAMETER_EXCEPTIONS.get(f"{name}.{fn.name}", MAX_PARAMETERS), f"{name}.{fn.name}: {n} parameters"


def test_every_module_has_all():
    missing = [m for m, p in modules().items() if p.name != "__init__.py" and m != "cli"
               and "__all__" not in p.read_text(encoding="utf-8")]
    assert not missing, missing


def test_the_checker_sees_function_level_imports(tmp_path):
    """A self-test: an import inside a function counts, one under TYPE_CHECKING does not."""
    src = tmp_path / "x.py"
    src.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n"
                   "def f():\n    from .c import C\n    return C\n")
    assert imports_of("x", src, {"x": src, "b": src, "c": src}) == {"c"}
