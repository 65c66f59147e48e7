"""Fixtures the extraction tests share: the bundled Tomita 7 model and its train split."""

from __future__ import annotations

import pytest

import fsm_extract as fx


@pytest.fixture(scope="session")
def t7_model():
    return fx.datasets.bundled_model("tomita7")


@pytest.fixture(scope="session")
def t7_train():
    return fx.datasets.load("tomita7", split="train")
