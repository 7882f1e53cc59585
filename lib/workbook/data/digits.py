"""scikit-learn's bundled handwritten digits: 1,797 images of 8x8 pixels, 10 classes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


MIN_PIXEL_STD = 1.0


@dataclass
class Split:
    """Train/validation/test arrays. X_*: (N, 64) float64 standardised, y_*: (N,) ints."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def num_classes(self) -> int:
        return 10


def load_digits(*, val_fraction: float = 0.15, test_fraction: float = 0.2,
                seed: int = 0) -> Split:
    """Stratified splits fixed by ``seed``; pixels standardised with training statistics
    (so no information leaks from the validation or test sets)."""
    X_train, y_train, X_val, y_val, X_test, y_test = _raw_split(val_fraction, test_fraction, seed)
    mean = X_train.mean(axis=0)
    # Floor the spread at one grey level (pixels are 0..16): edge pixels that are (nearly)
    # constant in training would otherwise turn a rare nonzero test pixel into ~200 or ~1e8.
    std = np.maximum(X_train.std(axis=0), MIN_PIXEL_STD)
    scale = lambda A: (A - mean) / std  # noqa: E731
    return Split(scale(X_train), y_train, scale(X_val), y_val, scale(X_test), y_test)


def load_digit_images(*, val_fraction: float = 0.15, test_fraction: float = 0.2,
                      seed: int = 0) -> Split:
    """The examples of ``load_digits`` (same seed, same split) as images for a CNN:
    X_*: (N, 1, 8, 8) float64, pixels / 16 in [0, 1], so 0 is the background everywhere
    (zero padding and shifted images then look like real digits)."""
    X_train, y_train, X_val, y_val, X_test, y_test = _raw_split(val_fraction, test_fraction, seed)
    image = lambda A: (A / 16.0).reshape(-1, 1, 8, 8)  # noqa: E731
    return Split(image(X_train), y_train, image(X_val), y_val, image(X_test), y_test)


def _raw_split(val_fraction: float, test_fraction: float, seed: int):
    """Raw pixels (N, 64) in [0, 16], split stratified: X_train, y_train, X_val, y_val, X_test, y_test."""
    from sklearn.datasets import load_digits as _load
    from sklearn.model_selection import train_test_split

    X, y = _load(return_X_y=True)
    X = X.astype(np.float64)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=test_fraction, random_state=seed, stratify=y)
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=val_fraction / (1 - test_fraction), random_state=seed,
        stratify=y_rest)
    return X_train, y_train, X_val, y_val, X_test, y_test


def digit_images() -> tuple[np.ndarray, np.ndarray]:
    """The raw images for plotting: (1797, 8, 8) in [0, 16] and labels (1797,)."""
    from sklearn.datasets import load_digits as _load

    d = _load()
    return d.images, d.target
