"""The DCGAN authors' own MNIST model: a DCGAN conditioned on the digit's label.

The DCGAN paper gives no MNIST network; the MNIST model in its authors' code
(``mnist/train_cond_dcgan.py`` of Newmu/dcgan_code) is this one. The one-hot
label y (10 numbers) enters every layer of both players: it is concatenated
to the input vector or, as ten constant feature maps, to the input image and
to each feature map.

* G: [z, y] -> dense 1,024 -> BN, ReLU -> [., y] -> dense 2·64·7·7 -> BN,
  ReLU -> 7x7 maps [., y] -> 5x5 transposed conv, stride 2, to 64 maps of
  14x14 -> BN, ReLU -> [., y] -> 5x5 transposed conv to the 28x28 image.
* D mirrors it: [x, y] -> 5x5 conv, stride 2, 64 maps -> LeakyReLU(0.2) ->
  [., y] -> 5x5 conv, stride 2, 128 maps -> BN, LeakyReLU -> flatten,
  [., y] -> dense 1,024 -> BN, LeakyReLU -> [., y] -> one logit.
* No layer has a bias, and BatchNorm has no learned scale or shift.
* z ~ U(-1, 1)^100; weights N(0, 0.02); Adam (lr 2e-4, beta1 0.5) with L2
  weight decay 2.5e-5 added to the gradient; batches of 128; G and D take
  turns, one update each on its own minibatch, G first; 100 epochs at the
  learning rate, then 100 epochs of linear decay to zero.

Two departures, both equivalent rewrites: images are in [-1, 1] with a tanh
output (the book's convention) where theirs are in [0, 1] with a sigmoid
(tanh(a) = 2 sigmoid(2a) - 1), and one training *step* here is one G update
followed by one D update, each on its own minibatch: their sequence of
updates, counted in pairs. Their 200 epochs of 50,000 digits in batches of 128
are 39,062 such steps (``paper`` scale). ``book`` scale halves every width
and trains fewer steps at a larger learning rate (:data:`SCALE_SETTINGS`).

Since G is told which digit to draw, the labels, not G, decide how often each
digit appears: :func:`draw` asks for every digit equally often. ``labels=False``
in the config gives the control: the same networks and training, with the
same label vector (a tenth for each digit) for every image, so that what the
labels add is measured apart from the dense layers and the size that come
with this model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganbook.core.checkpoint import Checkpoint, cached, of_type, register
from ganbook.core.config import Config, scaled
from ganbook.core.loop import alternate
from ganbook.core.losses import bce, generator_loss
from ganbook.core.sampling import eval_mode, sample_z
from ganbook.core.settings import get_device, get_scale, seed_everything
from ganbook.data.mnist import load_mnist
from ganbook.dcgan.training import real_batch
from ganbook.metrics.evaluator import get_evaluator

#: Digit classes, the length of the one-hot label.
CLASSES = 10

#: Seed of the noise for the images a finished model is judged on.
EVAL_SEED = 2024


def balanced_labels(n: int) -> torch.Tensor:
    """Labels 0, 1, ..., 9, 0, 1, ... for ``n`` images: every digit equally often.

    In a grid ten images wide, each column is one digit.
    """
    return torch.arange(n) % CLASSES


def _with_label_maps(h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Their ``conv_cond_concat``: the one-hot ``y`` as constant maps beside ``h``."""
    maps = y[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3])
    return torch.cat([h, maps], 1)


def _one_hot(labels: torch.Tensor, use: bool, like: torch.Tensor) -> torch.Tensor:
    """One-hot ``labels`` on ``like``'s device and dtype.

    Without ``use``, every image gets the same vector, a tenth for each digit:
    the label inputs then carry no information but still feed every weight
    (one-hot label 0 for all would leave the weights of the nine unused inputs
    to weight decay alone, which shrinks them into the subnormal numbers that
    make a CPU crawl).
    """
    if not use:
        return torch.full((len(labels), CLASSES), 1 / CLASSES, dtype=like.dtype, device=like.device)
    return F.one_hot(labels.to(like.device), CLASSES).to(like.dtype)


def _init(module: nn.Module) -> None:
    """Their initialisation: every weight N(0, 0.02) (there are no biases, no BN scales)."""
    if isinstance(module, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(module.weight, 0.0, 0.02)


def _norm(features: int, conv: bool) -> nn.Module:
    """BatchNorm without a learned scale or shift, as their ``batchnorm(X)``."""
    return (nn.BatchNorm2d if conv else nn.BatchNorm1d)(features, affine=False)


class ConditionalGenerator(nn.Module):
    """G(z, y): noise and a digit label to a 28x28 image of that digit, in [-1, 1]."""

    def __init__(
        self, z_dim: int = 100, dense: int = 1024, width: int = 64, labels: bool = True
    ) -> None:
        super().__init__()
        self.z_dim, self.width, self.labels = z_dim, width, labels
        self.dense1 = nn.Linear(z_dim + CLASSES, dense, bias=False)
        self.norm1 = _norm(dense, conv=False)
        self.dense2 = nn.Linear(dense + CLASSES, 2 * width * 7 * 7, bias=False)
        self.norm2 = _norm(2 * width * 7 * 7, conv=False)
        self.up1 = nn.ConvTranspose2d(2 * width + CLASSES, width, 5, 2, 2, 1, bias=False)
        self.norm3 = _norm(width, conv=True)
        self.up2 = nn.ConvTranspose2d(width + CLASSES, 1, 5, 2, 2, 1, bias=False)
        self.apply(_init)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images for noise ``z`` (N, z_dim) and digit ``labels`` (N,); by default
        :func:`balanced_labels`, so that ``G(z)`` draws every digit in turn."""
        if labels is None:
            labels = balanced_labels(len(z))
        y = _one_hot(labels, self.labels, z)
        h = F.relu(self.norm1(self.dense1(torch.cat([z, y], 1))))
        h = F.relu(self.norm2(self.dense2(torch.cat([h, y], 1))))
        h = h.view(len(z), 2 * self.width, 7, 7)
        h = F.relu(self.norm3(self.up1(_with_label_maps(h, y))))
        return torch.tanh(self.up2(_with_label_maps(h, y)))


class ConditionalDiscriminator(nn.Module):
    """D(x, y): the logit that ``x`` is a real image of digit ``y``."""

    def __init__(self, dense: int = 1024, width: int = 64, labels: bool = True) -> None:
        super().__init__()
        self.labels = labels
        self.down1 = nn.Conv2d(1 + CLASSES, width, 5, 2, 2, bias=False)
        self.down2 = nn.Conv2d(width + CLASSES, 2 * width, 5, 2, 2, bias=False)
        self.norm2 = _norm(2 * width, conv=True)
        self.dense = nn.Linear(2 * width * 7 * 7 + CLASSES, dense, bias=False)
        self.norm3 = _norm(dense, conv=False)
        self.out = nn.Linear(dense + CLASSES, 1, bias=False)
        self.apply(_init)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        y = _one_hot(labels, self.labels, x)
        h = F.leaky_relu(self.down1(_with_label_maps(x, y)), 0.2)
        h = F.leaky_relu(self.norm2(self.down2(_with_label_maps(h, y))), 0.2).flatten(1)
        h = F.leaky_relu(self.norm3(self.dense(torch.cat([h, y], 1))), 0.2)
        return self.out(torch.cat([h, y], 1)).squeeze(1)


@dataclass(frozen=True)
class ConditionalConfig(Config):
    """A run of the label-conditional DCGAN; the defaults are its authors' (``paper`` scale)."""

    steps: int = 39_062
    batch_size: int = 128
    z_dim: int = 100
    dense: int = 1024
    width: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    weight_decay: float = 2.5e-5
    #: Hold the learning rate for the first half of the steps, then take it linearly to 0.
    decay: bool = True
    #: Whether the players see the digit's label. Without, every image gets the
    #: same label vector: the same networks, told nothing (the control).
    labels: bool = True
    sample_every: int = 2000
    seed: int = 0

    counts = ("steps", "batch_size", "z_dim", "dense", "width", "sample_every")
    naturals = ("seed",)
    positive = ("lr",)
    choices = {"decay": (True, False), "labels": (True, False)}

    def check(self) -> None:
        if not 0 < self.beta1 < 1:
            raise ValueError(f"beta1 must be between 0 and 1, got {self.beta1!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be 0 or more, got {self.weight_decay!r}")


#: Per scale, the config's fields. ``book`` halves the widths (dense 512,
#: 32 and 64 maps) and trains 2,000 steps of 64 (32 passes over the 4,000
#: digits of the offline sample) at 2.5 times their learning rate, with their
#: decay over the second half.
SCALE_SETTINGS: dict[str, dict[str, Any]] = {
    "smoke": {"steps": 20, "batch_size": 16, "dense": 32, "width": 8, "sample_every": 10},
    "book": {
        "steps": 2000,
        "batch_size": 64,
        "dense": 512,
        "width": 32,
        "lr": 5e-4,
        "sample_every": 250,
    },
    "paper": {},
}


def config_for(scale: str | None = None, **overrides: Any) -> ConditionalConfig:
    """The conditional DCGAN's config at ``scale``, with fields overridden."""
    return scaled(ConditionalConfig, SCALE_SETTINGS, scale, **overrides)


def build(config: dict[str, Any]) -> dict[str, nn.Module]:
    """Fresh G and D for a config dict (the checkpoint registry's builder)."""
    return {
        "G": ConditionalGenerator(
            config["z_dim"], config["dense"], config["width"], config["labels"]
        ),
        "D": ConditionalDiscriminator(config["dense"], config["width"], config["labels"]),
    }


def learning_rate(config: ConditionalConfig, step: int) -> float:
    """The learning rate of ``step`` (from 0): constant, then linear to 0 over the second half."""
    if not config.decay:
        return config.lr
    half = config.steps / 2
    return config.lr * min(1.0, (config.steps - step) / half)


@torch.no_grad()
def draw(
    G: ConditionalGenerator, n: int, seed: int = 0, labels: torch.Tensor | None = None
) -> torch.Tensor:
    """``n`` images for z ~ U(-1, 1) drawn with ``seed``, of ``labels`` (default balanced).

    In eval mode (BatchNorm's running statistics), on the CPU, 1,000 at a time.
    """
    labels = balanced_labels(n) if labels is None else labels
    if len(labels) != n:
        raise ValueError(f"need one label per image: {n} images, {len(labels)} labels")
    z = sample_z(1, n, G.z_dim, torch.Generator().manual_seed(seed))[0]
    device = next(G.parameters()).device
    with eval_mode(G):
        chunks = [
            G(z[i : i + 1000].to(device), labels[i : i + 1000].to(device)).cpu()
            for i in range(0, n, 1000)
        ]
    return torch.cat(chunks)


def train(
    config: ConditionalConfig,
    device: str | torch.device | None = None,
    monitor: Callable[[nn.Module], dict[str, float]] | None = None,
    quiet: bool = False,
) -> Checkpoint:
    """Train the conditional DCGAN on the MNIST training digits and their labels.

    Every ``sample_every`` steps the images of 100 fixed noise vectors (ten of
    each digit) go into ``extra["samples"]`` and ``monitor(G)`` into
    ``extra["monitor"]``.
    """
    device = get_device(device)
    generator = seed_everything(config.seed)
    train_set = load_mnist("train")
    images, labels = train_set.images, train_set.labels
    fixed_z = sample_z(1, 100, config.z_dim, generator)[0]
    models = build(config.to_dict())
    G = of_type(models["G"], ConditionalGenerator).to(device)
    D = of_type(models["D"], ConditionalDiscriminator).to(device)

    def adam(net: nn.Module) -> torch.optim.Adam:
        return torch.optim.Adam(
            net.parameters(),
            config.lr,
            (config.beta1, 0.999),
            weight_decay=config.weight_decay,  # their L2 term, added to the gradient
            fused=True,
        )

    opt_g, opt_d = adam(G), adam(D)
    step = 0

    def minibatch() -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(len(images), (config.batch_size,), generator=generator)
        return real_batch(images, idx, device), labels[idx].to(device)

    def noise() -> torch.Tensor:
        return sample_z(1, config.batch_size, config.z_dim, generator)[0].to(device)

    def iteration() -> dict[str, float]:
        nonlocal step
        for opt in (opt_g, opt_d):
            for group in opt.param_groups:
                group["lr"] = learning_rate(config, step)
        step += 1
        # G's update, on the labels of one minibatch
        _, y = minibatch()
        D.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        g_loss = generator_loss(D(G(noise(), y), y))
        g_loss.backward()
        opt_g.step()
        D.requires_grad_(True)
        # D's update, on the next minibatch
        real, y = minibatch()
        fake = G(noise(), y).detach()
        opt_d.zero_grad(set_to_none=True)
        real_logits, fake_logits = D(real, y), D(fake, y)
        d_loss = bce(real_logits, 1.0) + bce(fake_logits, 0.0)
        d_loss.backward()
        opt_d.step()
        return {
            "d_loss": d_loss.item(),
            "g_loss": g_loss.item(),
            "d_real": torch.sigmoid(real_logits).mean().item(),
            "d_fake": torch.sigmoid(fake_logits).mean().item(),
        }

    run = alternate(
        iteration,
        G,
        fixed_z,
        config.steps,
        config.sample_every,
        monitor=monitor,
        description=f"conditional DCGAN (seed {config.seed})",
        quiet=quiet,
    )
    G.eval()
    D.eval()
    return Checkpoint("cdcgan", config.to_dict(), {"G": G, "D": D}, run.log, run.extra(fixed_z))


#: The seed of the noise for the images scored while the model trains.
MONITOR_SEED = 12345


def trained(
    config: ConditionalConfig, *, scale: str | None = None, device: str | torch.device | None = None
) -> Checkpoint:
    """The conditional DCGAN trained with ``config``, from the model cache when it is there.

    Every ``sample_every`` steps the book's standard number of images, every
    digit equally often, is scored with the book's metrics.
    """
    scale = get_scale(scale)
    evaluator = get_evaluator(scale, device)
    key = {**config.to_dict(), "data": evaluator.source, "monitor": evaluator.samples}

    def monitor(G: nn.Module) -> dict[str, float]:
        images = draw(of_type(G, ConditionalGenerator), evaluator.samples, MONITOR_SEED)
        return evaluator.scores(images)

    return cached("cdcgan", scale, key, lambda: train(config, device, monitor), device)


def trained_conditional(
    scale: str | None = None,
    seed: int = 0,
    labels: bool = True,
    device: str | torch.device | None = None,
) -> Checkpoint:
    """Chapter 2's conditional DCGAN at ``scale``: loaded if cached, trained otherwise.

    With ``labels=False`` it is the control: the same networks and training,
    told nothing about the digit.
    """
    return trained(config_for(scale, seed=seed, labels=labels), scale=scale, device=device)


register(
    "cdcgan",
    build,
    sources=(
        "ganbook.core.losses",
        "ganbook.core.loop",
        "ganbook.core.sampling",
        "ganbook.data",
    ),
)
