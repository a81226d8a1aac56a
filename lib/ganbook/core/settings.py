"""The conventions every chapter shares: scale, device, seed and folders.

Each is read from an environment variable so that a notebook, a test and a
command line all agree without passing flags around:

``GANBOOK_SCALE``  ``smoke`` (tests), ``book`` (the default) or ``paper``.
``GANBOOK_DEVICE`` ``cuda``, ``mps`` or ``cpu``; by default the best one here.
``GANBOOK_DATA``   where data sets are kept (default ``~/.cache/ganbook/data``).
``GANBOOK_CACHE``  where trained models are kept (default ``~/.cache/ganbook/models``).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

SCALES = ("smoke", "book", "paper")


def get_scale(scale: str | None = None) -> str:
    """Return the scale to run at: ``scale`` if given, else ``GANBOOK_SCALE``."""
    value = (scale or os.environ.get("GANBOOK_SCALE") or "book").strip().lower()
    if value not in SCALES:
        raise ValueError(
            f"unknown scale {value!r}: GANBOOK_SCALE must be one of {', '.join(SCALES)}"
        )
    return value


def get_device(device: str | torch.device | None = None) -> torch.device:
    """Return CUDA if available, else Apple MPS, else the CPU.

    ``device`` or ``GANBOOK_DEVICE`` overrides the choice; asking for a device
    that this machine lacks is an error rather than a silent fallback.
    """
    if isinstance(device, torch.device):
        device = str(device)
    source = "the device" if device else "GANBOOK_DEVICE"
    wanted = str(device or os.environ.get("GANBOOK_DEVICE") or "").strip().lower()
    if wanted:
        kind, _, index = wanted.partition(":")
        available = {
            "cpu": True,
            "cuda": torch.cuda.is_available(),
            "mps": torch.backends.mps.is_available(),
        }
        if kind not in available or (index and not index.isdigit()):
            raise ValueError(
                f"{source} must be cuda, mps or cpu (cuda:N for a GPU), got {wanted!r}"
            )
        if not available[kind]:
            raise ValueError(f"{source} is {wanted!r}, but this machine has no {kind}")
        if kind == "cuda" and index and int(index) >= torch.cuda.device_count():
            raise ValueError(
                f"{source} is {wanted!r}, but this machine has {torch.cuda.device_count()} GPUs"
            )
        return torch.device(wanted)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch; return a CPU generator seeded the same.

    On a CPU the same seed gives the same numbers run after run.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be a whole number from 0 to 2**63 - 1, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _folder(variable: str, default: str) -> Path:
    path = Path(os.environ.get(variable) or Path.home() / ".cache" / "ganbook" / default)
    return path.expanduser()


def data_dir() -> Path:
    """Folder for data sets (``GANBOOK_DATA``)."""
    return _folder("GANBOOK_DATA", "data")


def cache_dir() -> Path:
    """Folder for trained models (``GANBOOK_CACHE``)."""
    return _folder("GANBOOK_CACHE", "models")


def describe(scale: str | None = None, device: str | None = None) -> str:
    """One line naming the scale, device and library versions, for a notebook's top."""
    return (
        f"scale={get_scale(scale)}  device={get_device(device)}  "
        f"torch={torch.__version__}  threads={torch.get_num_threads()}"
    )
