"""The Metropolis-Hastings GAN's independence sampler.

:func:`mh_select` is the MH-GAN independence sampler (Turner et al., section 3.1
and Algorithm 1): K proposals per chain, acceptance
min(1, (1/D(x_k) - 1) / (1/D(x') - 1)), each chain started from a held-out real
sample's score, restarted from the first generated sample if nothing was
accepted, many independent chains at once.
"""

from __future__ import annotations

import torch

from ganbook.selection.proposers import Proposer, Selection, logit


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
            assert chosen is not None and restart is not None and restart_state is not None
            back = log_u <= mh_log_acceptance(restart_state, d)
            restart[back] = x[back]
            restart_state = torch.where(back, d, restart_state)
        chosen[accept] = x[accept]
        state = torch.where(accept, d, state)
        moved |= accept
    assert chosen is not None and restart is not None  # set by the first of K >= 1 steps
    chosen[~moved] = restart[~moved]
    return Selection(chosen, n * K)
