"""The loaders on tiny files written in each data set's published format."""

import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.io import savemat

from ganbook.data.images import ImageSet, load_celeba, load_cifar10, load_dataset, load_svhn
from ganbook.data.mnist import DataError

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _pickle(path, obj):
    with path.open("wb") as f:
        pickle.dump(obj, f, protocol=2)


@pytest.fixture
def cifar_root(tmp_path):
    """cifar-10-batches-py with 5 training batches of 2 images and a test batch of 3."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        data = rng.integers(0, 256, (2, 3072), dtype=np.uint8)
        _pickle(folder / f"data_batch_{i}", {"data": data, "labels": [i, i + 1]})
    data = np.zeros((3, 3072), dtype=np.uint8)
    data[0, :1024], data[0, 1024:2048], data[0, 2048:] = 10, 20, 30  # red, green, blue planes
    _pickle(folder / "test_batch", {"data": data, "labels": [7, 8, 9]})
    _pickle(folder / "batches.meta", {"label_names": CLASSES, "num_vis": 3072})
    return tmp_path


def test_cifar10_train_and_test(cifar_root):
    train = load_cifar10(cifar_root, "train")
    assert isinstance(train, ImageSet) and len(train) == 10
    assert train.pixels.shape == (10, 3, 32, 32) and train.pixels.dtype == torch.uint8
    assert train.labels.tolist() == [1, 2, 2, 3, 3, 4, 4, 5, 5, 6]
    test = load_cifar10(cifar_root / "cifar-10-batches-py", "test")  # the inner folder works too
    assert test.labels.tolist() == [7, 8, 9] and test.names[9] == "truck"
    assert test.pixels[0, :, 5, 7].tolist() == [10, 20, 30]  # row-major R, G, B planes
    images = test.images
    assert images.min() >= -1 and images.max() <= 1
    assert images[0, 0, 0, 0].item() == pytest.approx((10 - 127.5) / 127.5)


def test_cifar10_missing_and_corrupt_files(cifar_root):
    (cifar_root / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DataError, match="data_batch_3 is missing") as info:
        load_cifar10(cifar_root, "train")
    assert "\n" not in str(info.value) and "download=True" in str(info.value)
    (cifar_root / "cifar-10-batches-py" / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="test_batch is corrupt"):
        load_cifar10(cifar_root, "test")
    _pickle(cifar_root / "cifar-10-batches-py" / "test_batch", {"pixels": []})
    with pytest.raises(DataError, match="test_batch is corrupt"):
        load_cifar10(cifar_root, "test")


@pytest.mark.parametrize("path", [None, "/no/such/folder"])
def test_a_missing_data_path_is_one_sentence(path):
    for loader in (load_cifar10, load_svhn, load_celeba):
        with pytest.raises(DataError, match="needs data_path") as info:
            loader(path)
        assert "\n" not in str(info.value)


def test_svhn_labels_and_pixel_order(tmp_path):
    X = np.zeros((32, 32, 3, 4), dtype=np.uint8)  # MATLAB order: height, width, channel, image
    X[1, 2, 0, 3] = 200
    savemat(tmp_path / "test_32x32.mat", {"X": X, "y": np.array([[1], [10], [5], [10]])})
    svhn = load_svhn(tmp_path, "test")
    assert svhn.pixels.shape == (4, 3, 32, 32)
    assert svhn.pixels[3, 0, 1, 2].item() == 200 and svhn.pixels.sum().item() == 200
    assert svhn.labels.tolist() == [1, 0, 5, 0]  # the files' 10 is the digit 0
    with pytest.raises(DataError, match="train_32x32.mat is missing"):
        load_svhn(tmp_path, "train")
    savemat(tmp_path / "train_32x32.mat", {"X": X[:, :, :, :2], "y": np.ones((3, 1))})
    with pytest.raises(DataError, match="train_32x32.mat is corrupt"):
        load_svhn(tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        load_svhn(tmp_path, "valid")


ATTRIBUTES = [f"Attribute_{i}" for i in range(40)]


@pytest.fixture
def celeba_root(tmp_path):
    """Three 178x218 aligned faces of one colour each, and their attribute file."""
    (tmp_path / "Anno").mkdir()
    (tmp_path / "img_align_celeba").mkdir()
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    lines = ["3", " ".join(ATTRIBUTES)]
    for i, colour in enumerate(colours, start=1):
        name = f"{i:06d}.jpg"
        Image.new("RGB", (178, 218), colour).save(tmp_path / "img_align_celeba" / name)
        values = ["1" if (a + i) % 2 else "-1" for a in range(40)]
        lines.append(f"{name}  " + "  ".join(f"{v:>2}" for v in values))
    (tmp_path / "Anno" / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_celeba_faces_and_attributes(celeba_root):
    faces = load_celeba(celeba_root)
    assert faces.pixels.shape == (3, 3, 64, 64) and faces.names == tuple(ATTRIBUTES)
    assert faces.labels.shape == (3, 40) and set(faces.labels.unique().tolist()) == {0, 1}
    assert faces.labels[0, :2].tolist() == [1, 0]  # image 1: attribute 0 is +1, 1 is -1
    means = faces.pixels.float().mean((2, 3))
    assert means.argmax(1).tolist() == [0, 1, 2]  # red, green, blue survive JPEG and resizing
    assert load_celeba(celeba_root, image_size=32, limit=2).pixels.shape == (2, 3, 32, 32)


def test_celeba_missing_and_corrupt_files(celeba_root):
    (celeba_root / "img_align_celeba" / "000002.jpg").unlink()
    with pytest.raises(DataError, match="000002.jpg is missing"):
        load_celeba(celeba_root)
    (celeba_root / "img_align_celeba" / "000001.jpg").write_bytes(b"garbage")
    with pytest.raises(DataError, match="000001.jpg is corrupt"):
        load_celeba(celeba_root, limit=1)
    attributes = celeba_root / "Anno" / "list_attr_celeba.txt"
    attributes.write_text("3\nSmiling\n000001.jpg 1 1\n")
    with pytest.raises(DataError, match="list_attr_celeba.txt is corrupt"):
        load_celeba(celeba_root)
    attributes.unlink()
    with pytest.raises(DataError, match="list_attr_celeba.txt is missing"):
        load_celeba(celeba_root)


def test_load_dataset_by_name(cifar_root):
    assert len(load_dataset("cifar10", cifar_root, split="test")) == 3
    with pytest.raises(ValueError, match="cifar10, svhn, celeba"):
        load_dataset("lsun", cifar_root)
