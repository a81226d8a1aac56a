"""The chapter 2 comparison: plain DCGAN, feature matching and minibatch discrimination.

Each method is trained with each seed on the same data and budget, and every
finished G is scored on the chapter 1 metrics; a run whose digits cover too
few classes, or lean on one, counts as collapsed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch

from ganbook.core.checkpoint import Checkpoint
from ganbook.core.sampling import generate
from ganbook.core.settings import get_scale
from ganbook.dcgan.model import METHODS, SCALE_SETTINGS, config_for
from ganbook.dcgan.training import trained

#: Seed of the noise for the images a finished run is judged on.
EVAL_SEED = 2024


#: A finished run collapsed if its digits cover fewer than this many classes ...
COLLAPSE_MIN_CLASSES = 8
#: ... or one digit takes more than this share of them.
COLLAPSE_MAX_SHARE = 0.3


def collapsed(scores: dict[str, float]) -> bool:
    """Whether a run's scores say it collapsed (see the two thresholds above)."""
    return scores["classes"] < COLLAPSE_MIN_CLASSES or scores["max_share"] > COLLAPSE_MAX_SHARE


@dataclass
class Comparison:
    """The runs of :func:`compare`: one row of scores per (method, seed), and the models."""

    runs: pd.DataFrame
    checkpoints: dict[tuple[str, int], Checkpoint] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Method x metric: scores averaged over seeds, collapses counted."""
        table = self.runs.groupby("method", sort=False).agg(
            IS=("IS", "mean"),
            FID=("FID", "mean"),
            classes=("classes", "mean"),
            max_share=("max_share", "mean"),
            collapsed=("collapsed", "sum"),
            runs=("seed", "count"),
            minutes=("seconds", lambda s: s.mean() / 60),
        )
        return table.astype({"collapsed": int, "runs": int})


def compare(
    scale: str | None = None,
    methods: tuple[str, ...] = tuple(METHODS),
    seeds: tuple[int, ...] | None = None,
    device: str | torch.device | None = None,
) -> Comparison:
    """Train (or load) each method with each seed, same data and budget; score each run.

    The runs use the scale's config with its ``compare`` fields. Each finished
    G is judged on the chapter 1 metrics of ``samples`` images (per scale)
    drawn with the same noise seed for every run.
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
            scores = evaluator.scores(generate(checkpoint["G"], settings["samples"], EVAL_SEED))
            rows.append(
                {
                    "method": method,
                    "seed": seed,
                    **scores,
                    "collapsed": collapsed(scores),
                    "seconds": checkpoint.extra["seconds"],
                }
            )
            checkpoints[method, seed] = checkpoint
    return Comparison(pd.DataFrame(rows), checkpoints)
