"""Training one chapter 3 model and measuring its held-out accuracy.

The three CNNs (:data:`MODELS`): the 11-class GAN, the K-logit GAN and the
supervised-only baseline, the same network (K logits) trained by
cross-entropy on the labelled images. Salimans et al.'s MLP and its
supervised control (:data:`~ganbook.ssl.mlp.MLP_MODELS`) live in
:mod:`ganbook.ssl.mlp`; ``config_for``, ``build``, ``train`` and
``trained`` here take every model's name. The seed reports accuracy on training
batches (kept in the log as ``batch_acc``); here accuracy is measured on the
held-out test split, with D's batch-norm statistics re-estimated on real
images first (:func:`recalibrate_batchnorm`).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganbook.core.batchnorm import average_batch_statistics, calibration_images
from ganbook.core.checkpoint import Checkpoint, cached, config_key, load, of_type, register
from ganbook.core.config import Config, scaled
from ganbook.core.progress import progress
from ganbook.core.sampling import sample
from ganbook.core.settings import cache_dir, get_device, get_scale, seed_everything
from ganbook.data.mnist import load_mnist
from ganbook.ssl import mlp
from ganbook.ssl.labels import MASKS, Batches, labelled_subset
from ganbook.ssl.losses import D_LOSSES, G_LOSSES
from ganbook.ssl.mlp import MLP_MODELS, MLPConfig, MLPDiscriminator
from ganbook.ssl.models import (
    IMAGE_SIZE,
    IMAGE_SIZES,
    NUM_CLASSES,
    Classifier,
    Discriminator,
    Generator,
    resize,
)

#: The seed's 5 epochs of 60,000 digits in batches of 128 (5 x 60,000 / 128).
PAPER_STEPS = 2344
#: The three CNNs the chapter compares.
MODELS = ("eleven", "klogit", "supervised")


@dataclass(frozen=True)
class SSGANConfig(Config):
    """Everything that defines one run (defaults: the seed's own settings)."""

    model: str = "eleven"
    labels: int = 100
    mask: str = "separate"
    width: float = 1.0
    image_size: int = IMAGE_SIZE
    steps: int = PAPER_STEPS
    batch_size: int = 128
    labelled_batch: int = 32
    z_dim: int = 100
    keep_prob: float = 0.7
    lr: float = 2e-4
    beta1: float = 0.5
    eval_every: int = 500
    seed: int = 0
    label_seed: int = 0

    counts = ("labels", "steps", "batch_size", "labelled_batch", "z_dim", "eval_every")
    naturals = ("seed", "label_seed")
    positive = ("width", "keep_prob", "lr")
    choices = {"model": MODELS, "mask": MASKS, "image_size": IMAGE_SIZES}

    def check(self) -> None:
        if self.keep_prob > 1:
            raise ValueError(f"keep_prob must be at most 1, got {self.keep_prob}")


#: Per scale. ``paper`` is the seed's: full widths, 64x64, batch 128, Adam 2e-4,
#: its 5 epochs of full MNIST (:data:`PAPER_STEPS`). ``book`` fits a 2-core CPU: a
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
        "steps": PAPER_STEPS,
        "batch_size": 128,
        "labelled_batch": 32,
        "lr": 2e-4,
        "eval_every": 250,
    },
}


#: Per scale, for the MLP. ``paper`` is Salimans et al.'s run: 300 epochs of
#: 600 batches (full MNIST), weights averaged at rate 1e-4. ``book`` trains
#: 4,000 steps (100 passes over the 4,000-digit sample, what chapter 3b's
#: three seeds and their controls fit in its budget), so its weights are
#: averaged over a shorter window.
MLP_SETTINGS: dict[str, dict[str, Any]] = {
    "smoke": {
        "steps": 20,
        "batch_size": 50,
        "labelled_batch": 50,
        "init_images": 100,
        "average_rate": 0.05,
        "eval_every": 10,
    },
    "book": {"steps": 4000, "average_rate": 1e-3, "eval_every": 250},
    "paper": {},
}

Settings = SSGANConfig | MLPConfig


def config_for(scale: str | None = None, **overrides: Any) -> Settings:
    """The chapter 3 config at ``scale`` for ``model`` (default the seed's), fields overridden."""
    if overrides.get("model") in MLP_MODELS:
        return scaled(MLPConfig, MLP_SETTINGS, scale, **overrides)
    return scaled(SSGANConfig, SCALE_SETTINGS, scale, **overrides)


def build(config: dict[str, Any]) -> dict[str, nn.Module]:
    """The classifier (D inside) and, for the GANs, G (the checkpoint registry's builder)."""
    if config["model"] in MLP_MODELS:
        return mlp.build(config)
    eleven = config["model"] == "eleven"
    outputs = NUM_CLASSES + 1 if eleven else NUM_CLASSES
    size = config["image_size"]
    D = Discriminator(config["width"], outputs, config["keep_prob"], size)
    models: dict[str, nn.Module] = {"classifier": Classifier(D, fake_class=eleven)}
    if config["model"] != "supervised":
        models["G"] = Generator(config["width"], config["z_dim"], config["keep_prob"], size)
    return models


register(
    "ssgan",
    build,
    sources=(
        "ganbook.core.losses",
        "ganbook.core.batchnorm",
        "ganbook.core.sampling",
        "ganbook.data",
    ),
)


def accuracy(predicted: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of predictions equal to the labels."""
    return (predicted.cpu() == labels.cpu()).float().mean().item()


@torch.no_grad()
def recalibrate_batchnorm(
    D: Discriminator | MLPDiscriminator, images: torch.Tensor, batch: int = 250
) -> None:
    """Re-estimate D's BatchNorm statistics on real images (28x28 or 64x64, in [-1, 1]).

    During training the running averages also absorb the generated batches and,
    with TF1's momentum 0.99, lag behind the weights; a test then sees
    statistics of neither real nor current data. Here each BN layer's
    statistics become the plain average over ``images`` (dropout off).
    """
    norms = [m for m in D.modules() if isinstance(m, nn.BatchNorm2d)]
    device = next(D.parameters()).device
    was_training = D.training
    D.eval()
    for bn in norms:
        bn.reset_running_stats()
        bn.train()
    average_batch_statistics(
        norms, lambda chunk: D(resize(chunk, D.image_size).to(device)), images, batch
    )
    D.train(was_training)


def held_out_accuracy(
    classifier: Classifier, test_images: torch.Tensor, test_labels: torch.Tensor
) -> float:
    """Accuracy on held-out images (eval mode: no dropout, BN running statistics)."""
    return accuracy(classifier.predict(test_images), test_labels)


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
    config: Settings,
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
    recorded too (``test_acc_running``). An :class:`~ganbook.ssl.mlp.MLPConfig`
    trains Salimans et al.'s MLP instead (:func:`ganbook.ssl.mlp.train`).
    """
    if isinstance(config, MLPConfig):
        return mlp.train(config, data, test, device, quiet, bar)
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
    classifier = of_type(models["classifier"], Classifier)
    D, G = classifier.D, of_type(models["G"], Generator) if "G" in models else None
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
            assert G is not None and opt_g is not None  # every model but "supervised" has a G
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


def _cache_key(config: Settings) -> dict[str, Any]:
    return {**config.to_dict(), "data": load_mnist("train").source}


def is_cached(config: Settings, scale: str | None = None) -> bool:
    """Whether a model trained with ``config`` at ``scale`` is in the cache."""
    return (
        cache_dir() / f"{config_key('ssgan', get_scale(scale), _cache_key(config))}.pt"
    ).exists()


def trained(
    config: Settings,
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
    return load(path, device, kind="ssgan").model("classifier", Classifier)
