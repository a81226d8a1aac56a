"""The original ``bayesian_gan_hmc.py`` command line: the Bayesian GAN on images.

    bayesian_gan_hmc --dataset mnist --numz 5 --num_mcmc 5 \\
        --out_dir DIR --train_iter 30000 -N 200 --semi --lr 0.001       # the seed's SSL run
    bayesian_gan_hmc --data_path DIGITS --dataset digits --numz 1 \\
        --num_mcmc 10 --out_dir DIR --train_iter 5000 --save_samples    # the custom data set

The flags and defaults are the original's (``--semi`` is short for
``--semi_supervised``; ``--ml_ensemble k`` trains k independent DCGANs,
``--ml_ensemble 1`` one DCGAN). It prints a progress line every ``n_save``
iterations (with the test accuracy when semi-supervised) and writes into
``--out_dir``: ``config.json``; ``log.csv`` (one row per iteration);
``evals.csv`` (one row per ``n_save``); ``model.pt`` at the end, loaded with
``ganbook.core.checkpoint.load`` (a semi-supervised one also with
``ganbook.bayesian.images.load_classifier``, whose ``predict`` is chapter 3's);
with ``--save_samples`` ``samples_ITER.png`` (one row per generator weight
sample); with ``--save_weights`` ``weights_ITER.pt`` (loadable the same way).
The files grow in a temporary folder and move into ``--out_dir`` when the run
finishes; the folder must be new or empty, or hold a finished run
(``--overwrite``, the one flag the original lacks). Bad values get one line on
stderr and exit status 2, and nothing is written; a run whose energies or
weights stop being finite stops with one line and exit status 1.
``bayesian_gan_hmc --write_digits DIR`` writes the digits files of the
custom-data tutorial.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

import torch
from torchvision.utils import save_image

from ganbook.bayesian import images as bd
from ganbook.cli.common import (
    Parser,
    RunFolder,
    add_original_flags,
    check_finite,
    check_finite_values,
    check_memory,
    run,
)
from ganbook.core import checkpoint
from ganbook.core.settings import get_device
from ganbook.data.mnist import DataError
from ganbook.data.original import DATASETS, load_original, save_digits


def parser() -> argparse.ArgumentParser:
    """The command line's parser; the defaults are the original script's."""
    d = bd.BDCGANConfig()
    p = Parser(
        prog="bayesian_gan_hmc",
        description="Train the Bayesian GAN (SGHMC over DCGAN weights) on an image data set.",
    )
    add_original_flags(p, d)
    p.add_argument("--n_save", type=int, default=d.n_save, help="save every n iterations (100)")
    p.add_argument("--data_path", help="folder of the data set's files (MNIST: optional)")
    p.add_argument("--dataset", default=d.dataset, help=f"{' | '.join(DATASETS)} (mnist)")
    p.add_argument("--batch_size", type=int, default=d.batch_size, help="(64)")
    p.add_argument("--optimizer", default=d.optimizer, help="adam or sgd, before SGHMC (adam)")
    p.add_argument("--semi_supervised", action="store_true", help="K+1-class semi-supervised")
    p.add_argument("-N", "--N", dest="N", type=int, default=d.labels, help="labelled images (200)")
    p.add_argument("--ml_ensemble", type=int, default=0, help="k independent ML DCGANs (0: off)")
    p.add_argument("--width", type=int, default=d.width, help="DCGAN base width (64)")
    p.add_argument("--write_digits", type=Path, metavar="DIR", help="write the digits files, exit")
    return p


def config_from(args: argparse.Namespace) -> bd.BDCGANConfig:
    """The validated run config of parsed arguments (ValueError names a bad one)."""
    if args.dataset not in DATASETS:
        raise ValueError(f"unknown --dataset {args.dataset!r}; choose one of {', '.join(DATASETS)}")
    return bd.BDCGANConfig(
        dataset=args.dataset,
        z_dim=args.z_dim,
        width=args.width,
        numz=args.numz,
        num_mcmc=args.num_mcmc,
        num_disc=args.num_disc,
        batch_size=args.batch_size,
        prior_std=args.prior_std,
        gen_observed=args.gen_observed,
        lr=args.lr,
        optimizer=args.optimizer,
        burn_in=args.burn_in,
        alpha=args.alpha,
        semi_supervised=args.semi_supervised,
        labels=args.N,
        train_iter=args.train_iter,
        wasserstein=args.wasserstein,
        ml_ensemble=args.ml_ensemble,
        n_save=args.n_save,
        seed=args.random_seed,
    )


#: What a divergence most often means, for the one-line message.
DIVERGED = "the learning rate (--lr) is likely too large"


def network_bytes(config: bd.BDCGANConfig) -> int:
    """Memory of every generator and discriminator sample with gradients and optimizer
    state (about four float32 copies of each weight)."""
    models = bd.build({**config.to_dict(), "numz": 1, "num_mcmc": 1, "ml_ensemble": 0})
    one_g = sum(p.numel() for p in models["G"].parameters())
    one_d = sum(p.numel() for p in models["D"].parameters())
    weights = config.num_generators * one_g + config.num_discriminators * one_d
    return 4 * 4 * weights


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.write_digits is not None:
        print(f"wrote the digits files into {save_digits(args.write_digits)}")
        return 0
    if args.out_dir is None:
        p.error("the following arguments are required: --out_dir")
    try:
        config = config_from(args)
        device = get_device(args.device)
        dataset = load_original(config.dataset, args.data_path)
        if config.semi_supervised:
            bd.labelled_subset(dataset, config.labels, config.seed)
        elif config.batch_size > len(dataset.imgs):
            raise ValueError(f"batch_size {config.batch_size} exceeds the training set")
    except (ValueError, DataError) as exc:
        p.error(str(exc))
    return run("bayesian_gan_hmc", lambda: _main(args, config, device, dataset))


def _main(args: argparse.Namespace, config: bd.BDCGANConfig, device: Any, dataset: Any) -> int:
    check_memory(network_bytes(config), f"{config.name}", "--numz, --num_mcmc or --width")
    with RunFolder(args.out_dir, "bayesian_gan_hmc", "--out_dir", args.overwrite) as folder:
        folder.path("config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
        print(f"{config.name} on {dataset}")
        evals_file = folder.path("evals.csv").open("w", newline="")
        evals_csv = None

        def on_save(record: dict[str, Any], models: dict[str, Any], samples: torch.Tensor) -> None:
            nonlocal evals_csv
            step = record["iteration"]
            where = f"iteration {step}"
            check_finite_values([record["d_energy"], record["g_energy"]], where, DIVERGED)
            check_finite(models, where, DIVERGED)
            if evals_csv is None:
                evals_csv = csv.DictWriter(evals_file, fieldnames=list(record))
                evals_csv.writeheader()
            evals_csv.writerow(record)
            evals_file.flush()
            if args.save_samples:
                save_image(
                    bd.pooled(samples),
                    folder.path(f"samples_{step}.png"),
                    nrow=samples.shape[1],
                    normalize=True,
                    value_range=(-1, 1),
                )
            if args.save_weights:
                snapshot = checkpoint.Checkpoint(
                    "bayesian_dcgan", config.to_dict(), models, [record]
                )
                checkpoint.save(snapshot, folder.path(f"weights_{step}.pt"))

        with evals_file:
            result = bd.train(config, dataset, device, quiet=args.quiet, on_save=on_save, log=print)
        check_finite(result.models, "the end of training", DIVERGED)
        checkpoint.save(result, folder.path("model.pt"))
        with folder.path("log.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(result.log[0]))
            writer.writeheader()
            writer.writerows(result.log)
        out = folder.finish(config.to_dict())
    accuracy = result.extra["test_accuracy"]
    final = f"; test accuracy {accuracy:.4f}" if config.semi_supervised else ""
    print(f"done after {config.train_iter} iterations{final}; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
