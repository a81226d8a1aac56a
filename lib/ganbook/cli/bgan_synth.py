"""The original ``bgan_synth.py`` command line: the synthetic Bayesian GAN experiment.

    python -m ganbook.cli.bgan_synth --x_dim 100 --z_dim 10 --numz 10 --out_dir DIR   # Bayesian
    python -m ganbook.cli.bgan_synth --x_dim 100 --z_dim 10 --numz 1 --out_dir DIR    # ML GAN

writes into DIR: ``js.csv`` (iteration, js) every 100 iterations, growing as
it trains; ``log.csv`` (the same rows with energies, phase and seconds);
``config.json``; ``model.pt`` at the end (load it with
``ganbook.checkpoint.load``). With ``--save_samples`` also ``real.npy`` (the
data) and ``samples_ITER.npy`` (the generated points of each evaluation);
with ``--save_weights`` a loadable checkpoint ``weights_ITER.pt`` at each
evaluation. Bad values get one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ganbook.bayesian.synthetic import SynthConfig, make_data, train
from ganbook.cli.common import Parser, prepare_out_dir
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
    p.add_argument("--z_dim", type=int, default=d.z_dim, help="dimension of G's input z (10)")
    p.add_argument("--numz", type=int, default=1, help="J, samples of z; 1 is the ML GAN (1)")
    p.add_argument("--num_mcmc", type=int, default=d.num_mcmc, help="M, SGHMC samples per z (1)")
    p.add_argument("--num_disc", type=int, default=d.num_disc, help="J_d, D samples per m (1)")
    p.add_argument("--train_iter", type=int, default=d.train_iter, help="iterations (1000)")
    p.add_argument("--wasserstein", action="store_true", help="WGAN-GP critic instead of D")
    p.add_argument("--gen_observed", type=int, default=d.gen_observed, help="(1000)")
    p.add_argument("--prior_std", type=float, default=d.prior_std, help="weight prior std (10)")
    p.add_argument("--lr", type=float, default=d.lr, help="base learning rate (0.01)")
    p.add_argument("--burn_in", type=int, default=d.burn_in, help="Adam steps before SGHMC")
    p.add_argument("--alpha", type=float, default=d.alpha, help="SGHMC friction (0.1)")
    p.add_argument("--random_seed", type=int, default=2222, help="seed (2222, the original's)")
    p.add_argument("--save_samples", action="store_true", help="write real.npy, samples_*.npy")
    p.add_argument("--save_weights", action="store_true", help="write weights_*.pt")
    p.add_argument("--out_dir", type=Path, required=True, help="folder for the results")
    p.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def config_from(args: argparse.Namespace) -> SynthConfig:
    """The validated run config of parsed arguments (ValueError names a bad one)."""
    if args.random_seed < 0:
        raise ValueError(f"random_seed must be 0 or more, got {args.random_seed}")
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


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    try:
        config = config_from(args)
        device = get_device(args.device)
    except ValueError as exc:
        p.error(str(exc))
    out: Path = args.out_dir
    prepare_out_dir(p, out, config.to_dict())
    if args.save_samples:
        np.save(out / "real.npy", make_data(config.x_dim).X.astype(np.float32))
    js_file = (out / "js.csv").open("w", newline="")
    js_csv = csv.writer(js_file)
    js_csv.writerow(["iteration", "js"])

    def on_eval(entry: dict[str, Any], fake: np.ndarray, models: dict[str, Any]) -> None:
        js_csv.writerow([entry["iteration"], f"{entry['js']:.6f}"])
        js_file.flush()
        if args.save_samples:
            np.save(out / f"samples_{entry['iteration']}.npy", fake.astype(np.float32))
        if args.save_weights:
            snapshot = checkpoint.Checkpoint("bgan_synth", config.to_dict(), models, [entry])
            checkpoint.save(snapshot, out / f"weights_{entry['iteration']}.pt")

    with js_file:
        result = train(config, device, quiet=args.quiet, on_eval=on_eval)
    checkpoint.save(result, out / "model.pt")
    with (out / "log.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(result.log[0]))
        writer.writeheader()
        writer.writerows(result.log)
    final = result.log[-1]
    print(f"iteration {final['iteration']}: JS {final['js']:.4f}; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
