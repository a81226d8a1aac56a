"""Train a chapter's model outside Jupyter, for example on a GPU server.

    ganbook-train gan --scale book --seed 0 --out runs/gan
    ganbook-train dcgan --scale book --seed 0 --feature-matching --out runs/fm
    ganbook-train dcgan --scale paper --dataset svhn --data-path ~/data --out runs/svhn
    ganbook-train ssgan --labels 100 --scale book --seed 0 --out runs/ssgan
    ganbook-train grid25 --scale book --seed 0 --out runs/grid25

writes ``model.pt`` (load it with ``ganbook.checkpoint.load``), ``log.csv``
(one row per step, or per epoch for the toy models) and, for image generators,
``samples.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ganbook.cli.common import positive_int, seed
from ganbook.core import checkpoint
from ganbook.core.settings import SCALES, get_device
from ganbook.data.mnist import DataError


def _train_gan(args: argparse.Namespace) -> checkpoint.Checkpoint:
    from ganbook.vanilla import gan

    overrides = {"seed": args.seed}
    if args.steps is not None:
        overrides["steps"] = args.steps
    config = gan.config_for(args.scale, **overrides)
    return gan.train(config, device=args.device, log_every=config.sample_every)


def _train_dcgan(args: argparse.Namespace) -> checkpoint.Checkpoint:
    from ganbook import dcgan

    overrides = {"seed": args.seed, "dataset": args.dataset}
    if args.steps is not None:
        overrides["steps"] = args.steps
    if args.feature_matching:
        overrides["feature_matching"] = True
    if args.minibatch_disc:
        overrides["minibatch_kernels"] = dcgan.METHODS["minibatch discrimination"][
            "minibatch_kernels"
        ]
    config = dcgan.config_for(args.scale, **overrides)
    data = None
    if args.dataset != "mnist":
        from ganbook.data.images import load_dataset

        data = load_dataset(args.dataset, args.data_path).pixels
    return dcgan.train(config, data=data, device=args.device, log_every=config.sample_every)


def _train_classifier(args: argparse.Namespace) -> checkpoint.Checkpoint:
    from ganbook.metrics.evaluator import CLASSIFIER_EPOCHS, train_classifier

    epochs = args.steps if args.steps is not None else CLASSIFIER_EPOCHS[args.scale]
    return train_classifier(epochs, seed=args.seed, device=args.device)


def _ssgan_trainer(model: str) -> Callable[[argparse.Namespace], checkpoint.Checkpoint]:
    """Chapter 3's trainer for one of its models (the labelled subset follows --seed)."""

    def train(args: argparse.Namespace) -> checkpoint.Checkpoint:
        from ganbook import ssl as ssgan
        from ganbook.data.mnist import load_mnist

        n_train = len(load_mnist("train"))
        overrides = {
            "model": model,
            "labels": ssgan.label_count(args.labels or DEFAULT_LABELS, n_train),
            "seed": args.seed,
            "label_seed": args.seed,
        }
        if args.steps is not None:
            overrides["steps"] = args.steps
        result = ssgan.train(ssgan.config_for(args.scale, **overrides), device=args.device)
        print(f"test accuracy: {result.extra['test_accuracy']:.4f}")
        return result

    return train


def _toy_trainer(task: str) -> Callable[[argparse.Namespace], checkpoint.Checkpoint]:
    """Chapter 5's trainer for a toy mixture (``--steps`` sets the epochs)."""

    def train(args: argparse.Namespace) -> checkpoint.Checkpoint:
        from ganbook.selection import toys as toy

        overrides = {"seed": args.seed}
        if args.steps is not None:
            overrides["epochs"] = args.steps
        return toy.train(toy.config_for(args.scale, task=task, **overrides), device=args.device)

    return train


#: model name -> trainer; later chapters add theirs here.
TRAINERS: dict[str, Callable[[argparse.Namespace], checkpoint.Checkpoint]] = {
    "gan": _train_gan,
    "dcgan": _train_dcgan,
    "classifier": _train_classifier,
    "ssgan": _ssgan_trainer("eleven"),
    "ssgan-klogit": _ssgan_trainer("klogit"),
    "ssgan-supervised": _ssgan_trainer("supervised"),
    "mog1d": _toy_trainer("mog1d"),
    "grid25": _toy_trainer("grid25"),
}
#: The models that learn from a labelled subset, and its default size.
LABELLED_MODELS = ("ssgan", "ssgan-klogit", "ssgan-supervised")
DEFAULT_LABELS = "100"


def parser() -> argparse.ArgumentParser:
    """The command line's argument parser."""
    p = argparse.ArgumentParser(
        prog="ganbook-train", description="Train one of the book's models."
    )
    p.add_argument("model", choices=sorted(TRAINERS), help="which model to train")
    p.add_argument("--scale", choices=SCALES, default="book", help="how much work (default book)")
    p.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    p.add_argument("--out", type=Path, required=True, help="folder for model.pt and log.csv")
    p.add_argument("--steps", type=positive_int, help="override the scale's steps (epochs)")
    p.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    dcgan = p.add_argument_group("dcgan options (other models ignore them)")
    dcgan.add_argument(
        "--feature-matching", action="store_true", help="train G by feature matching"
    )
    dcgan.add_argument(
        "--minibatch-disc", action="store_true", help="add minibatch discrimination to D"
    )
    dcgan.add_argument(
        "--dataset",
        choices=("mnist", "cifar10", "svhn", "celeba"),
        default="mnist",
        help="training images (default mnist)",
    )
    dcgan.add_argument("--data-path", type=Path, help="folder holding CIFAR-10, SVHN or CelebA")
    p.add_argument(
        "--labels",
        help="ssgan models: labelled images, a count (100) or a share (20%%); default 100",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.labels is not None and args.model not in LABELLED_MODELS:
        p.error(f"--labels applies only to {', '.join(LABELLED_MODELS)}")
    try:
        args.device = get_device(args.device)
        result = TRAINERS[args.model](args)
    except (DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    path = checkpoint.save(result, args.out / "model.pt")
    pd.DataFrame(result.log).to_csv(args.out / "log.csv", index=False)
    if "samples" in result.extra:
        _save_samples(result, args.out / "samples.png")
    print(f"saved {path}")
    return 0


def _save_samples(result: checkpoint.Checkpoint, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from ganbook.core.plots import image_grid

    images = result.extra["samples"][max(result.extra["samples"])]
    matplotlib.pyplot.imsave(path, image_grid(images, nrow=round(len(images) ** 0.5)))


if __name__ == "__main__":
    sys.exit(main())
