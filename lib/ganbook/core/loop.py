"""The training loop every plain GAN of the book shares (chapters 1 and 2).

A chapter supplies one alternating D/G iteration; the loop runs it ``steps``
times with a progress bar and, every ``sample_every`` steps and after the last,
keeps G's images for fixed noise (the same z all along, so a reader watches
one set of digits take shape) and the scores of ``monitor(G)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ganbook.core.progress import progress
from ganbook.core.sampling import sample


@dataclass
class Run:
    """What the loop recorded: the log of every step, samples, monitor scores, time."""

    log: list[dict[str, Any]] = field(default_factory=list)
    samples: dict[int, torch.Tensor] = field(default_factory=dict)
    monitor: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def extra(self, fixed_z: torch.Tensor) -> dict[str, Any]:
        """The checkpoint extras of a run: samples, monitor scores, seconds, the fixed z."""
        return {
            "samples": self.samples,
            "monitor": self.monitor,
            "seconds": self.seconds,
            "fixed_z": fixed_z,
        }


def alternate(
    iteration: Callable[[], dict[str, float]],
    G: nn.Module,
    fixed_z: torch.Tensor,
    steps: int,
    sample_every: int,
    *,
    monitor: Callable[[nn.Module], dict[str, float]] | None = None,
    description: str = "training",
    log_every: int = 0,
    log_line: Callable[[int, dict[str, float]], str] | None = None,
    quiet: bool = False,
) -> Run:
    """Run ``iteration()`` (one D and one G update, returning its log) ``steps`` times.

    With ``log_every`` and ``log_line``, ``log_line(step, entry)`` is printed
    every that many steps.
    """
    run = Run()
    start = time.perf_counter()
    bar = progress(steps, description, disable=quiet)
    for step in range(steps + 1):
        if step % sample_every == 0 or step == steps:
            run.samples[step] = sample(G, fixed_z)
            if monitor is not None:
                run.monitor.append({"step": step, **monitor(G)})
        if step == steps:
            break
        entry = iteration()
        run.log.append({"step": step, **entry})
        if log_every and log_line is not None and step % log_every == 0:
            bar.write(log_line(step, entry))
        bar.update(1)
    bar.close()
    run.seconds = time.perf_counter() - start
    return run
