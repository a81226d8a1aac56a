"""Train a chapter's model outside Jupyter, for example on a GPU server.

    ganbook-train gan --scale book --seed 0 --out runs/gan
    ganbook-train dcgan --scale book --seed 0 --feature-matching --out runs/fm
    ganbook-train dcgan --scale paper --dataset svhn --data-path ~/data --out runs/svhn
    ganbook-train cdcgan --scale paper --seed 0 --out runs/cdcgan
    ganbook-train ssgan --labels 100 --scale book --seed 0 --out runs/ssgan
    ganbook-train ssgan-mlp --labels 100 --scale book --seed 0 --out runs/mlp
    ganbook-train grid25 --scale book --seed 0 --out runs/grid25

writes ``model.pt`` (load it with ``ganbook.core.checkpoint.load``), ``log.csv``
(one row per step, or per epoch for the toy models) and, for image generators,
``samples.png`` into ``--out``: a new or empty folder, or one holding a finished
``ganbook-train`` run with ``--overwrite``. ``--scale`` defaults to
``GANBOOK_SCALE`` (else ``book``). The command-line conventions (one line per
error, nothing kept from a failed or interrupted run) are in
:mod:`ganbook.cli.common`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ganbook.cli.common import (
    CommandError,
    Parser,
    RunFolder,
    check_finite,
    check_finite_values,
    output_path,
    positive_int,
    run,
    seed,
)
from ganbook.core import checkpoint
from ganbook.core.settings import SCALES, get_device, get_scale


def _train_gan(args: argparse.Namespace) -> checkpoint.Checkpoint:
    from ganbook.vanilla import gan

    overrides = {"seed": args.seed}
    if args.steps is not None:
        overrides["steps"] = args.steps
    config = gan.config_for(args.scale, **overrides)
    return gan.train(
        config, device=args.device, monitor=_finite_monitor(args), log_every=config.sample_every
    )


def _finite_monitor(args: argparse.Namespace) -> Callable[[Any], dict[str, float]]:
    """A training monitor that stops the run as soon as G's weights stop being finite."""
    calls = 0

    def monitor(G: Any) -> dict[str, float]:
        nonlocal calls
        check_finite({"G": G}, f"check {calls}", DIVERGED)
        calls += 1
        return {}

    return monitor


def _train_dcgan(args: argparse.Namespace) -> checkpoint.Checkpoint:
    from ganbook import dcgan

    if args.dataset != "mnist" and args.data_path is None:
        raise CommandError(f"--dataset {args.dataset} needs --data-path, the folder holding it")

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
    return dcgan.train(
        config,
        data=data,
        device=args.device,
        monitor=_finite_monitor(args),
        log_every=config.sample_every,
    )


def _train_cdcgan(args: argparse.Namespace) -> checkpoint.Checkpoint:
    from ganbook.dcgan import conditional

    overrides = {"seed": args.seed}
    if args.steps is not None:
        overrides["steps"] = args.steps
    config = conditional.config_for(args.scale, **overrides)
    return conditional.train(config, device=args.device, monitor=_finite_monitor(args))


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
        labels = ssgan.label_count(args.labels or DEFAULT_LABELS, n_train)
        overrides = {
            "model": model,
            "labels": labels,
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
    """Chapter 5's trainer for a toy mixture (``--steps`` sets the training steps)."""

    def train(args: argparse.Namespace) -> checkpoint.Checkpoint:
        from ganbook.selection import toys as toy

        overrides = {"seed": args.seed}
        if args.steps is not None:
            overrides["steps"] = args.steps
        return toy.train(toy.config_for(args.scale, task=task, **overrides), device=args.device)

    return train


#: model name -> trainer; later chapters add theirs here.
TRAINERS: dict[str, Callable[[argparse.Namespace], checkpoint.Checkpoint]] = {
    "gan": _train_gan,
    "dcgan": _train_dcgan,
    "cdcgan": _train_cdcgan,
    "classifier": _train_classifier,
    "ssgan": _ssgan_trainer("eleven"),
    "ssgan-klogit": _ssgan_trainer("klogit"),
    "ssgan-supervised": _ssgan_trainer("supervised"),
    "ssgan-mlp": _ssgan_trainer("mlp"),
    "ssgan-mlp-supervised": _ssgan_trainer("mlp-supervised"),
    "mog1d": _toy_trainer("mog1d"),
    "grid25": _toy_trainer("grid25"),
}
#: The models that learn from a labelled subset, and its default size.
LABELLED_MODELS = (
    "ssgan",
    "ssgan-klogit",
    "ssgan-supervised",
    "ssgan-mlp",
    "ssgan-mlp-supervised",
)
DEFAULT_LABELS = "100"


#: What a divergence most often means, for the one-line message.
DIVERGED = "the learning rate is likely too large for this model"
#: Options that only some models take: option -> (attribute, default, models).
MODEL_OPTIONS = {
    "--feature-matching": ("feature_matching", False, ("dcgan",)),
    "--minibatch-disc": ("minibatch_disc", False, ("dcgan",)),
    "--dataset": ("dataset", "mnist", ("dcgan",)),
    "--data-path": ("data_path", None, ("dcgan",)),
}


def parser() -> argparse.ArgumentParser:
    """The command line's argument parser."""
    p = Parser(prog="ganbook-train", description="Train one of the book's models.")
    p.add_argument("model", choices=sorted(TRAINERS), help="which model to train")
    p.add_argument(
        "--scale", choices=SCALES, help="how much work (default: GANBOOK_SCALE, else book)"
    )
    p.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    p.add_argument("--out", type=output_path, required=True, help="folder for model.pt and log.csv")
    p.add_argument(
        "--overwrite", action="store_true", help="replace a finished ganbook-train run in --out"
    )
    p.add_argument("--steps", type=positive_int, help="override the scale's steps (epochs)")
    p.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    dcgan = p.add_argument_group("dcgan options")
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


def _check_options(args: argparse.Namespace) -> None:
    """Refuse options that the chosen model would silently ignore."""
    if args.labels is not None and args.model not in LABELLED_MODELS:
        raise CommandError(f"--labels applies only to {', '.join(LABELLED_MODELS)}")
    for flag, (name, default, models) in MODEL_OPTIONS.items():
        if getattr(args, name) != default and args.model not in models:
            raise CommandError(f"{flag} applies only to {', '.join(models)}")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return run("ganbook-train", lambda: _main(args))


def _main(args: argparse.Namespace) -> int:
    _check_options(args)
    try:
        args.scale = get_scale(args.scale)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    args.device = get_device(args.device)
    with RunFolder(args.out, "ganbook-train", "--out", args.overwrite) as folder:
        result = TRAINERS[args.model](args)
        for entry in result.log:
            losses = [v for k, v in entry.items() if k.endswith("loss") or k.endswith("energy")]
            check_finite_values(
                losses, f"step {entry.get('step', entry.get('epoch', '?'))}", DIVERGED
            )
        check_finite(result.models, "the end of training", DIVERGED)
        checkpoint.save(result, folder.path("model.pt"))
        pd.DataFrame(result.log).to_csv(folder.path("log.csv"), index=False)
        if result.extra.get("samples"):
            _save_samples(result, folder.path("samples.png"))
        out = folder.finish({"model": args.model, **result.config})
    print(f"saved {out / 'model.pt'}")
    return 0


def _save_samples(result: checkpoint.Checkpoint, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from ganbook.core.plots import image_grid

    images = result.extra["samples"][max(result.extra["samples"])]
    matplotlib.pyplot.imsave(path, image_grid(images, nrow=round(len(images) ** 0.5)))


if __name__ == "__main__":
    sys.exit(main())
