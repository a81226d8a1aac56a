"""The toy problems of chapter 5: a 1-D mixture of four Gaussians and the 2-D 5x5 grid.

Data (our choices, close to the papers'):

* ``mog1d``: four Gaussians on the line with means -3, -1, 1, 3, common standard
  deviation 0.2 and equal weights.
* ``grid25``: 25 Gaussians in the plane with means on the grid
  {-4, -2, 0, 2, 4}^2 and standard deviation 0.05, equal weights: the 2-D
  benchmark of DRS (Azadi et al.) and MH-GAN (Turner et al.).

Metrics, for a set of samples (:func:`evaluate`):

* **high-quality share**: the share of samples within 3 standard deviations
  (Euclidean distance) of some mode;
* **modes recovered**, by two rules: ``modes``, the modes that hold at least a
  fifth of their fair share of the high-quality samples (the rule chapter 1
  uses for digit classes), and ``modes_any``, the modes with at least one
  high-quality sample (the DRS paper's count; it grows with the number of
  samples, so compare it only at equal sample sizes);
* **share gap**: the largest distance between a mode's share of the samples
  and its weight (0.25 for the 1-D mixture), how far the worst mode is from
  its fair share;
* **JS divergence** (nats) between the sample's distribution over the
  cells "near mode i" (i = 1..k) and "far from every mode", and the data's,
  which is known exactly: mode i's cell holds w_i P(chi^2_d <= 9) of it.
  Cheap, free of kernel widths, and it sees both missing modes and stray
  samples; it does not see the shape inside a mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

#: How far from a mode (in standard deviations) a sample still counts as high quality.
QUALITY_STDS = 3.0
#: A mode is recovered when it holds this share of its fair share of the samples.
RECOVERED_SHARE = 0.2


@dataclass(frozen=True)
class Mixture:
    """A mixture of isotropic Gaussians with a common standard deviation."""

    means: np.ndarray  # (k, d)
    std: float
    weights: np.ndarray  # (k,)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def k(self) -> int:
        return len(self.means)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` points, float32, shape (n, d)."""
        w = torch.as_tensor(self.weights, dtype=torch.float64)
        modes = torch.multinomial(w, n, replacement=True, generator=generator)
        means = torch.as_tensor(self.means, dtype=torch.float32)[modes]
        return means + self.std * torch.randn(n, self.dim, generator=generator)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """log p_data(x) for points of shape (n, d)."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.dim)
        sq = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)
        log_norm = -0.5 * self.dim * np.log(2 * np.pi * self.std**2)
        return np.logaddexp.reduce(np.log(self.weights) + log_norm - sq / (2 * self.std**2), 1)

    def assign(self, x: np.ndarray) -> np.ndarray:
        """Index of the nearest mode when within 3 std of it, else -1."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.dim)
        dist = np.sqrt(((x[:, None, :] - self.means[None]) ** 2).sum(-1))
        nearest = dist.argmin(1)
        near = dist[np.arange(len(x)), nearest] <= QUALITY_STDS * self.std
        return np.where(near, nearest, -1)

    def cell_probs(self) -> np.ndarray:
        """The data's mass in each mode's cell (within 3 std) and, last, outside all of them."""
        inside = stats.chi2.cdf(QUALITY_STDS**2, self.dim)
        modes = self.weights * inside
        return np.r_[modes, 1 - modes.sum()]


MIXTURES = {
    "mog1d": Mixture(np.array([[-3.0], [-1.0], [1.0], [3.0]]), 0.2, np.full(4, 0.25)),
    "grid25": Mixture(
        np.array(
            [[a, b] for a in (-4.0, -2.0, 0.0, 2.0, 4.0) for b in (-4.0, -2.0, 0.0, 2.0, 4.0)]
        ),
        0.05,
        np.full(25, 0.04),
    ),
}


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """JS(p, q) = (KL(p || m) + KL(q || m)) / 2 with m = (p + q) / 2, in nats."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum()
    return float((kl_p + kl_q) / 2)


def evaluate(mixture: Mixture, samples: torch.Tensor | np.ndarray) -> dict[str, float]:
    """Modes recovered (both rules), high-quality share and cell JS divergence of ``samples``."""
    cells = mixture.assign(np.asarray(samples))
    counts = np.bincount(np.where(cells < 0, mixture.k, cells), minlength=mixture.k + 1)
    share = counts / max(len(cells), 1)
    fair = mixture.weights * share[:-1].sum()
    recovered = int(((share[:-1] >= RECOVERED_SHARE * fair) & (share[:-1] > 0)).sum())
    return {
        "modes": recovered,
        "modes_any": int((counts[:-1] > 0).sum()),
        "high_quality": float(1 - share[-1]),
        "share_gap": float(np.abs(share[:-1] - mixture.weights).max()),
        "js": js_divergence(mixture.cell_probs(), share),
    }
