"""CIFAR-10, SVHN and CelebA from a folder the user gives, in their published formats.

The book runs on MNIST (:mod:`ganbook.data`); these loaders let a reader with
the data, and a GPU, train the same DCGAN on the data sets of the papers:

``load_cifar10(data_path)``  the Python version: ``cifar-10-batches-py/`` with
                             ``data_batch_1`` ... ``data_batch_5``, ``test_batch``
                             and ``batches.meta`` (pickled dicts);
``load_svhn(data_path)``     the cropped digits: ``train_32x32.mat``,
                             ``test_32x32.mat`` (MATLAB files; label 10 is a 0);
``load_celeba(data_path)``   ``Anno/list_attr_celeba.txt`` and the aligned
                             images ``img_align_celeba/*.jpg``, centre-cropped to
                             108x108 and resized to 64x64 as in the DCGAN code.

Each returns an :class:`ImageSet` of 8-bit pixels (N, C, H, W), so that all of
CelebA fits in memory; ``.images`` gives them in [-1, 1]. ``download=True``
fetches CIFAR-10 or SVHN through torchvision, which checks their MD5 sums;
torchvision's own dataset classes are not used for reading because they refuse
any file whose checksum differs (a subset, or the tests' small files) and keep
CelebA in a different folder layout. A missing or corrupt file raises
:class:`ganbook.data.DataError` with one sentence naming it and what to do.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganbook.core.progress import progress
from ganbook.data.mnist import DataError, to_unit_range

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
SVHN_URL = "http://ufldl.stanford.edu/housenumbers/"
CELEBA_URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
#: CelebA's aligned images are 178x218; the DCGAN code crops the middle 108x108.
CELEBA_CROP = 108


@dataclass(frozen=True)
class ImageSet:
    """Images as 8-bit pixels (N, C, H, W) with their labels and label names.

    ``labels`` are class indices (N,) for CIFAR-10 and SVHN, and the 40 binary
    attributes (N, 40) in {0, 1} for CelebA.
    """

    pixels: torch.Tensor
    labels: torch.Tensor
    names: tuple[str, ...]
    source: str
    split: str

    def __post_init__(self) -> None:
        if len(self.pixels) == 0:
            raise DataError(f"{self.source} ({self.split}) holds no images; check its files.")

    def __len__(self) -> int:
        return len(self.pixels)

    @property
    def images(self) -> torch.Tensor:
        """The images as floats in [-1, 1], the range of the generators' tanh."""
        return to_unit_range(self.pixels)

    def __repr__(self) -> str:
        shape = "x".join(map(str, self.pixels.shape[1:]))
        return f"ImageSet({self.source} {self.split}: {len(self)} images of {shape})"


def _folder(data_path: str | Path | None, name: str, url: str) -> Path:
    if data_path is None:
        raise DataError(
            f"{name} needs data_path, the folder that holds its files; none was given "
            f"(download {name} from {url})."
        )
    if not Path(data_path).expanduser().is_dir():
        raise DataError(
            f"{name} needs data_path, the folder that holds its files; {data_path} is not "
            f"a folder (download {name} from {url})."
        )
    return Path(data_path).expanduser()


def _missing(name: str, path: Path, url: str, download: bool) -> DataError:
    hint = " (from Python, its loader's download=True fetches it)" if download else ""
    return DataError(f"{name} file {path} is missing; download it from {url}{hint}.")


def _corrupt(name: str, path: Path, url: str) -> DataError:
    return DataError(
        f"{name} file {path} is corrupt or not in the published format; get it from {url}."
    )


def load_cifar10(
    data_path: str | Path | None, split: str = "train", download: bool = False
) -> ImageSet:
    """CIFAR-10's training (50,000) or test (10,000) images, 3x32x32, with classes.

    ``data_path`` is the folder that holds ``cifar-10-batches-py`` (as the
    archive unpacks) or that folder itself.
    """
    if split not in ("train", "test"):
        raise ValueError(f"CIFAR-10 split must be 'train' or 'test', got {split!r}")
    root = _folder(data_path, "CIFAR-10", CIFAR_URL)
    if download:
        _download("CIFAR10", root, train=split == "train")
    folder = root / "cifar-10-batches-py"
    folder = folder if folder.is_dir() else root
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    pixels, labels = [], []
    for name in names:
        batch = _unpickle(folder / name)
        try:
            data = np.asarray(batch["data"], dtype=np.uint8)
            pixels.append(data.reshape(len(data), 3, 32, 32))
            labels.append(np.asarray(batch["labels"], dtype=np.int64))
            if len(labels[-1]) != len(data):
                raise ValueError("labels and images differ in number")
        except (KeyError, ValueError, TypeError):
            raise _corrupt("CIFAR-10", folder / name, CIFAR_URL) from None
    meta = _unpickle(folder / "batches.meta")
    classes = tuple(meta.get("label_names", ())) if isinstance(meta, dict) else ()
    if len(classes) != 10:
        raise _corrupt("CIFAR-10", folder / "batches.meta", CIFAR_URL)
    return ImageSet(
        torch.from_numpy(np.concatenate(pixels)),
        torch.from_numpy(np.concatenate(labels)),
        classes,
        "CIFAR-10",
        split,
    )


def _unpickle(path: Path) -> dict:
    if not path.exists():
        raise _missing("CIFAR-10", path, CIFAR_URL, download=True)
    try:
        with path.open("rb") as f:
            # The files were pickled by Python 2; latin1 reads their str keys and arrays.
            return pickle.load(f, encoding="latin1")
    except Exception:
        raise _corrupt("CIFAR-10", path, CIFAR_URL) from None


def load_svhn(
    data_path: str | Path | None, split: str = "train", download: bool = False
) -> ImageSet:
    """SVHN's cropped digits, 3x32x32: ``train`` (73,257), ``test`` (26,032) or ``extra``.

    The files label the digit 0 as 10; here it is 0, as in MNIST.
    """
    from scipy.io import loadmat

    if split not in ("train", "test", "extra"):
        raise ValueError(f"SVHN split must be 'train', 'test' or 'extra', got {split!r}")
    root = _folder(data_path, "SVHN", SVHN_URL)
    if download:
        _download("SVHN", root, split=split)
    path = root / f"{split}_32x32.mat"
    if not path.exists():
        raise _missing("SVHN", path, SVHN_URL, download=True)
    try:
        mat = loadmat(str(path))
        X = np.asarray(mat["X"], dtype=np.uint8)
        y = np.asarray(mat["y"], dtype=np.int64).reshape(-1)
        if X.ndim != 4 or X.shape[:3] != (32, 32, 3) or X.shape[3] != len(y):
            raise ValueError(f"shapes {X.shape} and {y.shape}")
    except Exception:
        raise _corrupt("SVHN", path, SVHN_URL) from None
    # MATLAB stores (height, width, channel, image); PyTorch wants (image, channel, h, w).
    pixels = torch.from_numpy(np.ascontiguousarray(X.transpose(3, 2, 0, 1)))
    return ImageSet(pixels, torch.from_numpy(y % 10), tuple(map(str, range(10))), "SVHN", split)


def load_celeba(
    data_path: str | Path | None, image_size: int = 64, limit: int | None = None
) -> ImageSet:
    """CelebA's aligned faces, centre-cropped and resized to ``image_size``, with attributes.

    ``limit`` keeps the first that many images (all 202,599 take ~2.5 GB as
    8-bit pixels at 64x64 and a few minutes to decode).
    """
    from PIL import Image
    from torchvision.transforms.functional import center_crop, pil_to_tensor, resize

    root = _folder(data_path, "CelebA", CELEBA_URL)
    attr_path = root / "Anno" / "list_attr_celeba.txt"
    if not attr_path.exists():
        raise _missing("CelebA", attr_path, CELEBA_URL, download=False)
    files, attributes, names = _read_attributes(attr_path)
    if limit is not None:
        files, attributes = files[:limit], attributes[:limit]
    pixels = torch.empty(len(files), 3, image_size, image_size, dtype=torch.uint8)
    folder = root / "img_align_celeba"
    bar = progress(len(files), "decoding CelebA", disable=len(files) < 1000)
    for i, name in enumerate(files):
        path = folder / name
        if not path.exists():
            raise _missing("CelebA", path, CELEBA_URL, download=False)
        try:
            with Image.open(path) as img:
                face = center_crop(pil_to_tensor(img.convert("RGB")), [CELEBA_CROP])
        except Exception:
            raise _corrupt("CelebA", path, CELEBA_URL) from None
        pixels[i] = resize(face, [image_size, image_size], antialias=True)
        bar.update(1)
    bar.close()
    return ImageSet(pixels, torch.from_numpy(attributes), names, "CelebA", "all")


def _read_attributes(path: Path) -> tuple[list[str], np.ndarray, tuple[str, ...]]:
    """Parse ``list_attr_celeba.txt``: a count, the 40 names, then ``file v1 ... v40`` in +-1."""
    try:
        lines = path.read_text().splitlines()
        count, names = int(lines[0]), tuple(lines[1].split())
        rows = [line.split() for line in lines[2 : 2 + count]]
        if len(rows) != count or any(len(row) != len(names) + 1 for row in rows):
            raise ValueError("rows do not match the header")
        values = np.array([row[1:] for row in rows], dtype=np.int64)
        if not np.isin(values, (-1, 1)).all():
            raise ValueError("attributes must be -1 or 1")
    except Exception:
        raise _corrupt("CelebA", path, CELEBA_URL) from None
    return [row[0] for row in rows], (values > 0).astype(np.int64), names


def _download(name: str, root: Path, **kwargs: object) -> None:
    import torchvision.datasets

    try:
        getattr(torchvision.datasets, name)(str(root), download=True, **kwargs)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"could not download {name} into {root} ({first}).") from None


#: Every image data set of the book: name -> (channels, image size).
SHAPES: dict[str, tuple[int, int]] = {
    "mnist": (1, 28),
    "cifar10": (3, 32),
    "svhn": (3, 32),
    "celeba": (3, 64),
    "digits": (1, 8),
}
#: Classes of each data set (CelebA has 40 attributes, no classes).
NUM_CLASSES = {"mnist": 10, "cifar10": 10, "svhn": 10, "celeba": 1, "digits": 10}
#: The original Bayesian GAN code's names for two of them (its ``--dataset`` flag).
ORIGINAL_NAMES = {"cifar": "cifar10", "celeb": "celeba"}


def canonical_name(name: str) -> str:
    """The book's name of a data set, given the book's or the original code's name."""
    book_name = ORIGINAL_NAMES.get(name, name)
    if book_name not in SHAPES:
        known = ", ".join([*SHAPES, *ORIGINAL_NAMES])
        raise ValueError(f"unknown data set {name!r}; known: {known}")
    return book_name


LOADERS: dict[str, Callable[..., ImageSet]] = {
    "cifar10": load_cifar10,
    "svhn": load_svhn,
    "celeba": load_celeba,
}


def load_dataset(name: str, data_path: str | Path | None, **kwargs: object) -> ImageSet:
    """One of :data:`LOADERS` by name, e.g. ``load_dataset("svhn", "~/data", split="test")``."""
    if name not in LOADERS:
        raise ValueError(f"data set must be one of {', '.join(LOADERS)}, got {name!r}")
    return LOADERS[name](data_path, **kwargs)
