"""Salimans et al.'s own MNIST model (2016), as their code builds and trains it.

Read beside ``mnist_svhn_cifar10/train_mnist_feature_matching.py`` and
``nn.py`` of openai/improved-gan. Pixels are in [0, 1] there; here the
networks take and give the book's [-1, 1] and work in [0, 1] inside.

D, an MLP with Gaussian noise and weight normalisation (``nn.DenseLayer``):

    x (784) + N(0, 0.3^2)
    -> WN 1000 ReLU + N(0, 0.5^2) -> WN 500 ReLU + N(0, 0.5^2)
    -> WN 250 ReLU + N(0, 0.5^2) -> WN 250 ReLU + N(0, 0.5^2)
    -> WN 250 ReLU = f(x), the features G matches   + N(0, 0.5^2)
    -> WN 10 logits (trainable scale, no ReLU)

each weight-normalised layer computing W = g theta / ||theta|| (per unit),
with g and the bias set from the data before training (:meth:`initialise`)
and g trained in the last layer only. G: z ~ U(0, 1)^100 -> 500 softplus ->
500 softplus (both batch-normalised, shift only) -> weight-normalised 784
sigmoid. Losses, with l(x) the 10 logits and the fake logit fixed at 0:

    L_lab = CE(softmax l(x_lab), y)
    L_unl = 0.5 E_x softplus(-lse l(x)) + 0.5 E_z softplus(lse l(G(z)))
    L_D = L_lab + unlabeled_weight L_unl
    L_G = mean_j (E_x f_j(x) - E_z f_j(G(z)))^2      (a fresh real batch and z)

Adam (lr 3e-3, beta1 0.5) for both, batches of 100 labelled, 100 unlabelled
and 100 generated images; the test uses D's weights averaged over training.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from ganbook.core.checkpoint import Checkpoint, of_type
from ganbook.core.config import Config
from ganbook.core.losses import feature_matching
from ganbook.core.progress import progress
from ganbook.core.settings import get_device, seed_everything
from ganbook.data.mnist import load_mnist
from ganbook.ssl.labels import labelled_subset
from ganbook.ssl.models import MNIST_SIZE, NUM_CLASSES, Classifier

ModuleT = TypeVar("ModuleT", bound=nn.Module)
#: The semi-supervised MLP and its supervised-only control (same D, labels only).
MLP_MODELS = ("mlp", "mlp-supervised")
PIXELS = MNIST_SIZE * MNIST_SIZE


@dataclass(frozen=True)
class MLPConfig(Config):
    """One run of the MLP (defaults: Salimans et al.'s code, 300 epochs of 60,000 digits)."""

    model: str = "mlp"
    labels: int = 100
    steps: int = 180_000
    batch_size: int = 100
    labelled_batch: int = 100
    z_dim: int = 100
    lr: float = 3e-3
    beta1: float = 0.5
    input_noise: float = 0.3
    hidden_noise: float = 0.5
    unlabeled_weight: float = 1.0
    init_images: int = 500
    average_rate: float = 1e-4
    eval_every: int = 600
    seed: int = 0
    label_seed: int = 0

    counts = (
        "labels",
        "steps",
        "batch_size",
        "labelled_batch",
        "z_dim",
        "init_images",
        "eval_every",
    )
    naturals = ("seed", "label_seed")
    positive = ("lr", "beta1", "input_noise", "hidden_noise", "average_rate")
    choices = {"model": MLP_MODELS}

    def check(self) -> None:
        if not self.beta1 < 1 or not self.average_rate <= 1:
            raise ValueError("beta1 must be below 1 and average_rate at most 1")
        if self.unlabeled_weight < 0:
            raise ValueError(f"unlabeled_weight must be at least 0, got {self.unlabeled_weight}")


class GaussianNoise(nn.Module):
    """Their ``GaussianNoiseLayer``: x + N(0, sigma^2) in training, x in evaluation."""

    def __init__(self, sigma: float):
        super().__init__()
        self.sigma = sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.sigma == 0:
            return x
        return x + self.sigma * torch.randn_like(x)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}"


class WNLinear(nn.Module):
    """A weight-normalised dense layer: y = x (g theta / ||theta||)^T + b, per unit.

    ``theta`` starts N(0, 0.1^2) and g at 1 (their ``nn.DenseLayer``);
    :meth:`initialise` then sets g and b from a batch so that each unit's
    output has mean 0 and standard deviation 1. ``train_scale=False`` keeps g
    where the initialisation put it (their hidden layers); ``eps`` is the
    1e-6 under the square root of their ``l2normalize`` (G's last layer).
    """

    def __init__(
        self,
        inputs: int,
        outputs: int,
        train_scale: bool = False,
        eps: float = 0.0,
        theta: torch.Tensor | None = None,
    ):
        super().__init__()
        self.theta = nn.Parameter(
            theta if theta is not None else 0.1 * torch.randn(outputs, inputs)
        )
        self.g: torch.Tensor
        if train_scale:
            self.g = nn.Parameter(torch.ones(outputs))
        else:  # set by the initialisation, then fixed: a buffer, not a parameter
            self.register_buffer("g", torch.ones(outputs))
        self.b = nn.Parameter(torch.zeros(outputs))
        self.eps = eps

    @property
    def weight(self) -> torch.Tensor:
        """W = g theta / ||theta||, each row (unit) of norm g."""
        norm = (self.eps + self.theta.pow(2).sum(1)).sqrt()
        return self.theta * (self.g / norm).unsqueeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.b)

    @torch.no_grad()
    def initialise(self, x: torch.Tensor) -> torch.Tensor:
        """Data-dependent init: g /= std, b = -mean / std of x W^T; returns the normalised x W^T."""
        activation = F.linear(x, self.weight)
        mean = activation.mean(0)
        std = (activation - mean).pow(2).mean(0).sqrt()
        self.g.div_(std)
        self.b.copy_(-mean / std)
        return (activation - mean) / std


class MLPDiscriminator(nn.Module):
    """Their D (see the module doc); ``forward`` returns (features f(x), 10 logits).

    Reads (N, 1, 28, 28) images in [-1, 1] and works on pixels in [0, 1], as
    their code does, so the input noise has their scale.
    """

    image_size = MNIST_SIZE
    widths = (1000, 500, 250, 250, 250)

    def __init__(self, input_noise: float = 0.3, hidden_noise: float = 0.5):
        super().__init__()
        sizes = (PIXELS, *self.widths)
        self.input_noise = GaussianNoise(input_noise)
        self.hidden = nn.ModuleList(WNLinear(a, b) for a, b in zip(sizes, sizes[1:], strict=False))
        self.noise = nn.ModuleList(GaussianNoise(hidden_noise) for _ in self.widths)
        self.out = WNLinear(self.widths[-1], NUM_CLASSES, train_scale=True)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """f(x): the last hidden layer's ReLU output, before its noise."""
        h = self.input_noise((x.flatten(1) + 1) / 2)
        for i, layer in enumerate(self.hidden):
            h = F.relu(layer(h))
            if i < len(self.hidden) - 1:
                h = self.noise[i](h)
        return h

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(x)
        return features, self.out(self.noise[-1](features))

    @torch.no_grad()
    def initialise(self, x: torch.Tensor) -> None:
        """Their data-dependent init: one pass over ``x`` (noise on), layer by layer."""
        h = self.input_noise((x.flatten(1) + 1) / 2)
        for layer, noise in zip(self.hidden, self.noise, strict=True):
            h = noise(F.relu(of_type(layer, WNLinear).initialise(h)))
        self.out.initialise(h)


class ShiftBatchNorm(nn.Module):
    """Their ``nn.batch_norm(..., g=None)``: batch statistics always, a learnt shift, no scale."""

    def __init__(self, features: int):
        super().__init__()
        self.norm = nn.BatchNorm1d(features, eps=1e-6, affine=False, track_running_stats=False)
        self.shift = nn.Parameter(torch.zeros(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x) + self.shift


class MLPGenerator(nn.Module):
    """Their G: z (N, 100) uniform in [0, 1) -> (N, 1, 28, 28) images in [-1, 1].

    Their BatchNorm always normalises with the batch's own statistics (its
    running averages are never used), so samples do too, in any mode.
    """

    def __init__(self, z_dim: int = 100):
        super().__init__()
        self.z_dim = z_dim
        self.net = nn.Sequential(
            nn.Linear(z_dim, 500, bias=False),  # Lasagne's default init: Glorot-uniform
            ShiftBatchNorm(500),
            nn.Softplus(),
            nn.Linear(500, 500, bias=False),
            ShiftBatchNorm(500),
            nn.Softplus(),
        )
        theta = nn.init.xavier_uniform_(torch.empty(PIXELS, 500))
        self.out = WNLinear(500, PIXELS, train_scale=True, eps=1e-6, theta=theta)
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                nn.init.xavier_uniform_(layer.weight)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        pixels = torch.sigmoid(self.out(self.net(z)))
        return (2 * pixels - 1).view(-1, 1, MNIST_SIZE, MNIST_SIZE)

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Their z: uniform in [0, 1), shape (n, z_dim), on the CPU."""
        return torch.rand(n, self.z_dim, generator=generator)


def salimans_d_loss(
    lab_logits: torch.Tensor,
    labels: torch.Tensor,
    unl_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    unlabeled_weight: float = 1.0,
) -> dict[str, torch.Tensor]:
    """Their ``loss_lab + unlabeled_weight * loss_unl`` (fake logit fixed at 0).

    ``loss_unl = -0.5 mean(lse_unl) + 0.5 mean(softplus(lse_unl))
    + 0.5 mean(softplus(lse_fake))``, with lse the logsumexp of the 10 logits;
    the first two terms are 0.5 mean(softplus(-lse_unl)), written so here.
    """
    lab = F.cross_entropy(lab_logits, labels)
    real = 0.5 * F.softplus(-unl_logits.logsumexp(1)).mean()
    fake = 0.5 * F.softplus(fake_logits.logsumexp(1)).mean()
    unl = real + fake
    return {
        "d_loss": lab + unlabeled_weight * unl,
        "d_sup": lab,
        "d_unl": unl,
        "d_real": real,
        "d_fake": fake,
    }


class WeightAverage:
    """Their test-time weights: avg <- avg + rate (theta - avg) after each step, from 0.

    Divided by 1 - (1 - rate)^t (as Adam corrects its moments) so that a short
    run is not pulled towards 0; after their 180,000 steps at rate 1e-4 the
    correction is 1 to within e^-18. Buffers (the fixed scales) are copied.
    """

    def __init__(self, model: nn.Module, rate: float):
        self.rate, self.steps = rate, 0
        self.sums = {n: torch.zeros_like(p) for n, p in model.named_parameters()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One step of the running average."""
        self.steps += 1
        for name, p in model.named_parameters():
            if name in self.sums:
                self.sums[name].lerp_(p, self.rate)

    @torch.no_grad()
    def averaged(self, model: ModuleT) -> ModuleT:
        """A copy of ``model`` with the averaged weights."""
        copied = copy.deepcopy(model)
        correction = 1 - (1 - self.rate) ** self.steps if self.steps else 1.0
        for name, p in copied.named_parameters():
            if name in self.sums and self.steps:
                p.copy_(self.sums[name] / correction)
        return copied


class Adam(torch.optim.Optimizer):
    """Their ``nn.adam_updates``: Adam with the 1e-8 *inside* the square root.

    theta <- theta - lr m_hat / sqrt(v_hat + 1e-8). PyTorch's Adam divides by
    sqrt(v_hat) + eps instead, which moves a weight whose gradients are tiny
    (below 1e-4) by a full step of about lr; here such a weight barely moves.
    """

    def __init__(self, params: Any, lr: float, betas: tuple[float, float] = (0.9, 0.999)):
        super().__init__(params, {"lr": lr, "betas": betas})

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        """One update of every parameter that has a gradient."""
        for group in self.param_groups:
            mom1, mom2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["t"] = 0
                    state["m"] = torch.zeros_like(p)
                    state["v"] = torch.zeros_like(p)
                state["t"] += 1
                t, m, v = state["t"], state["m"], state["v"]
                m.mul_(mom1).add_(p.grad, alpha=1 - mom1)
                v.mul_(mom2).addcmul_(p.grad, p.grad, value=1 - mom2)
                denominator = (v / (1 - mom2**t)).add_(1e-8).sqrt_()
                p.addcdiv_(m, denominator, value=-group["lr"] / (1 - mom1**t))


class Stream:
    """Index batches from successive random permutations (their shuffled epochs)."""

    def __init__(self, indices: torch.Tensor, batch: int, generator: torch.Generator):
        self.indices, self.batch, self.generator = indices, batch, generator
        self.queue = indices[:0]

    def __call__(self) -> torch.Tensor:
        while len(self.queue) < self.batch:
            order = torch.randperm(len(self.indices), generator=self.generator)
            self.queue = torch.cat([self.queue, self.indices[order]])
        out, self.queue = self.queue[: self.batch], self.queue[self.batch :]
        return out


def build(config: dict[str, Any]) -> dict[str, nn.Module]:
    """The classifier (D inside) and, for ``mlp``, G."""
    D = MLPDiscriminator(config["input_noise"], config["hidden_noise"])
    models: dict[str, nn.Module] = {"classifier": Classifier(D, fake_class=False)}
    if config["model"] == "mlp":
        models["G"] = MLPGenerator(config["z_dim"])
    return models


def train(
    config: MLPConfig,
    data: tuple[torch.Tensor, torch.Tensor] | None = None,
    test: tuple[torch.Tensor, torch.Tensor] | None = None,
    device: str | torch.device | None = None,
    quiet: bool = False,
    bar: Any = None,
) -> Checkpoint:
    """Train the MLP (or its supervised control) as their code does; return the checkpoint.

    Each step: D takes an Adam step on a labelled batch, an unlabelled batch
    (drawn from all training images) and a generated batch; then G takes one
    on a fresh z and a second, separate unlabelled batch. The saved classifier
    holds the averaged weights (:class:`WeightAverage`); ``extra["eval"]``
    has the test accuracy with them (``test_acc``) and with the current
    weights (``test_acc_raw``) every ``eval_every`` steps.
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
    subset = labelled_subset(labels, config.labels, config.label_seed)
    everything = torch.arange(len(labels))
    labelled = Stream(subset, config.labelled_batch, generator)
    unlabelled = Stream(everything, config.batch_size, generator)
    unlabelled_g = Stream(everything, config.batch_size, generator)
    models = {name: m.to(device) for name, m in build(config.to_dict()).items()}
    classifier = of_type(models["classifier"], Classifier)
    D, G = of_type(classifier.D, MLPDiscriminator), models.get("G")
    first = torch.randperm(len(labels), generator=generator)[: config.init_images]
    D.train()
    D.initialise(images[first].to(device))
    average = WeightAverage(classifier, config.average_rate)
    betas = (config.beta1, 0.999)
    opt_d = Adam(D.parameters(), config.lr, betas)
    opt_g = Adam(G.parameters(), config.lr, betas) if G is not None else None
    fixed_z = G.noise(25, generator) if isinstance(G, MLPGenerator) else None
    own_bar = bar is None
    if own_bar:
        bar = progress(config.steps, f"training {config.model}", disable=quiet)
    log, evals = [], []
    start = time.perf_counter()
    for step in range(config.steps + 1):
        if step % config.eval_every == 0 or step == config.steps:
            evals.append({"step": step, **_evaluate(classifier, average, test)})
        if step == config.steps:
            break
        lab = labelled()
        x_lab, y_lab = images[lab].to(device), labels[lab].to(device)
        if G is None:
            _, lab_logits = D(x_lab)
            d_losses = {"d_loss": F.cross_entropy(lab_logits, y_lab)}
            d_losses["d_sup"] = d_losses["d_loss"]
            opt_d.zero_grad(set_to_none=True)
            d_losses["d_loss"].backward()
            opt_d.step()
            g_losses: dict[str, torch.Tensor] = {}
        else:
            assert isinstance(G, MLPGenerator) and opt_g is not None
            d_losses, g_losses = _gan_step(
                D,
                G,
                opt_d,
                opt_g,
                x_lab,
                y_lab,
                config,
                generator,
                images[unlabelled()].to(device),
                images[unlabelled_g()].to(device),
            )
        average.update(classifier)
        entry = {k: v.item() for k, v in {**d_losses, **g_losses}.items()}
        log.append({"step": step, **entry})
        bar.update(1)
    if own_bar:
        bar.close()
    models["classifier"] = average.averaged(classifier)
    for model in models.values():
        model.eval()
    samples = {}
    if isinstance(G, MLPGenerator) and fixed_z is not None:
        with torch.no_grad():
            samples[config.steps] = G(fixed_z.to(device)).cpu()
    extra = {
        "eval": evals,
        "samples": samples,
        "fixed_z": fixed_z,
        "subset": subset,
        "labels_seen": len(subset),
        "test_accuracy": evals[-1]["test_acc"],
        "test_accuracy_raw": evals[-1]["test_acc_raw"],
        "seconds": time.perf_counter() - start,
    }
    return Checkpoint("ssgan", config.to_dict(), models, log, extra)


def _gan_step(
    D: MLPDiscriminator,
    G: MLPGenerator,
    opt_d: torch.optim.Optimizer,
    opt_g: torch.optim.Optimizer,
    x_lab: torch.Tensor,
    y_lab: torch.Tensor,
    config: MLPConfig,
    generator: torch.Generator,
    x_unl: torch.Tensor,
    x_unl_g: torch.Tensor,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Their ``train_batch_disc`` then ``train_batch_gen``, each with its own z."""
    device = x_lab.device
    z = G.noise(config.batch_size, generator).to(device)
    with torch.no_grad():
        fake = G(z)
    # One pass over the three batches: D has no batch statistics and draws its
    # noise per image, so this is their three passes, with less overhead.
    _, logits = D(torch.cat([x_lab, x_unl, fake]))
    lab_logits, unl_logits, fake_logits = logits.split([len(x_lab), len(x_unl), len(fake)])
    d_losses = salimans_d_loss(lab_logits, y_lab, unl_logits, fake_logits, config.unlabeled_weight)
    opt_d.zero_grad(set_to_none=True)
    d_losses["d_loss"].backward()
    opt_d.step()

    z = G.noise(config.batch_size, generator).to(device)
    with torch.no_grad():
        real_features = D.features(x_unl_g)
    D.requires_grad_(False)
    matching = feature_matching(real_features, D.features(G(z)), reduction="mean")
    opt_g.zero_grad(set_to_none=True)
    matching.backward()
    opt_g.step()
    D.requires_grad_(True)
    return d_losses, {"g_loss": matching}


def _evaluate(
    classifier: Classifier, average: WeightAverage, test: tuple[torch.Tensor, torch.Tensor]
) -> dict[str, float]:
    images, labels = test
    averaged = average.averaged(classifier)
    return {
        "test_acc": (averaged.predict(images) == labels).float().mean().item(),
        "test_acc_raw": (classifier.predict(images) == labels).float().mean().item(),
    }
