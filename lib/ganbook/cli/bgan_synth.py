"""The original ``bgan_synth.py`` command line: the synthetic Bayesian GAN experiment.

    bgan_synth --x_dim 100 --z_dim 10 --numz 10 --out_dir DIR   # Bayesian
    bgan_synth --x_dim 100 --z_dim 10 --numz 1 --out_dir DIR    # ML GAN

writes into DIR: ``js.csv`` (iteration, js) every 100 iterations; ``log.csv``
(the same rows with energies, phase and seconds); ``config.json``; ``model.pt``
(load it with ``ganbook.core.checkpoint.load``). With ``--save_samples`` also
``real.npy`` (the data) and ``samples_ITER.npy`` (the generated points of each
evaluation); with ``--save_weights`` a loadable checkpoint ``weights_ITER.pt``
at each evaluation. The files grow in a temporary folder beside DIR and move
into it when the run finishes; DIR must be new or empty, or hold a finished
run (``--overwrite``, the one flag the original lacks). Bad values get one line
on stderr and exit status 2; a run whose JS or weights stop being finite stops
with one line and exit status 1 (:mod:`ganbook.cli.common`).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

import numpy as np

from ganbook.bayesian.synthetic import SynthConfig, make_data, train
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


def parser() -> argparse.ArgumentParser:
    """The command line's parser; defaults are the original script's and the paper's."""
    d = SynthConfig()
    p = Parser(
        prog="bgan_synth",
        description="Train the Bayesian GAN (or, with --numz 1, the ML GAN) on the synthetic data.",
    )
    p.add_argument("--x_dim", type=int, default=d.x_dim, help="dimension of the data x (100)")
    add_original_flags(p, d)
    return p


def config_from(args: argparse.Namespace) -> SynthConfig:
    """The validated run config of parsed arguments (ValueError names a bad one)."""
    return SynthConfig(
        x_dim=args.x_dim,
        z_dim=args.z_dim,
        numz=args.numz,
        num_mcmc=args.num_mcmc,
        num_disc=args.num_disc,
        train_iter=args.train_iter,
        wasserstein=args.wasserstein,
        gen_observed=args.gen_observed,
        prior_std=args.prior_std,
        lr=args.lr,
        burn_in=args.burn_in,
        alpha=args.alpha,
        seed=args.random_seed,
    ).validate()


#: What a divergence most often means, for the one-line message.
DIVERGED = "the learning rate (--lr) is likely too large"


def network_bytes(config: SynthConfig) -> int:
    """Memory of the J*M generators and J_d*M discriminators, with their gradients and
    optimizer state (about four copies of every weight, float32)."""
    g = (config.z_dim + 1) * config.hidden + (config.hidden + 1) * config.x_dim
    d = (config.x_dim + 1) * config.hidden + (config.hidden + 1) * 2
    weights = config.num_generators * g + config.num_discriminators * d
    return 4 * 4 * weights


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.out_dir is None:
        p.error("the following arguments are required: --out_dir")
    try:
        config = config_from(args)
        device = get_device(args.device)
    except ValueError as exc:
        p.error(str(exc))
    return run("bgan_synth", lambda: _main(args, config, device))


def _main(args: argparse.Namespace, config: SynthConfig, device: Any) -> int:
    check_memory(
        network_bytes(config), f"{config.num_generators} generators", "--numz or --num_mcmc"
    )
    with RunFolder(args.out_dir, "bgan_synth", "--out_dir", args.overwrite) as folder:
        folder.path("config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
        if args.save_samples:
            np.save(folder.path("real.npy"), make_data(config.x_dim).X.astype(np.float32))
        js_file = folder.path("js.csv").open("w", newline="")
        js_csv = csv.writer(js_file)
        js_csv.writerow(["iteration", "js"])

        def on_eval(entry: dict[str, Any], fake: np.ndarray, models: dict[str, Any]) -> None:
            step = f"iteration {entry['iteration']}"
            check_finite_values([entry["js"], *fake.ravel()[:1000]], step, DIVERGED)
            check_finite(models, step, DIVERGED)
            js_csv.writerow([entry["iteration"], f"{entry['js']:.6f}"])
            js_file.flush()
            if args.save_samples:
                np.save(folder.path(f"samples_{entry['iteration']}.npy"), fake.astype(np.float32))
            if args.save_weights:
                snapshot = checkpoint.Checkpoint("bgan_synth", config.to_dict(), models, [entry])
                checkpoint.save(snapshot, folder.path(f"weights_{entry['iteration']}.pt"))

        with js_file:
            result = train(config, device, quiet=args.quiet, on_eval=on_eval)
        check_finite(result.models, "the end of training", DIVERGED)
        checkpoint.save(result, folder.path("model.pt"))
        with folder.path("log.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(result.log[0]))
            writer.writeheader()
            writer.writerows(result.log)
        out = folder.finish(config.to_dict())
    final = result.log[-1]
    print(f"iteration {final['iteration']}: JS {final['js']:.4f}; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
