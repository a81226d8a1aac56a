"""Independent training runs side by side on a CPU: one process and one thread each.

Small networks gain little from a second thread and a lot from a second core
working on another run. Each task runs in a fresh (spawned) process, which
trains its model into the model cache; the calling process then runs every
task itself, which loads what the workers saved. The models a reader gets
are those of running the tasks one after another.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

import torch

from ganbook.core.settings import get_device

T = TypeVar("T")


def _one_thread() -> None:
    torch.set_num_threads(1)


def _run(task: Callable[[], object]) -> None:
    task()


def side_by_side(
    tasks: Sequence[Callable[[], T]],
    device: str | torch.device | None = None,
    workers: int = 2,
) -> list[T]:
    """The results of ``tasks``, trained in up to ``workers`` processes at once on a CPU.

    Each task must be picklable (a module-level function, or a
    ``functools.partial`` of one) and must return a model through the model
    cache (a ``trained_...`` function): a worker's result reaches this process
    only through the cache. Anything the tasks share, such as the evaluator's
    classifier, must be in the cache before the call, or each worker trains it.
    On a GPU, or with one worker, the tasks simply run in turn.
    """
    if get_device(device).type == "cpu" and workers > 1 and len(tasks) > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            min(workers, len(tasks)), mp_context=context, initializer=_one_thread
        ) as pool:
            for future in [pool.submit(_run, task) for task in tasks]:
                future.result()
    return [task() for task in tasks]
