"""Training the DCGAN of chapter 2, and the trained model later chapters reuse.

Each step follows the PyTorch reference: D takes one Adam step on a real batch
(label 1) and a generated batch (label 0); then G takes one step, either on the
non-saturating loss -log D(G(z)) or, with ``feature_matching``, on
:func:`ganbook.core.losses.feature_matching` over D's last hidden layer.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ganbook.core import losses
from ganbook.core.checkpoint import Checkpoint, of_type
from ganbook.core.loop import alternate
from ganbook.core.losses import bce, generator_loss
from ganbook.core.optim import adam
from ganbook.core.settings import get_device, get_scale, seed_everything
from ganbook.data.mnist import load_mnist
from ganbook.dcgan.model import (
    SCALE_SETTINGS,
    SHAPES,
    DCGANConfig,
    Discriminator,
    Generator,
    build,
    config_for,
)
from ganbook.metrics.evaluator import trained_monitored


def real_batch(data: torch.Tensor, idx: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Images ``idx`` of ``data`` in [-1, 1] on ``device``; 8-bit data are scaled here."""
    batch = data[idx]
    if batch.dtype == torch.uint8:
        batch = (batch.float() - 127.5) / 127.5
    return batch.to(device)


def train_step(
    G: Generator,
    D: Discriminator,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real: torch.Tensor,
    z: torch.Tensor,
    feature_matching: bool = False,
) -> dict[str, float]:
    """One DCGAN iteration on a real batch and a batch of noise; returns its log.

    D: minimise -log D(x) - log(1 - D(G(z))). G: minimise -log D(G(z)), or with
    ``feature_matching`` the distance between D's mean features on the real
    batch and on G(z). Those features pass through a BatchNorm layer: run on
    the real and the generated batch separately, it would remove each batch's
    own channel means, the very statistics feature matching compares. So they
    are computed on the two batches together (:func:`joint_features`).
    """
    fake = G(z)
    opt_d.zero_grad(set_to_none=True)
    real_logits, fake_logits = D(real), D(fake.detach())
    d_loss = bce(real_logits, 1.0) + bce(fake_logits, 0.0)
    d_loss.backward()
    opt_d.step()

    # G's step only needs gradients with respect to D's input: freezing D's
    # parameters skips the work of computing their (unused) gradients.
    D.requires_grad_(False)
    opt_g.zero_grad(set_to_none=True)
    if feature_matching:
        real_f, fake_f = joint_features(D, real, fake)
        g_loss = losses.feature_matching(real_f, fake_f)
    else:
        g_loss = generator_loss(D(fake))
    g_loss.backward()
    opt_g.step()
    D.requires_grad_(True)
    return {
        "d_loss": d_loss.item(),
        "g_loss": g_loss.item(),
        "d_real": torch.sigmoid(real_logits).mean().item(),
        "d_fake": torch.sigmoid(fake_logits).mean().item(),
    }


def joint_features(
    D: Discriminator, real: torch.Tensor, fake: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """D's last hidden layer for a real and a generated batch, normalised together.

    One forward pass over the concatenated batch, so BatchNorm (in training
    mode) uses the statistics of both: a difference between the real and the
    generated channel means survives normalisation, as feature matching needs.
    """
    features = D.features(torch.cat([real, fake]))
    return features[: len(real)], features[len(real) :]


def train(
    config: DCGANConfig,
    data: torch.Tensor | None = None,
    device: str | torch.device | None = None,
    monitor: Callable[[nn.Module], dict[str, float]] | None = None,
    quiet: bool = False,
    log_every: int = 0,
) -> Checkpoint:
    """Train a DCGAN with ``config`` on ``data`` (MNIST training images by default).

    ``data`` is (N, C, H, W), float in [-1, 1] or 8-bit. Every ``sample_every``
    steps G's images for 64 fixed noise vectors go into
    ``checkpoint.extra["samples"]`` and ``monitor(G)`` (if given) into
    ``checkpoint.extra["monitor"]``. With ``log_every`` a log line is printed
    every that many steps.
    """
    device = get_device(device)
    generator = seed_everything(config.seed)
    if data is None:
        data = load_mnist("train").images
    channels, size = SHAPES[config.dataset]
    if tuple(data.shape[1:]) != (channels, size, size):
        raise ValueError(
            f"{config.dataset} images must be {channels}x{size}x{size}, got "
            f"{'x'.join(map(str, data.shape[1:]))}"
        )
    fixed_z = torch.randn(64, config.z_dim, generator=generator)
    models = build(config.to_dict())
    G, D = (
        of_type(models["G"], Generator).to(device),
        of_type(models["D"], Discriminator).to(device),
    )
    betas = (config.beta1, 0.999)
    opt_g = adam(G.parameters(), config.lr, betas)
    opt_d = adam(D.parameters(), config.lr, betas)

    def iteration() -> dict[str, float]:
        idx = torch.randint(len(data), (config.batch_size,), generator=generator)
        z = torch.randn(config.batch_size, config.z_dim, generator=generator).to(device)
        real = real_batch(data, idx, device)
        return train_step(G, D, opt_g, opt_d, real, z, config.feature_matching)

    run = alternate(
        iteration,
        G,
        fixed_z,
        config.steps,
        config.sample_every,
        monitor=monitor,
        description=f"DCGAN ({config.method}, seed {config.seed})",
        log_every=log_every,
        log_line=log_line,
        quiet=quiet,
    )
    G.eval()
    D.eval()
    return Checkpoint("dcgan", config.to_dict(), {"G": G, "D": D}, run.log, run.extra(fixed_z))


def log_line(step: int, entry: dict[str, float]) -> str:
    """A DCGAN progress line: losses and D's mean verdicts on real and generated images."""
    return (
        f"{step} [D loss: {entry['d_loss']:.4f}, D(x): {entry['d_real']:.3f}, "
        f"D(G(z)): {entry['d_fake']:.3f}] [G loss: {entry['g_loss']:.4f}]"
    )


def trained(
    config: DCGANConfig, *, scale: str | None = None, device: str | torch.device | None = None
) -> Checkpoint:
    """The MNIST DCGAN trained with ``config``, from the cache when it is there.

    Sample quality (the chapter 1 scores of the book's standard number of
    images) is monitored every ``sample_every`` steps. The cache key covers the
    config, the data source and the chapter's code.
    """
    if config.dataset != "mnist":
        raise ValueError("trained() is for MNIST; call train() with the images of other data sets")
    return trained_monitored("dcgan", config, train, scale, device)


def trained_dcgan(
    scale: str | None = None,
    method: str = "plain",
    seed: int = 0,
    device: str | torch.device | None = None,
    comparison: bool = False,
) -> Checkpoint:
    """The chapter's MNIST DCGAN at ``scale``: loaded if cached, trained otherwise.

    The defaults give the plain DCGAN of seed 0 that chapter 2 trains. With
    ``comparison`` it is the (smaller, at ``book`` scale) network of the
    chapter's comparison runs instead, the one chapter 5 samples from with its
    D, since MH-GAN's hundreds of proposals per image make size count.
    """
    overrides = SCALE_SETTINGS[get_scale(scale)]["compare"] if comparison else {}
    config = config_for(scale, method=method, seed=seed, **overrides)
    return trained(config, scale=scale, device=device)
