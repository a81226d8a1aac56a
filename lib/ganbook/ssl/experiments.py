"""The chapter 3 comparison: every model x label count x seed, trained side by side.

On a CPU the runs train in parallel processes, one thread each; the results
come back as one table.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

import pandas as pd
import torch

from ganbook.core.checkpoint import Checkpoint
from ganbook.core.progress import progress
from ganbook.core.settings import get_device, get_scale
from ganbook.ssl.training import Settings, config_for, is_cached, trained

Key = TypeVar("Key")
#: Seeds of the chapter's comparison and parallel training processes, per scale.
SEEDS = {"smoke": (0,), "book": (0, 1, 2), "paper": (0, 1, 2)}
WORKERS = {"smoke": 1, "book": 2, "paper": 1}


def train_all(
    configs: Mapping[Key, Settings],
    scale: str | None = None,
    device: str | torch.device | None = None,
    workers: int | None = None,
) -> dict[Key, Checkpoint]:
    """Train (or load from the cache) the model of every config at ``scale``.

    On a CPU, ``workers`` processes (default :data:`WORKERS` of the scale)
    train runs side by side, one thread each: these small convolutions gain
    little from a second thread, and a lot from a second core working on
    another run. Runs trained here also use one thread, so a run gives the
    same numbers whichever way it was trained. One progress bar counts the
    steps still to train.
    """
    scale = get_scale(scale)
    device = get_device(device)
    todo = [key for key, config in configs.items() if not is_cached(config, scale)]
    workers = WORKERS[scale] if workers is None else workers
    bar = progress(sum(configs[key].steps for key in todo), "chapter 3 runs")
    if device.type == "cpu" and workers > 1 and len(todo) > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(workers, len(todo)), mp_context=context) as pool:
            futures = {pool.submit(_train_in_worker, configs[key], scale): key for key in todo}
            for future in as_completed(futures):
                future.result()
                bar.update(configs[futures[future]].steps)
    with _one_thread(device):
        runs = {
            key: trained(config, scale=scale, device=device, bar=bar)
            for key, config in configs.items()
        }
    bar.close()
    return runs


@contextlib.contextmanager
def _one_thread(device: torch.device) -> Iterator[None]:
    """Run CPU training in this process on one thread, as the workers do, then restore."""
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


RunKey = tuple[str, int, int]


def run_grid(
    models: Sequence[str],
    label_counts: Sequence[int],
    seeds: Sequence[int],
    scale: str | None = None,
    device: str | torch.device | None = None,
    **overrides: Any,
) -> dict[RunKey, Checkpoint]:
    """Every model x label count x seed at ``scale``: {(model, labels, seed): checkpoint}.

    Seed s fixes both the initial weights and the labelled subset, so the
    models of one seed learn from exactly the same labelled images.
    """
    configs = {
        (model, labels, seed): config_for(
            scale, model=model, labels=labels, seed=seed, label_seed=seed, **overrides
        )
        for labels in label_counts
        for seed in seeds
        for model in models
    }
    return train_all(configs, scale, device)


def _train_in_worker(config: Settings, scale: str) -> None:
    torch.set_num_threads(1)
    trained(config, scale=scale, device="cpu", quiet=True)


def results_table(runs: dict[RunKey, Checkpoint]) -> pd.DataFrame:
    """One row per run: model, labels, seed, test accuracies, labels used, seconds."""
    rows = [
        {
            "model": model,
            "labels": labels,
            "seed": seed,
            "test_acc": run.extra["test_accuracy"],
            "test_acc_running": run.extra.get("test_accuracy_running", float("nan")),
            "labels_seen": run.extra["labels_seen"],
            "seconds": run.extra["seconds"],
        }
        for (model, labels, seed), run in runs.items()
    ]
    return pd.DataFrame(rows)


def paired_gains(accuracy: pd.Series, model: str, control: str, labels: int = 100) -> list[float]:
    """``model`` minus ``control`` on each seed they share, in points.

    ``accuracy`` is the test accuracy indexed by (model, labels, seed), as
    ``results_table(runs).set_index(["model", "labels", "seed"])["test_acc"]``
    gives it; a seed fixes the labelled images, so each pair saw the same labels.
    """
    ours, theirs = accuracy[model][labels], accuracy[control][labels]
    seeds = sorted(set(ours.index) & set(theirs.index))
    if not seeds:
        raise ValueError(f"{model} and {control} share no seed at {labels} labels")
    return [100 * (ours[s] - theirs[s]) for s in seeds]


def verdict(accuracy: pd.Series, model: str, control: str, labels: int = 100) -> str:
    """Whether ``model``'s gain over ``control`` stands out of the seeds' spread, in words."""
    gains = paired_gains(accuracy, model, control, labels)
    ours, theirs = accuracy[model][labels], accuracy[control][labels]
    if min(gains) > 0 and ours.min() > theirs.max():
        return "a gain on every seed, clear of the spread over seeds"
    if min(gains) > 0:
        return "a gain on every seed, but within the spread over seeds"
    return "no gain beyond the noise: on some seed it does no better"
