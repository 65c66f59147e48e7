"""Tests of fsm_extract.errors: every error is the package's own and the built-in a caller expects."""

from __future__ import annotations

import fsm_extract as fx


def test_every_error_class_has_its_builtin():
    assert issubclass(fx.ValidationError, ValueError) and issubclass(fx.ValidationError, fx.FsmExtractError)
    assert issubclass(fx.UnknownSymbolError, fx.ValidationError)
    assert issubclass(fx.ArgumentTypeError, TypeError) and issubclass(fx.ArgumentTypeError, fx.FsmExtractError)
    assert issubclass(fx.DataFormatError, ValueError) and issubclass(fx.DataFormatError, fx.FsmExtractError)
    assert issubclass(fx.MissingFileError, FileNotFoundError) and issubclass(fx.MissingFileError, fx.FsmExtractError)
    assert issubclass(fx.NotFittedError, AttributeError) and issubclass(fx.NotFittedError, fx.FsmExtractError)
    assert issubclass(fx.GraphvizNotFoundError, RuntimeError)
    assert issubclass(fx.GraphvizNotFoundError, fx.FsmExtractError)
    assert issubclass(fx.GraphvizTimeoutError, TimeoutError) and issubclass(fx.GraphvizTimeoutError, fx.FsmExtractError)
    assert issubclass(fx.WriteError, OSError) and issubclass(fx.WriteError, fx.FsmExtractError)
