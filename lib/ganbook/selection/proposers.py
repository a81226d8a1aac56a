"""Proposals from a trained GAN, each with its discriminator's logit (chapter 5).

The idea MH-GAN and DRS share: the optimal discriminator of a generator G is
(Goodfellow et al. 2014, Prop. 1)

    D*(x) = p_data(x) / (p_data(x) + p_G(x)),   so   p_data(x) / p_G(x) = D*(x) / (1 - D*(x)),

and its logit is the log density ratio: D~(x) = logit D*(x) = log p_data(x) - log p_G(x).
Samples from G re-weighted by that ratio are samples from p_data, whatever G
missed. Every selector of the chapter therefore works on the **logit** D~ of each
proposal: the ratio, with no overflow at D = 0 or 1.

A *proposer* is a function ``propose(n) -> (x, logits)`` that draws n samples
from G and returns them with D's logits; :func:`gan_proposer` makes one from a
generator and a discriminator, :func:`posterior_proposer` from a Bayesian GAN's
posterior. Every selector returns a :class:`Selection`, which counts the
proposals spent.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np
import torch
from torch import nn

from ganbook.core.batchnorm import average_batch_statistics

if TYPE_CHECKING:
    from ganbook.bayesian.posterior import Stacked

#: propose(n) -> (n samples from G, D's logit for each)
Proposer = Callable[[int], tuple[torch.Tensor, torch.Tensor]]

#: Probabilities are kept inside [CLIP, 1 - CLIP] before taking a logit.
CLIP = 1e-6


@dataclass
class Selection:
    """What a selector returns: the samples, and the generator draws it spent on them.

    ``proposals`` counts draws from G while sampling; ``burn_in`` the draws spent
    beforehand (DRS's estimate of M), shared by all samples.
    """

    samples: torch.Tensor
    proposals: int
    burn_in: int = 0

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def per_sample(self) -> float:
        """Proposals spent per output sample (burn-in not counted)."""
        return self.proposals / max(len(self.samples), 1)


def gan_proposer(
    G: nn.Module,
    D: nn.Module,
    z_dim: int | None = None,
    generator: torch.Generator | None = None,
    batch: int = 4096,
) -> Proposer:
    """A proposer drawing z ~ N(0, I), x = G(z), scored by D's logit (both in eval mode).

    ``D(x)`` must return the logit of "x is real", as every discriminator of
    this book does. Samples come back on the CPU.
    """
    z_dim = z_dim or cast(int, G.z_dim)  # a plain attribute, unseen by nn.Module's stubs
    device = next(G.parameters()).device

    @torch.no_grad()
    def propose(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        G.eval()
        D.eval()
        xs, logits = [], []
        for start in range(0, n, batch):
            z = torch.randn(min(batch, n - start), z_dim, generator=generator).to(device)
            x = G(z)
            logits.append(D(x).reshape(-1).float().cpu())
            xs.append(x.cpu())
        return torch.cat(xs), torch.cat(logits)

    return propose


@torch.no_grad()
def posterior_logit(D: Stacked, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """Logit of the posterior-averaged D(x) = mean_d p_d(real | x) of stacked discriminators.

    ``D`` is a Bayesian GAN's :class:`ganbook.bayesian.posterior.Stacked` discriminator
    (chapter 4): its samples output K+1 logits, class 0 "generated". The average
    is taken over the discriminator samples in probability, as the Bayesian GAN
    averages its predictions, and returned as log D - log(1 - D).
    """
    from ganbook.bayesian.posterior import fake_class_log_prob, real_class_log_prob

    D.eval()
    device = D.stacked[0].device
    log_k = float(np.log(len(D)))
    out = []
    for i in range(0, len(x), batch):
        xi = x[i : i + batch].to(device)
        logits = D(xi.expand(len(D), *xi.shape))
        real = torch.logsumexp(real_class_log_prob(logits), 0) - log_k
        fake = torch.logsumexp(fake_class_log_prob(logits), 0) - log_k
        out.append((real - fake).float().cpu())
    return torch.cat(out)


def posterior_proposer(
    G: Stacked, D: Stacked, generator: torch.Generator | None = None
) -> Proposer:
    """Proposals from a Bayesian GAN's posterior mixture, scored by :func:`posterior_logit`.

    ``G`` is a :class:`ganbook.bayesian.posterior.Stacked` generator of J x M weight
    samples. Each draw comes from one weight sample chosen uniformly (the
    mixture over the posterior that the Bayesian GAN's samples represent), with
    the original's noise z ~ Uniform(-1, 1).
    """
    from ganbook.core.sampling import sample_z

    k = len(G)
    z_dim = cast(int, G.skeleton.z_dim)
    device = G.stacked[0].device

    @torch.no_grad()
    def propose(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        G.eval()
        per_sample = -(-n // k)  # every weight sample draws the same number; then shuffle
        x = G(sample_z(k, per_sample, z_dim, generator).to(device))
        x = x.reshape(-1, *x.shape[2:])
        pick = torch.randperm(k * per_sample, generator=generator)[:n]
        x = x.cpu()[pick]
        return x, posterior_logit(D, x)

    return propose


@torch.no_grad()
def logits_of(D: nn.Module, x: torch.Tensor, batch: int = 4096) -> torch.Tensor:
    """D's logits for real data ``x`` (eval mode, in batches, on the CPU)."""
    D.eval()
    device = next(D.parameters()).device
    return torch.cat(
        [D(x[i : i + batch].to(device)).reshape(-1).float().cpu() for i in range(0, len(x), batch)]
    )


def logit(p: torch.Tensor | np.ndarray) -> torch.Tensor:
    """log(p / (1 - p)) with p clipped to [CLIP, 1 - CLIP] first, so it stays finite."""
    p = torch.as_tensor(p, dtype=torch.float64).clamp(CLIP, 1 - CLIP)
    return torch.log(p) - torch.log1p(-p)


def with_real_statistics(D: nn.Module, real: torch.Tensor, batch: int = 250) -> nn.Module:
    """A copy of ``D`` (eval mode) whose BatchNorm statistics are averaged over ``real``.

    During training D met real and generated batches separately, each
    normalised by its own statistics, while its running averages mixed the two
    (mostly generated ones, for a D that also scores G's samples each step). In
    eval mode neither batch is normalised as in training, and the scores the
    selectors read as log density ratios shift. Re-estimated on real data, the
    statistics are those D used on real batches; a D without BatchNorm is
    returned unchanged.
    """
    norms = [m for m in D.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return D
    D = copy.deepcopy(D).eval()
    norms = [m for m in D.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for bn in norms:
        bn.train()
    device = next(D.parameters()).device
    average_batch_statistics(norms, lambda x: D(x.to(device)), real, batch)
    return D.eval()
