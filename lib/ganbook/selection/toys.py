"""The GANs of chapter 5's toy problems, and every selector scored on them.

Networks (Turner et al., section 5.1): G maps z ~ N(0, I_2) and D maps x
through four fully connected layers of 100 ReLU units each, to x (linear) and to
one logit. Training: the non-saturating GAN with Adam (1e-3, betas 0.5 and
0.999), one D step and one G step per batch of 100, a fresh batch from the
mixture at every step, and an R1 penalty (gamma / 2) E||grad D~(x)||^2 on
the real batch (Mescheder et al., 2018) that keeps D smooth around the data.

The selectors (:data:`METHODS`) run on snapshots taken along training and are
scored with the metrics of :mod:`ganbook.selection.mixtures`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, cast

import pandas as pd
import torch
from torch import nn

from ganbook.core.checkpoint import Checkpoint, cached, register
from ganbook.core.config import Config, scaled
from ganbook.core.losses import bce, generator_loss
from ganbook.core.progress import progress
from ganbook.core.settings import get_device, get_scale, seed_everything
from ganbook.selection.calibration import calibrated, fit_calibrator
from ganbook.selection.mh import mh_select
from ganbook.selection.mixtures import MIXTURES, Mixture, evaluate
from ganbook.selection.proposers import Selection, gan_proposer, logits_of
from ganbook.selection.rejection import drs

#: Seed offsets: the training set, and held-out real points, are drawn apart.
HELD_OUT_SEED = 10_000


def mlp(n_in: int, n_out: int, hidden: int = 100, layers: int = 4) -> nn.Sequential:
    """``layers`` fully connected layers of ``hidden`` ReLU units, then a linear output."""
    parts: list[nn.Module] = []
    width = n_in
    for _ in range(layers):
        parts += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    parts.append(nn.Linear(width, n_out))
    return nn.Sequential(*parts)


class Generator(nn.Module):
    """z (``z_dim``) -> 4 x 100 ReLU -> a point (``x_dim``)."""

    def __init__(self, z_dim: int = 2, x_dim: int = 2, hidden: int = 100, layers: int = 4):
        super().__init__()
        self.net = mlp(z_dim, x_dim, hidden, layers)
        self.z_dim = z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    """A point -> 4 x 100 ReLU -> the logit of "real"."""

    def __init__(self, x_dim: int = 2, hidden: int = 100, layers: int = 4):
        super().__init__()
        self.net = mlp(x_dim, 1, hidden, layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)

    def prob(self, x: torch.Tensor) -> torch.Tensor:
        """D(x): the probability that ``x`` is real."""
        return torch.sigmoid(self(x))


@dataclass(frozen=True)
class ToyConfig(Config):
    """A toy GAN run: the task, the networks, the training budget and the seed.

    Every step draws a fresh batch from the mixture (the papers' toys have an
    unlimited supply of data, so there is no training set to memorise), takes
    one D step with an R1 penalty of weight ``r1`` on the real batch and one
    G step. Every ``snapshot_every`` steps (and after the last) the networks'
    weights are kept in the checkpoint, so that the selectors can be scored
    along training.
    """

    task: str = "grid25"
    steps: int = 20_000
    batch_size: int = 100
    z_dim: int = 2
    hidden: int = 100
    layers: int = 4
    lr: float = 1e-3
    beta1: float = 0.5
    r1: float = 0.1
    snapshot_every: int = 1000
    seed: int = 0

    counts = ("steps", "batch_size", "z_dim", "hidden", "layers", "snapshot_every")
    naturals = ("seed",)
    positive = ("lr",)
    choices = {"task": tuple(MIXTURES)}

    def check(self) -> None:
        if isinstance(self.r1, bool) or not isinstance(self.r1, (int, float)):
            raise ValueError(f"r1 must be a number, got {self.r1!r}")
        if not (math.isfinite(self.r1) and self.r1 >= 0):
            raise ValueError(f"r1 must be a finite number of at least 0, got {self.r1!r}")
        if not 0 <= self.beta1 < 1:
            raise ValueError(f"beta1 must be in [0, 1), got {self.beta1!r}")

    @property
    def mixture(self) -> Mixture:
        return MIXTURES[self.task]


#: Per scale and task: the config fields. The papers do not give their toy runs'
#: budgets; ``paper`` scale trains five times longer than ``book``.
SCALE_SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "smoke": {
        "mog1d": {"steps": 300, "hidden": 32, "snapshot_every": 100},
        "grid25": {"steps": 400, "hidden": 32, "snapshot_every": 200},
    },
    "book": {
        "mog1d": {"steps": 10_000, "snapshot_every": 500},
        "grid25": {"steps": 20_000, "snapshot_every": 1000},
    },
    "paper": {
        "mog1d": {"steps": 50_000, "snapshot_every": 2500},
        "grid25": {"steps": 100_000, "snapshot_every": 5000},
    },
}


def config_for(scale: str | None = None, *, task: str = "grid25", **overrides: Any) -> ToyConfig:
    """The ``task``'s config at ``scale``, with fields overridden."""
    if task not in MIXTURES:
        raise ValueError(f"task must be one of {', '.join(MIXTURES)}, got {task!r}")
    settings = {name: {"task": task, **tasks[task]} for name, tasks in SCALE_SETTINGS.items()}
    return scaled(ToyConfig, settings, scale, **overrides)


def build(config: dict[str, Any]) -> dict[str, nn.Module]:
    """Fresh G and D for a config dict (the checkpoint registry's builder)."""
    dim = MIXTURES[config["task"]].dim
    return {
        "G": Generator(config["z_dim"], dim, config["hidden"], config["layers"]),
        "D": Discriminator(dim, config["hidden"], config["layers"]),
    }


register("toy", build, sources=("ganbook.core.losses",))


def held_out(config: ToyConfig | dict[str, Any], n: int, seed: int = 0) -> torch.Tensor:
    """``n`` fresh real points, drawn apart from every training batch."""
    task = config.task if isinstance(config, ToyConfig) else config["task"]
    generator = torch.Generator().manual_seed(HELD_OUT_SEED + seed)
    return MIXTURES[task].sample(n, generator)


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def r1_penalty(D: nn.Module, real: torch.Tensor) -> torch.Tensor:
    """E ||grad_x D~(x)||^2 over the real batch (Mescheder et al., 2018).

    Penalising the gradient of D's logit on real data keeps D smooth where
    the data are, so the generator is not pushed past a mode it has reached.
    """
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(real).sum(), real, create_graph=True)
    return grad.pow(2).sum(1).mean()


def train(
    config: ToyConfig, device: str | torch.device | None = None, quiet: bool = False
) -> Checkpoint:
    """Train a toy GAN; log the mean losses of every snapshot interval, keep snapshots.

    ``checkpoint.extra["snapshots"]`` maps a step to the (G, D) state dicts
    after it (step 0 is the untrained pair).
    """
    device = get_device(device)
    generator = seed_everything(config.seed)
    mixture = config.mixture
    models = build(config.to_dict())
    G, D = models["G"].to(device), models["D"].to(device)
    betas = (config.beta1, 0.999)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=betas)
    snapshots = {0: (_state(G), _state(D))}
    log = []
    start = time.perf_counter()
    d_sum = g_sum = 0.0
    bar = progress(config.steps, f"{config.task} GAN (seed {config.seed})", disable=quiet)
    for step in range(1, config.steps + 1):
        real = mixture.sample(config.batch_size, generator).to(device)
        z = torch.randn(config.batch_size, config.z_dim, generator=generator).to(device)
        fake = G(z)
        opt_d.zero_grad(set_to_none=True)
        d_loss = bce(D(real), 1.0) + bce(D(fake.detach()), 0.0)
        penalty = 0.5 * config.r1 * r1_penalty(D, real) if config.r1 else 0.0
        (d_loss + penalty).backward()
        opt_d.step()
        D.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        g_loss = generator_loss(D(fake))
        g_loss.backward()
        opt_g.step()
        D.requires_grad_(True)
        d_sum += d_loss.item()
        g_sum += g_loss.item()
        if step % config.snapshot_every == 0 or step == config.steps:
            done = step - max(snapshots)
            log.append({"step": step, "d_loss": d_sum / done, "g_loss": g_sum / done})
            snapshots[step] = (_state(G), _state(D))
            d_sum = g_sum = 0.0
        bar.update(1)
    bar.close()
    G.eval()
    D.eval()
    extra = {"snapshots": snapshots, "seconds": time.perf_counter() - start}
    return Checkpoint("toy", config.to_dict(), {"G": G, "D": D}, log, extra)


def trained(
    config: ToyConfig, *, scale: str | None = None, device: str | torch.device | None = None
) -> Checkpoint:
    """The toy GAN for ``config``, from the cache when it is there."""
    return cached(
        "toy", get_scale(scale), config.to_dict(), lambda: train(config, device), device, False
    )


def at_step(checkpoint: Checkpoint, step: int) -> tuple[nn.Module, nn.Module]:
    """G and D (on the CPU, eval mode) as they were after training ``step``."""
    snapshots = checkpoint.extra["snapshots"]
    if step not in snapshots:
        kept = ", ".join(str(s) for s in sorted(snapshots))
        raise KeyError(f"no snapshot at step {step}; the run kept steps {kept}")
    models = build(checkpoint.config)
    g_state, d_state = snapshots[step]
    models["G"].load_state_dict(g_state)
    models["D"].load_state_dict(d_state)
    return models["G"].eval(), models["D"].eval()


def refine_discriminator(
    G: nn.Module,
    D: nn.Module,
    real: torch.Tensor,
    steps: int = 1000,
    batch_size: int = 100,
    lr: float = 1e-3,
    seed: int = 0,
) -> nn.Module:
    """A copy of D trained ``steps`` more Adam steps against the frozen G.

    The selectors assume D is the optimal discriminator for G. A D taken from
    the middle of training is not: it was chasing a G that kept moving. Training
    it alone against the G we sample from brings it towards D* for that G.
    """
    import copy

    generator = torch.Generator().manual_seed(seed)
    D = copy.deepcopy(D).train()
    G = G.eval()
    opt = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    z_dim = cast(int, G.z_dim)  # a plain attribute, unseen by nn.Module's stubs
    for _ in range(steps):
        x = real[torch.randint(len(real), (batch_size,), generator=generator)]
        with torch.no_grad():
            fake = G(torch.randn(batch_size, z_dim, generator=generator))
        opt.zero_grad(set_to_none=True)
        loss = bce(D(x), 1.0) + bce(D(fake), 0.0)
        loss.backward()
        opt.step()
    return D.eval()


#: The selectors the chapter compares, in order.
METHODS = ("GAN", "DRS", "DRS (no gamma)", "MH-GAN", "MH-GAN (calibrated)")


def select_all(
    G: nn.Module,
    D: nn.Module,
    real: torch.Tensor,
    n: int,
    K: int,
    seed: int = 0,
    burn_in: int = 10_000,
    methods: tuple[str, ...] = METHODS,
    max_per_sample: int = 200,
) -> dict[str, Selection]:
    """Samples of every selector in ``methods`` from one (G, D).

    ``real`` are held-out real points: the first ``n`` start the MH chains,
    and all of them (with as many generated points) fit the calibration.
    DRS stops after ``max_per_sample`` proposals per wanted sample, with fewer
    samples if its acceptance rate is lower than that.
    """
    if len(real) < n:
        raise ValueError(f"need at least n={n} held-out real points, got {len(real)}")
    generator = torch.Generator().manual_seed(seed)
    propose = gan_proposer(G, D, generator=generator)
    real_logits = logits_of(D, real)
    out: dict[str, Selection] = {}
    for method in methods:
        if method == "GAN":
            out[method] = Selection(propose(n)[0], n)
        elif method.startswith("DRS"):
            gamma = None if "no gamma" in method else 95.0
            out[method] = drs(
                propose, n, burn_in, gamma, generator=generator, max_proposals=max_per_sample * n
            )
        elif method == "MH-GAN":
            out[method] = mh_select(propose, n, K, real_logits[:n], generator)
        elif method == "MH-GAN (calibrated)":
            calibrator, _ = fit_calibrator(propose, real_logits)
            init = calibrator(real_logits[:n])
            out[method] = mh_select(calibrated(propose, calibrator), n, K, init, generator)
        else:
            raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    return out


def fresh_real(config: ToyConfig | dict[str, Any], n: int) -> torch.Tensor:
    """``n`` real points to refine a discriminator on, apart from the held-out ones."""
    seed = config.seed if isinstance(config, ToyConfig) else config["seed"]
    return held_out(config, n, seed=HELD_OUT_SEED + seed)


def score_run(
    checkpoint: Checkpoint,
    n: int,
    K: int,
    steps: list[int] | None = None,
    burn_in: int = 10_000,
    methods: tuple[str, ...] = METHODS,
    refine: int = 0,
    max_per_sample: int = 200,
) -> pd.DataFrame:
    """One row per (step, D, method): the metrics of :func:`evaluate` and proposals per sample.

    ``n`` samples per method, and ``n`` held-out real points (the MH chains'
    starts and the calibration's real half), at every snapshot in ``steps``
    (default: all but the untrained one). Column ``D`` says which
    discriminator scored: ``"as trained"``, and with ``refine`` > 0 also
    ``"refined"``, a copy trained ``refine`` more steps against the frozen G
    (:func:`refine_discriminator`) on fresh real points.
    """
    config = checkpoint.config
    mixture = MIXTURES[config["task"]]
    real = held_out(config, n, seed=config["seed"])
    extra = fresh_real(config, 100_000) if refine else None
    steps = sorted(checkpoint.extra["snapshots"])[1:] if steps is None else steps
    rows = []
    for step in steps:
        G, D = at_step(checkpoint, step)
        discriminators = {"as trained": D}
        if extra is not None:
            discriminators["refined"] = refine_discriminator(
                G, D, extra, steps=refine, seed=config["seed"]
            )
        for name, d in discriminators.items():
            selections = select_all(
                G, d, real, n, K, step, burn_in, methods, max_per_sample=max_per_sample
            )
            for method, selection in selections.items():
                rows.append(
                    {
                        "seed": config["seed"],
                        "step": step,
                        "D": name,
                        "method": method,
                        **evaluate(mixture, selection.samples),
                        "proposals_per_sample": selection.per_sample,
                        "samples": len(selection),
                    }
                )
    return pd.DataFrame(rows)
