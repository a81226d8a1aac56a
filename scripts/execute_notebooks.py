"""Re-execute notebooks at a chosen scale and store their outputs in place.

    python scripts/execute_notebooks.py --scale book            # every chapter
    python scripts/execute_notebooks.py --scale book book/01_gan_basics.ipynb

The kernel inherits GANBOOK_SCALE; widget state is stored so that widgets
display in the rendered book. The wall time of each notebook is printed.

Each chapter's first cell (tagged ``install-library``) installs the library where
it is missing, as in Colab, from ``REPOSITORY``: this script writes there the
address the launch buttons use (``GANBOOK_REPOSITORY_URL``, else the checkout's
``origin`` remote), so the notebooks a launch button opens install from the
repository the book was built from.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

BOOK = Path(__file__).resolve().parent.parent / "book"
INSTALL_TAG = "install-library"
sys.path.insert(0, str(BOOK.parent / "_ext"))
from book_html import repository_url  # noqa: E402  (the launch buttons' address)


def set_repository(nb: nbformat.NotebookNode, url: str | None) -> int:
    """Write ``url`` into the ``REPOSITORY = ...`` line of the install cell; count cells."""
    cells = [c for c in nb.cells if INSTALL_TAG in c.metadata.get("tags", [])]
    for cell in cells:
        cell.source = re.sub(
            r"^REPOSITORY = .*$", f"REPOSITORY = {url!r}", cell.source, flags=re.M
        )
    return len(cells)


def execute(path: Path, scale: str, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    set_repository(nb, repository_url(BOOK.parent))
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
