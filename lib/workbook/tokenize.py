"""Turning text into integer ids and back: a character tokenizer and byte-level BPE.

* ``CharTokenizer``: one id per distinct character of a training text (nanoGPT's
  ``shakespeare_char``). Small vocabulary, long sequences, fails on unseen characters.
* ``BPETokenizer``: byte-level byte-pair encoding (Sennrich et al. 2016; GPT-2). It
  starts from the 256 byte values, so it encodes *every* string, and repeatedly merges
  the most frequent adjacent pair of ids into a new id.

Training rule of ``BPETokenizer.train`` (it reproduces ``tiktoken._educational.bpe_train``,
merge for merge, on the same text, vocab_size and pattern; the tests check it):

1. Pre-tokenise: split the text into chunks with the regex ``pattern`` (default GPT-2's:
   words with their leading space, numbers, punctuation runs, whitespace). Merges never
   cross a chunk boundary, so " the" and "the." stay separate words. ``pattern=None``
   treats the whole text as one chunk.
2. Each chunk becomes its UTF-8 bytes, ids 0..255.
3. Count every adjacent pair inside the chunks; merge the most frequent pair into the next
   id (256, 257, ...), replacing its occurrences left to right without overlap
   (``merge([a, a, a], (a, a), z) == [z, a]``).
   **Tie-break:** among equally frequent pairs, the one that occurs first in the text
   (as currently tokenised) wins -- Python's ``max`` over a dict in insertion order, as
   in tiktoken's educational trainer and Karpathy's minbpe.
4. Repeat until the vocabulary has ``vocab_size`` ids (or no pair is left).

(One corner where the two differ: if a merge builds a byte string that already has an id,
e.g. (a, bc) after (ab, c), we give it a second id, as minbpe does, while tiktoken's
trainer overwrites the first; it does not happen on Shakespeare up to 2,000 ids.)

``encode`` applies the learned merges in the order they were learned (lowest new id
first), which gives the same ids as tiktoken's ``bpe_encode``. ``decode`` joins the
bytes of the ids and reads them as UTF-8.

Nothing here imports torch: tokenizers work on Python lists and strings.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Protocol, Sequence

import numpy as np

__all__ = [
    "GPT2_PATTERN",
    "GPT4_PATTERN",
    "CharTokenizer",
    "BPETokenizer",
    "count_pairs",
    "merge",
    "compression_ratio",
]

# GPT-2's pre-tokeniser (also the one in tiktoken._educational.train_simple_encoding):
# English contractions, words with an optional leading space, numbers, punctuation runs,
# whitespace (the last space before a word is left to that word: "\s+(?!\S)").
GPT2_PATTERN = (
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)
# GPT-4's (tiktoken cl100k_base): case-insensitive contractions, numbers of at most three
# digits, punctuation runs that keep trailing newlines.
GPT4_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
    r"""|\s*[\r\n]|\s+(?!\S)|\s+"""
)

NUM_BYTES = 256  # byte-level BPE starts from one id per byte value


class Tokenizer(Protocol):
    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


# ----------------------------------------------------------------------------- characters

class CharTokenizer:
    """One id per character, in sorted order of the characters of a training text.

    >>> tok = CharTokenizer.from_text("hello")
    >>> tok.chars, tok.encode("hole")
    (['e', 'h', 'l', 'o'], [1, 3, 2, 0])
    """

    def __init__(self, chars: Iterable[str]):
        self.chars = sorted(set(chars))  # id -> character (itos)
        if any(len(c) != 1 for c in self.chars):
            raise ValueError("CharTokenizer: every vocabulary entry must be one character")
        self.stoi = {c: i for i, c in enumerate(self.chars)}  # character -> id

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        """The vocabulary is the set of characters of ``text``."""
        return cls(set(text))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[c] for c in text]
        except KeyError as err:
            raise KeyError(f"character {err.args[0]!r} is not in the vocabulary of "
                           f"{self.vocab_size} characters (built by CharTokenizer.from_text)"
                           ) from None

    def encode_array(self, text: str) -> np.ndarray:
        """``encode`` for long texts: (len(text),) int64 array, ~50x faster than the list."""
        # every character as its code point (UTF-32 is one 4-byte unit per character)
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        vocab = np.array([ord(c) for c in self.chars], dtype=np.uint32)  # sorted, like chars
        ids = np.searchsorted(vocab, codes)
        ids_clipped = np.minimum(ids, len(vocab) - 1)
        unknown = vocab[ids_clipped] != codes
        if unknown.any():
            c = text[int(np.argmax(unknown))]
            raise KeyError(f"character {c!r} is not in the vocabulary of {self.vocab_size} "
                           "characters (built by CharTokenizer.from_text)")
        return ids.astype(np.int64)

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


# ----------------------------------------------------------------------------- BPE pieces

def count_pairs(ids: Sequence[int], counts: dict | None = None) -> dict[tuple[int, int], int]:
    """How often each adjacent pair occurs: ``count_pairs([1, 2, 3, 1, 2]) ==
    {(1, 2): 2, (2, 3): 1, (3, 1): 1}``. Keys are in order of first occurrence (the
    tie-break of BPE training). Pass ``counts`` to add to an existing dict."""
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids`` by ``new_id``, scanning left to
    right without overlap: ``merge([5, 5, 5], (5, 5), 9) == [9, 5]``."""
    out = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _compile(pattern: str | None):
    if pattern is None:
        return None
    try:
        import regex  # the `regex` package (tiktoken's dependency): \p{L} and possessive ++
    except ModuleNotFoundError:
        raise ModuleNotFoundError("BPE pre-tokenisation patterns need the regex package: "
                                  "`pip install regex` (or pattern=None: no split)") from None
    return regex.compile(pattern)


def _split(text: str, compiled) -> list[str]:
    """Pre-tokenise; the chunks always join back to ``text`` for our patterns."""
    if compiled is None:
        return [text] if text else []
    return compiled.findall(text)


def _utf8(text: str) -> bytes:
    # surrogatepass: a Python str may hold lone surrogates (not valid Unicode); keep them
    # as their 3-byte form so that decode(encode(s)) == s for *every* str
    return text.encode("utf-8", errors="surrogatepass")


class BPETokenizer:
    """Byte-level byte-pair encoding; train it with ``BPETokenizer.train``.

    merges: ``{(id_a, id_b): new_id}`` in the order learned (new ids 256, 257, ...).
    vocab: ``{id: bytes}``. pattern: the pre-tokenisation regex (None: no split).
    """

    def __init__(self, merges: dict[tuple[int, int], int], pattern: str | None = GPT2_PATTERN):
        self.merges = dict(merges)
        self.pattern = pattern
        self._compiled = _compile(pattern)
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(NUM_BYTES)}
        for (a, b), new_id in sorted(self.merges.items(), key=lambda item: item[1]):
            self.vocab[new_id] = self.vocab[a] + self.vocab[b]
        self._cache: dict[str, list[int]] = {}  # chunk -> ids: words repeat a lot

    @property
    def vocab_size(self) -> int:
        return NUM_BYTES + len(self.merges)

    # ------------------------------------------------------------------ training
    @classmethod
    def train(cls, text: str, vocab_size: int, pattern: str | None = GPT2_PATTERN,
              verbose: bool = False) -> "BPETokenizer":
        """Learn ``vocab_size - 256`` merges from ``text`` (module docstring: the rule).

        Fewer merges are learned if the text runs out of pairs. Identical chunks are
        counted once with their multiplicity, and only the chunks that contain the
        merged pair are updated, so training on all of Shakespeare (5 MB) to 1,000 ids
        takes seconds, not hours; the result is the same as the plain algorithm.
        """
        if vocab_size < NUM_BYTES:
            raise ValueError(f"vocab_size must be at least {NUM_BYTES} (one id per byte), "
                             f"got {vocab_size}")
        chunk_counts = Counter(_split(text, _compile(pattern)))  # in order of first use
        words = [list(_utf8(chunk)) for chunk in chunk_counts]  # unique chunks as byte ids
        freq = list(chunk_counts.values())
        stats: dict[tuple[int, int], int] = {}  # pair -> occurrences in the whole text
        where: dict[tuple[int, int], set[int]] = {}  # pair -> indices of words holding it
        for w, ids in enumerate(words):
            for pair in zip(ids, ids[1:]):
                stats[pair] = stats.get(pair, 0) + freq[w]
                where.setdefault(pair, set()).add(w)

        merges: dict[tuple[int, int], int] = {}
        for new_id in range(NUM_BYTES, vocab_size):
            if not stats:
                break
            best = max(stats.values())
            tied = [pair for pair, c in stats.items() if c == best]
            # tie-break: the pair that occurs first in the text, i.e. in the first
            # (unique) word holding it, and there at its leftmost position
            pair = min(tied, key=lambda p: _first_occurrence(p, words, where[p]))
            merges[pair] = new_id
            if verbose:
                print(f"merge {new_id - NUM_BYTES + 1}: {pair} -> {new_id} ({best} times)")
            for w in sorted(where[pair]):
                old = words[w]
                new = merge(old, pair, new_id)
                for p in zip(old, old[1:]):  # forget the word's old pairs ...
                    stats[p] -= freq[w]
                    if stats[p] == 0:
                        del stats[p]
                for p in set(zip(old, old[1:])):
                    where[p].discard(w)
                for p in zip(new, new[1:]):  # ... and count its new ones
                    stats[p] = stats.get(p, 0) + freq[w]
                    where.setdefault(p, set()).add(w)
                words[w] = new
            where.pop(pair, None)
        return cls(merges, pattern)

    # ------------------------------------------------------------------ encode / decode
    def _encode_chunk(self, data: bytes) -> list[int]:
        ids = list(data)
        while len(ids) >= 2:
            # the pair learned earliest (lowest new id) among those present
            pair = min(zip(ids, ids[1:]), key=lambda p: self.merges.get(p, float("inf")))
            if pair not in self.merges:
                break  # nothing left to merge
            ids = merge(ids, pair, self.merges[pair])
        return ids

    def encode(self, text: str) -> list[int]:
        """str -> ids; any string works (every byte has an id)."""
        out: list[int] = []
        for chunk in _split(text, self._compiled):
            ids = self._cache.get(chunk)
            if ids is None:
                ids = self._encode_chunk(_utf8(chunk))
                if len(self._cache) < 100_000:
                    self._cache[chunk] = ids
            out.extend(ids)
        return out

    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        return b"".join(self.vocab[int(i)] for i in ids)

    def decode(self, ids: Sequence[int]) -> str:
        """ids -> str. A slice of ids may cut a character's bytes in two; such invalid
        UTF-8 becomes U+FFFD (as tiktoken does) instead of raising."""
        data = self.decode_bytes(ids)
        try:
            return data.decode("utf-8", errors="surrogatepass")
        except UnicodeDecodeError:
            return data.decode("utf-8", errors="replace")

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        """Each id as readable text, to show how a string was cut up."""
        return [self.vocab[int(i)].decode("utf-8", errors="replace") for i in ids]

    def __repr__(self) -> str:
        split = "none" if self.pattern is None else (
            "GPT-2" if self.pattern == GPT2_PATTERN else
            "GPT-4" if self.pattern == GPT4_PATTERN else "custom")
        return f"BPETokenizer(vocab_size={self.vocab_size}, pattern={split})"


def _first_occurrence(pair: tuple[int, int], words: list[list[int]],
                      holders: set[int]) -> tuple[int, int]:
    w = min(holders)
    ids = words[w]
    for i in range(len(ids) - 1):
        if (ids[i], ids[i + 1]) == pair:
            return w, i
    raise AssertionError(f"pair {pair} not in word {w}")  # the bookkeeping broke


def compression_ratio(text: str, tokenizer: Tokenizer) -> float:
    """UTF-8 bytes per token: how many bytes one token stands for on ``text``
    (1.0 for raw bytes; higher is shorter sequences)."""
    n_tokens = len(tokenizer.encode(text))
    if n_tokens == 0:
        raise ValueError("compression_ratio: the text is empty")
    return len(_utf8(text)) / n_tokens
