"""The chapter 2 comparison: plain DCGAN, feature matching, minibatch discrimination.

Each method is trained with each seed on the same data and budget, and every
finished G is scored on the book's metrics (:data:`ganbook.metrics.SAMPLES`
images). A run **failed** when, among the images the classifier is sure
about, too few digits appear or one dominates (a collapse), or when it is
sure about almost none of them (no digits at all). The shares are taken
among the sure images so that blurry but varied samples, which a short run
makes, count as weak rather than failed. The summary counts failures and
gives the median and the range of the other runs, so one failed seed cannot
drag a method's score around.
A plain D widened to the parameter count of the minibatch-discrimination D
(:data:`ganbook.dcgan.model.MATCHED`) separates what the technique adds from
what its extra parameters add.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ganbook.core.checkpoint import Checkpoint
from ganbook.core.sampling import generate
from ganbook.core.settings import get_scale
from ganbook.dcgan.model import METHODS, SCALE_SETTINGS, config_for, parameter_count
from ganbook.dcgan.training import trained
from ganbook.metrics.evaluator import COVERED_SHARE

#: Seed of the noise for the images a finished run is judged on.
EVAL_SEED = 2024


#: A finished run failed if fewer than this many digits get 2% of its sure images ...
FAIL_MIN_CLASSES = 8
#: ... or one digit takes more than this share of them ...
FAIL_MAX_SHARE = 0.3
#: ... or the classifier is sure about fewer than this share of all its images.
FAIL_MIN_SURE = 0.1


def sure_coverage(shares: np.ndarray) -> dict[str, float]:
    """Classes covered and the largest share among the images the classifier is sure about.

    ``shares`` is :meth:`ganbook.metrics.Evaluator.histogram`'s output (shares
    of all images); ``sure`` is their sum, the share of images it is sure about.
    """
    sure = float(shares.sum())
    among = shares / sure if sure > 0 else np.zeros_like(shares)
    return {
        "sure classes": int((among >= COVERED_SHARE).sum()),
        "sure max share": float(among.max()),
        "sure": sure,
    }


def failed(coverage: dict[str, float]) -> bool:
    """Whether a run failed: collapsed among its sure images, or sure about almost none."""
    return (
        coverage["sure"] < FAIL_MIN_SURE
        or coverage["sure classes"] < FAIL_MIN_CLASSES
        or coverage["sure max share"] > FAIL_MAX_SHARE
    )


@dataclass
class Comparison:
    """The runs of :func:`compare`: one row of scores per (method, seed), and the models."""

    runs: pd.DataFrame
    checkpoints: dict[tuple[str, int], Checkpoint] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Method x statistic: medians and ranges of the runs that did not fail.

        Columns: ``runs``, ``failed``, the median, lowest and highest IS and FID
        of the healthy runs, D's parameter count and the mean minutes per run.
        """
        healthy = self.runs[~self.runs["failed"]]
        by_method = self.runs.groupby("method", sort=False)
        table = pd.DataFrame(
            {
                "runs": by_method["seed"].count(),
                "failed": by_method["failed"].sum().astype(int),
            }
        )
        for metric in ("IS", "FID"):
            stats = healthy.groupby("method", sort=False)[metric]
            table[f"{metric} median"] = stats.median()
            table[f"{metric} low"] = stats.min()
            table[f"{metric} high"] = stats.max()
        table["D parameters"] = by_method["D parameters"].first()
        table["minutes"] = by_method["seconds"].mean() / 60
        return table


def compare(
    scale: str | None = None,
    methods: tuple[str, ...] = tuple(METHODS),
    seeds: tuple[int, ...] | None = None,
    device: str | torch.device | None = None,
) -> Comparison:
    """Train (or load) each method with each seed, same data and budget; score each run.

    The runs use the scale's config with its ``compare`` fields. Each finished
    G is judged on the evaluator's standard number of images, drawn with the
    same noise seed for every run.
    """
    from ganbook.metrics.evaluator import get_evaluator

    scale = get_scale(scale)
    settings = SCALE_SETTINGS[scale]
    seeds = settings["seeds"] if seeds is None else seeds
    evaluator = get_evaluator(scale, device)
    rows, checkpoints = [], {}
    for method in methods:
        for seed in seeds:
            config = config_for(scale, method=method, seed=seed, **settings["compare"])
            checkpoint = trained(config, scale=scale, device=device)
            images = generate(checkpoint["G"], evaluator.samples, EVAL_SEED)
            coverage = sure_coverage(evaluator.histogram(images))
            rows.append(
                {
                    "method": method,
                    "seed": seed,
                    **evaluator.scores(images),
                    "sure classes": coverage["sure classes"],
                    "sure max share": coverage["sure max share"],
                    "failed": failed(coverage),
                    "D parameters": parameter_count(checkpoint["D"]),
                    "seconds": checkpoint.extra["seconds"],
                }
            )
            checkpoints[method, seed] = checkpoint
    return Comparison(pd.DataFrame(rows), checkpoints)
