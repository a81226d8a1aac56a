"""Calibrating the discriminator before it selects.

:class:`IsotonicCalibrator` and :func:`z_statistic` are the calibration step
(Turner et al., section 3.3): isotonic regression of "is it real" on D's
score, and Dawid's Z statistic to test it. :func:`calibrated` passes a
proposer's logits through a calibration.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from sklearn.isotonic import IsotonicRegression

from ganbook.selection.proposers import Proposer, logit


class IsotonicCalibrator:
    """Isotonic regression of "is real" on D's logit (Turner et al., section 3.3).

    Fitted on held-out real samples (label 1) and as many generated ones
    (label 0): scikit-learn's ``IsotonicRegression`` pools the sorted scores
    into blocks, and a block's calibrated D is the share of real points in it,
    so that D(x) is a probability again and the MH ratio (eq. 7) is right. Being
    monotone, it keeps D's ranking. Calling the calibrator maps logits to
    calibrated logits.

    ``smooth`` (our addition, on by default) replaces a block's share r / n by
    (r + 1) / (n + 2), the posterior mean under a uniform prior (blocks whose
    order this upsets are pooled again). Without it the
    top block, made of real points only, gets D = 1: an infinite ratio
    p_D / p_G, so that a chain that reaches it never leaves, and with many
    proposals (K = 640) nearly every chain ends there.
    """

    def __init__(self, smooth: bool = True) -> None:
        self.smooth = smooth
        self.model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")

    def fit(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> IsotonicCalibrator:
        scores = torch.cat([real_logits, fake_logits]).double().numpy()
        labels = np.r_[np.ones(len(real_logits)), np.zeros(len(fake_logits))]
        self.model.fit(scores, labels)
        order = np.argsort(scores, kind="stable")
        x, y = scores[order], labels[order]
        fitted = self.model.predict(x)
        block = np.r_[0, np.cumsum(np.abs(np.diff(fitted)) > 1e-12)]
        n = np.bincount(block)
        real = np.bincount(block, weights=y)
        share = real / n
        if self.smooth:
            # smoothing can undo the order of small blocks: pool them again
            share = IsotonicRegression().fit_transform(
                np.arange(len(n)), (real + 1) / (n + 2), sample_weight=n + 2
            )
        first = np.r_[0, np.cumsum(n)[:-1]]
        last = np.cumsum(n) - 1
        # each block is flat from its lowest to its highest score; straight
        # lines join neighbouring blocks, as in IsotonicRegression.predict
        self.x_ = np.ravel(np.column_stack([x[first], x[last]]))
        self.y_ = np.repeat(share, 2)
        return self

    def prob(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated D(x) from raw logits."""
        return torch.from_numpy(np.interp(logits.double().numpy(), self.x_, self.y_))

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        return logit(self.prob(logits))


def calibrated(propose: Proposer, calibrator: Callable[[torch.Tensor], torch.Tensor]) -> Proposer:
    """The same proposer with its logits passed through ``calibrator``."""

    def wrapped(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, d = propose(n)
        return x, calibrator(d)

    return wrapped


def fit_calibrator(
    propose: Proposer, real_logits: torch.Tensor
) -> tuple[IsotonicCalibrator, torch.Tensor]:
    """Fit :class:`IsotonicCalibrator` on held-out real logits and as many fresh proposals.

    Returns the calibrator and the generated logits it was fitted on.
    """
    _, fake_logits = propose(len(real_logits))
    return IsotonicCalibrator().fit(real_logits, fake_logits), fake_logits


def z_statistic(labels: np.ndarray | torch.Tensor, probs: np.ndarray | torch.Tensor) -> float:
    """Dawid's calibration statistic Z = sum(y - p) / sqrt(sum p (1 - p)) (Turner et al., eq. 9).

    If each label y ~ Bernoulli(p), Z is about N(0, 1): |Z| > 2 says the
    probabilities are off (too high if Z < 0, too low if Z > 0).
    """
    y = np.asarray(labels, dtype=np.float64)
    p = np.asarray(probs, dtype=np.float64)
    return float((y - p).sum() / np.sqrt((p * (1 - p)).sum()))


def calibration_z(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, calibrator: IsotonicCalibrator | None
) -> float:
    """Z of D's probabilities on labelled real and generated logits, raw or calibrated."""
    logits = torch.cat([real_logits, fake_logits]).double()
    probs = torch.sigmoid(logits) if calibrator is None else calibrator.prob(logits)
    labels = np.r_[np.ones(len(real_logits)), np.zeros(len(fake_logits))]
    return z_statistic(labels, probs.numpy())
