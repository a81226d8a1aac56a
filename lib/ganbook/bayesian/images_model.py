"""The networks and configs of the Bayesian GAN on images.

The networks are chapter 2's DCGAN (:mod:`ganbook.dcgan`), with D's output
layer widened to K class logits and a fake-class logit fixed at 0 (class 0
"generated", as in :mod:`ganbook.bayesian.posterior`): K = 1 for an unsupervised
GAN (then D is exactly chapter 2's), K classes for the semi-supervised one,
one critic value with ``wasserstein``. There are
J x M generator weight sets (``numz`` x ``num_mcmc``) and J_d x M
discriminator sets (``num_disc`` x ``num_mcmc``), each network's sets stacked
in one :class:`ganbook.bayesian.posterior.Stacked` and run with ``torch.func.vmap``:
every weight sample has its own BatchNorm parameters and statistics (the
original shared the BatchNorm layers between samples).

Predictions of the semi-supervised model average the softmax over the
discriminator samples (the posterior predictive) and take the most
probable real class (:class:`BayesClassifier`).

``ml_ensemble = k`` trains k independent maximum-likelihood DCGANs instead:
k generators and k discriminators, D_k trained only against G_k, Adam on the
plain mean losses, no prior and no noise; they are stacked all the same.
``wasserstein`` makes D a critic with WGAN-GP's gradient penalty (the
original's flag did not reach its model).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganbook import dcgan
from ganbook.bayesian import posterior as bg
from ganbook.core.checkpoint import load, register
from ganbook.core.config import Config, scaled
from ganbook.core.sampling import eval_mode
from ganbook.core.settings import get_scale
from ganbook.data import images as image_data
from ganbook.data.original import DATASETS

OPTIMIZERS = ("adam", "sgd")


class Discriminator(dcgan.Discriminator):
    """Chapter 2's DCGAN discriminator with K class logits and a fake logit fixed at 0.

    ``forward`` returns (N, K + 1) logits whose softmax gives p(generated)
    (column 0, always the logit 0) and p(class k). Fixing the fake logit
    loses nothing, since a softmax does not change when every logit is
    shifted (Salimans et al. 2016), and with K = 1 this is exactly chapter 2's
    D: its one logit is log D(x) / (1 - D(x)). The original code learned all
    K + 1 logits; in our MNIST runs with Adam, that redundant fake logit
    let D overpower G, whose images faded to flat grey. With ``critic`` it
    returns one critic value (N, 1).
    """

    def __init__(
        self, width: int, channels: int, image_size: int, classes: int, critic: bool = False
    ) -> None:
        super().__init__(width, channels, image_size)
        self.critic = critic
        self.out = nn.Linear(self.out.in_features, 1 if critic else classes)
        dcgan.weights_init(self.out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.out(self.features(x))
        if self.critic:
            return logits
        return torch.cat([torch.zeros_like(logits[:, :1]), logits], dim=1)


@dataclass(frozen=True)
class BDCGANConfig(Config):
    """One run of the image Bayesian GAN; the defaults are the original script's.

    ``labels`` is the original's ``-N`` (labelled images, semi-supervised);
    ``n_save`` how often (iterations) test accuracy and samples are taken;
    ``width`` chapter 2's base width (64 in the paper); ``keep_every``
    (semi-supervised, after ``burn_in``; 0: never) how often the chain's
    discriminators are kept, as their test-set class probabilities.
    """

    dataset: str = "mnist"
    z_dim: int = 100
    width: int = 64
    numz: int = 1
    num_mcmc: int = 1
    num_disc: int = 1
    batch_size: int = 64
    prior_std: float = 1.0
    gen_observed: int = 1000
    lr: float = 2e-4
    optimizer: str = "adam"
    burn_in: int = 5000
    alpha: float = 0.1
    semi_supervised: bool = False
    labels: int = 200
    train_iter: int = 50_000
    wasserstein: bool = False
    gp_weight: float = 10.0
    ml_ensemble: int = 0
    n_save: int = 100
    keep_every: int = 0
    seed: int = 0

    counts = tuple(
        "z_dim width numz num_mcmc num_disc batch_size gen_observed labels train_iter "
        "n_save".split()
    )
    naturals = ("burn_in", "ml_ensemble", "seed", "keep_every")
    positive = ("lr", "prior_std", "alpha", "gp_weight")
    choices = {"dataset": DATASETS, "optimizer": OPTIMIZERS}

    def check(self) -> None:
        if self.alpha > 1:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        if self.semi_supervised and self.wasserstein:
            raise ValueError("--wasserstein has no classes; it cannot be --semi_supervised")
        if self.semi_supervised and image_data.NUM_CLASSES[self.data_name] < 2:
            raise ValueError(f"{self.dataset} has no classes; it cannot be --semi_supervised")

    @property
    def data_name(self) -> str:
        """The book's name of the data set (``cifar10`` for the original's ``cifar``)."""
        return image_data.canonical_name(self.dataset)

    @property
    def image_shape(self) -> tuple[int, int]:
        """(channels, image size) of the data set."""
        return image_data.SHAPES[self.data_name]

    @property
    def ml(self) -> bool:
        """True for the ensemble of maximum-likelihood DCGANs (``ml_ensemble`` > 0)."""
        return self.ml_ensemble > 0

    @property
    def num_generators(self) -> int:
        return self.ml_ensemble if self.ml else self.numz * self.num_mcmc

    @property
    def num_discriminators(self) -> int:
        return self.ml_ensemble if self.ml else self.num_disc * self.num_mcmc

    @property
    def classes(self) -> int:
        """K, D's real classes: the data set's classes when semi-supervised, else 1."""
        return image_data.NUM_CLASSES[self.data_name] if self.semi_supervised else 1

    @property
    def name(self) -> str:
        """A short label for tables and plots."""
        loss = "WGAN-GP" if self.wasserstein else "GAN"
        if self.ml:
            return f"{self.ml_ensemble} ML DCGAN{'s' if self.ml_ensemble > 1 else ''} ({loss})"
        return f"Bayesian {loss} J={self.numz} M={self.num_mcmc}"


#: Per scale: the fields of the chapter's MNIST runs. ``paper`` is the seed's
#: semi-supervised MNIST command (numz 5, num_mcmc 5, lr 0.001, 30,000 iterations).
SCALE_SETTINGS: dict[str, dict[str, Any]] = {
    "smoke": {
        "width": 4,
        "z_dim": 16,
        "batch_size": 16,
        "numz": 2,
        "num_mcmc": 1,
        "train_iter": 12,
        "burn_in": 8,
        "n_save": 6,
        "lr": 1e-3,
    },
    "book": {
        "width": 16,
        "z_dim": 32,
        "batch_size": 32,
        "numz": 2,
        "num_mcmc": 2,
        "train_iter": 500,
        "burn_in": 350,
        "n_save": 100,
        "lr": 1e-3,
    },
    "paper": {
        "width": 64,
        "z_dim": 100,
        "batch_size": 64,
        "numz": 5,
        "num_mcmc": 5,
        "train_iter": 30_000,
        "burn_in": 5000,
        "n_save": 1000,
        "lr": 1e-3,
    },
}


#: Per scale: what the chapter's semi-supervised MNIST run changes (200 labels,
#: as in the seed's command), and the number of images each model is scored on.
SEMI_SETTINGS: dict[str, dict[str, Any]] = {
    "smoke": {"train_iter": 12, "burn_in": 8, "n_save": 6, "keep_every": 2},
    "book": {"train_iter": 800, "burn_in": 560, "n_save": 200, "keep_every": 30},
    "paper": {"train_iter": 30_000, "burn_in": 5000, "n_save": 1000, "keep_every": 500},
}
SCORED_SAMPLES = {"smoke": 300, "book": 2000, "paper": 10_000}


def config_for(scale: str | None = None, **overrides: Any) -> BDCGANConfig:
    """The chapter's MNIST config at ``scale``, with any field overridden."""
    return scaled(BDCGANConfig, SCALE_SETTINGS, scale, **overrides)


def semi_config_for(scale: str | None = None, **overrides: Any) -> BDCGANConfig:
    """The chapter's semi-supervised MNIST config (200 labels) at ``scale``."""
    fields = {"semi_supervised": True, "labels": 200, **SEMI_SETTINGS[get_scale(scale)]}
    return config_for(scale, **{**fields, **overrides})


def d_images_per_iteration(config: BDCGANConfig) -> int:
    """Images through D (forward and backward) per iteration: the cost the chapter equalises.

    Bayesian: each of the K_d discriminators sees n real images and the
    K_g * n samples in its step, and the K_g * n samples again in G's step
    (WGAN-GP adds n interpolated images per critic). ML ensemble: each of the
    k pairs sees 2n images in D's step and n in G's, as a chapter 2 DCGAN.
    The labelled batch of a semi-supervised run is left out.
    """
    n = config.batch_size
    if config.ml:
        return 3 * n * config.ml_ensemble
    per_d = 1 + 2 * config.num_generators + (1 if config.wasserstein else 0)
    return config.num_discriminators * per_d * n


def at_equal_compute(config: BDCGANConfig, reference: BDCGANConfig) -> BDCGANConfig:
    """``config`` with the iterations (and burn-in share) that cost what ``reference`` costs."""
    total = reference.train_iter * d_images_per_iteration(reference)
    iterations = max(1, round(total / d_images_per_iteration(config)))
    burn_in = round(reference.burn_in * iterations / reference.train_iter)
    return replace(config, train_iter=iterations, burn_in=burn_in)


def dcgan_steps_at_equal_compute(reference: BDCGANConfig) -> int:
    """Steps of a chapter 2 DCGAN (3 batches through D each) costing what ``reference`` costs."""
    total = reference.train_iter * d_images_per_iteration(reference)
    return max(1, round(total / (3 * reference.batch_size)))


class BayesClassifier(nn.Module):
    """The posterior-averaged classifier of a semi-supervised run (chapter 3's interface).

    ``forward(images)`` takes images in [-1, 1] of D's input shape ((N, 1, 28,
    28) for MNIST) and returns the log of the K class probabilities averaged
    over the discriminator samples: ``log mean_k softmax(D_k(x))[1:]``,
    renormalised over the real classes. ``predict`` returns the argmax, the
    class of the posterior predictive.
    """

    def __init__(self, D: bg.Stacked, channels: int, image_size: int) -> None:
        super().__init__()
        self.D = D
        self.shape = (channels, image_size, image_size)

    def check(self, images: torch.Tensor) -> None:
        """Raise a one-line ValueError unless ``images`` have D's input shape."""
        if not isinstance(images, torch.Tensor) or tuple(images.shape[1:]) != self.shape:
            got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images)
            raise ValueError(
                f"expected images of shape (N, {', '.join(map(str, self.shape))}), got {got}"
            )
        if not torch.isfinite(images).all():
            raise ValueError("the images hold NaN or infinite values")

    def probs(self, images: torch.Tensor) -> torch.Tensor:
        """Posterior-averaged class probabilities (N, K) of ``images``."""
        self.check(images)
        logits = self.D(images.expand(len(self.D), *images.shape))
        real = F.softmax(logits, dim=-1).mean(0)[:, 1:]
        return real / real.sum(1, keepdim=True)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.probs(images).clamp_min(1e-30).log()

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
        """Predicted class (0..K-1) of each image, as an int64 tensor on the CPU."""
        self.check(images)
        device = self.D.stacked[0].device
        with eval_mode(self):
            out = [
                self.probs(images[i : i + batch].to(device)).argmax(1).cpu()
                for i in range(0, len(images), batch)
            ]
        return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


@torch.no_grad()
def sample_accuracies(
    classifier: BayesClassifier, images: torch.Tensor, labels: torch.Tensor
) -> list[float]:
    """Test accuracy of each discriminator sample alone (to compare with the average)."""
    classifier.check(images)
    with eval_mode(classifier):
        device = classifier.D.stacked[0].device
        x = images.to(device)
        logits = classifier.D(x.expand(len(classifier.D), *x.shape))
        predicted = logits[..., 1:].argmax(-1).cpu()
    return (predicted == labels.cpu()).float().mean(1).tolist()


def build(config: dict[str, Any]) -> dict[str, nn.Module]:
    """Fresh stacked G and D (and the classifier when semi-supervised) for a config dict."""
    c = BDCGANConfig(**config)
    channels, size = c.image_shape
    G = bg.Stacked(
        [dcgan.Generator(c.z_dim, c.width, channels, size) for _ in range(c.num_generators)]
    )
    D = bg.Stacked(
        [
            Discriminator(c.width, channels, size, c.classes, c.wasserstein)
            for _ in range(c.num_discriminators)
        ]
    )
    models: dict[str, nn.Module] = {"G": G, "D": D}
    if c.semi_supervised:
        models["classifier"] = BayesClassifier(D, channels, size)
    return models


register(
    "bayesian_dcgan",
    build,
    sources=(
        "ganbook.dcgan",
        "ganbook.core.batchnorm",
        "ganbook.core.losses",
        "ganbook.core.sampling",
        "ganbook.data",
    ),
)


def load_classifier(path: str, device: str | torch.device | None = None) -> BayesClassifier:
    """Load a saved semi-supervised run in one call; ``.predict(images)`` gives classes."""
    checkpoint = load(path, device, kind="bayesian_dcgan")
    if "classifier" not in checkpoint.models:
        raise ValueError(f"{path} holds an unsupervised model; it has no classifier")
    return checkpoint.model("classifier", BayesClassifier)
