"""Plots the notebooks share: decision boundaries, training curves, image grids,
heat maps (attention weights and any other matrix)."""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np


# Figure resolution by profile: under `ci` (the test suite) drawing full-size inline figures
# costs seconds per notebook run; students get normal figures. The grader sets
# WORKBOOK_FIGURE_DPI (100) for its kernels: feedback pages show the plots it draws.
DPI = {"ci": 40, "full": 100}
DPI_ENV = "WORKBOOK_FIGURE_DPI"


def setup() -> None:
    """Call once in a notebook's setup cell: figure defaults for the active profile (or
    $WORKBOOK_FIGURE_DPI)."""
    import os

    import matplotlib.pyplot as plt

    from workbook.runtime import profile

    plt.rcParams["figure.dpi"] = int(os.environ.get(DPI_ENV) or DPI[profile()])


def _ax(ax=None, figsize=(5, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def decision_boundary(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray,
                      y: np.ndarray, *, ax=None, title: str = "", resolution: int = 200):
    """Colour the plane by ``predict`` (maps (M, 2) points to (M,) labels) and scatter X, y."""
    ax = _ax(ax)
    pad = 0.5
    x0, x1 = X[:, 0].min() - pad, X[:, 0].max() + pad
    y0, y1 = X[:, 1].min() - pad, X[:, 1].max() + pad
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    zz = np.asarray(predict(grid)).reshape(gx.shape)
    ax.contourf(gx, gy, zz, alpha=0.3, cmap="coolwarm", levels=len(np.unique(y)) - 1 or 1)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", s=15, edgecolors="k", linewidths=0.3)
    ax.set(xlim=(x0, x1), ylim=(y0, y1), title=title, xlabel="$x_1$", ylabel="$x_2$")
    return ax


def curves(series: Mapping[str, Sequence[float]], *, ax=None, xlabel: str = "epoch",
           ylabel: str = "loss", title: str = "", logy: bool = False):
    """One line per named series, e.g. ``curves({'train': tr, 'validation': va})``."""
    ax = _ax(ax)
    for name, values in series.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def image_grid(images: np.ndarray, labels: Sequence | None = None, *, cols: int = 10,
               cmap: str = "gray_r"):
    """Show (N, H, W) images in a grid with optional titles."""
    import matplotlib.pyplot as plt

    n = len(images)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 1.0))
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap=cmap)
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=8)
    fig.tight_layout()
    return fig


def _matrix(values) -> np.ndarray:
    """An array or tensor (bf16 from a GPU's autocast too) as float64 NumPy."""
    from workbook.checks import to_numpy

    return to_numpy(values, name="matrix").astype(float)


def heatmap(ax, matrix, xlabels: Sequence[str] | None = None,
            ylabels: Sequence[str] | None = None, *, title: str = "", xlabel: str = "",
            ylabel: str = "", cmap: str = "viridis", colorbar: bool = True,
            vmin: float | None = None, vmax: float | None = None):
    """A (rows, columns) matrix as a heat map with a colour bar; returns the Axes.

    ax: a matplotlib Axes, or None for a new figure. matrix: a 2-D array or tensor.
    xlabels, ylabels: one tick label per column and per row.
    """
    m = _matrix(matrix)
    if m.ndim != 2:
        raise ValueError(f"a heat map draws one 2-D matrix, got shape {m.shape}: pick one "
                         "example (and head) first, e.g. weights[0, h]")
    for labels, n, axis in ((xlabels, m.shape[1], "xlabels (columns)"),
                            (ylabels, m.shape[0], "ylabels (rows)")):
        if labels is not None and len(labels) != n:
            raise ValueError(f"{len(labels)} {axis} for a matrix with {n} of them")
    rows, cols = m.shape
    ax = _ax(ax, figsize=(max(3.0, 0.3 * cols + 1.5), max(2.5, 0.3 * rows + 1.0)))
    image = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    if xlabels is not None:
        ax.set_xticks(np.arange(cols), [str(s) for s in xlabels], rotation=90, fontsize=8)
    if ylabels is not None:
        ax.set_yticks(np.arange(rows), [str(s) for s in ylabels], fontsize=8)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax


def attention_heatmap(ax, weights, xlabels: Sequence[str] | None = None,
                      ylabels: Sequence[str] | None = None, *, title: str = "",
                      xlabel: str = "key", ylabel: str = "query", cmap: str = "viridis",
                      colorbar: bool = True):
    """Attention weights (queries, keys) as a heat map: row i is where query i looks.

    weights: a (Tq, Tk) array or tensor (e.g. one head's cross-attention, target tokens x
    source tokens); the colour scale starts at 0. xlabels, ylabels: the key and query tokens.
    Returns the Axes.
    """
    w = _matrix(weights)
    if w.ndim != 2:
        raise ValueError(f"attention_heatmap draws one (queries, keys) matrix, got shape {w.shape}")
    return heatmap(ax, w, xlabels, ylabels, title=title, xlabel=xlabel, ylabel=ylabel, cmap=cmap,
                   colorbar=colorbar, vmin=0.0, vmax=max(float(w.max(initial=0.0)), 1e-12))
