"""Progress bars for long loops that do not flood a stored notebook."""

from __future__ import annotations

from tqdm.auto import tqdm


def progress(total: int, desc: str, **kwargs) -> tqdm:
    """A ``tqdm.auto`` bar over ``total`` steps, redrawn at most once a second.

    In Jupyter it is one widget; in a terminal one line. Set ``disable=True``
    to hide it (the tests do).
    """
    kwargs.setdefault("mininterval", 1.0)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(total=total, desc=desc, **kwargs)
