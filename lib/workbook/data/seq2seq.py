"""What every sequence-to-sequence data set shares: token vocabularies with special
tokens, fixed train/validation/test splits, and padded batches as tensors.

A data set is a list of (source text, target text) pairs per split. Texts are split
into tokens by the vocabulary's separator: ``""`` for characters (``"cat"`` -> c, a, t),
``" "`` for space-separated symbols (``"K AE T"`` -> K, AE, T).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, NamedTuple, Sequence

import numpy as np

__all__ = ["PAD", "BOS", "EOS", "UNK", "PAD_ID", "BOS_ID", "EOS_ID", "UNK_ID", "SPLITS",
           "Vocab", "Batch", "Seq2SeqData", "pad_sequences", "split_indices"]

# the special tokens, at the same ids in every vocabulary, so that source and target
# share the padding id (and a model needs a single pad_id)
PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
SPECIALS = (PAD, BOS, EOS, UNK)
SPLITS = ("train", "val", "test")

Pair = tuple[str, str]


class Vocab:
    """Tokens <-> ids. Ids 0-3 are PAD, BOS, EOS, UNK; the other tokens follow, sorted.

    encode("cat") -> [ids]; decode([ids]) -> "cat" (stops at EOS, drops PAD and BOS).
    """

    pad_id, bos_id, eos_id, unk_id = PAD_ID, BOS_ID, EOS_ID, UNK_ID

    def __init__(self, tokens: Iterable[str], sep: str = ""):
        self.sep = sep  # "" splits a text into characters, " " into words/symbols
        self.itos: list[str] = list(SPECIALS) + sorted(set(tokens) - set(SPECIALS))
        self.stoi: dict[str, int] = {tok: i for i, tok in enumerate(self.itos)}

    @classmethod
    def from_texts(cls, texts: Iterable[str], sep: str = "") -> "Vocab":
        """The vocabulary of every token in ``texts``."""
        tokens: set[str] = set()
        for text in texts:
            tokens.update(_tokenize(text, sep))
        return cls(tokens, sep)

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        shown = " ".join(self.itos[len(SPECIALS):][:20])
        more = " ..." if len(self) > len(SPECIALS) + 20 else ""
        return f"Vocab({len(self)} tokens, sep={self.sep!r}: {shown}{more})"

    def tokenize(self, text: str) -> list[str]:
        return _tokenize(text, self.sep)

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        """Text -> ids; tokens not in the vocabulary become UNK."""
        ids = [self.stoi.get(tok, UNK_ID) for tok in self.tokenize(text)]
        return [BOS_ID] * bos + ids + [EOS_ID] * eos

    def decode(self, ids: Iterable[int]) -> str:
        """Ids (list or 1-D tensor) -> text: stops at the first EOS, skips PAD and BOS."""
        tokens = []
        for i in (ids.tolist() if hasattr(ids, "tolist") else ids):
            if i == EOS_ID:
                break
            if i not in (PAD_ID, BOS_ID):
                tokens.append(self.itos[i])
        return self.sep.join(tokens)


def _tokenize(text: str, sep: str) -> list[str]:
    return list(text) if sep == "" else text.split(sep)


def pad_sequences(seqs: Sequence[Sequence[int]], pad_id: int = PAD_ID):
    """Lists of ids of different lengths -> LongTensor (N, longest), padded on the right."""
    import torch

    width = max((len(s) for s in seqs), default=0)
    out = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    for i, seq in enumerate(seqs):
        out[i, :len(seq)] = torch.as_tensor(seq, dtype=torch.long)
    return out


class Batch(NamedTuple):
    """A padded batch; unpacks as ``src, tgt = batch``.

    src (B, S): source ids, no BOS/EOS. tgt (B, T): BOS, target ids, EOS.
    """

    src: "torch.Tensor"  # noqa: F821
    tgt: "torch.Tensor"  # noqa: F821

    @property
    def src_pad_mask(self):
        """(B, S) bool, True at padding."""
        return self.src == PAD_ID

    @property
    def tgt_pad_mask(self):
        """(B, T) bool, True at padding."""
        return self.tgt == PAD_ID

    @property
    def tgt_in(self):
        """(B, T - 1) the decoder's input: the target without its last token (teacher forcing)."""
        return self.tgt[:, :-1]

    @property
    def tgt_out(self):
        """(B, T - 1) what the decoder should predict at each position: the target shifted left."""
        return self.tgt[:, 1:]


def split_indices(n: int, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """Shuffle 0..n-1 with ``seed`` and cut it into consecutive parts of the given
    fractions (the last part takes the rounding remainder). Disjoint, and fixed by seed."""
    if not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"split fractions {tuple(fractions)} must sum to 1")
    order = np.random.default_rng(seed).permutation(n)
    cuts = np.round(np.cumsum(fractions)[:-1] * n).astype(int)
    return np.split(order, cuts)


@dataclass
class Seq2SeqData:
    """(source, target) text pairs in train/val/test splits, with their vocabularies.

    The vocabularies are built from the training split only: a token first seen in
    validation or test data is UNK, as it would be for a deployed model.
    """

    train: list[Pair]
    val: list[Pair]
    test: list[Pair]
    src_vocab: Vocab
    tgt_vocab: Vocab
    name: str = ""

    @classmethod
    def from_splits(cls, train: list[Pair], val: list[Pair], test: list[Pair], *,
                    src_sep: str = "", tgt_sep: str = "", name: str = "") -> "Seq2SeqData":
        return cls(train, val, test, Vocab.from_texts((s for s, _ in train), src_sep),
                   Vocab.from_texts((t for _, t in train), tgt_sep), name)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={len(self.split(s))}" for s in SPLITS)
        example = self.train[0] if self.train else None
        return (f"Seq2SeqData({self.name}: {sizes}; {len(self.src_vocab)} source and "
                f"{len(self.tgt_vocab)} target tokens; e.g. {example})")

    def split(self, name: str) -> list[Pair]:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; use one of {SPLITS}")
        return getattr(self, name)

    @property
    def max_src_len(self) -> int:
        """Longest source in tokens, over all splits."""
        return max(len(self.src_vocab.tokenize(s)) for s in self._all_sources())

    @property
    def max_tgt_len(self) -> int:
        """Longest target in tokens including BOS and EOS, over all splits."""
        return max(len(self.tgt_vocab.tokenize(t)) for t in self._all_targets()) + 2

    def _all_sources(self) -> Iterator[str]:
        return (s for name in SPLITS for s, _ in self.split(name))

    def _all_targets(self) -> Iterator[str]:
        return (t for name in SPLITS for _, t in self.split(name))

    def encode(self, pairs: Sequence[Pair], device=None) -> Batch:
        """Pairs -> a padded Batch: src (B, S) without specials, tgt (B, T) as BOS ... EOS."""
        src = pad_sequences([self.src_vocab.encode(s) for s, _ in pairs])
        tgt = pad_sequences([self.tgt_vocab.encode(t, bos=True, eos=True) for _, t in pairs])
        return Batch(src.to(device), tgt.to(device)) if device is not None else Batch(src, tgt)

    def batches(self, split: str, batch_size: int, device=None, shuffle: bool = False,
                rng: np.random.Generator | None = None) -> Iterator[Batch]:
        """Padded batches over one split, each padded to its own longest sequence; the
        last batch may be smaller. With ``shuffle``, the order comes from ``rng`` (or
        NumPy's global generator, which ``runtime.seed_everything`` seeds)."""
        pairs = self.split(split)
        order = np.arange(len(pairs))
        if shuffle:
            order = (np.random if rng is None else rng).permutation(len(pairs))
        for start in range(0, len(pairs), batch_size):
            yield self.encode([pairs[i] for i in order[start:start + batch_size]], device)
