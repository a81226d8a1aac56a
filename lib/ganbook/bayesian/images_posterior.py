"""The energies of the Bayesian GAN on images, for networks with BatchNorm.

Energies (:class:`ImagePosterior`), on minibatches of n images with N the
training-set size::

    U_d = -(N / n) sum_i [log D(x_i) + mean_k log(1 - D(G(z_i; theta_g^k)))]
          -(N / n_l) sum_l log p(y_l | x_l; theta_d)          (semi-supervised)
          + |theta_d|^2 / (2 prior_std^2)
    U_g = -(gen_observed / n) sum_i mean_k log D(G(z_i); theta_d^k) + |theta_g|^2 / (2 prior_std^2)

where D(x) is the probability of any real class and p(y | x) that of class
y among the K + 1 (the supervised term on n_l labelled images is weighted by
N, as the original weights its mean losses equally). ``pairwise`` energies
pit D_k against G_k alone, for the ensemble of maximum-likelihood DCGANs.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ganbook.bayesian import posterior as bg
from ganbook.bayesian.images_model import BDCGANConfig


def supervised_energy(logits: torch.Tensor, labels: torch.Tensor, scale: float) -> torch.Tensor:
    """``-scale * sum_l log p(y_l | x_l)`` per discriminator sample (shape (K_d,)).

    ``logits``: (K_d, n_l, K+1) on the labelled images; class y is logit y + 1.
    """
    log_p = F.log_softmax(logits, dim=-1)
    index = (labels + 1).view(1, -1, 1).expand(len(logits), -1, 1)
    return -scale * log_p.gather(-1, index).squeeze(-1).sum(1)


class ImagePosterior(bg.Posterior):
    """:class:`ganbook.bayesian.posterior.Posterior` for BatchNorm networks, with two additions.

    Real and generated images go through D in separate calls, as in chapter 2:
    in one mixed batch, BatchNorm would let D tell them apart by batch
    statistics that G's step (generated images only) never shows it.
    ``pairwise`` (the ML ensemble): D_k sees only G_k's samples, and G_k is
    judged only by D_k, instead of every D seeing every G. ``labelled``
    (semi-supervised): the supervised term on a labelled batch.
    """

    def __init__(self, *args: Any, pairwise: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pairwise = pairwise

    def d_energy(
        self,
        D: bg.Stacked,
        real: torch.Tensor,
        fake: torch.Tensor,
        generator: torch.Generator | None = None,
        labelled: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """U_d per D sample; ``labelled`` = (images, labels) adds the supervised term."""
        n, k_d = real.shape[0], len(D)
        fakes = fake if self.pairwise else bg.pool_for_discriminators(fake, k_d)
        real_logits = D(real.expand(k_d, *real.shape))
        fake_logits = D(fakes)
        scale = 1 / n if self.ml else self.dataset_size / n
        if self.objective == "gan":
            energy = bg.discriminator_energy(real_logits, fake_logits, scale)
        else:
            energy = bg.critic_energy(real_logits[..., 0], fake_logits[..., 0], scale)
            if self.pairwise:
                penalty = pairwise_gradient_penalty(D, real, fake, generator)
            else:
                penalty = bg.gradient_penalty(D, real, fake, generator)
            energy = energy + scale * self.gp_weight * penalty
        if labelled is not None:
            x, y = labelled
            scale = 1 / len(y) if self.ml else self.dataset_size / len(y)
            energy = energy + supervised_energy(D(x.expand(k_d, *x.shape)), y, scale)
        return energy if self.ml else energy + bg.prior_energy(D, self.prior_std)

    def g_energy(self, G: bg.Stacked, D: bg.Stacked, fake: torch.Tensor) -> torch.Tensor:
        """U_g per G sample for its samples ``fake`` (K_g, n, ...)."""
        if not self.pairwise:
            return super().g_energy(G, D, fake)
        logits = D(fake).unsqueeze(0)  # one "discriminator" per generator: its own
        scale = 1 / fake.shape[1] if self.ml else self.gen_observed / fake.shape[1]
        if self.objective == "gan":
            energy = bg.generator_energy(logits, scale)
        else:
            energy = -scale * logits[..., 0].mean(0).sum(-1)
        return energy if self.ml else energy + bg.prior_energy(G, self.prior_std)


def pairwise_gradient_penalty(
    D: bg.Stacked, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """WGAN-GP's penalty for critic k between the real batch and generator k's samples."""
    k, n = fake.shape[:2]
    eps = torch.rand(k, n, *([1] * (real.dim() - 1)), generator=generator).to(real.device)
    x_hat = (eps * real.unsqueeze(0) + (1 - eps) * fake).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat)[..., 0].sum(), x_hat, create_graph=True)
    return (grad.flatten(2).norm(dim=2) - 1).pow(2).sum(1)


def posterior_for(config: BDCGANConfig, dataset_size: int) -> ImagePosterior:
    """The energies of a run on a training set of ``dataset_size`` images."""
    objective = "wasserstein" if config.wasserstein else "gan"
    return ImagePosterior(
        dataset_size,
        config.gen_observed,
        config.prior_std,
        ml=config.ml,
        objective=objective,
        gp_weight=config.gp_weight,
        pairwise=config.ml,
    )
