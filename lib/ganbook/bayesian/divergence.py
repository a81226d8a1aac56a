"""The JS divergence of generated points from the data, as the Bayesian GAN paper takes it.

:class:`JSEstimator`: generated points are projected with a 2-D PCA fitted on
the real data; ``scipy.stats.gaussian_kde`` is fitted to the real and to the generated
projections; both are evaluated on a grid of step 0.1 spanning the real
projection's range +-3; the densities times the cell area are the masses;
the Jensen-Shannon divergence ``(KL(p||m) + KL(q||m)) / 2``, ``m = (p + q) / 2``,
is taken in nats with masses clipped at 1e-10. One change from the original:
the mass of each density that falls outside the grid is kept as one extra
cell, so that both sum to one; the original dropped it, which capped the JS of
a generator whose points land far from the data at log(2) / 2 instead of log 2.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import stats
from sklearn.decomposition import PCA


def kde_on_grid(points: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """``scipy.stats.gaussian_kde(points.T)`` evaluated on the grid ``gx`` x ``gy``.

    Returns shape (len(gy), len(gx)), as ``kde(space)`` reshaped with
    ``np.meshgrid(gx, gy)`` would. The KDE (Scott's bandwidth) is scipy's; only
    its evaluation is arranged for a grid. With P the inverse kernel
    covariance, each kernel's exponent
    ``-(P00 dx^2 + 2 P01 dx dy + P11 dy^2) / 2`` splits into a part in
    (gx, point), a part in (gy, point), a part in the point alone and
    ``-P01 gx gy``, so the sum over points is one matrix product: about a
    hundred times faster than evaluating every (grid point, point) pair. When
    the exponents are too large for that split to be exact in float64 (a very
    narrow kernel), it is evaluated row by row instead (:func:`_kde_by_rows`).
    """
    kde = stats.gaussian_kde(np.asarray(points, dtype=np.float64).T)
    centre = kde.dataset.mean(axis=1)
    x, y = kde.dataset - centre[:, None]
    gxc, gyc = gx - centre[0], gy - centre[1]
    P = kde.inv_cov
    log_norm = -math.log(2 * math.pi) - 0.5 * np.linalg.slogdet(kde.covariance)[1]
    a = -0.5 * P[0, 0] * (gxc[:, None] - x) ** 2 + P[0, 1] * gxc[:, None] * y
    a += -P[0, 1] * x * y + np.log(kde.weights)
    b = -0.5 * P[1, 1] * (gyc[:, None] - y) ** 2 + P[0, 1] * gyc[:, None] * x
    ma, mb = a.max(axis=1), b.max(axis=1)
    outer = ma[:, None] + mb[None, :] - P[0, 1] * gxc[:, None] * gyc[None, :] + log_norm
    if outer.max() > 600:
        return _kde_by_rows(kde, gx, gy)
    inner = np.exp(a - ma[:, None]) @ np.exp(b - mb[:, None]).T
    with np.errstate(divide="ignore"):
        return np.exp(np.log(inner) + outer).T


def _kde_by_rows(kde: stats.gaussian_kde, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """The KDE on the grid one row of ``gy`` at a time, skipping far points.

    A point whose kernel, at this row, is below exp(-50) of its peak in the
    y margin alone (``(gy - y)^2 / var_y > 100``) adds less than 1e-21 of its
    weight anywhere on the row, so it is left out; narrow kernels, the case
    that sends us here, leave few points per row.
    """
    P = kde.inv_cov
    x, y = kde.dataset
    w = kde.weights
    norm = 1.0 / (2 * math.pi * math.sqrt(np.linalg.det(kde.covariance)))
    var_y = kde.covariance[1, 1]
    out = np.zeros((len(gy), len(gx)))
    for row, g in enumerate(gy):
        near = (g - y) ** 2 < 100 * var_y
        if not near.any():
            continue
        dx = gx[:, None] - x[near]
        dy = g - y[near]
        q = P[0, 0] * dx**2 + 2 * P[0, 1] * dx * dy + P[1, 1] * dy**2
        out[row] = np.exp(-0.5 * q) @ w[near] * norm
    return out


def js_divergence(p: np.ndarray, q: np.ndarray, eps: float = 1e-10) -> float:
    """Natural-log JS divergence ``(KL(p||m) + KL(q||m)) / 2`` of two mass vectors.

    As in the original, ``m = (p + q) / 2`` and each KL clips both arguments at
    ``eps`` so that empty cells do not give log 0.
    """

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        a, b = np.maximum(a, eps), np.maximum(b, eps)
        return float(np.sum(a * (np.log(a) - np.log(b))))

    p, q = np.asarray(p, dtype=np.float64).ravel(), np.asarray(q, dtype=np.float64).ravel()
    m = (p + q) / 2
    return (kl(p, m) + kl(q, m)) / 2


class JSEstimator:
    """The original's JS divergence between the real data and generated points.

    Built once on the real data: the 2-D PCA, the grid (step ``step`` over the
    real projection's range +-``margin``) and the real masses; then
    ``estimator(fake)`` gives the JS divergence of generated points ``fake``
    (shape (n, x_dim)) from the data.
    """

    def __init__(self, real: np.ndarray, step: float = 0.1, margin: float = 3.0) -> None:
        real = np.asarray(real, dtype=np.float64)
        self.pca = PCA(n_components=2).fit(real)
        self.real_2d = self.pca.transform(real)
        lo, hi = self.real_2d.min(axis=0) - margin, self.real_2d.max(axis=0) + margin
        self.step = step
        self.gx = np.arange(lo[0], hi[0], step)
        self.gy = np.arange(lo[1], hi[1], step)
        self.p = self.masses(self.real_2d)

    def project(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """Points in x space -> their 2-D PCA coordinates."""
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        return self.pca.transform(np.asarray(x, dtype=np.float64))

    def masses(self, points_2d: np.ndarray) -> np.ndarray:
        """KDE masses of 2-D points on the grid, plus one cell for the mass outside it."""
        grid = kde_on_grid(points_2d, self.gx, self.gy).ravel() * self.step**2
        return np.append(grid, max(0.0, 1.0 - grid.sum()))

    def __call__(self, fake: np.ndarray | torch.Tensor) -> float:
        """JS divergence (nats) between the data and the generated points ``fake``."""
        return js_divergence(self.p, self.masses(self.project(fake)))
