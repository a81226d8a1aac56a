"""BatchNorm statistics re-estimated on real images before a model is scored.

During GAN training a discriminator's running averages absorb real and
generated batches alike, and with a momentum close to 1 they lag behind the
weights; a test on real images then sees statistics of neither. Chapters 3, 4
and 5 therefore re-estimate them on a fixed set of real training images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

#: How many training images the statistics are averaged over.
CALIBRATION_IMAGES = 1000


def calibration_images(images: torch.Tensor, count: int = CALIBRATION_IMAGES) -> torch.Tensor:
    """A fixed, evenly spaced selection of ``count`` training images for BN statistics."""
    return images[:: max(1, len(images) // count)][:count]


@torch.no_grad()
def average_batch_statistics(
    norms: Sequence[nn.modules.batchnorm._BatchNorm],
    forward: Callable[[torch.Tensor], object],
    images: torch.Tensor,
    batch: int = 250,
) -> None:
    """Make the running statistics of ``norms`` the plain average over ``images``.

    ``forward(chunk)`` runs the model, with the BatchNorm layers in training
    mode, on each chunk of ``batch`` images; chunk b enters the running
    averages with momentum 1 / (b + 1), so after the last chunk they are the
    mean of every chunk's statistics, whatever they held before.
    """
    momenta = [bn.momentum for bn in norms]
    try:
        for b, i in enumerate(range(0, len(images), batch)):
            for bn in norms:
                bn.momentum = 1.0 / (b + 1)
            forward(images[i : i + batch])
    finally:
        for bn, momentum in zip(norms, momenta, strict=True):
            bn.momentum = momentum
