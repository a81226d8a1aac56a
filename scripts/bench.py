"""The book's benchmark: each chapter's training speed and memory, and its notebooks' times.

    python scripts/bench.py                    # every chapter, then the notebooks' stored times
    python scripts/bench.py --chapters 1 3 --steps 100
    python scripts/bench.py --notebooks smoke  # also run every notebook at smoke scale
    python scripts/bench.py --notebooks book   # ... at book scale, from an empty cache (an hour)

For each chapter it trains the chapter's main model at ``book`` settings for
``--steps`` steps in a fresh Python process, after a few warm-up steps, and
prints steps per second and the process's peak resident memory. The Bayesian
GAN's row times one batched step of its J x M = 10 x 1 weight samples next to
the same step looped over separate networks (`scripts/bench_bgan.py`).

Notebook times: the stored run's is read from the notebook itself (the span
of its cells' execution timestamps, written when it was last executed with
``make notebooks``; models found in the cache then took no training time).
``--notebooks`` measures them: it executes a copy of each notebook at each
scale given, with an empty model cache, and leaves the stored outputs alone.
The output is Markdown tables, ready for the README.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import torch

BOOK = Path(__file__).resolve().parents[1] / "book"
WARMUP = 5


def _gan(steps: int) -> None:
    from ganbook.vanilla import gan

    gan.train(gan.config_for("book", steps=steps), quiet=True)


def _dcgan(steps: int) -> None:
    from ganbook import dcgan

    dcgan.train(dcgan.config_for("book", steps=steps), quiet=True)


def _ssgan(steps: int) -> None:
    from ganbook import ssl as ssgan

    ssgan.train(ssgan.config_for("book", model="eleven", steps=steps, eval_every=steps), quiet=True)


#: chapter -> (what is trained, its training loop for ``steps`` steps at book settings)
CHAPTERS: dict[str, tuple[str, Callable[[int], None]]] = {
    "1": ("GAN (MLP), batch 32", _gan),
    "2": ("DCGAN, width 64, batch 64", _dcgan),
    "3": ("11-class semi-supervised GAN, batch 64 + 32 labelled", _ssgan),
}


def measure(chapter: str, steps: int) -> dict[str, float | str]:
    """Train ``chapter``'s model for ``steps`` steps in this process; speed and peak memory."""
    if chapter == "4":
        return _measure_bayesian_gan(steps)
    what, run = CHAPTERS[chapter]
    run(WARMUP)
    start = time.perf_counter()
    run(steps)
    seconds = time.perf_counter() - start
    return {"model": what, "steps_per_s": steps / seconds, "peak_mb": _peak_mb()}


def _measure_bayesian_gan(steps: int) -> dict[str, float | str]:
    from ganbook.bayesian.speed import bench

    looped, batched = bench(10, 1, steps, "sghmc", torch.device("cpu"))
    return {
        "model": "Bayesian GAN, synthetic, J x M = 10 x 1 (batched)",
        "steps_per_s": 1 / batched,
        "peak_mb": _peak_mb(),
        "looped_over_batched": looped / batched,
    }


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if platform.system() == "Darwin" else peak / 2**10  # bytes / KiB


def stored_seconds(path: Path) -> float | None:
    """Wall time of the notebook's stored run, from its cells' execution timestamps."""
    notebook = json.loads(path.read_text())
    stamps = []
    for cell in notebook["cells"]:
        execution = cell.get("metadata", {}).get("execution", {})
        for key in ("iopub.execute_input", "shell.execute_reply"):
            if key in execution:
                stamps.append(datetime.fromisoformat(execution[key].replace("Z", "+00:00")))
    return (max(stamps) - min(stamps)).total_seconds() if stamps else None


def notebook_seconds(path: Path, scale: str) -> float:
    """Execute a copy of the notebook at ``scale`` with an empty model cache; its wall time."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as cache:
        env = {"GANBOOK_SCALE": scale, "GANBOOK_CACHE": cache}
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            client = NotebookClient(
                notebook,
                timeout=3600,
                kernel_name="python3",
                resources={"metadata": {"path": str(path.parent)}},
            )
            start = time.perf_counter()
            client.execute()
            return time.perf_counter() - start
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _run_child(chapter: str, steps: int) -> dict[str, float | str]:
    command = [sys.executable, __file__, "--child", chapter, "--steps", str(steps)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"chapter {chapter} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python scripts/bench.py", description=__doc__.splitlines()[0])
    chapters = [*CHAPTERS, "4"]
    p.add_argument("--chapters", nargs="+", choices=chapters, default=chapters)
    p.add_argument("--steps", type=int, default=50, help="timed steps per chapter (50)")
    p.add_argument(
        "--notebooks",
        nargs="+",
        choices=("smoke", "book", "paper"),
        default=[],
        help="also execute every notebook at these scales and time it",
    )
    p.add_argument("--child", choices=chapters, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.steps < 1:
        print("python -m ganbook.SCRIPT: --steps must be at least 1", file=sys.stderr)
        return 2
    if args.child:
        print(json.dumps(measure(args.child, args.steps)))
        return 0
    threads = os.environ.get("OMP_NUM_THREADS", str(torch.get_num_threads()))
    print(f"CPU: {os.cpu_count()} cores, {threads} torch threads, torch {torch.__version__}\n")
    print("| chapter | model trained at book settings | steps/s | peak memory (MB) |")
    print("|---|---|---|---|")
    ratio = None
    for chapter in args.chapters:
        row = _run_child(chapter, args.steps)
        ratio = row.get("looped_over_batched", ratio)
        print(
            f"| {chapter} | {row['model']} | {row['steps_per_s']:.1f} | {row['peak_mb']:.0f} |",
            flush=True,
        )
    if ratio is not None:
        print(f"\nBayesian GAN, J x M = 10 x 1: looped / batched step time = {ratio:.2f}x")
    scales = "".join(f" {scale} scale (s) |" for scale in args.notebooks)
    print(f"\n| notebook | stored run (s) |{scales}")
    print("|---|---|" + "---|" * len(args.notebooks))
    for path in sorted(BOOK.glob("*.ipynb")):
        stored = stored_seconds(path)
        cells = [f"{notebook_seconds(path, scale):.0f}" for scale in args.notebooks]
        row = " | ".join(["unknown" if stored is None else f"{stored:.0f}", *cells])
        print(f"| {path.name} | {row} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
