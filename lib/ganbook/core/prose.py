"""Numbers in the prose: sentences that read the same in Jupyter, Colab and the book.

A chapter records a number with :func:`glue` (myst-nb's ``glue``, which the
results page reads back) and cites it in a sentence written with the
book's ``{glue:text}`name:format``` roles, passed to :func:`prose`. The cell's
output is that sentence with the numbers filled in, as Markdown, so a reader
sees the numbers wherever the notebook is opened, not raw roles.
"""

from __future__ import annotations

import re
from typing import Any

from IPython.display import Markdown

_ROLE = re.compile(r"\{glue(?::text)?\}`([^`:]+)(?::([^`]*))?`")
_VALUES: dict[str, Any] = {}


def glue(name: str, value: Any, display: bool = False) -> None:
    """Record ``value`` under ``name`` for the prose and for the results page."""
    from myst_nb import glue as myst_glue

    myst_glue(name, value, display=display)
    _VALUES[name] = value


def prose(text: str) -> Markdown:
    """``text`` as Markdown, each ``{glue:text}`name:format``` role replaced by its value."""

    def fill(match: re.Match[str]) -> str:
        name, spec = match.group(1), match.group(2) or ""
        if name not in _VALUES:
            raise KeyError(f"the prose cites {name!r}, which no cell above has glued")
        return format(_VALUES[name], spec)

    return Markdown(_ROLE.sub(fill, text))
