"""A synthetic translation task: dates written in many languages and formats -> ISO 8601.

``"samedi 3 février 2001"``, ``"2001年2月3日土曜日"``, ``"Feb 3, 2001"`` -> ``"2001-02-03"``.
Babel renders each date with the Unicode CLDR conventions of a locale, so the task has
real variety (scripts, word order, inflected month names) yet a known answer.

Only renderings that name the month and write the year in full are used: in ``03/02/01``
nobody can tell the day from the month or the century, and a task without a unique
answer teaches a model nothing.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Sequence

import numpy as np

from workbook.data.seq2seq import Seq2SeqData, split_indices

__all__ = ["LOCALES", "FORMATS", "render_date", "usable_formats", "load_dates"]

INSTALL_HINT = "pip install babel"

LOCALES = ("en_US", "en_GB", "fr_FR", "de_DE", "es_ES", "it_IT", "pt_BR", "nl_NL", "sv_SE",
           "pl_PL", "cs_CZ", "tr_TR", "ru_RU", "uk_UA", "el_GR", "fi_FI", "hu_HU", "id_ID",
           "vi_VN", "ja_JP", "zh_CN", "ko_KR", "hi_IN", "ar_EG", "he_IL", "th_TH")
# Babel's named formats, then CLDR patterns (d day, M/MMM/MMMM month as number/short/long
# name, y year, EEE/EEEE short/long weekday); babel puts them in each locale's words
FORMATS = ("short", "medium", "long", "full", "d MMM y", "d MMMM y", "MMMM d, y",
           "EEE, d MMM y", "EEEE d MMMM y", "dd MMM y", "y MMM d", "MMM d y")
START, END = dt.date(1950, 1, 1), dt.date(2049, 12, 31)  # a century of dates
_PROBE = dt.date(2001, 2, 3)  # day, month and year all different, the year 4 digits


def _babel():
    try:
        import babel.dates

        return babel.dates
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"the dates data set is generated with Babel: `{INSTALL_HINT}`") from None


def render_date(date: dt.date, locale: str, fmt: str) -> str:
    """``date`` as written in ``locale`` with a named format or CLDR pattern, normalised:
    invisible direction marks dropped, every kind of space made a plain space."""
    text = unicodedata.normalize("NFC", _babel().format_date(date, fmt, locale=locale))
    return "".join(" " if unicodedata.category(ch) == "Zs" else ch for ch in text
                   if unicodedata.category(ch) != "Cf")


def usable_formats(locales: Sequence[str] = LOCALES,
                   formats: Sequence[str] = FORMATS) -> list[tuple[str, str]]:
    """The (locale, format) pairs whose renderings name the month in words and write the
    year in four digits, so that the date can be read back without guessing."""
    bd = _babel()
    pairs = []
    for locale in locales:
        names = {bd.get_month_names(width, context, locale=locale)[_PROBE.month]
                 for width in ("wide", "abbreviated") for context in ("format", "stand-alone")}
        for fmt in formats:
            text = render_date(_PROBE, locale, fmt)
            if str(_PROBE.year) in text and any(name in text for name in names):
                pairs.append((locale, fmt))
    return pairs


def load_dates(num_train: int = 20_000, num_val: int = 2_000, num_test: int = 2_000, *,
               locales: Sequence[str] = LOCALES, formats: Sequence[str] = FORMATS,
               start: dt.date = START, end: dt.date = END,
               fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> Seq2SeqData:
    """Written dates (characters) -> ``YYYY-MM-DD`` (characters), in train/val/test.

    The days from ``start`` to ``end`` are split by ``fractions`` (fixed by ``seed``),
    so a test example is a day never seen in training in any language. Each example is
    a random day of its split in a random usable (locale, format); the sources within a
    split are distinct. A rendering shared by two different days (rare, across
    locales) is dropped everywhere, so a split can come out a few examples short.
    """
    pairs = usable_formats(locales, formats)
    if not pairs:
        raise ValueError("no (locale, format) pair names the month and writes a 4-digit year")
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    rng = np.random.default_rng(seed)
    splits: list[dict[str, str]] = []
    target_of: dict[str, str] = {}  # every source so far -> its ISO date, across splits
    ambiguous: set[str] = set()  # sources seen with two different dates
    for part, n in zip(split_indices(len(days), fractions, seed), (num_train, num_val, num_test)):
        capacity = len(part) * len(pairs)
        if n > capacity // 2:  # sampling without repeats slows down as it nears capacity
            raise ValueError(f"{n} examples asked of a split with only {capacity} possible; "
                             "widen start..end or add locales/formats")
        examples: dict[str, str] = {}  # source -> ISO date; a dict keeps sources distinct
        while len(examples) < n:
            day = days[part[rng.integers(len(part))]]
            locale, fmt = pairs[rng.integers(len(pairs))]
            source, target = render_date(day, locale, fmt), day.isoformat()
            if target_of.setdefault(source, target) != target:
                ambiguous.add(source)
            examples[source] = target
        splits.append(examples)
    train, val, test = ([(s, t) for s, t in ex.items() if s not in ambiguous] for ex in splits)
    return Seq2SeqData.from_splits(train, val, test, src_sep="", tgt_sep="",
                                   name="dates -> ISO 8601")
