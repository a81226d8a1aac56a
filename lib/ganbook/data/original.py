"""Data sets for the Bayesian GAN's image command line, with the original's interface.

The original ``bgan_util.py`` gives every data set the same small interface,
and its README shows how to add one (the custom-data tutorial, here
:class:`Digits`). A data set class has

``imgs``, ``test_imgs``      images as NumPy arrays (N, height, width, channels),
                             float32 in [-1, 1] (8-bit pixels are accepted too);
``labels``, ``test_labels``  one-hot labels (N, num_classes);
``x_dim``                    [height, width, channels];
``num_classes``              the number of classes K;
``next_batch(batch_size, class_id=None)`` and ``test_batch(batch_size)``
                             random batches (images, one-hot labels).

:func:`load_original` returns one by name: ``mnist`` (:func:`ganbook.data.load_mnist`),
``cifar``, ``svhn`` and ``celeb`` (:mod:`ganbook.data.images`, from ``data_path``)
and ``digits``, scikit-learn's 8x8 digits saved by :func:`save_digits` as
``x_tr.npy``, ``y_tr.npy``, ``x_te.npy`` and ``y_te.npy``. A missing or
unreadable file raises :class:`ganbook.data.DataError` with one sentence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganbook.data.mnist import DataError, load_mnist

#: The ``--dataset`` names of the original command line (``cifar`` and ``celeb`` are
#: the book's ``cifar10`` and ``celeba``: :data:`ganbook.data.images.ORIGINAL_NAMES`).
DATASETS = ("mnist", "cifar", "svhn", "celeb", "digits")
#: Files of the digits data set, as the tutorial names them.
DIGITS_FILES = ("x_tr.npy", "y_tr.npy", "x_te.npy", "y_te.npy")
#: Share of scikit-learn's 1,797 digits kept for the test split.
DIGITS_TEST_SHARE = 0.2


def one_hot_encoded(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Integer labels (N,) -> one-hot float32 rows (N, num_classes), as the original's helper."""
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    return np.eye(num_classes, dtype=np.float32)[labels]


class ImageData:
    """The original's data set interface over arrays already in memory.

    ``next_batch`` draws ``batch_size`` different training images with NumPy's
    global generator (seeded by :func:`ganbook.core.settings.seed_everything`);
    with ``class_id`` only images of that class.
    """

    def __init__(
        self,
        imgs: np.ndarray,
        labels: np.ndarray,
        test_imgs: np.ndarray,
        test_labels: np.ndarray,
        num_classes: int,
        name: str = "images",
    ) -> None:
        self.imgs, self.test_imgs = imgs, test_imgs
        self.labels = one_hot_encoded(labels, num_classes)
        self.test_labels = one_hot_encoded(test_labels, num_classes)
        self.x_dim = list(imgs.shape[1:])
        self.num_classes = num_classes
        self.name = name

    @staticmethod
    def get_batch(batch_size: int, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A batch from the given arrays, drawn without replacement."""
        idx = np.random.choice(x.shape[0], size=(batch_size,), replace=False)
        return x[idx], y[idx]

    def next_batch(
        self, batch_size: int, class_id: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """A random training batch (images, one-hot labels); only class ``class_id`` if given."""
        if class_id is None:
            return self.get_batch(batch_size, self.imgs, self.labels)
        keep = self.labels[:, class_id] == 1
        return self.get_batch(batch_size, self.imgs[keep], self.labels[keep])

    def test_batch(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """A random test batch (images, one-hot labels)."""
        return self.get_batch(batch_size, self.test_imgs, self.test_labels)

    def __repr__(self) -> str:
        shape = "x".join(map(str, self.x_dim))
        return (
            f"{type(self).__name__}({self.name}: {len(self.imgs)} training and "
            f"{len(self.test_imgs)} test images of {shape}, {self.num_classes} classes)"
        )


class Digits(ImageData):
    """The custom data set of the original README: scikit-learn's 8x8 digits.

    Reads ``x_tr.npy`` and ``x_te.npy`` (images (N, 8, 8, 1)) and ``y_tr.npy``,
    ``y_te.npy`` (integer labels) from ``data_path`` (the tutorial reads them
    from the working folder), one-hot encodes the labels and sets
    ``x_dim = [8, 8, 1]`` and ``num_classes = 10``. :func:`save_digits` writes
    the four files.
    """

    def __init__(self, data_path: str | Path = ".") -> None:
        folder = Path(data_path).expanduser()
        arrays = [_load_npy(folder / name) for name in DIGITS_FILES]
        x_tr, y_tr, x_te, y_te = arrays
        for x, y, split in ((x_tr, y_tr, "tr"), (x_te, y_te, "te")):
            if x.ndim != 4 or x.shape[1:] != (8, 8, 1) or len(x) != len(y):
                raise DataError(
                    f"digits file {folder / f'x_{split}.npy'} must hold images of shape "
                    f"(N, 8, 8, 1) matching y_{split}.npy; write them with "
                    "ganbook.data.original.save_digits."
                )
        super().__init__(x_tr.astype(np.float32), y_tr, x_te.astype(np.float32), y_te, 10, "digits")


def _load_npy(path: Path) -> np.ndarray:
    if not path.exists():
        raise DataError(
            f"digits file {path} is missing; write the four files with "
            f"ganbook.data.original.save_digits('{path.parent}')."
        )
    try:
        return np.load(path, allow_pickle=False)
    except Exception:
        raise DataError(
            f"digits file {path} is not a readable .npy file; write it again with "
            "ganbook.data.original.save_digits."
        ) from None


def save_digits(data_path: str | Path, seed: int = 0) -> Path:
    """Write scikit-learn's 8x8 digits as the tutorial's four files; return the folder.

    The 1,797 images (pixels 0..16) are scaled to [-1, 1] and shaped
    (N, 8, 8, 1); a stratified 80/20 split with ``seed`` gives the training
    and test files.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 8.0 - 1.0)[..., None]
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=DIGITS_TEST_SHARE, stratify=y, random_state=seed
    )
    folder = Path(data_path).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in zip(DIGITS_FILES, (x_tr, y_tr, x_te, y_te), strict=True):
        np.save(folder / name, array)
    return folder


def _nhwc(pixels) -> np.ndarray:
    """(N, C, H, W) tensor -> (N, H, W, C) array, keeping its dtype."""
    return np.ascontiguousarray(pixels.numpy().transpose(0, 2, 3, 1))


def load_original(name: str, data_path: str | Path | None = None) -> ImageData:
    """The data set ``name`` (one of :data:`DATASETS`) with the original's interface.

    MNIST needs no ``data_path`` (it is the MNIST folder if given); the others
    read their published files from it. CelebA has 40 binary attributes and no
    classes, so its labels are all 0 (one class).
    """
    from ganbook.data import images as datasets

    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {name!r}")
    name = datasets.canonical_name(name)
    if name == "digits":
        if data_path is None:
            raise DataError(
                "digits needs data_path, the folder with x_tr.npy, y_tr.npy, x_te.npy and "
                "y_te.npy; write them with ganbook.data.original.save_digits."
            )
        return Digits(data_path)
    if name == "mnist":
        train, test = load_mnist("train", root=data_path), load_mnist("test", root=data_path)
        source = f"MNIST, {train.source}"
        return _from_splits(train.images, train.labels, test.images, test.labels, source)
    if name == "celeba":
        faces = datasets.load_celeba(data_path)
        zeros = np.zeros(len(faces), dtype=np.int64)
        pixels = _nhwc(faces.pixels)
        return ImageData(pixels, zeros, pixels[:0], zeros[:0], 1, "CelebA")
    loader = datasets.LOADERS[name]
    train_set, test_set = loader(data_path, "train"), loader(data_path, "test")
    return _from_splits(
        train_set.pixels, train_set.labels, test_set.pixels, test_set.labels, train_set.source
    )


def _from_splits(
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    source: str,
) -> ImageData:
    """A ten-class data set with the original's interface from (N, C, H, W) splits."""
    return ImageData(
        _nhwc(train_images),
        train_labels.numpy(),
        _nhwc(test_images),
        test_labels.numpy(),
        10,
        source,
    )
