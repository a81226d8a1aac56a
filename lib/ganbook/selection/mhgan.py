"""Picking better samples from a trained GAN with its discriminator (chapter 5).

Read beside Turner et al., *Metropolis-Hastings Generative Adversarial
Networks* (ICML 2019, "MH-GAN") and Azadi et al., *Discriminator Rejection
Sampling* (ICLR 2019, "DRS").

The idea both papers share: the optimal discriminator of a generator G is
(Goodfellow et al. 2014, Prop. 1)

    D*(x) = p_data(x) / (p_data(x) + p_G(x)),   so   p_data(x) / p_G(x) = D*(x) / (1 - D*(x)),

and its logit is the log density ratio: D~(x) = logit D*(x) = log p_data(x) - log p_G(x).
Samples from G re-weighted by that ratio are samples from p_data, whatever G
missed. Every selector here therefore works on the **logit** D~ of each
proposal: the ratio, with no overflow at D = 0 or 1.

* :func:`rejection_sample` is textbook rejection sampling with proposal p_G and
  envelope M p_G: accept x with probability (p_data(x) / p_G(x)) / M.
* :func:`drs` is DRS (Azadi et al., section 3.2 and Algorithm 1): M estimated
  from a burn-in and kept as a running maximum, the acceptance probability
  sigmoid(F(x)) with F shifted by gamma.
* :func:`mh_select` is the MH-GAN independence sampler (Turner et al., section 3.1
  and Algorithm 1): K proposals per chain, acceptance
  min(1, (1/D(x_k) - 1) / (1/D(x') - 1)), each chain started from a held-out real
  sample's score, restarted from the first generated sample if nothing was
  accepted, many independent chains at once.
* :class:`IsotonicCalibrator` and :func:`z_statistic` are the calibration step
  (Turner et al., section 3.3): isotonic regression of "is it real" on D's
  score, and Dawid's Z statistic to test it.

A *proposer* is a function ``propose(n) -> (x, logits)`` that draws n samples
from G and returns them with D's logits; :func:`gan_proposer` makes one from a
generator and a discriminator, :func:`calibrated` wraps one in a calibration.
Every selector returns a :class:`Selection`, which counts the proposals spent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.isotonic import IsotonicRegression
from torch import nn

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
    z_dim = z_dim or G.z_dim
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
def posterior_logit(D: nn.Module, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """Logit of the posterior-averaged D(x) = mean_d p_d(real | x) of stacked discriminators.

    ``D`` is a Bayesian GAN's :class:`ganbook.bayesian_gan.Stacked` discriminator
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
    G: nn.Module, D: nn.Module, generator: torch.Generator | None = None
) -> Proposer:
    """Proposals from a Bayesian GAN's posterior mixture, scored by :func:`posterior_logit`.

    ``G`` is a :class:`ganbook.bayesian_gan.Stacked` generator of J x M weight
    samples. Each draw comes from one weight sample chosen uniformly (the
    mixture over the posterior that the Bayesian GAN's samples represent), with
    the original's noise z ~ Uniform(-1, 1).
    """
    from ganbook.core.sampling import sample_z

    k = len(G)
    z_dim = G._skeleton[0].z_dim
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


# ---------------------------------------------------------------------------
# Rejection sampling and DRS
# ---------------------------------------------------------------------------


def rejection_sample(
    propose: Proposer,
    n: int,
    log_M: float,
    generator: torch.Generator | None = None,
    batch: int = 1000,
    max_proposals: int | None = None,
) -> Selection:
    """Rejection sampling of p_data with proposal p_G, when the ratio is known.

    With D~(x) = log p_data(x) / p_G(x) (the logit of the optimal D) and
    p_data <= M p_G everywhere, accept a proposal x with probability
    ``exp(D~(x) - log M)``; accepted points are exact samples of p_data, and
    each costs M proposals on average. Stops after ``max_proposals`` draws
    (default 10,000 per wanted sample) with what it has.
    """
    limit = max_proposals or 10_000 * n
    kept, used = [], 0
    while sum(len(k) for k in kept) < n and used < limit:
        x, d = propose(batch)
        accept = torch.rand(len(x), generator=generator) < torch.exp(d.double() - log_M)
        used += _take(kept, x, accept, n)
    return Selection(torch.cat(kept), used)


def _take(kept: list[torch.Tensor], x: torch.Tensor, accept: torch.Tensor, n: int) -> int:
    """Append the accepted rows of ``x`` to ``kept``, stopping at ``n`` in all.

    Returns the proposals used: the whole batch, or only up to the n-th
    acceptance, so that the count is what the samples really cost.
    """
    need = n - sum(len(k) for k in kept)
    hits = torch.nonzero(accept).ravel()
    if len(hits) >= need:
        kept.append(x[hits[:need]])
        return int(hits[need - 1]) + 1 if need > 0 else 0
    kept.append(x[hits])
    return len(x)


def drs_acceptance(
    logits: torch.Tensor,
    log_M: float | torch.Tensor,
    eps: float = 1e-6,
    gamma_percentile: float | None = 95.0,
) -> torch.Tensor:
    """DRS's acceptance probability sigmoid(F(x)) for a batch of proposals (Azadi et al., eq. 8).

    ``F(x) = D~(x) - D~_M - log(1 - exp(D~(x) - D~_M - eps)) - gamma``

    with D~ the logit, D~_M = log M the largest logit seen (the caller passes
    the running maximum, one per proposal or one for all). Without gamma
    (``gamma_percentile=None``) and with eps -> 0, sigmoid(F) = exp(D~ - D~_M):
    exact rejection sampling with envelope M. gamma, the ``gamma_percentile``-th
    percentile of F over the batch, shifts every F so that the best proposals
    (the top 5% for the 95th percentile) are accepted with probability above one
    half. Where even they fall far short of M (gamma < 0, the usual case for
    images) this accepts far more than the exact rule; where many come close
    (gamma > 0) it accepts fewer and favours the highest scores. Either way the
    samples no longer follow p_D exactly.
    """
    delta = logits.double() - torch.as_tensor(log_M, dtype=torch.float64)
    F = delta - torch.log1p(-torch.exp(delta - eps))
    if gamma_percentile is not None:
        F = F - torch.quantile(F, gamma_percentile / 100.0)
    return torch.sigmoid(F)


def drs(
    propose: Proposer,
    n: int,
    burn_in: int = 10_000,
    gamma_percentile: float | None = 95.0,
    eps: float = 1e-6,
    generator: torch.Generator | None = None,
    batch: int = 1000,
    max_proposals: int | None = None,
) -> Selection:
    """Discriminator rejection sampling (Azadi et al., Algorithm 1): ``n`` samples.

    1. Burn-in: score ``burn_in`` proposals; D~_M = log M is their largest logit.
    2. Draw batches of proposals; D~_M becomes the running maximum (a new larger
       logit raises it for that proposal and all later ones); accept each
       proposal with probability :func:`drs_acceptance`.

    Stops when ``n`` samples are accepted or after ``max_proposals`` draws
    (default 1,000 per wanted sample), returning what it has.
    """
    _, burn_logits = propose(burn_in)
    log_M = burn_logits.double().max()
    limit = max_proposals or 1000 * n
    kept, used = [], 0
    while sum(len(k) for k in kept) < n and used < limit:
        x, d = propose(batch)
        running = torch.cummax(torch.maximum(d.double(), log_M), 0).values
        log_M = running[-1]
        p = drs_acceptance(d, running, eps, gamma_percentile)
        accept = torch.rand(len(x), generator=generator, dtype=torch.float64) < p
        used += _take(kept, x, accept, n)
    return Selection(torch.cat(kept), used, burn_in)


# ---------------------------------------------------------------------------
# MH-GAN
# ---------------------------------------------------------------------------


def mh_acceptance(d_current: torch.Tensor, d_proposal: torch.Tensor) -> torch.Tensor:
    """MH-GAN's acceptance probability from D's probabilities (Turner et al., eq. 7).

    ``alpha = min(1, (1 / D(x_k) - 1) / (1 / D(x') - 1))``

    the Metropolis-Hastings ratio p_D(x') p_G(x_k) / (p_D(x_k) p_G(x')) of an
    independence sampler whose proposal is G, with p_D / p_G = D / (1 - D).
    A proposal the discriminator finds more real than the current state is
    always accepted.
    """
    return torch.clamp(mh_log_acceptance(logit(d_current), logit(d_proposal)).exp(), max=1.0)


def mh_log_acceptance(logit_current: torch.Tensor, logit_proposal: torch.Tensor) -> torch.Tensor:
    """log alpha of :func:`mh_acceptance` from logits: min(0, D~(x') - D~(x_k)).

    1/D - 1 = exp(-D~), so the ratio of eq. 7 is exp(D~(x') - D~(x_k)).
    """
    return torch.clamp(logit_proposal.double() - logit_current.double(), max=0.0)


def mh_select(
    propose: Proposer,
    n: int,
    K: int,
    init_logits: torch.Tensor,
    generator: torch.Generator | None = None,
) -> Selection:
    """``n`` samples from n independent MH-GAN chains of ``K`` proposals each (Algorithm 1).

    Chain i starts in the state of a held-out real sample: only its logit
    ``init_logits[i]`` is needed, never the sample itself. For k = 1..K it
    draws x' from G and moves to it with probability
    ``min(1, exp(D~(x') - D~(x_k)))`` (:func:`mh_log_acceptance`). If a chain
    accepted nothing, its state is still the real sample, which must not be
    output: the chain is restarted from its first generated proposal and run over
    the other K - 1 (done in the same pass, as a second chain on the same draws).

    With the exact D, a state drawn from p_data stays distributed as p_data
    after every step, so starting from real data needs no burn-in. The cost is
    K proposals per sample. The chains run side by side: one G and D batch of
    ``n`` per step.
    """
    if K < 1:
        raise ValueError(f"K must be at least 1, got {K}")
    if len(init_logits) != n:
        raise ValueError(f"need one initial (real) score per chain: {n}, got {len(init_logits)}")
    state = init_logits.double().clone()
    moved = torch.zeros(n, dtype=torch.bool)
    chosen: torch.Tensor | None = None
    restart_state = restart = None
    for k in range(K):
        x, d = propose(n)
        d = d.double()
        log_u = torch.log(torch.rand(n, generator=generator, dtype=torch.float64))
        accept = log_u <= mh_log_acceptance(state, d)
        if k == 0:
            chosen = x.clone()
            restart, restart_state = x.clone(), d.clone()
        else:
            back = log_u <= mh_log_acceptance(restart_state, d)
            restart[back] = x[back]
            restart_state = torch.where(back, d, restart_state)
        chosen[accept] = x[accept]
        state = torch.where(accept, d, state)
        moved |= accept
    chosen[~moved] = restart[~moved]
    return Selection(chosen, n * K)


# ---------------------------------------------------------------------------
# Calibration
# ---------------------------------------------------------------------------


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
