"""The Bayesian GAN on images: chapter 4's posteriors over chapter 2's DCGAN.

The networks are chapter 2's DCGAN (:mod:`ganbook.dcgan`), with D's output
layer widened to K class logits and a fake-class logit fixed at 0 (class 0
"generated", as in :mod:`ganbook.bayesian_gan`): K = 1 for an unsupervised
GAN (then D is exactly chapter 2's), K classes for the semi-supervised one,
one critic value with ``wasserstein``. There are
J x M generator weight sets (``numz`` x ``num_mcmc``) and J_d x M
discriminator sets (``num_disc`` x ``num_mcmc``), each network's sets stacked
in one :class:`ganbook.bayesian_gan.Stacked` and run with ``torch.func.vmap``:
every weight sample has its own BatchNorm parameters and statistics (the
original shared the BatchNorm layers between samples).

Energies (:class:`ImagePosterior`), on minibatches of n images with N the
training-set size::

    U_d = -(N / n) sum_i [log D(x_i) + mean_k log(1 - D(G(z_i; theta_g^k)))]
          -(N / n_l) sum_l log p(y_l | x_l; theta_d)          (semi-supervised)
          + |theta_d|^2 / (2 prior_std^2)
    U_g = -(gen_observed / n) sum_i mean_k log D(G(z_i); theta_d^k) + |theta_g|^2 / (2 prior_std^2)

where D(x) is the probability of any real class and p(y | x) that of class
y among the K + 1 (the supervised term on n_l labelled images is weighted by
N, as the original weights its mean losses equally). Sampling: ``burn_in``
iterations of Adam (``optimizer="adam"``) or of momentum SGD
(``optimizer="sgd"``) on the energies, then SGHMC with friction ``alpha`` and
eta = alpha * lr / N for D, alpha * lr / gen_observed for G (so that the
velocity's steady step is ``lr`` times the gradient of the mean loss). The
original meant the same switch but rebuilt Adam at it.

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

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganbook import dcgan
from ganbook.bayesian import posterior as bg
from ganbook.bayesian.sghmc import SGHMC
from ganbook.core.checkpoint import Checkpoint, cached, load, register
from ganbook.core.progress import progress
from ganbook.core.sampling import sample_z
from ganbook.core.settings import get_device, get_scale, seed_everything
from ganbook.data.original import DATASETS, ImageData, load_dataset

#: ``--dataset`` name -> (channels, image size).
SHAPES = {"mnist": (1, 28), "cifar": (3, 32), "svhn": (3, 32), "celeb": (3, 64), "digits": (1, 8)}
#: Classes of each data set (CelebA has attributes, no classes).
NUM_CLASSES = {"mnist": 10, "cifar": 10, "svhn": 10, "celeb": 1, "digits": 10}
OPTIMIZERS = ("adam", "sgd")
#: Real training images that re-estimate D's BatchNorm statistics before a test.
CALIBRATION_IMAGES = 1000


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
class BDCGANConfig:
    """One run of the image Bayesian GAN; the defaults are the original script's.

    ``labels`` is the original's ``-N`` (labelled images, semi-supervised);
    ``n_save`` how often (iterations) test accuracy and samples are taken;
    ``width`` chapter 2's base width (64 in the paper).
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
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be adam or sgd, got {self.optimizer!r}")
        for name in "z_dim width numz num_mcmc num_disc batch_size gen_observed labels".split():
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("train_iter", "n_save"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("lr", "prior_std"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        if self.burn_in < 0 or self.ml_ensemble < 0 or self.seed < 0:
            raise ValueError("burn_in, ml_ensemble and random_seed must be 0 or more")
        if self.semi_supervised and self.wasserstein:
            raise ValueError("--wasserstein has no classes; it cannot be --semi_supervised")
        if self.semi_supervised and NUM_CLASSES[self.dataset] < 2:
            raise ValueError(f"{self.dataset} has no classes; it cannot be --semi_supervised")

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
        return NUM_CLASSES[self.dataset] if self.semi_supervised else 1

    @property
    def name(self) -> str:
        """A short label for tables and plots."""
        loss = "WGAN-GP" if self.wasserstein else "GAN"
        if self.ml:
            return f"{self.ml_ensemble} ML DCGAN{'s' if self.ml_ensemble > 1 else ''} ({loss})"
        return f"Bayesian {loss} J={self.numz} M={self.num_mcmc}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    "smoke": {"train_iter": 12, "burn_in": 8, "n_save": 6},
    "book": {"train_iter": 800, "burn_in": 560, "n_save": 200},
    "paper": {"train_iter": 30_000, "burn_in": 5000, "n_save": 1000},
}
SCORED_SAMPLES = {"smoke": 300, "book": 2000, "paper": 10_000}


def config_for(scale: str | None = None, **overrides: Any) -> BDCGANConfig:
    """The chapter's MNIST config at ``scale``, with any field overridden."""
    return replace(BDCGANConfig(**SCALE_SETTINGS[get_scale(scale)]), **overrides)


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


# --- networks -----------------------------------------------------------------


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
        was_training = self.training
        self.eval()
        out = [
            self.probs(images[i : i + batch].to(device)).argmax(1).cpu()
            for i in range(0, len(images), batch)
        ]
        self.train(was_training)
        return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


@torch.no_grad()
def sample_accuracies(
    classifier: BayesClassifier, images: torch.Tensor, labels: torch.Tensor
) -> list[float]:
    """Test accuracy of each discriminator sample alone (to compare with the average)."""
    classifier.check(images)
    was_training = classifier.training
    classifier.eval()
    device = classifier.D.stacked[0].device
    x = images.to(device)
    logits = classifier.D(x.expand(len(classifier.D), *x.shape))
    predicted = logits[..., 1:].argmax(-1).cpu()
    classifier.train(was_training)
    return (predicted == labels.cpu()).float().mean(1).tolist()


def build(config: dict[str, Any]) -> dict[str, nn.Module]:
    """Fresh stacked G and D (and the classifier when semi-supervised) for a config dict."""
    c = BDCGANConfig(**config)
    channels, size = SHAPES[c.dataset]
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


register("bayesian_dcgan", build, sources=("ganbook.dcgan", "ganbook.data"))


def load_classifier(path: str, device: str | torch.device | None = None) -> BayesClassifier:
    """Load a saved semi-supervised run in one call; ``.predict(images)`` gives classes."""
    checkpoint = load(path, device)
    if "classifier" not in checkpoint.models:
        raise ValueError(f"{path} holds an unsupervised model; it has no classifier")
    return checkpoint["classifier"]


# --- energies -----------------------------------------------------------------


def supervised_energy(logits: torch.Tensor, labels: torch.Tensor, scale: float) -> torch.Tensor:
    """``-scale * sum_l log p(y_l | x_l)`` per discriminator sample (shape (K_d,)).

    ``logits``: (K_d, n_l, K+1) on the labelled images; class y is logit y + 1.
    """
    log_p = F.log_softmax(logits, dim=-1)
    index = (labels + 1).view(1, -1, 1).expand(len(logits), -1, 1)
    return -scale * log_p.gather(-1, index).squeeze(-1).sum(1)


class ImagePosterior(bg.Posterior):
    """:class:`ganbook.bayesian_gan.Posterior` for BatchNorm networks, with two additions.

    Real and generated images go through D in separate calls, as in chapter 2:
    in one mixed batch, BatchNorm would let D tell them apart by batch
    statistics that G's step (generated images only) never shows it.
    ``pairwise`` (the ML ensemble): D_k sees only G_k's samples, and G_k is
    judged only by D_k, instead of every D seeing every G. ``labelled``
    (semi-supervised): the supervised term on a labelled batch.
    """

    def __init__(self, *args: Any, pairwise: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pairwise = pairwise

    def d_energy(
        self,
        D: bg.Stacked,
        real: torch.Tensor,
        fake: torch.Tensor,
        generator: torch.Generator | None = None,
        labelled: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """U_d per D sample; ``labelled`` = (images, labels) adds the supervised term."""
        n, k_d = real.shape[0], len(D)
        fakes = fake if self.pairwise else bg.pool_for_discriminators(fake, k_d)
        real_logits = D(real.expand(k_d, *real.shape))
        fake_logits = D(fakes)
        scale = 1 / n if self.ml else self.dataset_size / n
        if self.objective == "gan":
            energy = bg.discriminator_energy(real_logits, fake_logits, scale)
        else:
            energy = bg.critic_energy(real_logits[..., 0], fake_logits[..., 0], scale)
            if self.pairwise:
                penalty = pairwise_gradient_penalty(D, real, fake, generator)
            else:
                penalty = bg.gradient_penalty(D, real, fake, generator)
            energy = energy + scale * self.gp_weight * penalty
        if labelled is not None:
            x, y = labelled
            scale = 1 / len(y) if self.ml else self.dataset_size / len(y)
            energy = energy + supervised_energy(D(x.expand(k_d, *x.shape)), y, scale)
        return energy if self.ml else energy + bg.prior_energy(D, self.prior_std)

    def g_energy(self, G: bg.Stacked, D: bg.Stacked, fake: torch.Tensor) -> torch.Tensor:
        """U_g per G sample for its samples ``fake`` (K_g, n, ...)."""
        if not self.pairwise:
            return super().g_energy(G, D, fake)
        logits = D(fake).unsqueeze(0)  # one "discriminator" per generator: its own
        scale = 1 / fake.shape[1] if self.ml else self.gen_observed / fake.shape[1]
        if self.objective == "gan":
            energy = bg.generator_energy(logits, scale)
        else:
            energy = -scale * logits[..., 0].mean(0).sum(-1)
        return energy if self.ml else energy + bg.prior_energy(G, self.prior_std)


def pairwise_gradient_penalty(
    D: bg.Stacked, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """WGAN-GP's penalty for critic k between the real batch and generator k's samples."""
    k, n = fake.shape[:2]
    eps = torch.rand(k, n, *([1] * (real.dim() - 1)), generator=generator).to(real.device)
    x_hat = (eps * real.unsqueeze(0) + (1 - eps) * fake).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat)[..., 0].sum(), x_hat, create_graph=True)
    return (grad.flatten(2).norm(dim=2) - 1).pow(2).sum(1)


def posterior_for(config: BDCGANConfig, dataset_size: int) -> ImagePosterior:
    """The energies of a run on a training set of ``dataset_size`` images."""
    objective = "wasserstein" if config.wasserstein else "gan"
    return ImagePosterior(
        dataset_size,
        config.gen_observed,
        config.prior_std,
        ml=config.ml,
        objective=objective,
        gp_weight=config.gp_weight,
        pairwise=config.ml,
    )


# --- training -----------------------------------------------------------------


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """Images (N, H, W, C) from a data set class -> float (N, C, H, W) in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    if x.dtype == torch.uint8:
        return (x.float() - 127.5) / 127.5
    return x.float()


@torch.no_grad()
def generate(G: bg.Stacked, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` images from each generator sample (eval mode): shape (K, n, C, H, W), on the CPU."""
    z_dim = G._skeleton[0].z_dim
    z = sample_z(len(G), n, z_dim, torch.Generator().manual_seed(seed))
    was_training = G.training
    G.eval()
    images = G(z.to(G.stacked[0].device)).cpu()
    G.train(was_training)
    return images


def pooled(images: torch.Tensor) -> torch.Tensor:
    """(K, n, C, H, W) -> (K * n, C, H, W): the posterior mixture's samples."""
    return images.reshape(-1, *images.shape[2:])


@torch.no_grad()
def recalibrate_batchnorm(D: bg.Stacked, images: torch.Tensor, batch: int = 250) -> None:
    """Re-estimate every D sample's BatchNorm statistics on real ``images`` (N, C, H, W).

    During training the running averages mix real and generated batches; a
    test on real images then sees the wrong statistics (chapter 3 found the
    same). Here each sample's statistics become the average over ``images``:
    the running averages restart and batch b enters with weight 1 / (b + 1).
    """
    norms = [m for m in D._skeleton[0].modules() if isinstance(m, nn.BatchNorm2d)]
    if not norms:
        return
    _, buffers = D.state()
    for name, buffer in buffers.items():
        if name.endswith("running_mean") or name.endswith("num_batches_tracked"):
            buffer.zero_()
        elif name.endswith("running_var"):
            buffer.fill_(1.0)
    momenta = [bn.momentum for bn in norms]
    was_training = D.training
    D.train()
    device = D.stacked[0].device
    for b, i in enumerate(range(0, len(images), batch)):
        for bn in norms:
            bn.momentum = 1.0 / (b + 1)
        chunk = images[i : i + batch].to(device)
        D(chunk.expand(len(D), *chunk.shape))
    for bn, momentum in zip(norms, momenta, strict=True):
        bn.momentum = momentum
    D.train(was_training)


def test_accuracy(
    classifier: BayesClassifier,
    images: torch.Tensor,
    labels: torch.Tensor,
    calibration: torch.Tensor,
) -> float:
    """Held-out accuracy of the posterior-averaged prediction, BN re-estimated on a copy."""
    calibrated = copy.deepcopy(classifier)
    recalibrate_batchnorm(calibrated.D, calibration)
    return (calibrated.predict(images) == labels.cpu()).float().mean().item()


def calibration_images(images: torch.Tensor, count: int = CALIBRATION_IMAGES) -> torch.Tensor:
    """A fixed, evenly spaced selection of ``count`` training images for BN statistics."""
    return images[:: max(1, len(images) // count)][:count]


def labelled_subset(dataset: ImageData, count: int, seed: int) -> torch.Tensor:
    """Indices of ``count`` labelled training images, balanced over classes.

    Chapter 3's :func:`ganbook.ssgan.labelled_subset`: with the same seed it
    picks the same images, so the models compared learn from the same labels.
    """
    from ganbook.ssl.ssgan import labelled_subset as chapter3_subset

    labels = torch.from_numpy(dataset.labels.argmax(1))
    if count > len(labels):
        raise ValueError(f"-N {count} is larger than the {len(labels)} training images")
    if count % dataset.num_classes:
        raise ValueError(f"-N must be a multiple of the {dataset.num_classes} classes, got {count}")
    return chapter3_subset(labels, count, seed)


def _optimizers(
    G: bg.Stacked,
    D: bg.Stacked,
    config: BDCGANConfig,
    sampling: bool,
    n_data: int,
    generator: torch.Generator,
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """Adam or momentum SGD (SGHMC at temperature 0) before ``burn_in``, SGHMC after.

    SGHMC's eta is ``alpha * lr / N`` for D on U_d = N * mean loss (``N`` =
    gen_observed for G; 1 for the ML ensemble's plain mean losses). With
    friction alpha the velocity settles at ``-(eta / alpha) grad U``, so each
    step moves the weights by ``lr`` times the gradient of the mean loss.
    The synthetic experiment's ``eta = lr / N`` is ten times larger at alpha
    0.1; on the DCGAN that much heat undid what the burn-in had learned.
    """
    scale_d, scale_g = (1.0, 1.0) if config.ml else (n_data, config.gen_observed)
    if config.optimizer == "adam" and not sampling:
        betas = (0.5, 0.999)
        return (
            torch.optim.Adam(G.parameters(), lr=config.lr, betas=betas),
            torch.optim.Adam(D.parameters(), lr=config.lr, betas=betas),
        )
    temperature = 1.0 if sampling else 0.0
    eta = config.alpha * config.lr
    return (
        SGHMC(G.parameters(), eta / scale_g, config.alpha, temperature, generator),
        SGHMC(D.parameters(), eta / scale_d, config.alpha, temperature, generator),
    )


def train(
    config: BDCGANConfig,
    dataset: ImageData | None = None,
    device: str | torch.device | None = None,
    quiet: bool = False,
    on_save: Callable[[dict[str, Any], dict[str, nn.Module], torch.Tensor], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> Checkpoint:
    """Train the Bayesian DCGAN (or the ML ensemble) of ``config`` on ``dataset``.

    Each iteration: one step of every D sample on a real batch (and, when
    semi-supervised, a labelled batch from the fixed subset) and the samples
    of every generator; then one step of every G sample. Every ``n_save``
    iterations and at the end: G's images for fixed noise go into
    ``extra["samples"]``, the test accuracy (semi-supervised) into
    ``extra["evals"]``, ``on_save(entry, models, images)`` is called and
    ``log`` (e.g. ``print``) gets a progress line. The returned classifier
    keeps BatchNorm statistics re-estimated on real training images.
    """
    device = get_device(device)
    generator = seed_everything(config.seed)
    if dataset is None:
        dataset = load_dataset(config.dataset)
    channels, size = SHAPES[config.dataset]
    if dataset.x_dim != [size, size, channels]:
        raise ValueError(
            f"{config.dataset} images must be {size}x{size}x{channels}, "
            f"got {'x'.join(map(str, dataset.x_dim))}"
        )
    images = to_tensor(dataset.imgs)
    n_data = len(images)
    subset = (
        labelled_subset(dataset, config.labels, config.seed) if config.semi_supervised else None
    )
    test_x = to_tensor(dataset.test_imgs)
    train_y = torch.from_numpy(dataset.labels.argmax(1))
    test_y = torch.from_numpy(dataset.test_labels.argmax(1))
    calibration = calibration_images(images)
    models = {name: m.to(device) for name, m in build(config.to_dict()).items()}
    G, D = models["G"], models["D"]
    posterior = posterior_for(config, n_data)
    sampling = False
    opt_g, opt_d = _optimizers(G, D, config, sampling, n_data, generator)
    k_g, n = config.num_generators, config.batch_size
    fixed_z = sample_z(k_g, 16, config.z_dim, generator)
    entries, evals, samples = [], [], {}
    start = time.perf_counter()
    bar = progress(config.train_iter, config.name, disable=quiet)
    for t in range(config.train_iter):
        if not config.ml and t == config.burn_in:
            sampling = True
            opt_g, opt_d = _optimizers(G, D, config, sampling, n_data, generator)
        real = to_tensor(dataset.next_batch(n)[0]).to(device)
        labelled = None
        if subset is not None:
            pick = subset[torch.randint(len(subset), (min(n, len(subset)),), generator=generator)]
            labelled = (images[pick].to(device), train_y[pick].to(device))
        z = sample_z(k_g, n, config.z_dim, generator).to(device)
        with torch.no_grad():
            fake = G(z)
        u_d = posterior.d_energy(D, real, fake, generator, labelled)
        opt_d.zero_grad(set_to_none=True)
        u_d.sum().backward()
        opt_d.step()
        z = sample_z(k_g, n, config.z_dim, generator).to(device)
        u_g = bg.g_step(G, D, opt_g, posterior, z)
        entry = {
            "iteration": t + 1,
            "d_energy": u_d.detach().mean().item(),
            "g_energy": u_g.mean().item(),
            "phase": "sghmc" if sampling else ("ml" if config.ml else config.optimizer),
        }
        entries.append(entry)
        bar.update(1)
        if (t + 1) % config.n_save == 0 or t + 1 == config.train_iter:
            with torch.no_grad():
                G.eval()
                samples[t + 1] = G(fixed_z.to(device)).cpu()
                G.train()
            record = {**entry, "seconds": time.perf_counter() - start}
            if subset is not None:
                record["test_acc"] = test_accuracy(
                    models["classifier"], test_x, test_y, calibration
                )
            evals.append(record)
            if log is not None:
                log(progress_line(record))
            if on_save is not None:
                on_save(record, models, samples[t + 1])
    bar.close()
    if config.semi_supervised:
        recalibrate_batchnorm(D, calibration)
    for model in models.values():
        model.eval()
    extra = {
        "evals": evals,
        "samples": samples,
        "fixed_z": fixed_z,
        "subset": subset,
        "seconds": time.perf_counter() - start,
        "test_accuracy": evals[-1].get("test_acc"),
    }
    return Checkpoint("bayesian_dcgan", config.to_dict(), models, entries, extra)


def progress_line(record: dict[str, Any]) -> str:
    """One line of training progress: iteration, energies, phase, accuracy, time."""
    line = (
        f"iter {record['iteration']}: U_d {record['d_energy']:.4g}, U_g {record['g_energy']:.4g}"
        f" ({record['phase']}, {record['seconds']:.0f} s)"
    )
    if "test_acc" in record:
        line += f", test accuracy {record['test_acc']:.4f}"
    return line


def trained(
    config: BDCGANConfig,
    *,
    scale: str | None = None,
    device: str | torch.device | None = None,
    dataset: ImageData | None = None,
) -> Checkpoint:
    """The run of ``config`` at ``scale``, from the model cache when it is there.

    The key covers the config, the data set's description and the code of this
    chapter and of chapter 2's DCGAN, which its networks extend.
    """
    dataset = load_dataset(config.dataset) if dataset is None else dataset
    key = {**config.to_dict(), "data": repr(dataset)}
    return cached(
        "bayesian_dcgan",
        get_scale(scale),
        key,
        lambda: train(config, dataset, device, quiet=False),
        device,
        verbose=False,
    )
