"""Rejection sampling with the discriminator's density ratio, exact and DRS.

* :func:`rejection_sample` is textbook rejection sampling with proposal p_G and
  envelope M p_G: accept x with probability (p_data(x) / p_G(x)) / M.
* :func:`drs` is DRS (Azadi et al., section 3.2 and Algorithm 1): M estimated
  from a burn-in and kept as a running maximum, the acceptance probability
  sigmoid(F(x)) with F shifted by gamma.
"""

from __future__ import annotations

import torch

from ganbook.selection.proposers import Proposer, Selection


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
    kept: list[torch.Tensor] = []
    used = 0
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
    kept: list[torch.Tensor] = []
    used = 0
    while sum(len(k) for k in kept) < n and used < limit:
        x, d = propose(batch)
        running = torch.cummax(torch.maximum(d.double(), log_M), 0).values
        log_M = running[-1]
        p = drs_acceptance(d, running, eps, gamma_percentile)
        accept = torch.rand(len(x), generator=generator, dtype=torch.float64) < p
        used += _take(kept, x, accept, n)
    return Selection(torch.cat(kept), used, burn_in)
