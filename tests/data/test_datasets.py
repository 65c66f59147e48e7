"""Tests of fsm_extract.data.datasets: the bundled splits, their regeneration, and user JSONL files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_extract import datasets

from fsm_extract import languages
from fsm_extract.data.datasets import Dataset
from fsm_extract.errors import ArgumentTypeError, DataFormatError, MissingFileError, UnknownSymbolError, ValidationError

REPO = Path(__file__).resolve().parents[2]
SIZES = {"train": 2000, "validation": 500, "test": 2000}
MAX_LEN = {"train": 20, "validation": 60, "test": 60}


def load_script():
    spec = importlib.util.spec_from_file_location("make_datasets", REPO / "scripts" / "make_datasets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _bundled_here(monkeypatch):
    monkeypatch.delenv("FSM_EXTRACT_DATASETS", raising=False)


# ---------------------------------------------------------------------------------------------
# Bundled splits


@pytest.mark.parametrize("n", range(1, 8))
@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_bundled_split(n, split):
    data = datasets.load(f"tomita{n}", split=split)
    assert len(data) == SIZES[split] and data.alphabet == ("0", "1") and data.name == f"tomita{n}/{split}"
    assert data.lengths.min() == 0 and data.lengths.max() == MAX_LEN[split]
    np.testing.assert_array_equal(data.labels, languages.tomita(n).accepts_many(data.words))
    data.check_nonempty(both_classes=True)
    # balanced at every length where the language has both classes
    acc = np.bincount(data.lengths[data.labels], minlength=MAX_LEN[split] + 1)
    rej = np.bincount(data.lengths[~data.labels], minlength=MAX_LEN[split] + 1)
    both = (acc > 0) & (rej > 0)
    assert (np.abs(acc - rej)[both] <= 1).all()


def test_bundled_test_split_goes_beyond_training_lengths():
    test = datasets.load("tomita3", split="test")
    assert (test.lengths > 20).sum() > 1000


def test_bundled_default_split_is_train():
    assert datasets.load("tomita5").name == "tomita5/train"


@pytest.mark.parametrize("name", ["tomita1", "tomita3", "tomita5"])
def test_regeneration_is_byte_identical(tmp_path, name):
    script = load_script()
    written = script.make_datasets(tmp_path, [name])
    assert sorted(p.name for p in written) == ["test.jsonl", "train.jsonl", "validation.jsonl"]
    for path in written:
        assert path.read_bytes() == (REPO / "datasets" / name / path.name).read_bytes(), path


def test_script_main_and_seeds(tmp_path, capsys):
    script = load_script()
    assert script.seed_for(3, "train") == 3000 and script.seed_for(7, "test") == 7002
    assert script.main(["--out", str(tmp_path), "--only", "tomita2"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "tomita2").iterdir()) == ["test.jsonl", "train.jsonl", "validation.jsonl"]
    assert not (tmp_path / "tomita1").exists()


def test_bundled_files_are_small_and_documented():
    total = sum(p.stat().st_size for p in (REPO / "datasets").glob("tomita*/*.jsonl"))
    assert total < 2_000_000
    readme = (REPO / "datasets" / "README.md").read_text(encoding="utf-8")
    assert "python scripts/make_datasets.py" in readme and "## Bundled models" in readme


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"name": "tomita8"}, ValidationError, "name='tomita8' must be one of"),
        ({"name": "tomita3", "split": "dev"}, ValidationError, "split='dev' must be one of"),
        ({"name": 3}, ArgumentTypeError, "name=3 must be a bundled dataset name or a path"),
    ],
)
def test_load_bad_names(kwargs, error, message):
    with pytest.raises(error, match=message):
        datasets.load(**kwargs)


def test_bundled_dir_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("FSM_EXTRACT_DATASETS", str(tmp_path))
    with pytest.raises(MissingFileError, match=r"name='tomita1', split='train': bundled file .* is missing") as info:
        datasets.load("tomita1")
    assert isinstance(info.value, FileNotFoundError)


# ---------------------------------------------------------------------------------------------
# User JSONL files


def test_jsonl_round_trip(tmp_path):
    data = languages.tomita(4).sample(n=100, max_len=12, seed=3)
    path = data.to_jsonl(tmp_path / "t4.jsonl")
    again = datasets.load(str(path))
    assert again.words == data.words and np.array_equal(again.labels, data.labels)
    assert again.name == "t4" and again.alphabet == ("0", "1")
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert set(first) == {"word", "label"} and isinstance(first["label"], bool)
    assert datasets.load(path).words == data.words  # a Path works too


def test_jsonl_round_trip_multichar_symbols(tmp_path):
    data = Dataset((("ab", "cd"), (), ("cd",)), np.array([True, False, True]), ("ab", "cd"))
    path = data.to_jsonl(tmp_path / "multi.jsonl")
    assert '"word": ["ab", "cd"]' in path.read_text(encoding="utf-8")
    again = datasets.load_jsonl(path, alphabet=("ab", "cd"))
    assert again.words == data.words and again.alphabet == ("ab", "cd")
    assert datasets.load_jsonl(path).alphabet == ("ab", "cd")  # inferred, sorted


@settings(max_examples=30)
@given(st.lists(st.tuples(st.text(alphabet="01", max_size=15), st.booleans()), min_size=1, max_size=20))
def test_jsonl_round_trip_property(tmp_path_factory, items):
    path = tmp_path_factory.mktemp("rt") / "d.jsonl"
    data = Dataset(tuple(w for w, _ in items), np.array([y for _, y in items]), "01")
    data.to_jsonl(path)
    again = datasets.load_jsonl(path, alphabet="01")
    assert again.words == data.words and np.array_equal(again.labels, data.labels)


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"word": "01", "label": tru', "line must be a JSON object, but it is not valid JSON"),
        ('{"word": "01"}', "line must be an object with keys 'word' and 'label'"),
        ('["01", true]', "line must be an object with keys 'word' and 'label'"),
        ('{"word": 5, "label": true}', "'word' must be a string or a list of strings, got 5"),
        ('{"word": "01", "label": "yes"}', "'label' must be true/false or a class id in \\[0, 65535\\], got 'yes'"),
        ('{"word": "01", "label": -1}', "'label' must be true/false or a class id in \\[0, 65535\\], got -1"),
    ],
)
def test_malformed_jsonl_names_the_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"word": "0", "label": false}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=message) as info:
        datasets.load(str(path))
    assert f"{path}:3:" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_file(tmp_path):
    for call in (lambda p: datasets.load_jsonl(p), lambda p: datasets.load(p)):
        with pytest.raises(MissingFileError, match=r"path=.*nope\.jsonl' must be an existing file") as info:
            call(str(tmp_path / "nope.jsonl"))
        assert isinstance(info.value, FileNotFoundError)


def test_unknown_symbol(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"word": "01", "label": true}\n{"word": "0x1", "label": false}\n', encoding="utf-8")
    with pytest.raises(UnknownSymbolError, match=r"words\[1\]='0x1' holds symbol 'x' at position 1"):
        datasets.load_jsonl(path, alphabet="01")
    with pytest.raises(UnknownSymbolError, match="symbol '2' at position 0"):
        Dataset(("2",), np.array([True]), "01")


def test_not_utf8(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"word": "\xff"}\n')
    with pytest.raises(DataFormatError, match="must be UTF-8 text"):
        datasets.load_jsonl(path)


# ---------------------------------------------------------------------------------------------
# Errors at the language/dataset boundary


@pytest.mark.parametrize("n", [0, 8])
def test_tomita_range(n):
    with pytest.raises(ValidationError, match=f"n={n} must be an integer from 1 to 7") as info:
        languages.tomita(n)
    assert isinstance(info.value, ValueError)


def test_min_len_above_max_len():
    with pytest.raises(ValidationError, match="^min_len=5 must be <= max_len=3$"):
        languages.tomita(1).sample(n=10, min_len=5, max_len=3)


def test_check_nonempty_both_classes():
    one_class = languages.tomita(2).sample(n=10, min_len=1, max_len=1, seed=0)  # (10)* has no odd words
    assert not one_class.labels.any()
    message = "data must hold both accepted and rejected words, but all 10 are rejected"
    with pytest.raises(ValidationError, match=message):
        one_class.check_nonempty(both_classes=True)
    one_class.check_nonempty()  # non-empty is enough without both_classes
    empty = Dataset((), np.zeros(0, dtype=bool), "01")
    with pytest.raises(ValidationError, match="train must hold at least one word, got an empty dataset"):
        empty.check_nonempty("train", both_classes=True)
    accepted_only = languages.tomita(1).sample(n=3, min_len=0, max_len=0)
    with pytest.raises(ValidationError, match="all 3 are accepted"):
        accepted_only.check_nonempty(both_classes=True)


def test_class_id_labels_make_a_classes_dataset(tmp_path):
    data = datasets.Dataset(("ab", "a", ""), [0, 2, 1], "ab")
    assert data.output_kind == "classes" and data.n_classes == 3 and data.labels.dtype == np.int64
    assert datasets.Dataset(("ab", "a"), [0, 1], "ab").output_kind == "accept"
    wide = datasets.Dataset(("ab", "a"), [0, 1], "ab", n_classes=4)
    assert wide.n_classes == 4 and wide.subset([1]).n_classes == 4
    path = tmp_path / "c.jsonl"
    data.to_jsonl(path)
    again = datasets.load(str(path))
    assert again.n_classes == 3 and again.labels.tolist() == [0, 2, 1]
    with pytest.raises(ValidationError, match=r"class ids in \[0, n_classes=3\), got 3"):
        datasets.Dataset(("ab", "a"), [0, 3], "ab", n_classes=3)
    with pytest.raises(ValidationError, match="class ids >= 0, got -2"):
        datasets.Dataset(("ab", "a"), [0, -2], "ab")
    with pytest.raises(ValidationError, match="at least two classes"):
        datasets.Dataset(("ab", "a"), [2, 2], "ab").check_nonempty("data", both_classes=True)
