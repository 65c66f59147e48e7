"""Same input, same output: randomness left on in a user's net is found at the boundary.

Traces put the parts they can see (``embedding``, ``rnn``, ``head`` when they are
``nn.Module``) in eval mode while they run. A part reached only through a function is not
seen that way: ``RecurrentAdapter(embedding=lambda ids: drop(emb(ids)), ...)`` with ``drop``
an ``nn.Dropout`` in train mode keeps dropping, and two extractions with the same seed differ.

:func:`check_deterministic` runs a small probe batch through the net twice (with the visible
parts in eval mode). When the two differ, it puts every ``nn.Module`` reachable from the parts
in eval mode (closure cells of functions and lambdas, the globals they name, a bound method's
``__self__``, ``functools.partial`` arguments, a callable object's attributes, and every
submodule of each) and says so in a warning; if the passes still differ, it refuses the net
with a :class:`~fsm_extract.errors.ValidationError` naming the part.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import types
import warnings
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from ..errors import ValidationError

__all__ = ["eval_mode", "reachable_modules", "check_deterministic"]

_PARTS = ("embedding", "rnn", "head")


@contextlib.contextmanager
def eval_mode(model: Any) -> Iterator[None]:
    """Put every torch part in eval mode and restore the previous modes afterwards."""
    parts = [p for p in (getattr(model, name, None) for name in _PARTS) if isinstance(p, nn.Module)]
    if isinstance(model, nn.Module):
        parts.append(model)
    modes = [p.training for p in parts]
    try:
        for p in parts:
            p.eval()
        yield
    finally:
        for p, m in zip(parts, modes):
            p.train(m)


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def reachable_modules(obj: Any, path: str, *, max_depth: int = 8) -> list[tuple[str, nn.Module]]:
    """Every ``nn.Module`` reachable from ``obj`` (a part of a net), with a readable path.

    Follows submodules, closure cells and the globals a function names, a bound method's
    ``__self__``, ``functools.partial`` arguments, the attributes of a callable object, and
    lists, tuples and dicts among them (``max_depth`` levels of indirection)."""
    out: list[tuple[str, nn.Module]] = []
    seen: set[int] = set()

    def visit(x: Any, where: str, depth: int) -> None:
        if depth > max_depth or id(x) in seen or isinstance(x, (types.ModuleType, type, str, bytes, int, float)):
            return
        seen.add(id(x))
        if isinstance(x, nn.Module):
            for name, m in x.named_modules():
                if id(m) not in seen or m is x:
                    seen.add(id(m))
                    out.append((f"{where}.{name}" if name else where, m))
        elif inspect.ismethod(x):
            visit(x.__self__, f"{where} (bound to {type(x.__self__).__name__})", depth + 1)
            visit(x.__func__, where, depth + 1)
        elif isinstance(x, functools.partial):
            for i, v in enumerate((x.func, *x.args, *x.keywords.values())):
                visit(v, f"{where} (partial argument {i})", depth + 1)
        elif inspect.isfunction(x):
            for name, cell in zip(x.__code__.co_freevars, x.__closure__ or ()):
                try:
                    value = cell.cell_contents
                except ValueError:  # an empty cell
                    continue
                visit(value, f"{where} (closure {name!r})", depth + 1)
            for name in sorted(_code_names(x.__code__)):
                if name in x.__globals__:
                    visit(x.__globals__[name], f"{where} (global {name!r})", depth + 1)
            for i, v in enumerate(x.__defaults__ or ()):
                visit(v, f"{where} (default {i})", depth + 1)
        elif isinstance(x, (list, tuple)):
            for i, v in enumerate(x):
                visit(v, f"{where}[{i}]", depth + 1)
        elif isinstance(x, dict):
            for k, v in x.items():
                visit(v, f"{where}[{k!r}]", depth + 1)
        elif callable(x) and hasattr(x, "__dict__"):
            for k, v in vars(x).items():
                visit(v, f"{where}.{k}", depth + 1)

    visit(obj, path, 0)
    return out


@torch.no_grad()
def _passes_agree(model: Any) -> tuple[bool, str]:
    """Whether two identical forward passes of a probe batch agree, and if not, which parts
    differ on their own (``"embedding"``, ``"rnn"``, ``"head"``)."""
    k = len(model.alphabet)
    ids = (torch.arange(12) % k).reshape(3, 4).to(model._device())

    def forward() -> tuple[torch.Tensor, ...]:
        x = model.embedding(ids)
        top, _ = model.rnn(x)
        return x, top, model.step_logits(top)

    with eval_mode(model):
        try:
            a, b = forward(), forward()
        except Exception:  # a part that fails on the probe fails, with its own message, when used
            return True, ""
        same = [torch.allclose(u, v, rtol=0.0, atol=1e-5) for u, v in zip(a, b)]
        if all(same):
            return True, ""
        if not same[0]:
            where = "embedding"
        elif not same[1]:
            where = "rnn"
        else:
            where = "head"
    return False, where


def check_deterministic(model: Any, *, name: str = "model") -> None:
    """Make sure two identical forward passes of ``model`` agree (see the module docstring).

    Raises
    ------
    ValidationError
        When they still differ after every reachable module was put in eval mode.

    Warns
    -----
    UserWarning
        Naming each module that was switched to eval mode (permanently: it is the user's
        model, and a net in train mode is not what is being described).
    """
    same, where = _passes_agree(model)
    if same:
        return
    visible = {id(m) for part in _PARTS if isinstance(getattr(model, part, None), nn.Module)
               for m in getattr(model, part).modules()}  # put in eval mode by every trace already
    switched = {id(m): (path, m) for part in _PARTS for path, m in reachable_modules(getattr(model, part, None), part)
                if m.training and id(m) not in visible}
    for _, module in switched.values():
        module.eval()
    leaves = [(path, m) for path, m in switched.values() if not any(True for _ in m.children())]
    random_kinds = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm)
    named = [(p, m) for p, m in leaves if isinstance(m, random_kinds) or getattr(m, "dropout", 0)] or leaves
    found = [f"{type(m).__name__} in {p}" for p, m in named]
    if found:
        shown = "; ".join(found[:6]) + (f"; and {len(found) - 6} more" if len(found) > 6 else "")
        others = len(switched) - len(named)
        warnings.warn(f"{name}: two identical forward passes differed, so modules reached through its parts were "
                      f"switched to eval mode: {shown}" + (f" (and {others} other module(s))" if others > 0 else "")
                      + ". Put your model in eval mode before extracting", UserWarning, stacklevel=3)
        same, where = _passes_agree(model)
        if same:
            return
    raise ValidationError(f"{name}: two identical forward passes differ: dropout or other randomness is active in "
                          f"{where}; put your model in eval mode (and remove random operations from its parts)")
