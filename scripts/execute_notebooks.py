"""Re-execute notebooks at a chosen scale and store their outputs in place.

    python scripts/execute_notebooks.py --scale book            # every chapter
    python scripts/execute_notebooks.py --scale book book/01_gan_basics.ipynb

The kernel inherits GANBOOK_SCALE; widget state is stored so that widgets
display in the rendered book. The wall time of each notebook is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

BOOK = Path(__file__).resolve().parent.parent / "book"


def execute(path: Path, scale: str, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    os.environ["GANBOOK_SCALE"] = scale
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return seconds


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("notebooks", nargs="*", type=Path, help="default: every book/*.ipynb")
    p.add_argument("--scale", choices=("smoke", "book", "paper"), default="book")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = p.parse_args()
    paths = args.notebooks or sorted(BOOK.glob("*.ipynb"))
    for path in paths:
        print(f"{path.name}: running at {args.scale} scale ...", flush=True)
        print(f"{path.name}: {execute(path, args.scale, args.timeout):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
