import numpy as np
import pytest
import torch

from ganbook.data.mnist import DataError, load_mnist, to_unit_range


def test_offline_sample_is_stratified_and_deterministic():
    train, test = load_mnist("train", "sample"), load_mnist("test", "sample")
    assert train.images.shape == (4000, 1, 28, 28) and test.images.shape == (1000, 1, 28, 28)
    assert train.images.dtype == torch.float32 and train.labels.dtype == torch.int64
    assert train.images.min() == -1 and train.images.max() == 1
    assert torch.bincount(train.labels).tolist() == [400] * 10
    assert torch.bincount(test.labels).tolist() == [100] * 10
    assert "offline sample" in train.source
    again = load_mnist("test", "sample")
    assert torch.equal(again.images, test.images)
    # train and test hold different digits
    seen = {x.numpy().tobytes() for x in train.images}
    assert not any(x.numpy().tobytes() in seen for x in test.images)


def test_pixel_scaling():
    x = to_unit_range(np.array([0, 127.5, 255]))
    assert torch.allclose(x, torch.tensor([-1.0, 0.0, 1.0]))


def test_auto_falls_back_to_sample_when_offline(tmp_path, monkeypatch):
    from ganbook.data import mnist as data

    def offline(root):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nno network")

    monkeypatch.setattr(data, "_download", offline)
    found = load_mnist("test", "auto", root=tmp_path)
    assert "offline sample" in found.source and len(found) == 1000


def test_full_without_network_is_one_clear_sentence(tmp_path, monkeypatch):
    from ganbook.data import mnist as data

    monkeypatch.setattr(data, "_download", lambda root: (_ for _ in ()).throw(OSError("down")))
    with pytest.raises(DataError) as info:
        load_mnist("train", "full", root=tmp_path)
    message = str(info.value)
    assert "could not download MNIST" in message and "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def _write_idx_images(path, count):
    header = np.array([0x00000803, count, 28, 28], dtype=">i4").tobytes()
    path.write_bytes(header + np.zeros(count * 784, dtype=np.uint8).tobytes())


def _write_idx_labels(path, count):
    header = np.array([0x00000801, count], dtype=">i4").tobytes()
    path.write_bytes(header + (np.arange(count) % 10).astype(np.uint8).tobytes())


def test_full_mnist_files_are_read(tmp_path, monkeypatch):
    from ganbook.data import mnist as data

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    monkeypatch.setitem(data._RAW, "test", ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 20))
    _write_idx_images(raw / "t10k-images-idx3-ubyte", 20)
    _write_idx_labels(raw / "t10k-labels-idx1-ubyte", 20)
    found = load_mnist("test", "full", root=tmp_path)
    assert found.source == "full MNIST" and found.images.shape == (20, 1, 28, 28)
    assert found.images.min() == -1 and found.labels[:3].tolist() == [0, 1, 2]


def test_truncated_file_names_the_file(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "train-images-idx3-ubyte"):
        _write_idx_images(raw / name, 100)  # header says 100 images, not 10,000
    for name in ("t10k-labels-idx1-ubyte", "train-labels-idx1-ubyte"):
        _write_idx_labels(raw / name, 10_000)
    path = raw / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[: 16 + 50 * 784])  # and cut in the middle
    with pytest.raises(DataError) as info:
        load_mnist("test", "auto", root=tmp_path)
    message = str(info.value)
    assert str(path) in message and "corrupt or truncated" in message
    assert "\n" not in message and info.value.__suppress_context__


def test_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation")
    with pytest.raises(ValueError, match="source"):
        load_mnist("train", "internet")
