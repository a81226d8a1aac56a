"""Has the generator copied its training set? Nearest training neighbours.

A GAN trained on 4,000 digits sees each one dozens of times; it could learn
to reproduce them. For each image we find the closest training image in
pixel space (Euclidean distance). The yardstick is the same distance for
real **test** digits, which the generator never saw: if generated images sit
much closer to the training set than unseen real digits do, they are copies.
"""

from __future__ import annotations

import torch


@torch.no_grad()
def nearest_neighbours(
    images: torch.Tensor, reference: torch.Tensor, batch: int = 500
) -> tuple[torch.Tensor, torch.Tensor]:
    """Distance from each image to its nearest ``reference`` image, and that image's index.

    ``images`` (N, ...) and ``reference`` (M, ...) are compared as flat pixel
    vectors; returns two tensors of length N.
    """
    if images.shape[1:] != reference.shape[1:]:
        raise ValueError(
            f"images {tuple(images.shape[1:])} and reference {tuple(reference.shape[1:])} "
            "must have the same shape"
        )
    flat_ref = reference.flatten(1).float()
    distances, indices = [], []
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch].flatten(1).float()
        best = torch.cdist(chunk, flat_ref).min(dim=1)
        distances.append(best.values)
        indices.append(best.indices)
    return torch.cat(distances), torch.cat(indices)
