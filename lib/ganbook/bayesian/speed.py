"""Step time of the Bayesian GAN's weight samples: batched (stacked) against looped.

    python scripts/bench_bgan.py                      # J x M in 1, 4, 10, 25 and two M > 1
    python scripts/bench_bgan.py --sizes 10x1 5x2 --steps 20 --sampler adam

For each J x M it builds the synthetic experiment's J*M generators and
num_disc*M discriminators twice: stacked (:class:`ganbook.bayesian.posterior.Stacked`,
one call per network and one optimizer) and as separate ``nn.Module`` copies
with one optimizer each, stepped in a Python loop (:class:`Looped`, which
exists only as this baseline). Both run the same iteration, one D step and one
G step, from the same weights; it prints the median step time of each (the two
interleaved step by step) and their ratio looped / batched.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import cast

import torch
from torch import nn

from ganbook.bayesian.posterior import Posterior, Stacked, d_step, discriminator_energy, g_step
from ganbook.bayesian.posterior import generator_energy as _generator_energy
from ganbook.bayesian.sghmc import SGHMC
from ganbook.bayesian.synthetic import N_POINTS, SynthConfig, build, make_data
from ganbook.core.checkpoint import of_type
from ganbook.core.sampling import sample_z


def _prior(model: nn.Module, prior_std: float) -> torch.Tensor:
    # sum() starts from the int 0, so its type is "Tensor | int"; 0 + a tensor is a tensor.
    total = cast(torch.Tensor, sum(p.pow(2).sum() for p in model.parameters()))
    return total / (2 * prior_std**2)


class Looped:
    """The J*M generators and J_d*M discriminators as separate modules, updated one by one.

    Same energies as :class:`ganbook.bayesian.posterior.Posterior` (objective
    "gan"), computed model by model; the batched training never uses this.
    """

    def __init__(
        self,
        G: Stacked,
        D: Stacked,
        posterior: Posterior,
        make_optimizer: Callable[[list[nn.Parameter]], torch.optim.Optimizer],
    ) -> None:
        self.generators = G.unstack()
        self.discriminators = D.unstack()
        self.posterior = posterior
        self.opt_g = [make_optimizer(list(g.parameters())) for g in self.generators]
        self.opt_d = [make_optimizer(list(d.parameters())) for d in self.discriminators]

    def d_step(self, real: torch.Tensor, z: torch.Tensor) -> None:
        post, n = self.posterior, real.shape[0]
        with torch.no_grad():
            fakes = [g(z[k]) for k, g in enumerate(self.generators)]
        scale = 1 / n if post.ml else post.dataset_size / n
        for d, opt in zip(self.discriminators, self.opt_d, strict=True):
            real_logits = d(real)
            fake_logits = torch.cat([d(fake) for fake in fakes])
            energy = discriminator_energy(real_logits[None], fake_logits[None], scale)[0]
            if not post.ml:
                energy = energy + _prior(d, post.prior_std)
            opt.zero_grad(set_to_none=True)
            energy.backward()
            opt.step()

    def g_step(self, z: torch.Tensor) -> None:
        post, n = self.posterior, z.shape[1]
        scale = 1 / n if post.ml else post.gen_observed / n
        for d in self.discriminators:
            d.requires_grad_(False)
        for k, (g, opt) in enumerate(zip(self.generators, self.opt_g, strict=True)):
            fake = g(z[k])
            logits = torch.stack([d(fake) for d in self.discriminators])
            energy = _generator_energy(logits[:, None], scale)[0]
            if not post.ml:
                energy = energy + _prior(g, post.prior_std)
            opt.zero_grad(set_to_none=True)
            energy.backward()
            opt.step()
        for d in self.discriminators:
            d.requires_grad_(True)


def optimizer_factory(
    sampler: str, lr: float, alpha: float
) -> Callable[[list[nn.Parameter]], torch.optim.Optimizer]:
    """A function params -> a fresh optimizer: ``"adam"`` (burn-in) or ``"sghmc"``."""
    if sampler == "adam":
        return lambda params: torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))
    if sampler == "sghmc":
        return lambda params: SGHMC(params, lr=lr, alpha=alpha)
    raise ValueError(f"sampler must be 'adam' or 'sghmc', got {sampler!r}")


def time_steps(
    steps: dict[str, Callable[[int], None]], repeats: int, warmup: int = 2
) -> dict[str, float]:
    """Median seconds per call of each ``step(i)``, the steps interleaved call by call.

    Interleaving and the median keep a busy machine's slow moments from
    landing on one side of the comparison.
    """
    times: dict[str, list[float]] = {name: [] for name in steps}
    for i in range(warmup + repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step(i)
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def bench(
    numz: int,
    num_mcmc: int,
    steps: int,
    sampler: str,
    device: torch.device,
    hidden: int = SynthConfig.hidden,
) -> tuple[float, float]:
    """(looped, batched) seconds per iteration for J = numz, M = num_mcmc, width ``hidden``."""
    config = SynthConfig(numz=numz, num_mcmc=num_mcmc, hidden=hidden).validate()
    torch.manual_seed(0)
    models = build(config.to_dict())
    G, D = of_type(models["G"], Stacked).to(device), of_type(models["D"], Stacked).to(device)
    posterior = Posterior(N_POINTS, config.gen_observed, config.prior_std, config.ml)
    lr = 1e-6 if sampler == "sghmc" else config.lr
    make = optimizer_factory("adam" if config.ml else sampler, lr, config.alpha)
    looped = Looped(G, D, posterior, make)
    opt_g, opt_d = make(list(G.parameters())), make(list(D.parameters()))
    X = make_data(config.x_dim).tensor().to(device)
    generator = torch.Generator().manual_seed(0)
    n, k = config.batch_size, config.num_generators
    batches = [
        (
            X[torch.randint(len(X), (n,), generator=generator).to(device)],
            sample_z(k, n, config.z_dim, generator).to(device),
            sample_z(k, n, config.z_dim, generator).to(device),
        )
        for _ in range(steps + 2)
    ]

    def looped_step(i: int) -> None:
        real, z_d, z_g = batches[i]
        looped.d_step(real, z_d)
        looped.g_step(z_g)
        _sync(device)

    def batched_step(i: int) -> None:
        real, z_d, z_g = batches[i]
        d_step(G, D, opt_d, posterior, real, z_d)
        g_step(G, D, opt_g, posterior, z_g)
        _sync(device)

    result = time_steps({"looped": looped_step, "batched": batched_step}, steps)
    return result["looped"], result["batched"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
