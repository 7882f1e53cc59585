"""A small English Wikipedia corpus and the word-embedding benchmarks, from gensim's test data.

Everything comes with the pip package ``gensim`` (``pip install gensim``); nothing is
downloaded. The corpus is ``enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2``
(206 articles of the 2017 English Wikipedia, CC BY-SA), cleaned exactly as gensim's
``WikiCorpus`` cleans it: ``filter_wiki`` removes the markup and ``tokenize`` keeps
lower-cased alphabetic tokens of 2 to 15 characters (numbers and punctuation go). That gives
453,267 tokens. Articles are cut into "sentences" of at most ``SENTENCE_LENGTH`` tokens (a
context window never crosses one), so that gensim, which truncates longer sentences at
10,000 words, sees exactly the tokens our trainers see.

Cleaning takes a few seconds, so the token file is cached in the user's cache folder
(``$WORKBOOK_CACHE_DIR``, else ``$XDG_CACHE_HOME/workbook``, else ``~/.cache/workbook``), never
in the repository; it is rebuilt when gensim's file or ``CACHE_VERSION`` changes.

The evaluation sets (also in gensim's test data): ``questions-words.txt`` (19,544 analogies
a : b :: c : d in 14 sections), WordSim-353 (353 word pairs with a human relatedness score)
and SimLex-999 (999 pairs scored for similarity, not relatedness).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

__all__ = ["INSTALL_HINT", "WIKI_FILE", "SENTENCE_LENGTH", "cache_dir", "gensim_datapath",
           "load_wiki", "load_analogies", "load_wordsim", "load_simlex"]

INSTALL_HINT = "pip install gensim"
WIKI_FILE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
SENTENCE_LENGTH = 1000  # tokens per sentence: articles are cut into pieces this long
CACHE_VERSION = 1  # bump when the cleaning changes


def gensim_datapath(name: str) -> Path:
    """The path of one of gensim's test-data files, or a clear error naming the install."""
    try:
        from gensim.test.utils import datapath
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"the Wikipedia corpus and the word-similarity benchmarks come with gensim: "
            f"`{INSTALL_HINT}`") from None
    path = Path(datapath(name))
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from gensim's test data; reinstall: "
                                f"`{INSTALL_HINT}`")
    return path


def cache_dir() -> Path:
    """Where derived data is cached (``workbook.runtime.cache_dir``: $WORKBOOK_CACHE_DIR,
    $XDG_CACHE_HOME/workbook or ~/.cache/workbook)."""
    from workbook import runtime

    return runtime.cache_dir()


def _clean_articles(source: Path) -> list[list[str]]:
    """Every main-namespace article of the dump as a list of tokens, as WikiCorpus does it."""
    import bz2

    from gensim.corpora.wikicorpus import extract_pages, filter_wiki, tokenize

    articles = []
    with bz2.BZ2File(source) as f:
        for _title, text, _pageid in extract_pages(f, filter_namespaces=("0",)):
            tokens = tokenize(filter_wiki(text))  # lower case, 2..15 letters
            if tokens:
                articles.append(tokens)
    return articles


@lru_cache(maxsize=1)
def _all_sentences() -> tuple[tuple[str, ...], ...]:
    source = gensim_datapath(WIKI_FILE)
    stamp = f"v{CACHE_VERSION}-{source.stat().st_size}-{SENTENCE_LENGTH}"
    cached = cache_dir() / f"wiki-tokens-{stamp}.txt"
    if cached.exists():
        lines = cached.read_text(encoding="utf-8").splitlines()
        return tuple(tuple(line.split()) for line in lines)
    sentences = [tuple(tokens[i:i + SENTENCE_LENGTH])
                 for tokens in _clean_articles(source)
                 for i in range(0, len(tokens), SENTENCE_LENGTH)]
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        # write then rename: several kernels may build the cache at the same time
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text("\n".join(" ".join(s) for s in sentences) + "\n", encoding="utf-8")
        tmp.replace(cached)
    except OSError:  # a read-only home: work without the cache
        pass
    return tuple(sentences)


def load_wiki(limit_tokens: int | None = None) -> list[list[str]]:
    """The corpus as sentences of lower-case tokens (module docstring): 453,267 tokens.

    limit_tokens: keep only the first sentences, up to about this many tokens in all
    (whole sentences, at least one), for quick runs.
    """
    sentences, total = [], 0
    for sentence in _all_sentences():
        if limit_tokens is not None and total >= limit_tokens:
            break
        sentences.append(list(sentence))
        total += len(sentence)
    return sentences


def _read_pairs(name: str) -> list[tuple[str, str, float]]:
    pairs = []
    for line in gensim_datapath(name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        a, b, score = line.split("\t")[:3]
        pairs.append((a.lower(), b.lower(), float(score)))
    return pairs


def load_wordsim() -> list[tuple[str, str, float]]:
    """WordSim-353: (word1, word2, human relatedness 0..10), lower case; 353 pairs."""
    return _read_pairs("wordsim353.tsv")


def load_simlex() -> list[tuple[str, str, float]]:
    """SimLex-999: (word1, word2, human similarity 0..10), lower case; 999 pairs."""
    return _read_pairs("simlex999.txt")


def load_analogies() -> list[tuple[str, str, str, str, str]]:
    """Google's analogies a : b :: c : d as (section, a, b, c, d), lower case; 19,544 of them.

    Sections: "capital-common-countries", ..., "gram9-plural-verbs" (the first five are
    semantic, the rest syntactic).
    """
    questions, section = [], ""
    for line in gensim_datapath("questions-words.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            section = line[1:].strip()
        elif line.strip():
            a, b, c, d = line.lower().split()
            questions.append((section, a, b, c, d))
    return questions
