"""A 1-D case where everything is known, to check the selectors against.

p_data is an even mixture of two Gaussians at -1 and 1 (standard deviation
0.5) and p_G one wide Gaussian (standard deviation 1.5). p_G has the heavier
tails, so p_data / p_G is bounded and even exact rejection sampling works. The
optimal discriminator's logit is known in closed form,

    logit D*(x) = log p_data(x) - log p_G(x),

so a selector fed with it must return samples of p_data (a KS test against
:func:`data_cdf` tells).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats

from ganbook.selection.proposers import Proposer

#: p_G's standard deviation.
SD_G = 1.5
#: p_data's components: (mean, standard deviation), each with weight 1/2.
MODES = ((-1.0, 0.5), (1.0, 0.5))


def data_logpdf(x: np.ndarray) -> np.ndarray:
    """log p_data(x)."""
    return np.logaddexp(*[np.log(0.5) + stats.norm.logpdf(x, m, s) for m, s in MODES])


def data_cdf(x: np.ndarray) -> np.ndarray:
    """The CDF of p_data (for a KS test)."""
    return sum(0.5 * stats.norm.cdf(x, m, s) for m, s in MODES)


def g_pdf(x: np.ndarray) -> np.ndarray:
    """p_G(x)."""
    return stats.norm.pdf(x, 0.0, SD_G)


def optimal_logit(x: torch.Tensor) -> torch.Tensor:
    """logit D*(x) = log p_data(x) - log p_G(x): the exact optimal discriminator."""
    points = x.double().numpy().ravel()
    return torch.from_numpy(data_logpdf(points) - stats.norm.logpdf(points, 0.0, SD_G))


def exact_proposer(seed: int) -> Proposer:
    """Samples of p_G (shape (n, 1), float64) scored by the optimal discriminator."""
    generator = torch.Generator().manual_seed(seed)

    def propose(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = SD_G * torch.randn(n, 1, generator=generator, dtype=torch.float64)
        return x, optimal_logit(x)

    return propose


def real_logits(n: int, seed: int) -> torch.Tensor:
    """The optimal logits of ``n`` samples of p_data (what calibration and MH start from)."""
    rng = np.random.default_rng(seed)
    means = rng.choice([m for m, _ in MODES], n)
    return optimal_logit(torch.from_numpy(means + 0.5 * rng.standard_normal(n)))
