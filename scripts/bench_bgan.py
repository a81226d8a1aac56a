"""Step time of the Bayesian GAN's weight samples: batched (stacked) against looped.

    python scripts/bench_bgan.py                      # J x M in 1, 4, 10, 25 and two M > 1
    python scripts/bench_bgan.py --sizes 10x1 5x2 --steps 20 --sampler adam

Prints, for each J x M, the median step time of the stacked networks and of
separate copies stepped in a loop (:func:`ganbook.bayesian.speed.bench`), and
their ratio looped / batched.
"""

from __future__ import annotations

import argparse
import sys

import torch

from ganbook.bayesian.speed import bench
from ganbook.bayesian.synthetic import SynthConfig
from ganbook.cli.common import Parser
from ganbook.core.settings import get_device


def _size(text: str) -> tuple[int, int]:
    try:
        j, m = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected JxM such as 10x1, got {text!r}") from None
    if j < 1 or m < 1:
        raise argparse.ArgumentTypeError(f"J and M must be at least 1, got {text!r}")
    return j, m


def main(argv: list[str] | None = None) -> int:
    p = Parser(prog="python scripts/bench_bgan.py", description=__doc__.splitlines()[0])
    p.add_argument(
        "--sizes",
        type=_size,
        nargs="+",
        default=[(1, 1), (4, 1), (10, 1), (25, 1), (5, 2), (5, 5)],
        help="J x M pairs (default: 1x1 4x1 10x1 25x1 5x2 5x5)",
    )
    p.add_argument("--steps", type=int, default=10, help="timed iterations per size (10)")
    p.add_argument("--sampler", choices=("sghmc", "adam"), default="sghmc")
    p.add_argument("--hidden", type=int, default=SynthConfig.hidden, help="width of G, D (1000)")
    p.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    args = p.parse_args(argv)
    if args.steps < 1 or args.hidden < 1:
        p.error("--steps and --hidden must be at least 1")
    try:
        device = get_device(args.device)
    except ValueError as exc:
        p.error(str(exc))
    print(
        f"device={device} threads={torch.get_num_threads()} sampler={args.sampler} "
        f"hidden={args.hidden}"
    )
    print(f"{'J':>3} {'M':>3} {'J*M':>4} {'looped ms':>10} {'batched ms':>11} {'ratio':>6}")
    for numz, num_mcmc in args.sizes:
        looped, batched = bench(numz, num_mcmc, args.steps, args.sampler, device, args.hidden)
        print(
            f"{numz:>3} {num_mcmc:>3} {numz * num_mcmc:>4} {1000 * looped:>10.1f} "
            f"{1000 * batched:>11.1f} {looped / batched:>6.2f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
