"""Tests of fsm_extract.errors: every error is the package's own and the built-in a caller expects."""

from __future__ import annotations

import pytest

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


def test_every_exported_error_and_warning_is_the_packages_own():
    from fsm_extract import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        assert getattr(fx, name) is cls  # exported at the top level too
        assert issubclass(cls, (fx.FsmExtractError, fx.FsmExtractWarning)), name
    assert issubclass(fx.FsmExtractWarning, UserWarning)
    assert issubclass(fx.FewerClustersWarning, fx.FsmExtractWarning)
    assert not issubclass(fx.FsmExtractWarning, fx.FsmExtractError)


def test_catching_the_builtin_catches_the_packages_error():
    with pytest.raises(ValueError):
        fx.languages.tomita(0)
    with pytest.raises(TypeError):
        fx.languages.tomita("4")
    with pytest.raises(FileNotFoundError):
        fx.load_fsm("/nonexistent/fsm.json")


def test_write_error_keeps_the_errno_and_prints_only_its_message():
    err = fx.WriteError("path='x' could not be written (No space left on device)", 28)
    assert err.errno == 28 and str(err) == "path='x' could not be written (No space left on device)"
    assert fx.WriteError("no errno").errno is None
