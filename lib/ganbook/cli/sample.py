"""Draw better samples from any saved GAN with its own discriminator (chapter 5).

    ganbook-sample runs/dcgan --method mh --calibrate isotonic -K 640 -n 64 --out mh.png
    ganbook-sample runs/grid25 --method drs --refine 3000 -n 10000 --out drs.npy

``MODEL_DIR`` is a folder written by ``ganbook-train`` or
``bayesian_gan_hmc`` (or a ``model.pt`` in it); a Bayesian
GAN proposes from all its generators and scores with its averaged
discriminators. Methods: ``gan`` (G's samples as they are), ``drs``
(discriminator rejection sampling; ``--gamma none`` for the exact rule) and
``mh`` (the MH-GAN independence sampler, K proposals per sample).
``--calibrate isotonic`` first calibrates D on held-out real data: the MNIST
test digits, the test split of CIFAR-10 or SVHN (``--data-path``), or fresh
points of a toy mixture. Images are written as a PNG grid, points (or images)
as ``.npy``.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import numpy as np
import torch

from ganbook import selection as mhgan
from ganbook.bayesian.posterior import Stacked
from ganbook.cli.common import (
    CommandError,
    OutputFile,
    Parser,
    output_path,
    positive_int,
    run,
    seed,
)
from ganbook.core import checkpoint
from ganbook.core.settings import get_device

#: Kinds with a generator G and a one-logit discriminator D.
SUPPORTED = ("gan", "dcgan", "toy", "bayesian_dcgan")
METHODS = ("gan", "drs", "mh")
#: Where D's BatchNorm statistics come from: held-out real data, or training's averages.
BATCHNORM = ("real", "saved")


def held_out_real(
    ckpt: checkpoint.Checkpoint, n: int, data_path: Path | None = None
) -> torch.Tensor:
    """Up to ``n`` real samples the model never trained on, for its kind."""
    if ckpt.kind == "toy":
        from ganbook.selection.toys import held_out

        return held_out(ckpt.config, n)
    dataset = ckpt.config.get("dataset", "mnist")
    if ckpt.kind == "bayesian_dcgan" and dataset != "mnist":
        from ganbook.bayesian.images import to_tensor
        from ganbook.data.original import load_original

        return to_tensor(load_original(dataset, data_path).test_imgs[:n])
    if dataset == "mnist":
        from ganbook.data.mnist import load_mnist

        return load_mnist("test").images[:n]
    from ganbook.data.images import load_dataset

    if dataset == "celeba":
        return load_dataset(dataset, data_path, limit=n).images
    return load_dataset(dataset, data_path, split="test").images[:n]


def select(
    ckpt: checkpoint.Checkpoint,
    method: str,
    n: int,
    K: int = 640,
    calibrate: str = "none",
    gamma: float | None = 95.0,
    n_real: int = 1000,
    seed: int = 0,
    data_path: Path | None = None,
    batchnorm: str = "real",
    refine: int = 0,
) -> mhgan.Selection:
    """``n`` samples of ``ckpt``'s generator picked by ``method`` with its discriminator.

    ``batchnorm="real"`` (the default) first re-estimates the BatchNorm
    statistics of a single D on the ``n_real`` held-out real samples
    (:func:`~ganbook.selection.with_real_statistics`); ``"saved"`` scores with
    the running averages that training left. A Bayesian GAN's discriminator
    samples keep theirs. ``refine`` > 0 (toy mixtures only) first trains a
    copy of D that many more steps against the frozen G on fresh points
    (:func:`~ganbook.selection.refine_discriminator`), bringing it closer to D*.
    """
    if ckpt.kind not in SUPPORTED:
        raise ValueError(
            f"model kind {ckpt.kind!r} has no single generator with a real/fake discriminator; "
            f"supported: {', '.join(SUPPORTED)}"
        )
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if calibrate not in ("none", "isotonic"):
        raise ValueError(f"calibrate must be none or isotonic, got {calibrate!r}")
    if refine and ckpt.kind != "toy":
        raise ValueError(f"refine applies to the toy mixtures' models, not {ckpt.kind!r}")
    if batchnorm not in BATCHNORM:
        raise ValueError(f"batchnorm must be one of {', '.join(BATCHNORM)}, got {batchnorm!r}")
    if ckpt.config.get("wasserstein"):
        raise ValueError("a Wasserstein critic's score is not a probability, which selectors need")
    generator = torch.Generator().manual_seed(seed)
    G, D = ckpt["G"], ckpt["D"]
    # loaded once, when first needed: BatchNorm statistics, calibration, chain starts
    real = functools.cache(lambda: held_out_real(ckpt, n_real, data_path))
    if ckpt.kind == "bayesian_dcgan":
        stacked_d = ckpt.model("D", Stacked)
        propose = mhgan.posterior_proposer(ckpt.model("G", Stacked), stacked_d, generator=generator)

        def score(x: torch.Tensor) -> torch.Tensor:
            return mhgan.posterior_logit(stacked_d, x)
    else:
        if batchnorm == "real" and method != "gan":
            D = mhgan.with_real_statistics(D, real())
        if refine and method != "gan":
            from ganbook.selection.toys import fresh_real

            D = mhgan.refine_discriminator(G, D, fresh_real(ckpt.config, 100_000), steps=refine)
        propose = mhgan.gan_proposer(G, D, generator=generator)

        def score(x: torch.Tensor) -> torch.Tensor:
            return mhgan.logits_of(D, x)

    if method == "gan":
        return mhgan.Selection(propose(n)[0], n)
    if method == "drs" and calibrate == "none":
        return mhgan.drs(propose, n, gamma_percentile=gamma, generator=generator)
    # Held-out real samples' scores: what the calibrator fits, where the chains start.
    real_logits = score(real())
    if calibrate == "isotonic":
        calibrator, _ = mhgan.fit_calibrator(propose, real_logits)
        propose = mhgan.calibrated(propose, calibrator)
        real_logits = calibrator(real_logits)
    if method == "drs":
        return mhgan.drs(propose, n, gamma_percentile=gamma, generator=generator)
    # Each chain starts from one real sample's score; with fewer real samples
    # than chains, the scores are drawn with replacement.
    pick = torch.randint(len(real_logits), (n,), generator=generator)
    init = real_logits[:n] if len(real_logits) >= n else real_logits[pick]
    return mhgan.mh_select(propose, n, K, init, generator)


def write(samples: torch.Tensor, path: Path) -> None:
    """Images as a PNG grid, or any samples as ``.npy``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        np.save(path, samples.numpy())
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ganbook.core.plots import image_grid

    grid = image_grid(samples, nrow=max(1, round(len(samples) ** 0.5)))
    plt.imsave(path, grid.squeeze(-1) if grid.shape[-1] == 1 else grid, cmap="gray")


def _percentile(text: str) -> float | None:
    if text.lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentile or none, got {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    """The command line's argument parser."""
    p = Parser(
        prog="ganbook-sample",
        description="Pick samples of a saved GAN with its discriminator (DRS or MH-GAN).",
    )
    p.add_argument(
        "model", type=Path, help="folder with model.pt (from ganbook-train), or the file"
    )
    p.add_argument("--method", choices=METHODS, default="mh", help="selector (default mh)")
    p.add_argument(
        "--calibrate", choices=("none", "isotonic"), default="none", help="calibrate D first"
    )
    p.add_argument("-K", type=positive_int, default=640, help="MH proposals per sample (640)")
    p.add_argument("-n", type=positive_int, default=64, help="samples to write (64)")
    p.add_argument(
        "--gamma", type=_percentile, default=95.0, help="DRS: percentile for gamma, or none (95)"
    )
    p.add_argument(
        "--batchnorm",
        choices=BATCHNORM,
        default="real",
        help="D's BatchNorm statistics: re-estimated on the held-out real data, or as saved",
    )
    p.add_argument(
        "--refine",
        type=positive_int,
        default=0,
        help="toy mixtures: train D this many more steps against the frozen G first",
    )
    p.add_argument("--real", type=positive_int, default=1000, help="held-out real samples (1000)")
    p.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    p.add_argument(
        "--out", type=output_path, required=True, help="output file: .png (images) or .npy"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--data-path", type=Path, help="folder of CIFAR-10, SVHN or CelebA")
    p.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return run("ganbook-sample", lambda: _main(args))


def _main(args: argparse.Namespace) -> int:
    path = args.model / "model.pt" if args.model.is_dir() else args.model
    if args.out.suffix not in (".png", ".npy"):
        raise CommandError(f"--out must end in .png or .npy, got {args.out.name}")
    if args.method == "gan" and args.calibrate != "none":
        raise CommandError("--calibrate applies to drs and mh; --method gan selects nothing")
    if not path.is_file():
        raise CommandError(f"no model at {path}: give a folder written by ganbook-train")
    out = OutputFile(args.out, "--out", args.overwrite)
    out.check()
    device = get_device(args.device)
    ckpt = checkpoint.load(path, device)
    result = select(
        ckpt,
        args.method,
        args.n,
        args.K,
        args.calibrate,
        args.gamma,
        args.real,
        args.seed,
        args.data_path,
        args.batchnorm,
        args.refine,
    )
    if len(result) < args.n:
        raise CommandError(
            f"{args.method} kept {len(result)} samples of the {args.n} asked for "
            f"({result.proposals} proposals); the discriminator rejects almost everything"
        )
    if not torch.isfinite(result.samples).all():
        raise CommandError(f"{path}'s generator makes samples that are not finite")
    if args.out.suffix == ".png" and result.samples.dim() != 4:
        raise CommandError(f"{ckpt.kind} makes points, not images: write them to a .npy file")
    out.write(lambda tmp: write(result.samples, tmp))
    print(
        f"{len(result)} samples by {args.method} (calibration: {args.calibrate}) "
        f"from {result.proposals} proposals ({result.per_sample:.1f} per sample"
        + (f", {result.burn_in} burn-in" if result.burn_in else "")
        + f"); wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
