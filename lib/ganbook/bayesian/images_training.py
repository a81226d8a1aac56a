"""Training the Bayesian GAN on images: burn-in, then sampling with SGHMC.

Sampling: ``burn_in`` iterations of Adam (``optimizer="adam"``) or of momentum SGD
(``optimizer="sgd"``) on the energies, then SGHMC with friction ``alpha`` and
eta = alpha * lr / N for D, alpha * lr / gen_observed for G (so that the
velocity's steady step is ``lr`` times the gradient of the mean loss). The
original meant the same switch but rebuilt Adam at it.

A semi-supervised run is tested on held-out images with each D sample's
BatchNorm statistics re-estimated on real training images first
(:func:`recalibrate_batchnorm`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from ganbook.bayesian import posterior as bg
from ganbook.bayesian.images_model import BayesClassifier, BDCGANConfig, build
from ganbook.bayesian.images_posterior import posterior_for
from ganbook.bayesian.sghmc import SGHMC
from ganbook.core.batchnorm import average_batch_statistics, calibration_images
from ganbook.core.checkpoint import Checkpoint, cached, of_type
from ganbook.core.progress import progress
from ganbook.core.sampling import generate_stacked, sample_z
from ganbook.core.settings import get_device, get_scale, seed_everything
from ganbook.data import subsets
from ganbook.data.original import ImageData, load_original


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """Images (N, H, W, C) from a data set class -> float (N, C, H, W) in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    if x.dtype == torch.uint8:
        return (x.float() - 127.5) / 127.5
    return x.float()


@torch.no_grad()
def generate(G: bg.Stacked, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` images from each generator sample (eval mode): shape (K, n, C, H, W), on the CPU."""
    z_dim = cast(int, G.skeleton.z_dim)  # a plain attribute, unseen by nn.Module's stubs
    return generate_stacked(G, n, z_dim, torch.Generator().manual_seed(seed))


def pooled(images: torch.Tensor) -> torch.Tensor:
    """(K, n, C, H, W) -> (K * n, C, H, W): the posterior mixture's samples."""
    return images.reshape(-1, *images.shape[2:])


@torch.no_grad()
def recalibrate_batchnorm(D: bg.Stacked, images: torch.Tensor, batch: int = 250) -> None:
    """Re-estimate every D sample's BatchNorm statistics on real ``images`` (N, C, H, W).

    During training the running averages mix real and generated batches; a
    test on real images then sees the wrong statistics (chapter 3 found the
    same). Here each sample's statistics become the average over ``images``.
    """
    norms = [m for m in D.skeleton.modules() if isinstance(m, nn.BatchNorm2d)]
    if not norms:
        return
    _, buffers = D.state()
    for name, buffer in buffers.items():
        if name.endswith("running_mean") or name.endswith("num_batches_tracked"):
            buffer.zero_()
        elif name.endswith("running_var"):
            buffer.fill_(1.0)
    was_training = D.training
    D.train()
    device = D.stacked[0].device

    def forward(chunk: torch.Tensor) -> torch.Tensor:
        chunk = chunk.to(device)
        return D(chunk.expand(len(D), *chunk.shape))

    average_batch_statistics(norms, forward, images, batch)
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


@torch.no_grad()
def test_probs(
    classifier: BayesClassifier, images: torch.Tensor, calibration: torch.Tensor, batch: int = 500
) -> torch.Tensor:
    """Each D sample's p(class k | x) for the K real classes (K_d, N, K), BN re-estimated on a copy.

    Their mean over samples has the argmax of :class:`BayesClassifier`'s prediction.
    """
    calibrated = copy.deepcopy(classifier)
    recalibrate_batchnorm(calibrated.D, calibration)
    calibrated.eval()
    D = calibrated.D
    device = D.stacked[0].device
    out = []
    for i in range(0, len(images), batch):
        x = images[i : i + batch].to(device)
        out.append(torch.softmax(D(x.expand(len(D), *x.shape)), dim=-1)[..., 1:].cpu())
    return torch.cat(out, dim=1)


def labelled_subset(dataset: ImageData, count: int, seed: int) -> torch.Tensor:
    """Indices of ``count`` labelled training images, balanced over classes.

    The draw of :func:`ganbook.data.subsets.labelled_subset`, as in chapter 3:
    with the same seed it picks the same images, so the models compared learn
    from the same labels.
    """
    labels = torch.from_numpy(dataset.labels.argmax(1))
    if count > len(labels):
        raise ValueError(f"-N {count} is larger than the {len(labels)} training images")
    if count % dataset.num_classes:
        raise ValueError(f"-N must be a multiple of the {dataset.num_classes} classes, got {count}")
    return subsets.labelled_subset(labels, count, seed, dataset.num_classes)


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
    0.1: a larger step, which moves the chain faster (the target, exp(-U), is the
    same); on the DCGAN it undid in our trials much of what the burn-in had learned.
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
    ``log`` (e.g. ``print``) gets a progress line. Semi-supervised, every
    ``keep_every`` iterations of SGHMC, ``extra["chain"][iteration]`` keeps
    each D sample's test-set class probabilities (K_d, N_test, K): the chain's
    samples, for averaging along it. The returned classifier keeps BatchNorm
    statistics re-estimated on real training images.
    """
    device = get_device(device)
    generator = seed_everything(config.seed)
    if dataset is None:
        dataset = load_original(config.dataset)
    channels, size = config.image_shape
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
    G, D = of_type(models["G"], bg.Stacked), of_type(models["D"], bg.Stacked)
    posterior = posterior_for(config, n_data)
    sampling = False
    opt_g, opt_d = _optimizers(G, D, config, sampling, n_data, generator)
    k_g, n = config.num_generators, config.batch_size
    fixed_z = sample_z(k_g, 16, config.z_dim, generator)
    entries, evals, samples, chain = [], [], {}, {}
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
                    of_type(models["classifier"], BayesClassifier), test_x, test_y, calibration
                )
            evals.append(record)
            if log is not None:
                log(progress_line(record))
            if on_save is not None:
                on_save(record, models, samples[t + 1])
        if (
            subset is not None
            and sampling
            and config.keep_every
            and (t + 1) % config.keep_every == 0
        ):
            classifier = of_type(models["classifier"], BayesClassifier)
            chain[t + 1] = test_probs(classifier, test_x, calibration).half()
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
        "chain": chain,
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
    dataset = load_original(config.dataset) if dataset is None else dataset
    key = {**config.to_dict(), "data": repr(dataset)}
    return cached(
        "bayesian_dcgan",
        get_scale(scale),
        key,
        lambda: train(config, dataset, device, quiet=False),
        device,
        verbose=False,
    )
