"""Adam as chapters 1 and 2 use it: the fused implementation where PyTorch has one.

The fused kernel updates every parameter tensor in one pass; on a CPU it
makes a step of chapter 1's MLP GAN about twice as fast as the default
(for-each) implementation, with the same algorithm.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def adam(
    params: Iterable[torch.nn.Parameter], lr: float, betas: tuple[float, float] = (0.5, 0.999)
) -> torch.optim.Adam:
    """``torch.optim.Adam(params, lr, betas)``, fused (CPU and CUDA alike)."""
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
