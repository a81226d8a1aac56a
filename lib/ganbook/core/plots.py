"""One plot style for the whole book, and image grids through ``make_grid``."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
from torchvision.utils import make_grid


def use_style() -> None:
    """Apply the book's matplotlib/seaborn style (small, readable figures)."""
    sns.set_theme(context="notebook", style="whitegrid", palette="deep")
    plt.rcParams.update(
        {
            "figure.figsize": (6.4, 3.6),
            "figure.dpi": 80,
            "savefig.dpi": 80,
            "axes.titlesize": "medium",
            "image.cmap": "gray",
        }
    )


def image_grid(images: torch.Tensor, nrow: int = 8) -> np.ndarray:
    """Tile images in [-1, 1] of shape (N, C, H, W) into one (H', W', C) array."""
    grid = make_grid(
        images.detach().float().cpu().clamp(-1, 1),
        nrow=nrow,
        normalize=True,
        value_range=(-1, 1),
        padding=2,
        pad_value=1.0,
    )
    return grid.permute(1, 2, 0).numpy()


def show_images(
    images: torch.Tensor,
    nrow: int = 8,
    title: str | None = None,
    ax: plt.Axes | None = None,
    size: float = 3.0,
) -> plt.Axes:
    """Draw a grid of images on ``ax`` (a new figure if none)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(size, size))
    ax.imshow(image_grid(images, nrow), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def show_image_rows(
    rows: Sequence[torch.Tensor], titles: Sequence[str], nrow: int = 5, size: float = 2.2
) -> plt.Figure:
    """Several image grids side by side, each with its title."""
    fig, axes = plt.subplots(1, len(rows), figsize=(size * len(rows), size + 0.3))
    for ax, images, title in zip(np.atleast_1d(axes), rows, titles, strict=True):
        show_images(images, nrow=nrow, title=title, ax=ax)
    fig.tight_layout()
    return fig


def show_class_shares(
    shares: Sequence[float] | np.ndarray,
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> plt.Axes:
    """Bars of the share of images confidently in each digit, then one for the unsure rest.

    ``shares`` is :meth:`ganbook.metrics.Evaluator.histogram`'s output: ten
    shares of all images that sum to at most 1; the grey bar is what is left.
    """
    shares = np.asarray(shares, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 2.8))
    ax.bar(range(len(shares)), shares)
    ax.bar(len(shares), 1 - shares.sum(), color="grey")
    ax.axhline(1 / len(shares), color="grey", ls="--", lw=1)
    ax.set_xticks(range(len(shares) + 1), [*map(str, range(len(shares))), "unsure"])
    ax.set(ylabel="share of images")
    if title:
        ax.set_title(title)
    return ax
