"""Sample quality measured with a small MNIST classifier, for every chapter.

The Inception score and Fréchet Inception distance judge images through a
network trained on ImageNet; for MNIST a small CNN trained on the digits does
the same job better and needs no download. From its outputs:

* the **class histogram** of generated digits: which digits G makes, and so
  how many modes it covers. Only images the classifier is confident about
  (largest class probability at least :data:`CONFIDENT`) count towards a
  class; the rest are reported as ``unsure``, so that noise, which the
  classifier also sends to some class, is not counted as a mode;
* the **classifier Inception score** exp(E_x KL(p(y|x) || p(y))): high when each
  image is clearly one digit (sharp p(y|x)) and all digits appear (flat p(y));
  10 at most;
* the **Fréchet distance** between Gaussians fitted to the classifier's
  penultimate features of generated and of real training images:
  ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2)); 0 for the same law.

The real test images' own scores are the reference line a generator aims at.

One convention holds for the whole book: FID and IS are always computed on
the same number of images, :data:`SAMPLES` for the scale (the Fréchet distance
is biased upwards by a small sample, and the Inception score moves with it
too), and the real-data row is the first that many test digits, scored the
same way. :meth:`Evaluator.scores` refuses any other number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg
from torch import nn

from ganbook.core.checkpoint import Checkpoint, cached, register
from ganbook.core.progress import progress
from ganbook.core.sampling import eval_mode, generate
from ganbook.core.settings import cache_dir, get_device, get_scale, seed_everything
from ganbook.data.mnist import load_mnist

#: Epochs of classifier training per scale.
CLASSIFIER_EPOCHS = {"smoke": 2, "book": 12, "paper": 5}
#: The share of samples a class needs to count as covered (a fifth of uniform).
COVERED_SHARE = 0.02
#: An image counts towards a class only if the classifier gives it at least this probability.
CONFIDENT = 0.9
#: Images every FID and IS of the book is computed on, per scale (real and generated alike).
SAMPLES = {"smoke": 1000, "book": 1000, "paper": 10_000}


class DigitClassifier(nn.Module):
    """Two conv-pool blocks and a 128-unit feature layer: ~99% on full MNIST."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 128),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(128, 10))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 128 penultimate features used by the Fréchet distance."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def build_classifier(config: dict[str, Any]) -> dict[str, nn.Module]:
    """The checkpoint registry's builder for the classifier."""
    return {"classifier": DigitClassifier()}


register("classifier", build_classifier, sources=("ganbook.data.mnist",))


def train_classifier(
    epochs: int, seed: int = 0, device: str | torch.device | None = None
) -> Checkpoint:
    """Train the digit classifier on the MNIST training split; log test accuracy."""
    device = get_device(device)
    generator = seed_everything(seed)
    train_set, test_set = load_mnist("train"), load_mnist("test")
    model = DigitClassifier().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = 64
    steps = epochs * (len(train_set) // batch)
    bar = progress(steps, "training the digit classifier")
    log = []
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(train_set), generator=generator)
        for i in range(len(train_set) // batch):
            idx = order[i * batch : (i + 1) * batch]
            x = _jitter(train_set.images[idx], generator).to(device)
            loss = F.cross_entropy(model(x), train_set.labels[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            bar.update(1)
        acc = (predict(model, test_set.images) == test_set.labels).float().mean().item()
        log.append({"epoch": epoch + 1, "loss": loss.item(), "test_accuracy": acc})
    bar.close()
    model.eval()
    config = {"epochs": epochs, "seed": seed, "data": train_set.source}
    return Checkpoint("classifier", config, {"classifier": model}, log)


def _jitter(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by up to 2 pixels: cheap augmentation for a small train set."""
    padded = F.pad(x, (2, 2, 2, 2), value=-1.0)
    dx, dy = torch.randint(0, 5, (2,), generator=generator).tolist()
    return padded[..., dy : dy + 28, dx : dx + 28]


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """Predicted class of each image (on the CPU)."""
    return _batched(model, lambda x: model(x).argmax(1), images, batch)


@torch.no_grad()
def _batched(
    model: nn.Module,
    fn: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    batch: int = 1000,
) -> torch.Tensor:
    """``fn`` over ``images`` in chunks on ``model``'s device, in eval mode, on the CPU."""
    device = _device(model)
    with eval_mode(model):
        out = [fn(images[i : i + batch].to(device)).cpu() for i in range(0, len(images), batch)]
    return torch.cat(out)


def inception_score(probs: np.ndarray) -> float:
    """exp(E_x KL(p(y|x) || p(y))) from an (N, classes) array of class probabilities."""
    probs = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    marginal = probs.mean(axis=0, keepdims=True)
    kl = (probs * (np.log(probs) - np.log(marginal))).sum(axis=1)
    return float(np.exp(kl.mean()))


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of an (N, d) feature array."""
    features = np.asarray(features, dtype=np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(
    stats_a: tuple[np.ndarray, np.ndarray], stats_b: tuple[np.ndarray, np.ndarray]
) -> float:
    """Fréchet distance between Gaussians N(mu_a, S_a) and N(mu_b, S_b).

    Tr (S_a S_b)^(1/2) is computed as the sum of square roots of the eigenvalues
    of the symmetric S_a^(1/2) S_b S_a^(1/2), which stays real and stable when a
    covariance is singular (dead ReLU features).
    """
    mu_a, cov_a = stats_a
    mu_b, cov_b = stats_b
    root_a = _psd_sqrt(cov_a)
    cross = np.sqrt(np.clip(linalg.eigvalsh(root_a @ cov_b @ root_a), 0, None)).sum()
    value = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross
    return float(max(value, 0.0))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def class_histogram(labels: torch.Tensor | np.ndarray, classes: int = 10) -> np.ndarray:
    """Share of each class among predicted labels (sums to 1)."""
    counts = np.bincount(np.asarray(labels), minlength=classes)
    return counts / max(counts.sum(), 1)


def confident_histogram(probs: np.ndarray, threshold: float = CONFIDENT) -> np.ndarray:
    """Share of all images confidently in each class, from (N, classes) probabilities.

    An image counts towards its most probable class only if that probability
    is at least ``threshold``; the shares sum to 1 minus the unsure share.
    """
    probs = np.asarray(probs)
    confident = probs.max(axis=1) >= threshold
    counts = np.bincount(probs.argmax(axis=1)[confident], minlength=probs.shape[1])
    return counts / max(len(probs), 1)


@dataclass
class Evaluator:
    """Scores images against the real training digits with a trained classifier."""

    classifier: DigitClassifier
    reference: tuple[np.ndarray, np.ndarray]
    test_accuracy: float
    source: str
    #: The number of images FID and IS are computed on (:data:`SAMPLES` of the scale).
    samples: int = 1000

    @torch.no_grad()
    def outputs(self, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities and 128-d features of ``images`` in [-1, 1]."""
        images = images.clamp(-1, 1)
        features = _batched(self.classifier, self.classifier.features, images)
        probs = F.softmax(self.classifier.head(features.to(_device(self.classifier))), 1)
        return probs.cpu().numpy(), features.numpy()

    def histogram(self, images: torch.Tensor) -> np.ndarray:
        """Share of ``images`` confidently in each digit class; ``1 - sum`` are unsure."""
        probs, _ = self.outputs(images)
        return confident_histogram(probs)

    def scores(self, images: torch.Tensor) -> dict[str, float]:
        """IS and FID of exactly :attr:`samples` images, with their class coverage.

        ``classes``: classes that at least :data:`COVERED_SHARE` of the images
        are confidently in; ``max_share``: the largest such share; ``unsure``:
        the share of images the classifier is not confident about.
        """
        if len(images) != self.samples:
            raise ValueError(
                f"the book computes FID and IS on {self.samples:,} images (both are biased "
                f"by the sample size, so other sizes would not compare); got {len(images):,}"
            )
        probs, features = self.outputs(images)
        shares = confident_histogram(probs)
        return {
            "IS": inception_score(probs),
            "FID": frechet_distance(gaussian_stats(features), self.reference),
            "classes": int((shares >= COVERED_SHARE).sum()),
            "max_share": float(shares.max()),
            "unsure": float(1 - shares.sum()),
        }

    def real_images(self) -> torch.Tensor:
        """The first :attr:`samples` test digits: the real data's row of every table."""
        test = load_mnist("test").images
        if len(test) < self.samples:
            raise ValueError(
                f"the test split has {len(test):,} digits, fewer than {self.samples:,}"
            )
        return test[: self.samples]

    def real_scores(self) -> dict[str, float]:
        """The scores of :meth:`real_images`: the reference line for generators."""
        return self.scores(self.real_images())


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


_EVALUATORS: dict[tuple, Evaluator] = {}


def get_evaluator(scale: str | None = None, device: str | torch.device | None = None) -> Evaluator:
    """The evaluator for ``scale``: its classifier is trained once, then cached.

    Within one process the evaluator is also kept in memory, so the many
    training runs of a chapter share it.
    """
    scale = get_scale(scale)
    device = get_device(device)
    train_set = load_mnist("train")
    epochs = CLASSIFIER_EPOCHS[scale]
    key = {"epochs": epochs, "seed": 0, "data": train_set.source}
    memo = (scale, str(device), str(cache_dir()), train_set.source)
    if memo not in _EVALUATORS:
        checkpoint = cached(
            "classifier", scale, key, lambda: train_classifier(epochs, device=device), device
        )
        classifier = checkpoint.model("classifier", DigitClassifier)
        features = _batched(classifier, classifier.features, train_set.images).numpy()
        _EVALUATORS[memo] = Evaluator(
            classifier,
            gaussian_stats(features),
            checkpoint.log[-1]["test_accuracy"],
            train_set.source,
            SAMPLES[scale],
        )
    return _EVALUATORS[memo]


#: The seed of the noise for the images scored every ``sample_every`` steps while a GAN trains.
MONITOR_SEED = 12345

Trainer = Callable[..., Checkpoint]


def trained_monitored(
    kind: str,
    config: Any,
    train: Trainer,
    scale: str | None = None,
    device: str | torch.device | None = None,
) -> Checkpoint:
    """``train(config, device=..., monitor=...)`` through the model cache, scored as it trains.

    ``monitor(G)`` gives the evaluator's scores of the book's standard number of
    images (:data:`SAMPLES`) for fixed noise; the cache key covers the config,
    the data source and that number. Chapters 1 and 2 train their MNIST GANs
    this way.
    """
    scale = get_scale(scale)
    evaluator = get_evaluator(scale, device)
    key = {**config.to_dict(), "data": evaluator.source, "monitor": evaluator.samples}

    def monitor(G: nn.Module) -> dict[str, float]:
        return evaluator.scores(generate(G, evaluator.samples, seed=MONITOR_SEED))

    return cached(kind, scale, key, lambda: train(config, device=device, monitor=monitor), device)
