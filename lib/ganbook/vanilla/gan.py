"""The vanilla MNIST GAN of chapter 1: a faithful port of the Keras example.

Generator: z (100) -> Dense 256 -> LeakyReLU(0.2) -> BN -> Dense 512 -> LeakyReLU
-> BN -> Dense 1024 -> LeakyReLU -> BN -> Dense 784 -> tanh -> 28x28x1.
Discriminator: flatten -> Dense 512 -> LeakyReLU(0.2) -> Dense 256 -> LeakyReLU
-> Dense 1 (-> sigmoid). Adam(2e-4, beta1=0.5), batch 32, 30,000 steps.

The discriminator returns the logit; :func:`bce` applies the sigmoid inside
the loss, which is the Keras ``sigmoid`` + ``binary_crossentropy`` pair
computed without overflow. ``D.prob(x)`` gives D(x) itself.

Each training step (:func:`train_step`) does what the Keras ``train`` loop does:
D takes one Adam step on a real half-batch (label 1) and one on a generated
half-batch (label 0), then G takes one step through the "combined model"
(D frozen) with target 1 on a full batch.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganbook.core.checkpoint import Checkpoint, register
from ganbook.core.config import Config, scaled
from ganbook.core.loop import Run, alternate
from ganbook.core.losses import bce, generator_loss
from ganbook.core.optim import adam
from ganbook.core.sampling import sample
from ganbook.core.settings import get_device, seed_everything
from ganbook.data.mnist import load_mnist
from ganbook.metrics.evaluator import trained_monitored

IMG_SHAPE = (1, 28, 28)


def keras_batchnorm(
    num_features: int, momentum: float = 0.8, epsilon: float = 1e-3
) -> nn.BatchNorm1d:
    """PyTorch's equivalent of Keras ``BatchNormalization(momentum, epsilon)``.

    Keras updates ``moving = momentum * moving + (1 - momentum) * batch``;
    PyTorch updates ``running = (1 - m) * running + m * batch``. So Keras's
    momentum 0.8 is PyTorch's 0.2. Keras's default epsilon is 1e-3.
    """
    return nn.BatchNorm1d(num_features, eps=epsilon, momentum=1.0 - momentum)


def eps_trap_batchnorm(num_features: int) -> nn.BatchNorm1d:
    """The common mistranslation ``nn.BatchNorm1d(n, 0.8)``: eps=0.8, not momentum."""
    return nn.BatchNorm1d(num_features, 0.8)


def keras_init(module: nn.Module) -> None:
    """Keras ``Dense`` defaults: Glorot-uniform kernel, zero bias."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    """z -> 256 -> 512 -> 1024 -> 784 MLP with LeakyReLU, BatchNorm and tanh.

    ``batchnorm``: ``"keras"`` (the example's layers), ``"eps_trap"`` (the
    common mistranslation) or ``"none"`` (no normalisation at all).
    """

    def __init__(self, z_dim: int = 100, batchnorm: str = "keras") -> None:
        super().__init__()
        norms: dict[str, Callable[[int], nn.Module]] = {
            "keras": keras_batchnorm,
            "eps_trap": eps_trap_batchnorm,
            "none": lambda _: nn.Identity(),
        }
        if batchnorm not in norms:
            raise ValueError(f"batchnorm must be 'keras', 'eps_trap' or 'none', got {batchnorm!r}")
        layers: list[nn.Module] = []
        width = z_dim
        for out in (256, 512, 1024):
            layers += [nn.Linear(width, out), nn.LeakyReLU(0.2), norms[batchnorm](out)]
            width = out
        layers += [nn.Linear(width, math.prod(IMG_SHAPE)), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.z_dim = z_dim
        self.apply(keras_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *IMG_SHAPE)


class Discriminator(nn.Module):
    """784 -> 512 -> 256 -> 1 MLP with LeakyReLU; returns the logit of D(x)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(IMG_SHAPE), 512),
            nn.LeakyReLU(0.2),
            nn.Linear(512, 256),
            nn.LeakyReLU(0.2),
            nn.Linear(256, 1),
        )
        self.apply(keras_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)

    def prob(self, x: torch.Tensor) -> torch.Tensor:
        """D(x): the probability that ``x`` is real."""
        return torch.sigmoid(self(x))


def accuracy(logits: torch.Tensor, target: float) -> float:
    """Keras ``binary_accuracy``: share of sigmoid(logits) on the target's side of 0.5."""
    return ((logits > 0).float() == target).float().mean().item()


@dataclass(frozen=True)
class GANConfig(Config):
    """Everything that defines a chapter 1 training run (defaults: the seed's)."""

    counts = ("steps", "batch_size", "z_dim", "sample_every", "d_steps", "g_steps")
    naturals = ("seed", "d_pretrain")
    positive = ("lr",)
    choices = {
        "batchnorm": ("keras", "eps_trap", "none"),
        "g_loss": ("non_saturating", "saturating"),
        "freeze_d": (True, False),
    }

    steps: int = 30_000
    batch_size: int = 32
    z_dim: int = 100
    lr: float = 2e-4
    beta1: float = 0.5
    sample_every: int = 200
    seed: int = 0
    # The variants that chapter 1 measures; the defaults are the Keras example.
    batchnorm: str = "keras"
    g_loss: str = "non_saturating"
    freeze_d: bool = True
    d_pretrain: int = 0
    d_steps: int = 1
    g_steps: int = 1


#: Steps and sampling interval per scale; ``paper`` is the seed's own run.
SCALE_SETTINGS: dict[str, dict[str, Any]] = {
    "smoke": {"steps": 150, "sample_every": 50},
    "book": {"steps": 12_000, "sample_every": 500},
    "paper": {"steps": 30_000, "sample_every": 200},
}


def config_for(scale: str | None = None, **overrides: Any) -> GANConfig:
    """The chapter 1 config at ``scale``, with any field overridden."""
    return scaled(GANConfig, SCALE_SETTINGS, scale, **overrides)


def build(config: dict[str, Any]) -> dict[str, nn.Module]:
    """Fresh G and D for a config dict (the checkpoint registry's builder)."""
    return {
        "G": Generator(config["z_dim"], config["batchnorm"]),
        "D": Discriminator(),
    }


register(
    "gan",
    build,
    sources=(
        "ganbook.core.losses",
        "ganbook.core.loop",
        "ganbook.core.optim",
        "ganbook.core.sampling",
        "ganbook.data",
    ),
)


def d_step(
    G: nn.Module,
    D: nn.Module,
    opt_d: torch.optim.Optimizer,
    data: torch.Tensor,
    config: GANConfig,
    generator: torch.Generator,
) -> dict[str, float]:
    """D's half of an iteration: one Adam step on real (1), one on fake (0).

    Keras's ``generator.predict`` runs BatchNorm in inference mode, so the
    fakes shown to D come from G in ``eval()`` mode, as in the original.
    """
    device = next(G.parameters()).device
    half = config.batch_size // 2
    real = data[torch.randint(len(data), (half,), generator=generator)].to(device)
    z = torch.randn(half, config.z_dim, generator=generator).to(device)
    fake = sample(G, z).to(device)
    losses, accs = [], []
    for images, target in ((real, 1.0), (fake, 0.0)):
        opt_d.zero_grad(set_to_none=True)
        logits = D(images)
        loss = bce(logits, target)
        loss.backward()
        opt_d.step()
        losses.append(loss.item())
        accs.append(accuracy(logits.detach(), target))
    return {"d_loss": sum(losses) / 2, "d_acc": sum(accs) / 2}


def g_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    config: GANConfig,
    generator: torch.Generator,
) -> float:
    """G's half: the "combined model" G -> D with target 1 on a full batch.

    With ``freeze_d`` (the Keras ``discriminator.trainable = False``) only G
    moves; without it D is stepped too, towards calling the fakes real.
    """
    device = next(G.parameters()).device
    z = torch.randn(config.batch_size, config.z_dim, generator=generator).to(device)
    D.requires_grad_(not config.freeze_d)
    opt_g.zero_grad(set_to_none=True)
    opt_d.zero_grad(set_to_none=True)
    loss = generator_loss(D(G(z)), config.g_loss)
    loss.backward()
    opt_g.step()
    if not config.freeze_d:
        opt_d.step()
    D.requires_grad_(True)
    return loss.item()


def train_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    data: torch.Tensor,
    config: GANConfig,
    generator: torch.Generator,
) -> dict[str, float]:
    """One iteration of the Keras loop (``d_steps`` D updates, then ``g_steps`` G updates)."""
    logs = [d_step(G, D, opt_d, data, config, generator) for _ in range(config.d_steps)]
    g_losses = [g_step(G, D, opt_g, opt_d, config, generator) for _ in range(config.g_steps)]
    return {
        "d_loss": sum(entry["d_loss"] for entry in logs) / len(logs),
        "d_acc": sum(entry["d_acc"] for entry in logs) / len(logs),
        "g_loss": sum(g_losses) / len(g_losses),
    }


def train(
    config: GANConfig,
    data: torch.Tensor | None = None,
    device: str | torch.device | None = None,
    fixed_z: torch.Tensor | None = None,
    monitor: Callable[[nn.Module], dict[str, float]] | None = None,
    quiet: bool = False,
    log_every: int = 0,
) -> Checkpoint:
    """Train G and D with ``config`` on ``data`` (MNIST training images by default).

    Every ``sample_every`` steps the generator's images for ``fixed_z`` (25
    draws by default) are kept in ``checkpoint.extra["samples"]``, so a
    notebook can show training progress from the same noise, and ``monitor(G)``
    (if given) is recorded in ``checkpoint.extra["monitor"]``. With
    ``log_every`` the seed's log line is printed every that many steps.
    """
    device = get_device(device)
    generator = seed_everything(config.seed)
    if data is None:
        data = load_mnist("train").images
    if fixed_z is None:
        fixed_z = torch.randn(25, config.z_dim, generator=generator)
    G, D = (m.to(device) for m in build(config.to_dict()).values())
    betas = (config.beta1, 0.999)
    opt_g = adam(G.parameters(), config.lr, betas)
    opt_d = adam(D.parameters(), config.lr, betas)
    for _ in range(config.d_pretrain):
        d_step(G, D, opt_d, data, config, generator)
    run = alternate(
        lambda: train_step(G, D, opt_g, opt_d, data, config, generator),
        G,
        fixed_z,
        config.steps,
        config.sample_every,
        monitor=monitor,
        description="training GAN",
        log_every=log_every,
        log_line=log_line,
        quiet=quiet,
    )
    G.eval()
    D.eval()
    return Checkpoint("gan", config.to_dict(), {"G": G, "D": D}, run.log, run.extra(fixed_z))


def best_response(
    run: Checkpoint,
    steps: int,
    sample_every: int,
    monitor: Callable[[nn.Module], dict[str, float]] | None = None,
    seed: int = 0,
    quiet: bool = False,
) -> tuple[nn.Module, Run]:
    """G trained on alone, against the final D of ``run`` frozen: the game without replies.

    For a fixed D, the generator's best response puts all its mass where D is
    largest, so this is mode collapse by construction. Returns the new G
    (``run``'s is left untouched) and what the loop recorded, the images for
    ``run``'s fixed noise and ``monitor(G)`` every ``sample_every`` steps.
    """
    config = GANConfig(**{**run.config, "freeze_d": True})
    generator = seed_everything(seed)
    G, D = copy.deepcopy(run["G"]).train(), copy.deepcopy(run["D"])
    betas = (config.beta1, 0.999)
    opt_g = adam(G.parameters(), config.lr, betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=0.0)  # never stepped: D is frozen

    def iteration() -> dict[str, float]:
        return {"g_loss": g_step(G, D, opt_g, opt_d, config, generator)}

    chase = alternate(
        iteration,
        G,
        run.extra["fixed_z"],
        steps,
        sample_every,
        monitor=monitor,
        description="G against a frozen D",
        quiet=quiet,
    )
    return G.eval(), chase


def trained(
    config: GANConfig, *, scale: str | None = None, device: str | torch.device | None = None
) -> Checkpoint:
    """The GAN trained with ``config``, from the cache when it is there.

    Sample quality (:class:`ganbook.metrics.Evaluator` scores of 500 images) is
    monitored at every ``sample_every`` steps.
    """
    return trained_monitored("gan", config, train, scale, device)


def log_line(step: int, entry: dict[str, float]) -> str:
    """The Keras example's progress line for one step."""
    return (
        f"{step} [D loss: {entry['d_loss']:f}, acc.: {100 * entry['d_acc']:.2f}%] "
        f"[G loss: {entry['g_loss']:f}]"
    )
