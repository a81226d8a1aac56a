"""Drawing z and turning a generator into images."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import torch
from torch import nn


@contextmanager
def eval_mode(*models: nn.Module) -> Iterator[None]:
    """Put ``models`` in eval mode for the block, then restore each one's mode."""
    modes = [model.training for model in models]
    for model in models:
        model.eval()
    try:
        yield
    finally:
        for model, mode in zip(models, modes, strict=True):
            model.train(mode)


def sample_z(k: int, n: int, z_dim: int, generator: torch.Generator | None) -> torch.Tensor:
    """The Bayesian GAN code's noise: z ~ Uniform(-1, 1), shape (k, n, z_dim), on the CPU."""
    return torch.rand(k, n, z_dim, generator=generator) * 2 - 1


@torch.no_grad()
def sample(G: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """G's images for the noise ``z`` (inference mode), on the CPU."""
    with eval_mode(G):
        return G(z.to(next(G.parameters()).device)).cpu()


@torch.no_grad()
def generate(G: nn.Module, n: int, seed: int = 0, batch: int = 1000) -> torch.Tensor:
    """``n`` images from G for z ~ N(0, I) drawn with ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    z_dim = cast(int, G.z_dim)  # a plain attribute, which nn.Module's stubs cannot see
    chunks = [
        sample(G, torch.randn(min(batch, n - i), z_dim, generator=generator))
        for i in range(0, n, batch)
    ]
    return torch.cat(chunks)


@torch.no_grad()
def generate_stacked(G: nn.Module, n: int, z_dim: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` samples from each of a stacked G's K weight samples, for z ~ U(-1, 1).

    ``G`` maps (K, n, z_dim) to (K, n, ...) (a :class:`ganbook.bayesian.posterior.Stacked`
    generator); the result, in eval mode, is on the CPU with shape (K, n, ...).
    """
    z = sample_z(len(G), n, z_dim, generator)  # type: ignore[arg-type]
    with eval_mode(G):
        return G(z.to(next(G.parameters()).device)).cpu()
