"""Balanced labelled subsets: the few labels a semi-supervised model or a probe sees.

The draw depends only on the labels and the seed, so every model trained with
the same seed (chapter 2's probe, chapter 3's GANs and their supervised
baseline, chapter 4's Bayesian GAN) learns from exactly the same images.
"""

from __future__ import annotations

import numpy as np
import torch


def balanced_subset(labels: torch.Tensor | np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of ``per_class`` examples of every class, drawn with ``seed``, sorted."""
    labels = np.asarray(labels)
    if per_class < 0:
        raise ValueError(f"per_class must be at least 0, got {per_class}")
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise ValueError(f"only {len(members)} examples of class {c}, {per_class} needed")
        picks.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(picks))


def labelled_subset(
    labels: torch.Tensor | np.ndarray, count: int, seed: int, num_classes: int = 10
) -> torch.Tensor:
    """Indices of ``count`` examples, ``count / num_classes`` of each class, sorted."""
    if count % num_classes:
        raise ValueError(f"labels must be a multiple of {num_classes}, got {count}")
    present = len(np.unique(np.asarray(labels)))
    if present != num_classes:
        raise ValueError(f"the labels hold {present} classes, not {num_classes}")
    return torch.from_numpy(balanced_subset(labels, count // num_classes, seed))
