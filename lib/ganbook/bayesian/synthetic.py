"""The synthetic experiment of the Bayesian GAN paper (the original ``bgan_synth``).

Data (``SynthDataset`` of the original): N = 10,000 points in ``x_dim``
dimensions from 10 clusters that live on 2-dimensional planes. For each cluster
a mean ``mu ~ N(0, 25 I_2)`` and a matrix ``A ~ 5 N(0, 1)`` of shape x_dim x 2
are drawn, and its 1,000 points are ``x = A (z + mu)`` with ``z ~ N(0, I_2)``;
then every feature is standardised. The original draws these with NumPy's
legacy generator seeded 1234, and so does :func:`make_data`, which therefore
returns the very numbers the original trained on.

Networks: G maps z (``z_dim``, uniform on [-1, 1]) through 1,000 LeakyReLU(0.2)
units to ``x_dim`` linear outputs; D maps x through 1,000 LeakyReLU units to a
2-way softmax (class 0 "generated", class 1 "real"). All generator weights and
biases start N(0, 0.02), the discriminator's weights too, its biases at 0.

Training (``bgan_synth``): batch 64, learning rate
``lr * exp(-3 min(1, t * batch / N))`` (:func:`learning_rate`), one D step and
one step of every generator per iteration. numz = 1 (with num_mcmc = 1) is the
maximum-likelihood GAN: Adam(lr, beta1 0.5), no prior, no noise. The Bayesian
GAN takes ``burn_in`` Adam steps on the posterior energies and then samples
with SGHMC (:class:`SynthConfig` gives the step sizes); ``sampler="original"``
is the original code's recipe instead, Adam all along on the loss plus its
prior and noise terms.

Evaluation: every ``eval_every`` iterations, the JS divergence from the data
(:class:`ganbook.bayesian.divergence.JSEstimator`) of ``eval_points`` points,
shared equally by the generators, so that every run is scored on the same
number of points whatever its J x M (the estimator's bias depends on it).
From ``keep_from`` on, the generators' weights are also kept every
``keep_every`` iterations (Algorithm 1's samples along the chain), and
``js_chain`` scores ``eval_points`` points shared by all the kept samples.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import nn

from ganbook.bayesian.divergence import JSEstimator
from ganbook.bayesian.posterior import Posterior, Stacked, d_step, g_step
from ganbook.bayesian.sghmc import SGHMC, noise_loss
from ganbook.core.checkpoint import Checkpoint, cached, of_type, register
from ganbook.core.config import Config, scaled
from ganbook.core.progress import progress
from ganbook.core.sampling import generate_stacked, sample_z
from ganbook.core.settings import get_device, get_scale, seed_everything

N_POINTS = 10_000
NUM_CLUSTERS = 10
TRUE_Z_DIM = 2
DATA_SEED = 1234
HIDDEN = 1000
INIT_STD = 0.02
LR_DECAY = 3.0
#: The original ``bgan_synth``'s friction: its noise term has std sqrt(2 alpha), no eta.
ORIGINAL_ALPHA = 1e-3


@dataclass(frozen=True)
class SynthData:
    """The synthetic data set: ``X`` (N, x_dim), standardised, and each point's cluster."""

    X: np.ndarray
    clusters: np.ndarray

    @property
    def x_dim(self) -> int:
        return self.X.shape[1]

    def __len__(self) -> int:
        return len(self.X)

    def tensor(self) -> torch.Tensor:
        """The points as a float32 tensor."""
        return torch.from_numpy(self.X.astype(np.float32))


@lru_cache(maxsize=4)
def make_data(
    x_dim: int = 100, num_clusters: int = NUM_CLUSTERS, n: int = N_POINTS, seed: int = DATA_SEED
) -> SynthData:
    """The original ``SynthDataset(x_dim)``: 10 clusters on random 2-D planes, standardised."""
    if x_dim < 2:
        raise ValueError(f"x_dim must be at least 2 (the data are projected to 2-D), got {x_dim}")
    if num_clusters < 1 or n % num_clusters:
        raise ValueError(f"n ({n}) must be a positive multiple of num_clusters ({num_clusters})")
    rng = np.random.RandomState(seed)
    parts = []
    for _ in range(num_clusters):
        mu = rng.randn(TRUE_Z_DIM) * 5
        A = rng.randn(x_dim, TRUE_Z_DIM) * 5
        parts.append((rng.randn(n // num_clusters, TRUE_Z_DIM) + mu) @ A.T)
    raw = np.concatenate(parts)
    X = (raw - raw.mean(0)) / raw.std(0)
    clusters = np.repeat(np.arange(num_clusters), n // num_clusters)
    return SynthData(X, clusters)


def learning_rate(
    t: int, base_lr: float, batch_size: int, n: int, decay: float = LR_DECAY
) -> float:
    """The original schedule ``base_lr * exp(-decay * min(1, t * batch_size / n))``."""
    return base_lr * math.exp(-decay * min(1.0, t * batch_size / n))


def generator_net(z_dim: int, x_dim: int, hidden: int = HIDDEN) -> nn.Sequential:
    """G: z -> ``hidden`` LeakyReLU(0.2) -> x_dim, every weight and bias N(0, 0.02)."""
    net = nn.Sequential(nn.Linear(z_dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, x_dim))
    for p in net.parameters():
        nn.init.normal_(p, std=INIT_STD)
    return net


def discriminator_net(x_dim: int, hidden: int = HIDDEN, classes: int = 2) -> nn.Sequential:
    """D: x -> ``hidden`` LeakyReLU(0.2) -> ``classes`` logits (class 0: generated)."""
    first, last = nn.Linear(x_dim, hidden), nn.Linear(hidden, classes)
    net = nn.Sequential(first, nn.LeakyReLU(0.2), last)
    for layer in (first, last):
        nn.init.normal_(layer.weight, std=INIT_STD)
        nn.init.zeros_(layer.bias)
    return net


@lru_cache(maxsize=4)
def js_estimator(x_dim: int = 100) -> JSEstimator:
    """The estimator for the standard data set of dimension ``x_dim`` (built once)."""
    return JSEstimator(make_data(x_dim).X)


@dataclass(frozen=True)
class SynthConfig(Config):
    """One run of the synthetic experiment. Defaults: the original ``bgan_synth`` (numz 10).

    ``numz`` (J) and ``num_mcmc`` (M) give J*M generators and ``num_disc`` * M
    discriminators; numz = num_mcmc = num_disc = 1 is the maximum-likelihood
    GAN (Adam, no prior, no noise). A Bayesian run takes ``burn_in`` Adam
    steps on the posterior energies (to reach the posterior's bulk, as the
    original meant to before "switching to the user-specified optimizer"),
    then samples with SGHMC: friction ``alpha`` and learning rate
    eta = lr_t / N for D, lr_t / gen_observed for G, where lr_t is the
    original schedule, so that each step on a mean loss is lr_t as in the
    original. ``eta_scale`` multiplies both etas; ``temperature`` scales the
    injected noise (0: momentum SGD, the sampler without its noise).
    ``prior_std`` 10 and ``gen_observed`` 1000 are the original's synthetic
    settings; ``hidden`` is the width of G and D.

    ``sampler="original"`` replaces SGHMC by the original code's recipe:
    Adam from the start on the mean loss plus ``prior / N`` and the noise term
    ``sum(w * n) / N``, ``n ~ N(0, 2 ORIGINAL_ALPHA)``, for G as for D, as the
    original's synthetic model (``bgan_models.BGAN``) does
    (:func:`ganbook.bayesian.sghmc.noise_loss`); the prior term and the mean
    over generators are the book's. ``eval_points`` points,
    shared by the generators, are scored at each evaluation; generator samples
    are kept every ``keep_every`` iterations from ``keep_from`` (0: none).
    """

    x_dim: int = 100
    z_dim: int = 10
    numz: int = 10
    num_mcmc: int = 1
    num_disc: int = 1
    train_iter: int = 1000
    batch_size: int = 64
    lr: float = 1e-2
    burn_in: int = 300
    alpha: float = 0.1
    prior_std: float = 10.0
    gen_observed: int = 1000
    wasserstein: bool = False
    hidden: int = HIDDEN
    eval_every: int = 100
    eval_points: int = 6400
    sampler: str = "sghmc"
    temperature: float = 1.0
    eta_scale: float = 1.0
    keep_every: int = 50
    keep_from: int = 500
    seed: int = 0

    @property
    def ml(self) -> bool:
        """True for the maximum-likelihood GAN: one generator, one discriminator."""
        return self.numz == 1 and self.num_mcmc == 1 and self.num_disc == 1

    @property
    def num_generators(self) -> int:
        return self.numz * self.num_mcmc

    @property
    def num_discriminators(self) -> int:
        return self.num_disc * self.num_mcmc

    counts = tuple(
        "z_dim numz num_mcmc num_disc train_iter batch_size gen_observed hidden "
        "eval_every eval_points".split()
    )
    naturals = ("burn_in", "seed", "keep_every", "keep_from")
    positive = ("lr", "prior_std", "alpha", "eta_scale")
    choices = {"sampler": ("sghmc", "original")}

    def check(self) -> None:
        if self.x_dim < 2:
            raise ValueError(f"x_dim must be at least 2 (the JS is taken in 2-D), got {self.x_dim}")
        if self.alpha > 1:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        if not self.temperature >= 0:
            raise ValueError(f"temperature must be 0 or more, got {self.temperature}")


#: Per scale: iterations and width. ``paper`` is the seed's own command (5,000 iterations).
SCALE_SETTINGS: dict[str, dict[str, Any]] = {
    "smoke": {
        "train_iter": 100,
        "hidden": 64,
        "eval_every": 50,
        "burn_in": 50,
        "eval_points": 640,
        "keep_from": 50,
        "keep_every": 25,
    },
    "book": {"train_iter": 1000, "hidden": 250},
    "paper": {"train_iter": 5000},
}


def config_for(scale: str | None = None, **overrides: Any) -> SynthConfig:
    """The synthetic config at ``scale`` with any field overridden."""
    return scaled(SynthConfig, SCALE_SETTINGS, scale, **overrides)


def build(config: dict[str, Any]) -> dict[str, nn.Module]:
    """Fresh stacked G (J*M samples) and D (J_d*M samples) for a config dict."""
    c = SynthConfig(**config)
    classes = 1 if c.wasserstein else 2
    G = Stacked([generator_net(c.z_dim, c.x_dim, c.hidden) for _ in range(c.num_generators)])
    D = Stacked(
        [discriminator_net(c.x_dim, c.hidden, classes) for _ in range(c.num_discriminators)]
    )
    return {"G": G, "D": D}


register("bgan_synth", build, sources=("ganbook.core.sampling",))


@torch.no_grad()
def generate(G: Stacked, n: int, z_dim: int, generator: torch.Generator) -> np.ndarray:
    """``n`` points from each generator sample, pooled: shape (K * n, x_dim)."""
    return generate_stacked(G, n, z_dim, generator).reshape(len(G) * n, -1).numpy()


def generate_shared(
    samples: list[Stacked], total: int, z_dim: int, generator: torch.Generator
) -> np.ndarray:
    """``total`` points shared equally by every generator of every stack in ``samples``.

    Each of the S * K generators gives ``ceil(total / (S * K))`` points, pooled
    stack by stack and generator by generator, and the pool is cut to ``total``.
    """
    per = -(-total // sum(len(G) for G in samples))
    return np.concatenate([generate(G, per, z_dim, generator) for G in samples])[:total]


def _noise_terms(
    G: Stacked, D: Stacked, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The original's noise terms for D and G, on the energies' scale (its loss times N)."""
    std = math.sqrt(2 * ORIGINAL_ALPHA)
    return (
        noise_loss(D.parameters(), std, 1.0, generator),
        noise_loss(G.parameters(), std, 1.0, generator),
    )


def _optimizers(
    G: Stacked, D: Stacked, config: SynthConfig, sampling: bool, generator: torch.Generator
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    if sampling:
        settings = {"alpha": config.alpha, "temperature": config.temperature}
        return (
            SGHMC(G.parameters(), lr=config.lr, generator=generator, **settings),
            SGHMC(D.parameters(), lr=config.lr, generator=generator, **settings),
        )
    betas = (0.5, 0.999)
    return (
        torch.optim.Adam(G.parameters(), lr=config.lr, betas=betas),
        torch.optim.Adam(D.parameters(), lr=config.lr, betas=betas),
    )


def train(
    config: SynthConfig,
    device: str | torch.device | None = None,
    quiet: bool = False,
    on_eval: Callable[[dict[str, Any], np.ndarray, dict[str, nn.Module]], None] | None = None,
) -> Checkpoint:
    """Train the synthetic (Bayesian) GAN of ``config``; JS every ``eval_every`` iterations.

    ``on_eval(entry, fake, models)`` is called after each evaluation with the
    log entry, the generated points and the networks {"G", "D"} (a live plot or
    the command line uses it). The checkpoint's log holds one entry per
    evaluation (iteration, js, js_chain, kept, energies, seconds, phase):
    ``js`` scores the current generators, ``js_chain`` (NaN before the first
    kept sample) all the samples kept so far, ``kept`` of them.
    ``extra["points"]`` holds the 2-D PCA projection of the generated points of
    each evaluation.
    """
    config.validate()
    device = get_device(device)
    generator = seed_everything(config.seed)
    data = make_data(config.x_dim)
    estimator = js_estimator(config.x_dim)
    X = data.tensor().to(device)
    N = len(data)
    models = build(config.to_dict())
    G, D = of_type(models["G"], Stacked).to(device), of_type(models["D"], Stacked).to(device)
    objective = "wasserstein" if config.wasserstein else "gan"
    original = config.sampler == "original" and not config.ml
    # The original scales G's prior and noise terms by N, like D's.
    gen_observed = N if original else config.gen_observed
    posterior = Posterior(N, gen_observed, config.prior_std, config.ml, objective)
    sampling = False
    opt_g, opt_d = _optimizers(G, D, config, sampling, generator)
    k, n = config.num_generators, config.batch_size
    log: list[dict[str, Any]] = []
    points: dict[int, np.ndarray] = {}
    kept: list[Stacked] = []
    start = time.perf_counter()
    desc = "ML GAN" if config.ml else f"Bayesian GAN J={config.numz} M={config.num_mcmc}"
    bar = progress(config.train_iter, desc, disable=quiet)
    for t in range(config.train_iter):
        if not (config.ml or original) and t == config.burn_in:
            sampling = True
            opt_g, opt_d = _optimizers(G, D, config, sampling, generator)
        lr = learning_rate(t, config.lr, n, N)
        eta = lr * config.eta_scale
        for group in opt_d.param_groups:
            group["lr"] = eta / N if sampling else lr
        for group in opt_g.param_groups:
            group["lr"] = eta / config.gen_observed if sampling else lr
        noise_d, noise_g = _noise_terms(G, D, generator) if original else (None, None)
        real = X[torch.randperm(N, generator=generator)[:n].to(device)]
        z = sample_z(k, n, config.z_dim, generator).to(device)
        u_d = d_step(G, D, opt_d, posterior, real, z, generator, noise_d)
        z = sample_z(k, n, config.z_dim, generator).to(device)
        u_g = g_step(G, D, opt_g, posterior, z, noise_g)
        bar.update(1)
        if config.keep_every and t + 1 > config.keep_from and (t + 1) % config.keep_every == 0:
            kept.append(copy.deepcopy(G).eval())
        if (t + 1) % config.eval_every == 0 or t + 1 == config.train_iter:
            fake = generate_shared([G], config.eval_points, config.z_dim, generator)
            finite = bool(np.isfinite(fake).all())
            chain = (
                generate_shared(kept, config.eval_points, config.z_dim, generator) if kept else None
            )
            entry = {
                "iteration": t + 1,
                "js": estimator(fake) if finite else float("nan"),
                "js_chain": _score(estimator, chain),
                "kept": len(kept),
                "d_energy": u_d.mean().item(),
                "g_energy": u_g.mean().item(),
                "seconds": time.perf_counter() - start,
                "phase": "sghmc" if sampling else "adam",
            }
            log.append(entry)
            if finite:
                points[t + 1] = estimator.project(fake).astype(np.float32)
            bar.set_postfix(js=f"{entry['js']:.3f}")
            if on_eval is not None:
                on_eval(entry, fake, {"G": G, "D": D})
    bar.close()
    G.eval()
    D.eval()
    extra = {"points": points, "seconds": time.perf_counter() - start}
    return Checkpoint("bgan_synth", config.to_dict(), {"G": G, "D": D}, log, extra)


def _score(estimator: JSEstimator, points: np.ndarray | None) -> float:
    """The JS of ``points`` from the data; NaN for none or non-finite points."""
    if points is None or not np.isfinite(points).all():
        return float("nan")
    return estimator(points)


def trained(
    config: SynthConfig,
    *,
    scale: str | None = None,
    device: str | torch.device | None = None,
    quiet: bool = False,
    on_eval: Callable[[dict[str, Any], np.ndarray, dict[str, nn.Module]], None] | None = None,
) -> Checkpoint:
    """The run of ``config``, from the cache when it is there (trained otherwise).

    ``quiet`` and ``on_eval`` are passed to :func:`train` when it trains.
    """
    return cached(
        "bgan_synth",
        get_scale(scale),
        config.to_dict(),
        lambda: train(config, device=device, quiet=quiet, on_eval=on_eval),
        device,
        verbose=False,
    )
