"""Chapter 3's networks: seed 003's 11-class discriminator and its generator, ported.

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
each network keeps the seed's shapes. :class:`Classifier` reads the digits
off a trained D.

Three translation details from TensorFlow 1: ``tf.nn.dropout(x, 0.7)`` takes
the probability to *keep*, so it is ``nn.Dropout(p=0.3)``; ``tf.layers``
batch normalisation has momentum 0.99 and epsilon 1e-3 (PyTorch momentum
0.01); ``tf.layers`` kernels start Glorot-uniform with zero biases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from ganbook.core.sampling import eval_mode

if TYPE_CHECKING:
    from ganbook.ssl.mlp import MLPDiscriminator

NUM_CLASSES = 10
IMAGE_SIZE = 64
#: Input sizes the networks support: the seed's 64, and 32 for a CPU.
IMAGE_SIZES = (64, 32)
MNIST_SIZE = 28


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
        if module.bias is not None:
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


def to_mnist_size(images: torch.Tensor) -> torch.Tensor:
    """64x64 generated images shrunk to 28x28 for the chapter 1 metrics."""
    return resize(images, MNIST_SIZE)


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
        third: dict[str, Any] = {"stride": 4} if image_size == 64 else {"stride": 2, "padding": 1}
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
        second: dict[str, Any] = {"stride": 4} if image_size == 64 else {"stride": 2, "padding": 1}
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
    returns the digits. ``D`` is the seed's CNN or Salimans et al.'s MLP.
    """

    def __init__(self, D: Discriminator | MLPDiscriminator, fake_class: bool):
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
        with eval_mode(self):
            out = [
                self(images[i : i + batch].to(device)).argmax(1).cpu()
                for i in range(0, len(images), batch)
            ]
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
    if not torch.isfinite(images).all():
        raise ValueError("the images hold NaN or infinite values")
    if images.numel() and (images.min() < -1.001 or images.max() > 1.001):
        raise ValueError(
            f"expected pixels scaled to [-1, 1], got values in "
            f"[{images.min().item():.3g}, {images.max().item():.3g}]"
        )
