"""Show the code that really runs, in a notebook, instead of a copy that can drift."""

from __future__ import annotations

import inspect
from typing import Any


def show_source(obj: Any) -> Any:
    """Display the source of a lib function or class with syntax highlighting."""
    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")
