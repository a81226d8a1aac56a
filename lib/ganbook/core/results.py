"""Numbers the chapters computed, read back from their stored notebooks.

Each chapter records its headline numbers with myst-nb's ``glue`` (that is
how its prose cites them). The results page reads those records from the
executed notebooks, so that it repeats exactly what each chapter printed and
never trains anything itself.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

_RECORD = "application/papermill.record/"


def glued(notebook: str | Path) -> dict[str, Any]:
    """Every value glued in ``notebook`` (a path; without a suffix, ``.ipynb`` is added).

    A bare name such as ``"03_ssl_gan"`` is found in the current folder, which is
    ``book/`` for the results page.

    Values come back as Python numbers or strings; a string holding JSON (how a
    chapter glues a table) is left for :func:`glued_table` to decode.
    """
    path = Path(notebook)
    if not path.suffix:
        path = path.with_suffix(".ipynb")
    if not path.exists():
        raise FileNotFoundError(f"no notebook {path}")
    values: dict[str, Any] = {}
    for cell in json.loads(path.read_text())["cells"]:
        for output in cell.get("outputs", []):
            scrap = output.get("metadata", {}).get("scrapbook")
            if not scrap:
                continue
            text = output.get("data", {}).get(f"{_RECORD}text/plain")
            if text is None:
                continue
            try:
                values[scrap["name"]] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                values[scrap["name"]] = text
    return values


def glued_table(notebook: str | Path, name: str) -> Any:
    """A table a chapter glued as a JSON string (``json.dumps`` of records), decoded."""
    values = glued(notebook)
    if name not in values:
        raise KeyError(f"{notebook} glues no {name!r}; re-run it with `make notebooks`")
    return json.loads(values[name])
