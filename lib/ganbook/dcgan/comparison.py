"""The chapter 2 comparison: plain DCGAN, feature matching, minibatch discrimination.

Each method is trained with each seed on the same data and budget, and every
finished G is scored on the book's metrics (:data:`ganbook.metrics.SAMPLES`
images). A run **failed** when its digits cover too few classes or lean on
one (confident predictions only, so a run that never learned to draw digits
fails too); the summary counts failures and gives the median and the range
of the other runs, so one failed seed cannot drag a method's score around.
A plain D widened to the parameter count of the minibatch-discrimination D
(:data:`ganbook.dcgan.model.MATCHED`) separates what the technique adds from
what its extra parameters add.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch

from ganbook.core.checkpoint import Checkpoint
from ganbook.core.sampling import generate
from ganbook.core.settings import get_scale
from ganbook.dcgan.model import METHODS, SCALE_SETTINGS, config_for, parameter_count
from ganbook.dcgan.training import trained

#: Seed of the noise for the images a finished run is judged on.
EVAL_SEED = 2024


#: A finished run failed if fewer than this many classes get 2% of its images ...
FAIL_MIN_CLASSES = 8
#: ... or one digit takes more than this share of them.
FAIL_MAX_SHARE = 0.3


def failed(scores: dict[str, float]) -> bool:
    """Whether a run's scores say it failed: collapsed, or never drew clear digits."""
    return scores["classes"] < FAIL_MIN_CLASSES or scores["max_share"] > FAIL_MAX_SHARE


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
            scores = evaluator.scores(images)
            rows.append(
                {
                    "method": method,
                    "seed": seed,
                    **scores,
                    "failed": failed(scores),
                    "D parameters": parameter_count(checkpoint["D"]),
                    "seconds": checkpoint.extra["seconds"],
                }
            )
            checkpoints[method, seed] = checkpoint
    return Comparison(pd.DataFrame(rows), checkpoints)
