"""The semi-supervised GAN of chapter 3: seed 003's 11-class discriminator, ported.

The discriminator is a classifier with K + 1 = 11 outputs: logit 0 is the
real/fake neuron, logits 1..10 the digits. It reads 64x64 images (MNIST is
resized 28 -> 64, as in the seed):

    conv 128 4x4 s2 same  LeakyReLU(0.2)       dropout          -> 32x32
    conv 256 4x4 s2 same  LeakyReLU       BN   dropout          -> 16x16
    conv 512 4x4 s4 same  LeakyReLU       BN   dropout          ->  4x4
    conv 1024 3x3 s1 valid LeakyReLU (no BN, no dropout)         ->  2x2
    global average pooling -> features f(x) (1024) -> dense 11 logits

The generator mirrors it: z (1x1x100) -> transposed conv 512 4x4 s1 valid
(4x4) -> 256 4x4 s4 (16x16) -> 128 4x4 s2 (32x32) -> 1 4x4 s2 (64x64), with
ReLU, BN and dropout between and tanh at the end. For a CPU, ``width``
multiplies every channel count except the image's, and ``image_size=32``
turns each network's stride-4 layer into a stride-2 one, so that the rest of
each network keeps the seed's shapes.

Losses, with l(x) the 11 logits, y the digit and m the labelled mask:

    D_L = sum_i m_i CE(softmax l(x_i), [0, onehot(y_i)]) / sum_i m_i      (supervised)
        + mean_x BCE(sigmoid l_0(x), 0) + mean_z BCE(sigmoid l_0(G(z)), 1)  (real/fake)
    G_L = mean_z BCE(sigmoid l_0(G(z)), 0) + mean_j (E f(x)_j - E f(G(z))_j)^2

Salimans et al. (2016) write the same classifier with K logits and the fake
logit fixed at 0, so that D(x) = Z(x) / (Z(x) + 1) with Z(x) = sum_k exp l_k(x):

    L_unsupervised = -E_x log D(x) - E_z log(1 - D(G(z)))
                   = E_x softplus(-log Z(x)) + E_z softplus(log Z(G(z)))

and train G by feature matching alone. The supervised-only baseline is the
same network (K logits) trained by cross-entropy on the labelled images.

What the seed got wrong, and this module fixes: its labelled mask is redrawn
for every batch (:func:`seed_labelled_mask`, kept as ``mask="redrawn"`` to
show the leak), and it reports accuracy on training batches (kept in the log
as ``batch_acc``). Here the labelled subset is fixed and balanced
(:func:`labelled_subset`) and accuracy is measured on the held-out test split,
with D's batch-norm statistics re-estimated on real images first
(:func:`recalibrate_batchnorm`).

Three translation details from TensorFlow 1: ``tf.nn.dropout(x, 0.7)`` takes
the probability to *keep*, so it is ``nn.Dropout(p=0.3)``; ``tf.layers``
batch normalisation has momentum 0.99 and epsilon 1e-3 (PyTorch momentum
0.01); ``tf.layers`` kernels start Glorot-uniform with zero biases.
"""

from __future__ import annotations

import contextlib
import copy
import multiprocessing
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ganbook.core.checkpoint import Checkpoint, cached, config_key, load, register
from ganbook.core.progress import progress
from ganbook.core.sampling import sample
from ganbook.core.settings import cache_dir, get_device, get_scale, seed_everything
from ganbook.data.mnist import load_mnist

NUM_CLASSES = 10
IMAGE_SIZE = 64
#: Input sizes the networks support: the seed's 64, and 32 for a CPU.
IMAGE_SIZES = (64, 32)
MNIST_SIZE = 28
Key = TypeVar("Key")
#: The three models the chapter compares.
MODELS = ("eleven", "klogit", "supervised")
#: How the labelled images of a batch are chosen (see :class:`Batches`).
MASKS = ("separate", "fixed", "redrawn")
#: Real training images that re-estimate D's BatchNorm statistics before a test.
CALIBRATION_IMAGES = 1000


class TFDropout(nn.Module):
    """TensorFlow 1's ``tf.nn.dropout(x, keep_prob)``, which is ``nn.Dropout(p=1 - keep_prob)``.

    TF1 keeps each unit where ``floor(keep_prob + U[0, 1))`` is 1, that is
    where a uniform draw is below ``keep_prob``, and scales kept units by
    ``1 / keep_prob``. Writing the argument 0.7 into ``nn.Dropout`` would
    drop 70% instead of 30%. Like ``nn.Dropout`` it does nothing in eval mode.
    """

    def __init__(self, keep_prob: float):
        super().__init__()
        if not 0 < keep_prob <= 1:
            raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob}")
        self.keep_prob = keep_prob

    @property
    def p(self) -> float:
        """The drop probability, PyTorch's ``nn.Dropout(p)``."""
        return 1.0 - self.keep_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.keep_prob == 1:
            return x
        # TF1's own recipe, done in place: cheaper on a CPU than nn.Dropout's bernoulli_.
        scale = torch.rand_like(x).lt_(self.keep_prob).mul_(1.0 / self.keep_prob)
        return x * scale

    def extra_repr(self) -> str:
        return f"keep_prob={self.keep_prob}"


def tf_batchnorm(num_features: int) -> nn.BatchNorm2d:
    """``tf.layers.batch_normalization`` defaults: momentum 0.99 (PyTorch 0.01), eps 1e-3."""
    return nn.BatchNorm2d(num_features, eps=1e-3, momentum=0.01)


def tf_init(module: nn.Module) -> None:
    """``tf.layers`` defaults: Glorot-uniform kernels, zero biases."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


def channels(base: int, width: float) -> int:
    """``base`` channels scaled by the width multiplier (at least one)."""
    return max(1, round(base * width))


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of (N, 1, H, W) images to ``size`` x ``size``.

    Upsampling 28 -> 64 is the seed's ``tf.image.resize_images``; downsampling
    is antialiased so that 64x64 samples can be scored by 28x28 classifiers.
    """
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    shrink = images.shape[-1] > size
    return F.interpolate(
        images, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink
    )


def _check_size(image_size: int) -> None:
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be 64 or 32, got {image_size}")


class Discriminator(nn.Module):
    """Seed 003's discriminator; ``forward`` returns (pooled features, logits).

    With ``image_size=32`` the stride-4 convolution becomes stride 2 (with
    "same" padding), so from there on every tensor has the 64x64 model's shape.
    """

    def __init__(
        self,
        width: float = 1.0,
        outputs: int = NUM_CLASSES + 1,
        keep_prob: float = 0.7,
        image_size: int = IMAGE_SIZE,
    ):
        super().__init__()
        _check_size(image_size)
        self.image_size = image_size
        c1, c2, c3, c4 = (channels(c, width) for c in (128, 256, 512, 1024))
        third = {"stride": 4} if image_size == 64 else {"stride": 2, "padding": 1}
        lrelu = nn.LeakyReLU(0.2)  # the default slope of tf.nn.leaky_relu
        self.body = nn.Sequential(
            nn.Conv2d(1, c1, 4, stride=2, padding=1),
            lrelu,
            TFDropout(keep_prob),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1),
            lrelu,
            tf_batchnorm(c2),
            TFDropout(keep_prob),
            nn.Conv2d(c2, c3, 4, **third),
            lrelu,
            tf_batchnorm(c3),
            TFDropout(keep_prob),
            # No BN and no dropout: these features feed feature matching.
            nn.Conv2d(c3, c4, 3, stride=1),
            lrelu,
        )
        self.dense = nn.Linear(c4, outputs)
        self.apply(tf_init)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """f(x): the last convolution's output averaged over space (global average pooling)."""
        size = self.image_size
        if x.shape[-2:] != (size, size):
            raise ValueError(
                f"the discriminator reads {size}x{size} images, got {tuple(x.shape[-2:])}"
            )
        return self.body(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(x)
        return features, self.dense(features)


class Generator(nn.Module):
    """Seed 003's generator: z (N, z_dim) -> 64x64 images in [-1, 1].

    With ``image_size=32`` the stride-4 transposed convolution becomes stride 2.
    """

    def __init__(
        self,
        width: float = 1.0,
        z_dim: int = 100,
        keep_prob: float = 0.7,
        image_size: int = IMAGE_SIZE,
    ):
        super().__init__()
        _check_size(image_size)
        c1, c2, c3 = (channels(c, width) for c in (512, 256, 128))
        second = {"stride": 4} if image_size == 64 else {"stride": 2, "padding": 1}
        self.z_dim = z_dim
        self.image_size = image_size
        self.net = nn.Sequential(
            nn.ConvTranspose2d(z_dim, c1, 4, stride=1),
            nn.ReLU(),
            tf_batchnorm(c1),
            TFDropout(keep_prob),
            nn.ConvTranspose2d(c1, c2, 4, **second),
            nn.ReLU(),
            tf_batchnorm(c2),
            TFDropout(keep_prob),
            nn.ConvTranspose2d(c2, c3, 4, stride=2, padding=1),
            nn.ReLU(),
            tf_batchnorm(c3),
            TFDropout(keep_prob),
            nn.ConvTranspose2d(c3, 1, 4, stride=2, padding=1),
            nn.Tanh(),
        )
        self.apply(tf_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(len(z), self.z_dim, 1, 1))


class Classifier(nn.Module):
    """A trained discriminator used as a digit classifier on MNIST-sized images.

    ``forward`` takes images in [-1, 1] of shape (N, 1, 28, 28), resizes them
    to D's input size (64x64 in the seed) and returns the 10 digit logits:
    logits 1..10 of the 11-class model, all K logits otherwise. ``predict``
    returns the digits.
    """

    def __init__(self, D: Discriminator, fake_class: bool):
        super().__init__()
        self.D = D
        self.fake_class = fake_class

    def digit_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """The 10 digit logits out of D's outputs."""
        return logits[:, 1:] if self.fake_class else logits

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, self.D.image_size)
        return self.digit_logits(self.D(resize(images, self.D.image_size))[1])

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
        """Predicted digit (0-9) of each image, as an int64 tensor on the CPU."""
        check_images(images, self.D.image_size)
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        out = [
            self(images[i : i + batch].to(device)).argmax(1).cpu()
            for i in range(0, len(images), batch)
        ]
        self.train(was_training)
        return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


def check_images(images: torch.Tensor, size: int = MNIST_SIZE) -> None:
    """Raise a one-line ValueError unless ``images`` are (N, 1, 28, 28) in [-1, 1].

    Images already resized to the network's ``size`` are accepted too.
    """
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 1:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"expected MNIST images of shape (N, 1, 28, 28), got {shape}")
    if images.shape[-1] != images.shape[-2] or images.shape[-1] not in (MNIST_SIZE, size):
        raise ValueError(f"expected 28x28 images, got {tuple(images.shape[-2:])}")
    if images.numel() and (images.min() < -1.001 or images.max() > 1.001):
        raise ValueError(
            f"expected pixels scaled to [-1, 1], got values in "
            f"[{images.min().item():.3g}, {images.max().item():.3g}]"
        )


# --- losses -----------------------------------------------------------------


def extended_labels(labels: torch.Tensor, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """One-hot digit labels with a leading 0 for the fake class (the seed's extended label)."""
    return F.pad(F.one_hot(labels, num_classes).float(), (1, 0))


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """sum(values * mask) / sum(mask); 0 for a batch with no labelled image.

    The seed divides by sum(mask) unguarded, which is 0/0 = NaN for such a batch.
    """
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


def feature_matching(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """mean_j (E_x f(x)_j - E_z f(G(z))_j)^2 over the pooled features f."""
    return (real_features.mean(0) - fake_features.mean(0)).pow(2).mean()


def eleven_class_d_loss(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """The seed's D_L and its three terms (logit 0 is the real/fake neuron)."""
    cross_entropy = F.cross_entropy(real_logits, extended_labels(labels), reduction="none")
    supervised = masked_mean(cross_entropy, mask)
    real = F.binary_cross_entropy_with_logits(
        real_logits[:, 0], torch.zeros_like(real_logits[:, 0])
    )
    fake = F.binary_cross_entropy_with_logits(fake_logits[:, 0], torch.ones_like(fake_logits[:, 0]))
    return {"d_loss": supervised + real + fake, "d_sup": supervised, "d_real": real, "d_fake": fake}


def eleven_class_g_loss(
    fake_logits: torch.Tensor, real_features: torch.Tensor, fake_features: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The seed's G_L: fake-wants-to-be-real on logit 0 plus feature matching."""
    adversarial = F.binary_cross_entropy_with_logits(
        fake_logits[:, 0], torch.zeros_like(fake_logits[:, 0])
    )
    matching = feature_matching(real_features, fake_features)
    return {"g_loss": adversarial + matching, "g_adv": adversarial, "g_fm": matching}


def klogit_d_loss(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """Salimans et al.'s D loss with K logits and the fake logit fixed at 0.

    With log Z = logsumexp_k l_k: -log D(x) = softplus(-log Z(x)) and
    -log(1 - D(G(z))) = softplus(log Z(G(z))).
    """
    supervised = masked_mean(F.cross_entropy(real_logits, labels, reduction="none"), mask)
    real = F.softplus(-real_logits.logsumexp(1)).mean()
    fake = F.softplus(fake_logits.logsumexp(1)).mean()
    return {"d_loss": supervised + real + fake, "d_sup": supervised, "d_real": real, "d_fake": fake}


def klogit_g_loss(
    fake_logits: torch.Tensor, real_features: torch.Tensor, fake_features: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Salimans et al.'s G loss for semi-supervised learning: feature matching alone."""
    matching = feature_matching(real_features, fake_features)
    return {"g_loss": matching, "g_fm": matching}


def klogit_prob_real(logits: torch.Tensor) -> torch.Tensor:
    """D(x) = Z / (Z + 1) = sigmoid(log Z) for K logits with the fake logit at 0."""
    return torch.sigmoid(logits.logsumexp(1))


D_LOSSES = {"eleven": eleven_class_d_loss, "klogit": klogit_d_loss}
G_LOSSES = {"eleven": eleven_class_g_loss, "klogit": klogit_g_loss}


# --- labels -----------------------------------------------------------------


def label_count(spec: int | str, n_train: int) -> int:
    """Number of labelled images: an int, or a share such as ``"20%"`` of ``n_train``.

    A share is rounded to a multiple of 10 so that every class gets the same count.
    """
    if isinstance(spec, str):
        text = spec.strip()
        try:
            if text.endswith("%"):
                share = float(text[:-1]) / 100
                if not 0 < share <= 1:
                    raise ValueError
                count = NUM_CLASSES * max(1, round(share * n_train / NUM_CLASSES))
            else:
                count = int(text)
        except ValueError:
            raise ValueError(
                f"labels must be a count such as 100 or a share such as 20%, got {spec!r}"
            ) from None
    else:
        count = int(spec)
    if count < NUM_CLASSES or count % NUM_CLASSES or count > n_train:
        raise ValueError(
            f"labels must be a multiple of {NUM_CLASSES} between {NUM_CLASSES} and {n_train}, "
            f"got {count}"
        )
    return count


def labelled_subset(labels: torch.Tensor, count: int, seed: int) -> torch.Tensor:
    """Indices of a fixed labelled subset: ``count / 10`` images of each digit, sorted.

    The draw depends only on ``seed`` (and the labels), so every model trained
    with the same ``seed`` sees exactly the same labelled images.
    """
    if count % NUM_CLASSES:
        raise ValueError(f"labels must be a multiple of {NUM_CLASSES}, got {count}")
    per_class = count // NUM_CLASSES
    rng = np.random.default_rng(seed)
    labels_np = np.asarray(labels)
    chosen = []
    for digit in range(NUM_CLASSES):
        pool = np.flatnonzero(labels_np == digit)
        if len(pool) < per_class:
            raise ValueError(f"only {len(pool)} images of digit {digit}, {per_class} needed")
        chosen.append(rng.choice(pool, per_class, replace=False))
    return torch.from_numpy(np.sort(np.concatenate(chosen)))


def seed_labelled_mask(
    labelled_rate: float, batch_size: int, generator: torch.Generator
) -> torch.Tensor:
    """The seed's ``get_labeled_mask``: int(batch * rate) ones at random places, redrawn per call.

    Called once per batch, so any training image can be labelled on one pass
    and unlabelled on the next: over a few epochs nearly every label is used.
    """
    mask = torch.zeros(batch_size)
    mask[: int(batch_size * labelled_rate)] = 1.0
    return mask[torch.randperm(batch_size, generator=generator)]


class Batches:
    """Draws real training batches (images, labels, labelled mask) for each step.

    ``separate`` (the comparison's): ``labelled_batch`` images from the fixed
    labelled subset followed by ``batch_size`` images drawn from the whole
    training set, whose labels are masked out (Salimans et al.'s sampler).
    ``fixed``: the seed's batches of ``batch_size`` with the mask marking the
    images that belong to the fixed subset (the smallest fix of the seed).
    ``redrawn``: the seed's batches and its mask, redrawn every batch.
    ``supervised=True`` gives only the labelled images of ``separate``.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        subset: torch.Tensor,
        mask: str,
        batch_size: int,
        labelled_batch: int,
        generator: torch.Generator,
        supervised: bool = False,
    ):
        if mask not in MASKS:
            raise ValueError(f"mask must be one of {', '.join(MASKS)}, got {mask!r}")
        self.images, self.labels, self.subset = images, labels, subset
        self.mask, self.batch_size, self.labelled_batch = mask, batch_size, labelled_batch
        self.generator, self.supervised = generator, supervised
        self.in_subset = torch.zeros(len(labels), dtype=torch.bool)
        self.in_subset[subset] = True
        self.rate = len(subset) / len(labels)
        self.seen = torch.zeros(len(labels), dtype=torch.bool)

    def __call__(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n, gen = len(self.labels), self.generator
        if self.mask == "separate" or self.supervised:
            pick = torch.randint(len(self.subset), (self.labelled_batch,), generator=gen)
            labelled = self.subset[pick]
            if self.supervised:
                index, mask = labelled, torch.ones(len(labelled))
            else:
                unlabelled = torch.randint(n, (self.batch_size,), generator=gen)
                index = torch.cat([labelled, unlabelled])
                mask = torch.cat([torch.ones(len(labelled)), torch.zeros(len(unlabelled))])
        else:
            index = torch.randint(n, (self.batch_size,), generator=gen)
            if self.mask == "fixed":
                mask = self.in_subset[index].float()
            else:
                mask = seed_labelled_mask(self.rate, self.batch_size, gen)
        self.seen[index[mask.bool()]] = True
        return self.images[index], self.labels[index], mask

    @property
    def labels_seen(self) -> int:
        """How many different training images have been used with their label."""
        return int(self.seen.sum())


# --- configuration and training ----------------------------------------------


@dataclass(frozen=True)
class SSGANConfig:
    """Everything that defines one run (defaults: the seed's own settings)."""

    model: str = "eleven"
    labels: int = 100
    mask: str = "separate"
    width: float = 1.0
    image_size: int = IMAGE_SIZE
    steps: int = 3000
    batch_size: int = 128
    labelled_batch: int = 32
    z_dim: int = 100
    keep_prob: float = 0.7
    lr: float = 2e-4
    beta1: float = 0.5
    eval_every: int = 500
    seed: int = 0
    label_seed: int = 0

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, got {self.model!r}")
        if self.mask not in MASKS:
            raise ValueError(f"mask must be one of {', '.join(MASKS)}, got {self.mask!r}")
        _check_size(self.image_size)
        if self.width <= 0 or self.steps < 1 or self.batch_size < 1 or self.labelled_batch < 1:
            raise ValueError("width, steps, batch_size and labelled_batch must be positive")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Per scale. ``paper`` is the seed's: full widths, 64x64, batch 128, Adam 2e-4,
#: 7 epochs of full MNIST (about 3,000 steps). ``book`` fits a 2-core CPU: a
#: sixteenth of the widths, 32x32 inputs, and Salimans et al.'s MNIST learning
#: rate 3e-3 so that 1,000 steps suffice.
SCALE_SETTINGS: dict[str, dict[str, Any]] = {
    "smoke": {
        "width": 1 / 32,
        "image_size": 32,
        "steps": 10,
        "batch_size": 16,
        "labelled_batch": 8,
        "lr": 3e-3,
        "eval_every": 5,
    },
    "book": {
        "width": 1 / 16,
        "image_size": 32,
        "steps": 1000,
        "batch_size": 64,
        "labelled_batch": 32,
        "lr": 3e-3,
        "eval_every": 250,
    },
    "paper": {
        "width": 1.0,
        "image_size": 64,
        "steps": 3000,
        "batch_size": 128,
        "labelled_batch": 32,
        "lr": 2e-4,
        "eval_every": 250,
    },
}
#: Seeds of the chapter's comparison and parallel training processes, per scale.
SEEDS = {"smoke": (0,), "book": (0, 1, 2), "paper": (0, 1, 2)}
WORKERS = {"smoke": 1, "book": 2, "paper": 1}


def config_for(scale: str | None = None, **overrides: Any) -> SSGANConfig:
    """The chapter 3 config at ``scale``, with any field overridden."""
    return replace(SSGANConfig(**SCALE_SETTINGS[get_scale(scale)]), **overrides)


def build(config: dict[str, Any]) -> dict[str, nn.Module]:
    """The classifier (D inside) and, for the GANs, G (the checkpoint registry's builder)."""
    eleven = config["model"] == "eleven"
    outputs = NUM_CLASSES + 1 if eleven else NUM_CLASSES
    size = config["image_size"]
    D = Discriminator(config["width"], outputs, config["keep_prob"], size)
    models: dict[str, nn.Module] = {"classifier": Classifier(D, fake_class=eleven)}
    if config["model"] != "supervised":
        models["G"] = Generator(config["width"], config["z_dim"], config["keep_prob"], size)
    return models


register("ssgan", build, sources=("ganbook.core.sampling", "ganbook.data"))


def accuracy(predicted: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of predictions equal to the labels."""
    return (predicted.cpu() == labels.cpu()).float().mean().item()


@torch.no_grad()
def recalibrate_batchnorm(D: Discriminator, images: torch.Tensor, batch: int = 250) -> None:
    """Re-estimate D's BatchNorm statistics on real images (28x28 or 64x64, in [-1, 1]).

    During training the running averages also absorb the generated batches and,
    with TF1's momentum 0.99, lag behind the weights; a test then sees
    statistics of neither real nor current data. Here each BN layer's
    statistics become the plain average over ``images`` (dropout off).
    """
    norms = [m for m in D.modules() if isinstance(m, nn.BatchNorm2d)]
    was_training = D.training
    D.eval()
    device = next(D.parameters()).device
    momenta = [bn.momentum for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the batches below
        bn.train()
    for i in range(0, len(images), batch):
        D(resize(images[i : i + batch], D.image_size).to(device))
    for bn, momentum in zip(norms, momenta, strict=True):
        bn.momentum = momentum
    D.train(was_training)


def held_out_accuracy(
    classifier: Classifier, test_images: torch.Tensor, test_labels: torch.Tensor
) -> float:
    """Accuracy on held-out images (eval mode: no dropout, BN running statistics)."""
    return accuracy(classifier.predict(test_images), test_labels)


def calibration_images(images: torch.Tensor, count: int = CALIBRATION_IMAGES) -> torch.Tensor:
    """A fixed, evenly spaced selection of ``count`` training images for BN statistics."""
    return images[:: max(1, len(images) // count)][:count]


def evaluate(
    classifier: Classifier,
    test: tuple[torch.Tensor, torch.Tensor],
    calibration: torch.Tensor,
) -> dict[str, float]:
    """Held-out accuracy with D's BN running averages and with statistics of real images.

    The classifier itself is left untouched (a copy is re-estimated).
    """
    calibrated = copy.deepcopy(classifier)
    recalibrate_batchnorm(calibrated.D, calibration)
    return {
        "test_acc": held_out_accuracy(calibrated, *test),
        "test_acc_running": held_out_accuracy(classifier, *test),
    }


def train(
    config: SSGANConfig,
    data: tuple[torch.Tensor, torch.Tensor] | None = None,
    test: tuple[torch.Tensor, torch.Tensor] | None = None,
    device: str | torch.device | None = None,
    quiet: bool = False,
    bar: Any = None,
) -> Checkpoint:
    """Train one model of the chapter with ``config``; return its checkpoint.

    ``data`` and ``test`` are (images, labels) of 28x28 MNIST in [-1, 1]; by
    default the training and test splits. Each step, D takes one Adam step on
    the real batch and a generated batch, then G takes one with the same z,
    as in the seed. The log holds the losses and the seed's accuracy on the
    training batch (``batch_acc``); ``extra["eval"]`` the test accuracy every
    ``eval_every`` steps and ``extra["samples"]`` G's images for fixed noise.

    Test accuracy is measured with D's BatchNorm statistics re-estimated on
    real training images (:func:`recalibrate_batchnorm`); the returned model
    keeps those statistics. The accuracy with the seed's running averages is
    recorded too (``test_acc_running``).
    """
    device = get_device(device)
    generator = seed_everything(config.seed)
    if data is None:
        train_set = load_mnist("train")
        data = (train_set.images, train_set.labels)
    if test is None:
        test_set = load_mnist("test")
        test = (test_set.images, test_set.labels)
    images, labels = data
    calibration = calibration_images(images)
    subset = labelled_subset(labels, config.labels, config.label_seed)
    supervised = config.model == "supervised"
    batches = Batches(
        images,
        labels,
        subset,
        config.mask,
        config.batch_size,
        config.labelled_batch,
        generator,
        supervised=supervised,
    )
    models = {name: m.to(device) for name, m in build(config.to_dict()).items()}
    classifier: Classifier = models["classifier"]
    D, G = classifier.D, models.get("G")
    betas = (config.beta1, 0.999)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=betas)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=betas) if G else None
    fixed_z = torch.randn(25, config.z_dim, generator=generator)
    own_bar = bar is None
    if own_bar:
        bar = progress(config.steps, f"training {config.model}", disable=quiet)
    log, evals, samples = [], [], {}
    start = time.perf_counter()
    for step in range(config.steps + 1):
        if step % config.eval_every == 0 or step == config.steps:
            scores = evaluate(classifier, test, calibration)
            evals.append({"step": step, **scores, "labels_seen": batches.labels_seen})
            if G is not None:
                samples[step] = sample(G, fixed_z)
        if step == config.steps:
            break
        x, y, mask = batches()
        x, y, mask = resize(x, config.image_size).to(device), y.to(device), mask.to(device)
        D.train()
        if supervised:
            entry = _supervised_step(classifier, opt_d, x, y)
        else:
            entry = _gan_step(classifier, G, opt_d, opt_g, x, y, mask, config, generator)
        entry["step"] = step
        log.append(entry)
        bar.update(1)
    if own_bar:
        bar.close()
    recalibrate_batchnorm(D, calibration)
    for model in models.values():
        model.eval()
    extra = {
        "eval": evals,
        "samples": samples,
        "fixed_z": fixed_z,
        "subset": subset,
        "labels_seen": batches.labels_seen,
        "test_accuracy": evals[-1]["test_acc"],
        "test_accuracy_running": evals[-1]["test_acc_running"],
        "seconds": time.perf_counter() - start,
    }
    return Checkpoint("ssgan", config.to_dict(), models, log, extra)


def _supervised_step(
    classifier: Classifier, opt_d: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
) -> dict[str, float]:
    _, logits = classifier.D(x)
    loss = F.cross_entropy(logits, y)
    opt_d.zero_grad(set_to_none=True)
    loss.backward()
    opt_d.step()
    return {"d_loss": loss.item(), "batch_acc": accuracy(logits.argmax(1), y)}


def _gan_step(
    classifier: Classifier,
    G: Generator,
    opt_d: torch.optim.Optimizer,
    opt_g: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor,
    config: SSGANConfig,
    generator: torch.Generator,
) -> dict[str, float]:
    """One seed iteration: D's Adam step, then G's with the same z."""
    D = classifier.D
    d_loss_fn, g_loss_fn = D_LOSSES[config.model], G_LOSSES[config.model]
    z = torch.randn(config.batch_size, config.z_dim, generator=generator).to(x.device)
    G.train()
    _, real_logits = D(x)
    _, fake_logits = D(G(z).detach())
    d_losses = d_loss_fn(real_logits, fake_logits, y, mask)
    opt_d.zero_grad(set_to_none=True)
    d_losses["d_loss"].backward()
    opt_d.step()
    # The seed's accuracy: every real image of the training batch, dropout on.
    batch_acc = accuracy(classifier.digit_logits(real_logits.detach()).argmax(1), y)

    with torch.no_grad():
        real_features, _ = D(x)
    D.requires_grad_(False)
    fake_features, fake_logits = D(G(z))
    g_losses = g_loss_fn(fake_logits, real_features, fake_features)
    opt_g.zero_grad(set_to_none=True)
    g_losses["g_loss"].backward()
    opt_g.step()
    D.requires_grad_(True)
    entry = {k: v.item() for k, v in {**d_losses, **g_losses}.items()}
    entry["batch_acc"] = batch_acc
    return entry


def to_mnist_size(images: torch.Tensor) -> torch.Tensor:
    """64x64 generated images shrunk to 28x28 for the chapter 1 metrics."""
    return resize(images, MNIST_SIZE)


def _cache_key(config: SSGANConfig) -> dict[str, Any]:
    return {**config.to_dict(), "data": load_mnist("train").source}


def is_cached(config: SSGANConfig, scale: str | None = None) -> bool:
    """Whether a model trained with ``config`` at ``scale`` is in the cache."""
    return (
        cache_dir() / f"{config_key('ssgan', get_scale(scale), _cache_key(config))}.pt"
    ).exists()


def trained(
    config: SSGANConfig,
    *,
    scale: str | None = None,
    device: str | torch.device | None = None,
    **kwargs: Any,
) -> Checkpoint:
    """The model trained with ``config``, from the cache when it is there.

    ``kwargs`` go to :func:`train` (``quiet``, ``bar``) when it has to train.
    """
    return cached(
        "ssgan",
        get_scale(scale),
        _cache_key(config),
        lambda: train(config, device=device, **kwargs),
        device,
        verbose=False,
    )


def load_classifier(path: str, device: str | torch.device | None = None) -> Classifier:
    """Load a saved chapter 3 model in one call; ``.predict(images)`` gives digits."""
    return load(path, device)["classifier"]


def labels_seen_by_epoch(
    labels: torch.Tensor, count: int, mask: str, batch_size: int, epochs: int, seed: int = 0
) -> list[int]:
    """How many training images have been used with their label after each epoch.

    Runs only the batch sampler (no training): with the seed's ``redrawn``
    mask the count keeps growing towards the whole training set, with the
    ``fixed`` mask it stops at ``count``.
    """
    subset = labelled_subset(labels, count, seed)
    generator = torch.Generator().manual_seed(seed)
    placeholder = torch.empty(len(labels), 0)  # the sampler only needs indices
    batches = Batches(placeholder, labels, subset, mask, batch_size, batch_size, generator)
    seen = []
    for _ in range(epochs):
        for _ in range(len(labels) // batch_size):
            batches()
        seen.append(batches.labels_seen)
    return seen


def train_all(
    configs: Mapping[Key, SSGANConfig],
    scale: str | None = None,
    device: str | torch.device | None = None,
    workers: int | None = None,
) -> dict[Key, Checkpoint]:
    """Train (or load from the cache) the model of every config at ``scale``.

    On a CPU, ``workers`` processes (default :data:`WORKERS` of the scale)
    train runs side by side, one thread each: these small convolutions gain
    little from a second thread, and a lot from a second core working on
    another run. Runs trained here also use one thread, so a run gives the
    same numbers whichever way it was trained. One progress bar counts the
    steps still to train.
    """
    scale = get_scale(scale)
    device = get_device(device)
    todo = [key for key, config in configs.items() if not is_cached(config, scale)]
    workers = WORKERS[scale] if workers is None else workers
    bar = progress(sum(configs[key].steps for key in todo), "chapter 3 runs")
    if device.type == "cpu" and workers > 1 and len(todo) > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(workers, len(todo)), mp_context=context) as pool:
            futures = {pool.submit(_train_in_worker, configs[key], scale): key for key in todo}
            for future in as_completed(futures):
                future.result()
                bar.update(configs[futures[future]].steps)
    with _one_thread(device):
        runs = {
            key: trained(config, scale=scale, device=device, bar=bar)
            for key, config in configs.items()
        }
    bar.close()
    return runs


@contextlib.contextmanager
def _one_thread(device: torch.device) -> Iterator[None]:
    """Run CPU training in this process on one thread, as the workers do, then restore."""
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


RunKey = tuple[str, int, int]


def run_grid(
    models: Sequence[str],
    label_counts: Sequence[int],
    seeds: Sequence[int],
    scale: str | None = None,
    device: str | torch.device | None = None,
    **overrides: Any,
) -> dict[RunKey, Checkpoint]:
    """Every model x label count x seed at ``scale``: {(model, labels, seed): checkpoint}.

    Seed s fixes both the initial weights and the labelled subset, so the
    models of one seed learn from exactly the same labelled images.
    """
    configs = {
        (model, labels, seed): config_for(
            scale, model=model, labels=labels, seed=seed, label_seed=seed, **overrides
        )
        for labels in label_counts
        for seed in seeds
        for model in models
    }
    return train_all(configs, scale, device)


def _train_in_worker(config: SSGANConfig, scale: str) -> None:
    torch.set_num_threads(1)
    trained(config, scale=scale, device="cpu", quiet=True)


def results_table(runs: dict[RunKey, Checkpoint]) -> pd.DataFrame:
    """One row per run: model, labels, seed, test accuracies, labels used, seconds."""
    rows = [
        {
            "model": model,
            "labels": labels,
            "seed": seed,
            "test_acc": run.extra["test_accuracy"],
            "test_acc_running": run.extra["test_accuracy_running"],
            "labels_seen": run.extra["labels_seen"],
            "seconds": run.extra["seconds"],
        }
        for (model, labels, seed), run in runs.items()
    ]
    return pd.DataFrame(rows)
