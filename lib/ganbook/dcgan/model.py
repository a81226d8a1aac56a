"""DCGAN (Radford, Metz and Chintala, 2016), with the improved techniques as options.

The architecture guidelines of the paper, each followed here:

* no pooling: D downsamples with strided convolutions, G upsamples with
  fractionally-strided (transposed) convolutions;
* BatchNorm in both networks, except G's output layer and D's input layer;
* no fully-connected hidden layers: z is projected to the first feature map
  by a transposed convolution (the paper's "project and reshape" matrix
  multiplication) and D's last feature map is flattened into one output unit;
* ReLU in G with tanh on the output, LeakyReLU (slope 0.2) in D;
* weights from N(0, 0.02) (BatchNorm scales from N(1, 0.02)); Adam with
  learning rate 2e-4 and beta1 = 0.5.

For MNIST, G maps z (100) to 7x7 -> 14x14 -> 28x28 and D mirrors it, the
shapes of the DCGAN authors' own MNIST model, whose base width is 64 (G: 128
then 64 channels; D: 64 then 128). ``width`` scales every layer, so ``book``
scale fits a CPU and ``paper`` scale uses the published widths. 32x32 images
(CIFAR-10, SVHN) go 4 -> 8 -> 16 -> 32 and 64x64 (CelebA) 4 -> ... -> 64, the
paper's LSUN/faces generator.

Each step follows the PyTorch reference: D takes one Adam step on a real batch
(label 1) and a generated batch (label 0); then G takes one step, either on the
non-saturating loss -log D(G(z)) or, with ``feature_matching``, on
:func:`ganbook.techniques.feature_matching_loss` over D's last hidden layer.
``minibatch_kernels`` > 0 puts a :class:`ganbook.techniques.MinibatchDiscrimination`
layer in front of D's output unit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import pandas as pd
import torch
from torch import nn

from ganbook.core.checkpoint import Checkpoint, cached, register
from ganbook.core.losses import bce, generator_loss
from ganbook.core.progress import progress
from ganbook.core.sampling import generate, sample
from ganbook.core.settings import get_device, get_scale, seed_everything
from ganbook.data.mnist import load_mnist
from ganbook.dcgan import techniques

#: Data set -> (channels, image size) of the images the networks make.
SHAPES = {"mnist": (1, 28), "cifar10": (3, 32), "svhn": (3, 32), "celeba": (3, 64)}

#: The three variants the chapter compares: config fields each one changes.
METHODS: dict[str, dict[str, Any]] = {
    "plain": {},
    "feature matching": {"feature_matching": True},
    "minibatch discrimination": {"minibatch_kernels": 100},
}

#: Generated images scored per monitoring point during training, and their seed.
MONITOR_SAMPLES = 500
MONITOR_SEED = 12345
#: Seed of the noise for the images a finished run is judged on.
EVAL_SEED = 2024


def weights_init(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: weights N(0, 0.02), BatchNorm scales N(1, 0.02)."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def feature_sizes(image_size: int) -> list[int]:
    """Side of each feature map from G's first (smallest) to the image: 28 -> [7, 14, 28]."""
    start = 7 if image_size == 28 else 4
    ups = math.log2(image_size / start)
    if image_size < 8 or ups != int(ups):
        raise ValueError(f"image_size must be 28 or a power of two from 8 up, got {image_size}")
    return [start * 2**i for i in range(int(ups) + 1)]


class Generator(nn.Module):
    """z -> project to the smallest map -> transposed convs, BN, ReLU -> tanh image."""

    def __init__(self, z_dim: int = 100, width: int = 64, channels: int = 1, image_size: int = 28):
        super().__init__()
        sizes = feature_sizes(image_size)
        widths = [width * 2 ** (len(sizes) - 2 - i) for i in range(len(sizes) - 1)]
        first = sizes[0]
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, widths[0], first, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        for w_in, w_out in zip(widths, widths[1:], strict=False):
            layers += [
                nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(w_out),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.z_dim = z_dim
        self.apply(weights_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(len(z), self.z_dim, 1, 1))


class Discriminator(nn.Module):
    """Strided convs with LeakyReLU (BN after the first) -> one output unit (the logit).

    :meth:`hidden` returns every block's feature map (the linear probe uses them
    all), :meth:`features` the last one flattened (the f(x) of feature matching).
    """

    def __init__(
        self,
        width: int = 64,
        channels: int = 1,
        image_size: int = 28,
        minibatch_kernels: int = 0,
        minibatch_dims: int = 5,
    ) -> None:
        super().__init__()
        sizes = feature_sizes(image_size)
        blocks, w_in = [], channels
        for i in range(len(sizes) - 1):
            w_out = width * 2**i
            layers: list[nn.Module] = [nn.Conv2d(w_in, w_out, 4, 2, 1, bias=False)]
            if i > 0:
                layers.append(nn.BatchNorm2d(w_out))
            layers.append(nn.LeakyReLU(0.2, True))
            blocks.append(nn.Sequential(*layers))
            w_in = w_out
        self.blocks = nn.ModuleList(blocks)
        n_features = w_in * sizes[0] ** 2
        self.minibatch = (
            techniques.MinibatchDiscrimination(n_features, minibatch_kernels, minibatch_dims)
            if minibatch_kernels
            else None
        )
        self.out = nn.Linear(n_features + minibatch_kernels, 1)
        self.apply(weights_init)

    def hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The feature map of every convolutional block, input side first."""
        maps = []
        for block in self.blocks:
            x = block(x)
            maps.append(x)
        return maps

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """f(x): the last hidden layer, flattened to (N, features)."""
        return self.hidden(x)[-1].flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)
        if self.minibatch is not None:
            f = self.minibatch(f)
        return self.out(f).squeeze(1)

    def prob(self, x: torch.Tensor) -> torch.Tensor:
        """D(x): the probability that ``x`` is real."""
        return torch.sigmoid(self(x))


@dataclass(frozen=True)
class DCGANConfig:
    """Everything that defines a DCGAN run; the defaults are the paper's numbers.

    ``paper`` scale trains 11,700 steps of 128, 25 epochs of the 60,000 MNIST
    training digits (the PyTorch reference's default).
    """

    steps: int = 11_700
    batch_size: int = 128
    z_dim: int = 100
    width: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    feature_matching: bool = False
    minibatch_kernels: int = 0
    minibatch_dims: int = 5
    dataset: str = "mnist"
    sample_every: int = 500
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dataset not in SHAPES:
            raise ValueError(f"dataset must be one of {', '.join(SHAPES)}, got {self.dataset!r}")
        for name in ("steps", "batch_size", "z_dim", "width", "sample_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.minibatch_kernels and self.batch_size < 2:
            raise ValueError("minibatch discrimination needs batches of at least 2")

    @property
    def method(self) -> str:
        """The chapter's name for this variant: which improved techniques it uses."""
        parts = []
        if self.feature_matching:
            parts.append("feature matching")
        if self.minibatch_kernels:
            parts.append("minibatch discrimination")
        return " + ".join(parts) or "plain"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Per scale: the config's fields for the chapter's DCGAN, the fields the
#: comparison runs change (a shorter budget at ``book`` scale, so that nine runs
#: fit a CPU), the comparison's seeds and the number of generated images each
#: finished run is scored on.
SCALE_SETTINGS: dict[str, dict[str, Any]] = {
    "smoke": {
        "config": {"steps": 20, "batch_size": 16, "width": 8, "sample_every": 10},
        "compare": {"steps": 10, "sample_every": 10},
        "seeds": (0, 1),
        "samples": 300,
    },
    "book": {
        "config": {"steps": 3000, "batch_size": 32, "width": 16, "sample_every": 500},
        "compare": {"steps": 1200, "sample_every": 200},
        "seeds": (0, 1, 2),
        "samples": 2000,
    },
    "paper": {
        "config": {"steps": 11_700, "batch_size": 128, "width": 64, "sample_every": 500},
        "compare": {},
        "seeds": (0, 1, 2, 3, 4),
        "samples": 10_000,
    },
}


def config_for(scale: str | None = None, method: str = "plain", **overrides: Any) -> DCGANConfig:
    """The DCGAN config at ``scale`` for one of :data:`METHODS`, with fields overridden."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    settings = SCALE_SETTINGS[get_scale(scale)]["config"]
    return replace(DCGANConfig(**settings), **{**METHODS[method], **overrides})


def build(config: dict[str, Any]) -> dict[str, nn.Module]:
    """Fresh G and D for a config dict (the checkpoint registry's builder)."""
    channels, size = SHAPES[config["dataset"]]
    return {
        "G": Generator(config["z_dim"], config["width"], channels, size),
        "D": Discriminator(
            config["width"], channels, size, config["minibatch_kernels"], config["minibatch_dims"]
        ),
    }


register("dcgan", build, sources=("ganbook.core.losses", "ganbook.core.sampling", "ganbook.data"))


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
    batch and on G(z).
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
        with torch.no_grad():
            target = D.features(real)
        g_loss = techniques.feature_matching_loss(target, D.features(fake))
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
    G, D = models["G"].to(device), models["D"].to(device)
    betas = (config.beta1, 0.999)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=betas)
    log, samples, monitored = [], {}, []
    start = time.perf_counter()
    bar = progress(config.steps, f"DCGAN ({config.method}, seed {config.seed})", disable=quiet)
    for step in range(config.steps + 1):
        if step % config.sample_every == 0 or step == config.steps:
            samples[step] = sample(G, fixed_z)
            if monitor is not None:
                monitored.append({"step": step, **monitor(G)})
        if step == config.steps:
            break
        idx = torch.randint(len(data), (config.batch_size,), generator=generator)
        z = torch.randn(config.batch_size, config.z_dim, generator=generator).to(device)
        entry = train_step(
            G, D, opt_g, opt_d, real_batch(data, idx, device), z, config.feature_matching
        )
        log.append({"step": step, **entry})
        if log_every and step % log_every == 0:
            bar.write(
                f"{step} [D loss: {entry['d_loss']:.4f}, D(x): {entry['d_real']:.3f}, "
                f"D(G(z)): {entry['d_fake']:.3f}] [G loss: {entry['g_loss']:.4f}]"
            )
        bar.update(1)
    bar.close()
    G.eval()
    D.eval()
    extra = {
        "samples": samples,
        "monitor": monitored,
        "seconds": time.perf_counter() - start,
        "fixed_z": fixed_z,
    }
    return Checkpoint("dcgan", config.to_dict(), {"G": G, "D": D}, log, extra)


def trained(
    config: DCGANConfig, *, scale: str | None = None, device: str | torch.device | None = None
) -> Checkpoint:
    """The MNIST DCGAN trained with ``config``, from the cache when it is there.

    Sample quality (the chapter 1 scores of 500 images) is monitored every
    ``sample_every`` steps. The cache key covers the config, the data source and
    the chapter's code.
    """
    from ganbook.metrics.evaluator import get_evaluator

    if config.dataset != "mnist":
        raise ValueError("trained() is for MNIST; call train() with the images of other data sets")
    scale = get_scale(scale)
    evaluator = get_evaluator(scale, device)
    key = {**config.to_dict(), "data": evaluator.source, "monitor": MONITOR_SAMPLES}

    def run() -> Checkpoint:
        def monitor(G: nn.Module) -> dict[str, float]:
            return evaluator.scores(generate(G, MONITOR_SAMPLES, seed=MONITOR_SEED))

        return train(config, device=device, monitor=monitor)

    return cached("dcgan", scale, key, run, device)


def trained_dcgan(
    scale: str | None = None,
    method: str = "plain",
    seed: int = 0,
    device: str | torch.device | None = None,
) -> Checkpoint:
    """The chapter's MNIST DCGAN at ``scale``: loaded if cached, trained otherwise.

    This is the model later chapters reuse (chapter 5 samples from its G with
    its D); the defaults are the plain DCGAN of seed 0 that chapter 2 trains.
    """
    return trained(config_for(scale, method, seed=seed), scale=scale, device=device)


#: A finished run collapsed if its digits cover fewer than this many classes ...
COLLAPSE_MIN_CLASSES = 8
#: ... or one digit takes more than this share of them.
COLLAPSE_MAX_SHARE = 0.3


def collapsed(scores: dict[str, float]) -> bool:
    """Whether a run's scores say it collapsed (see the two thresholds above)."""
    return scores["classes"] < COLLAPSE_MIN_CLASSES or scores["max_share"] > COLLAPSE_MAX_SHARE


@dataclass
class Comparison:
    """The runs of :func:`compare`: one row of scores per (method, seed), and the models."""

    runs: pd.DataFrame
    checkpoints: dict[tuple[str, int], Checkpoint] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Method x metric: scores averaged over seeds, collapses counted."""
        table = self.runs.groupby("method", sort=False).agg(
            IS=("IS", "mean"),
            FID=("FID", "mean"),
            classes=("classes", "mean"),
            max_share=("max_share", "mean"),
            collapsed=("collapsed", "sum"),
            runs=("seed", "count"),
            minutes=("seconds", lambda s: s.mean() / 60),
        )
        return table.astype({"collapsed": int, "runs": int})


def compare(
    scale: str | None = None,
    methods: tuple[str, ...] = tuple(METHODS),
    seeds: tuple[int, ...] | None = None,
    device: str | torch.device | None = None,
) -> Comparison:
    """Train (or load) each method with each seed, same data and budget; score each run.

    The runs use the scale's config with its ``compare`` fields. Each finished
    G is judged on the chapter 1 metrics of ``samples`` images (per scale)
    drawn with the same noise seed for every run.
    """
    from ganbook.metrics.evaluator import get_evaluator

    scale = get_scale(scale)
    settings = SCALE_SETTINGS[scale]
    seeds = settings["seeds"] if seeds is None else seeds
    evaluator = get_evaluator(scale, device)
    rows, checkpoints = [], {}
    for method in methods:
        for seed in seeds:
            config = config_for(scale, method, seed=seed, **settings["compare"])
            checkpoint = trained(config, scale=scale, device=device)
            scores = evaluator.scores(generate(checkpoint["G"], settings["samples"], EVAL_SEED))
            rows.append(
                {
                    "method": method,
                    "seed": seed,
                    **scores,
                    "collapsed": collapsed(scores),
                    "seconds": checkpoint.extra["seconds"],
                }
            )
            checkpoints[method, seed] = checkpoint
    return Comparison(pd.DataFrame(rows), checkpoints)
