"""Stochastic-gradient Hamiltonian Monte Carlo (Chen, Fox and Guestrin 2014) as an optimizer.

Read this beside Algorithm 1 of the Bayesian GAN paper (Saatchi and Wilson 2017).
For a potential energy U(theta) = -log p(theta | data), SGHMC keeps a velocity v
per parameter and, at every step, with learning rate eta and friction alpha::

    n     ~ N(0, 2 alpha eta I)
    v     <- (1 - alpha) v - eta * grad U(theta) + n
    theta <- theta + v

Algorithm 1 writes the same update with the gradient of the log posterior,
``v <- (1 - alpha) v + eta * sum_i d log p(theta | ...) / d theta + n``, and lists
the position update first; both orders give the same chain shifted by half a
step. Run long enough with a small eta, theta is a sample of p(theta | data)
(the friction alpha must dominate the unknown gradient-noise term beta-hat,
which the paper, like us, takes as zero).

Without the noise n, the update is momentum SGD: PyTorch's ``SGD(lr=eta,
momentum=1 - alpha)`` keeps ``buf <- (1 - alpha) buf + grad`` and takes
``theta <- theta - eta buf``, which is the chain above with ``v = -eta buf``.
``temperature`` scales the noise variance (``2 alpha eta T``); ``T = 0`` is that
momentum SGD and ``T = 1`` the posterior itself.

How the original code did it. The TensorFlow code never had this update. It
added two terms to each network's loss, a prior term and a noise term
``sum(w * n) / N`` with ``n ~ N(0, noise_std^2)``, and stepped Adam. The
gradient of ``sum(w * n)`` is ``n``, so plain SGD with learning rate ``lr`` on
that loss takes ``theta <- theta - lr * (grad L + n / N)``: the noise enters
through the gradient, as SGHMC's does. With ``U = N L`` that is SGHMC with
``eta = lr / N``, ``alpha = 1`` (no momentum) and injected variance
``(lr / N)^2 noise_std^2`` instead of ``2 alpha eta``; and Adam then divides
each coordinate by a running root-mean-square of (gradient + noise), so
neither the step size nor the noise level is the one the sampler needs.
:func:`noise_loss` is that term, for comparison.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch


class SGHMC(torch.optim.Optimizer):
    """SGHMC sampler: ``v <- (1 - alpha) v - lr grad U + N(0, 2 alpha lr T); theta <- theta + v``.

    Args:
        params: the parameters theta (or parameter groups), whose ``.grad`` is grad U.
        lr: the learning rate eta of Algorithm 1 (a step on U, not on a mean loss).
        alpha: the friction alpha in (0, 1]; ``1 - alpha`` is the momentum.
        temperature: scales the injected noise variance; 0 turns the noise off.
        generator: a CPU ``torch.Generator`` for the noise, so runs repeat exactly.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float,
        alpha: float = 0.01,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        if not lr > 0:
            raise ValueError(f"SGHMC learning rate must be positive, got {lr}")
        if not 0 < alpha <= 1:
            raise ValueError(f"SGHMC friction alpha must be in (0, 1], got {alpha}")
        if not temperature >= 0:
            raise ValueError(f"SGHMC temperature must be 0 or more, got {temperature}")
        defaults = {"lr": lr, "alpha": alpha, "temperature": temperature}
        super().__init__(params, defaults)
        self.generator = generator

    @torch.no_grad()
    def step(self, closure=None):
        """One SGHMC step for every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            eta, alpha, temperature = group["lr"], group["alpha"], group["temperature"]
            noise_std = math.sqrt(2.0 * alpha * eta * temperature)
            for theta in group["params"]:
                if theta.grad is None:
                    continue
                state = self.state[theta]
                if "velocity" not in state:
                    state["velocity"] = torch.zeros_like(theta)
                v = state["velocity"]
                v.mul_(1.0 - alpha).add_(theta.grad, alpha=-eta)
                if noise_std > 0:
                    n = torch.randn(theta.shape, generator=self.generator, dtype=theta.dtype)
                    v.add_(n.to(theta.device), alpha=noise_std)
                theta.add_(v)
        return loss


def noise_loss(
    params: Iterable[torch.Tensor],
    noise_std: float,
    scale: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The original code's noise term ``sum(w * n) / scale``, ``n ~ N(0, noise_std^2)``.

    Added to a loss, its gradient is ``n / scale``: fresh Gaussian noise on the
    gradient at every step. Kept here to show what the original did; the book's
    samplers use :class:`SGHMC`.
    """
    terms = [
        (w * torch.randn(w.shape, generator=generator, dtype=w.dtype).to(w.device)).sum()
        for w in params
    ]
    return torch.stack(terms).sum() * noise_std / scale


def gaussian_chains(
    mu: torch.Tensor,
    sigma: torch.Tensor,
    *,
    temperature: float = 1.0,
    lr: float = 0.01,
    alpha: float = 0.1,
    steps: int = 1500,
    burn_in: int = 500,
    thin: int = 25,
    chains: int = 2000,
    seed: int = 0,
) -> torch.Tensor:
    """SGHMC on a posterior we know, N(mu, sigma): U = (theta - mu)^T sigma^-1 (theta - mu) / 2.

    ``chains`` independent chains run side by side in one tensor (the update
    treats every number on its own, so they do not interact), all from 0. The
    states every ``thin`` steps after ``burn_in`` are returned, pooled: shape
    (samples, d). With ``temperature`` 1 they are samples of N(mu, sigma).
    """
    precision = torch.linalg.inv(sigma)
    theta = torch.zeros(chains, len(mu), requires_grad=True)
    opt = SGHMC(
        [theta],
        lr=lr,
        alpha=alpha,
        temperature=temperature,
        generator=torch.Generator().manual_seed(seed),
    )
    kept = []
    for step in range(steps):
        opt.zero_grad()
        d = theta - mu
        (0.5 * ((d @ precision) * d).sum()).backward()
        opt.step()
        if step >= burn_in and step % thin == 0:
            kept.append(theta.detach().clone())
    return torch.cat(kept)


def minibatch_chains(
    *,
    n_data: int = 10_000,
    batch_size: int = 64,
    prior_std: float = 10.0,
    lr: float = 5e-4,
    alpha: float = 0.1,
    steps: int = 3000,
    burn_in: int = 1000,
    thin: int = 20,
    chains: int = 500,
    seed: int = 0,
) -> tuple[torch.Tensor, float, float]:
    """SGHMC with minibatch gradients on a posterior we know, at a GAN run's own settings.

    The model: ``n_data`` points y_i ~ N(theta, 1) (drawn once, with mean 1), a
    prior theta ~ N(0, prior_std^2). The posterior is Gaussian with precision
    ``n_data + prior_std^-2``. Each step estimates grad U from ``batch_size``
    points scaled by ``n_data / batch_size``, as the GAN's energies do, and
    steps with ``eta = lr / n_data`` and friction ``alpha``, as the synthetic
    experiment's SGHMC phase does. Returns the kept states of all chains,
    pooled, and the exact posterior mean and standard deviation: the
    minibatch noise, which the sampler does not correct for, widens the
    sampled spread beyond the exact one.
    """
    g = torch.Generator().manual_seed(seed)
    y = 1.0 + torch.randn(n_data, generator=g, dtype=torch.float64)
    precision = n_data + prior_std**-2
    mean, std = float(y.sum() / precision), precision**-0.5
    theta = torch.full((chains,), mean, dtype=torch.float64)
    v = torch.zeros_like(theta)
    eta = lr / n_data
    noise = math.sqrt(2 * alpha * eta)
    kept = []
    for step in range(steps):
        batch = y[torch.randint(n_data, (chains, batch_size), generator=g)]
        grad = (n_data / batch_size) * (theta[:, None] - batch).sum(1) + theta / prior_std**2
        v = (1 - alpha) * v - eta * grad + noise * torch.randn(chains, generator=g, dtype=v.dtype)
        theta = theta + v
        if step >= burn_in and step % thin == 0:
            kept.append(theta.clone())
    return torch.cat(kept), mean, std
