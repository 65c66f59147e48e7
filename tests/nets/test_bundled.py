"""Tests of fsm_extract.nets.bundled: the bundled Tomita models."""

from __future__ import annotations

import pytest

import fsm_extract as fx
from fsm_extract.errors import MissingFileError, ValidationError
from fsm_extract.nets.bundled import bundled_model


@pytest.mark.parametrize("name", ["tomita2", "tomita4"])
def test_bundled_model_is_a_trained_classifier_of_its_language(name):
    model = bundled_model(name)
    assert isinstance(model, fx.RNNClassifier) and model.alphabet == ("0", "1") and model.hidden_size == 32
    test = fx.datasets.load(name, split="test")
    words, labels = test.words[:400], test.labels[:400]
    assert (model.predict(words) == labels).mean() >= 0.97
    assert fx.datasets.bundled_model is bundled_model  # the public face


@pytest.mark.parametrize("name", ["tomita0", "tomita8", "TOMITA4", ""])
def test_unknown_names_are_refused(name):
    with pytest.raises(ValidationError, match="name="):
        bundled_model(name)


def test_a_missing_model_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("FSM_EXTRACT_DATASETS", str(tmp_path))  # the documented override
    with pytest.raises(MissingFileError, match=r"name='tomita3'.*tomita3\.pt"):
        bundled_model("tomita3")
