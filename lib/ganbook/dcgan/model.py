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

For MNIST, G maps z (100) to 7x7 -> 14x14 -> 28x28 and D mirrors it: the
paper's rules applied to MNIST's shapes (the paper gives no MNIST network; the
MNIST model in the authors' code is label-conditional, with 1,024-unit dense
layers). ``width`` scales every layer (64: G has 128 then 64 channels, D 64
then 128), so ``book`` scale fits a CPU. 32x32 images
(CIFAR-10, SVHN) go 4 -> 8 -> 16 -> 32 and 64x64 (CelebA) 4 -> ... -> 64, the
paper's LSUN/faces generator.

``minibatch_kernels`` > 0 puts a :class:`ganbook.dcgan.techniques.MinibatchDiscrimination`
layer in front of D's output unit. As in Salimans et al.'s code, where it
follows a global pooling layer, it compares samples on the channel means of
D's last feature map; its closeness features are appended to the flattened
map. ``d_width`` gives D a base width of its own (0: ``width``), so that a
plain D can be given as many parameters as one with minibatch discrimination.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from ganbook.core.checkpoint import register
from ganbook.core.config import Config, scaled
from ganbook.data.images import SHAPES
from ganbook.dcgan import techniques

#: The data sets a DCGAN trains on (their shapes: :data:`ganbook.data.images.SHAPES`).
DATASETS = ("mnist", "cifar10", "svhn", "celeba")

#: The control for minibatch discrimination: a plain D as large as the one with it.
MATCHED = "plain, matched D"

#: The variants the chapter compares: config fields each one changes (for
#: :data:`MATCHED`, :func:`config_for` also sets ``d_width`` with :func:`matched_d_width`).
METHODS: dict[str, dict[str, Any]] = {
    "plain": {},
    "feature matching": {"feature_matching": True},
    "minibatch discrimination": {"minibatch_kernels": 100},
    MATCHED: {},
}


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
            techniques.MinibatchDiscrimination(w_in, minibatch_kernels, minibatch_dims)
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
        last = self.hidden(x)[-1]
        f = last.flatten(1)
        if self.minibatch is not None:
            # closeness o(x_i) of the channel means, beside the flattened map
            f = torch.cat([f, self.minibatch.closeness(last.mean((2, 3)))], dim=1)
        return self.out(f).squeeze(1)

    def prob(self, x: torch.Tensor) -> torch.Tensor:
        """D(x): the probability that ``x`` is real."""
        return torch.sigmoid(self(x))


@dataclass(frozen=True)
class DCGANConfig(Config):
    """Everything that defines a DCGAN run; the defaults are the paper's numbers.

    ``paper`` scale trains 11,700 steps of 128, 25 epochs of the 60,000 MNIST
    training digits (the PyTorch reference's default).
    """

    steps: int = 11_700
    batch_size: int = 128
    z_dim: int = 100
    width: int = 64
    d_width: int = 0
    lr: float = 2e-4
    beta1: float = 0.5
    feature_matching: bool = False
    minibatch_kernels: int = 0
    minibatch_dims: int = 5
    dataset: str = "mnist"
    sample_every: int = 500
    seed: int = 0

    counts = ("steps", "batch_size", "z_dim", "width", "sample_every", "minibatch_dims")
    naturals = ("minibatch_kernels", "seed", "d_width")
    positive = ("lr",)
    choices = {"dataset": DATASETS, "feature_matching": (True, False)}

    def check(self) -> None:
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
        name = " + ".join(parts) or "plain"
        return f"{name}, D width {self.d_width}" if self.d_width else name


#: Per scale: the config's fields for the chapter's DCGAN, the fields the
#: comparison runs change (at ``book`` scale a smaller network, so that twenty
#: runs fit a CPU), and the comparison's seeds. ``book`` trains at five times
#: the paper's learning rate, so that the runs level off within the budget;
#: ``paper`` keeps the paper's 2e-4.
SCALE_SETTINGS: dict[str, dict[str, Any]] = {
    "smoke": {
        "config": {"steps": 20, "batch_size": 16, "width": 8, "sample_every": 10},
        "compare": {"steps": 10, "sample_every": 10},
        "seeds": (0, 1),
    },
    "book": {
        "config": {
            "steps": 5000,
            "batch_size": 64,
            "width": 64,
            "lr": 1e-3,
            "sample_every": 500,
        },
        "compare": {"steps": 2000, "batch_size": 32, "width": 16, "sample_every": 250},
        "seeds": (0, 1, 2, 3, 4),
    },
    "paper": {
        "config": {"steps": 11_700, "batch_size": 128, "width": 64, "sample_every": 500},
        "compare": {},
        "seeds": (0, 1, 2, 3, 4),
    },
}


def config_for(scale: str | None = None, *, method: str = "plain", **overrides: Any) -> DCGANConfig:
    """The DCGAN config at ``scale`` for one of :data:`METHODS`, with fields overridden."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    settings = {name: values["config"] for name, values in SCALE_SETTINGS.items()}
    config = scaled(DCGANConfig, settings, scale, **{**METHODS[method], **overrides})
    if method == MATCHED and "d_width" not in overrides:
        config = replace(config, d_width=matched_d_width(config))
    return config


def parameter_count(module: nn.Module) -> int:
    """The number of trainable numbers in ``module``."""
    return sum(p.numel() for p in module.parameters())


def matched_d_width(config: DCGANConfig, kernels: int | None = None) -> int:
    """The plain D width whose parameter count is closest to D with minibatch discrimination.

    The minibatch-discrimination D is ``config``'s D with ``kernels`` rows
    (:data:`METHODS`' 100 by default); the count includes its tensor T.
    """
    if kernels is None:
        kernels = METHODS["minibatch discrimination"]["minibatch_kernels"]
    base = replace(config, minibatch_kernels=0, d_width=0, feature_matching=False)
    target = parameter_count(build(replace(base, minibatch_kernels=kernels).to_dict())["D"])
    counts = {}
    width = base.width
    while True:
        counts[width] = parameter_count(build(replace(base, d_width=width).to_dict())["D"])
        if counts[width] >= target:
            break
        width += 1
    return min(counts, key=lambda w: abs(counts[w] - target))


def build(config: dict[str, Any]) -> dict[str, nn.Module]:
    """Fresh G and D for a config dict (the checkpoint registry's builder)."""
    channels, size = SHAPES[config["dataset"]]  # (channels, image size)
    d_width = config.get("d_width") or config["width"]
    return {
        "G": Generator(config["z_dim"], config["width"], channels, size),
        "D": Discriminator(
            d_width, channels, size, config["minibatch_kernels"], config["minibatch_dims"]
        ),
    }


register(
    "dcgan",
    build,
    sources=(
        "ganbook.core.losses",
        "ganbook.core.loop",
        "ganbook.core.optim",
        "ganbook.core.sampling",
        "ganbook.data",
    ),
)
