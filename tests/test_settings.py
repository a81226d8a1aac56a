import pytest
import torch

from ganbook.core import settings


def test_scale_default_and_override(monkeypatch):
    monkeypatch.delenv("GANBOOK_SCALE", raising=False)
    assert settings.get_scale() == "book"
    monkeypatch.setenv("GANBOOK_SCALE", "Paper")
    assert settings.get_scale() == "paper"
    assert settings.get_scale("smoke") == "smoke"


def test_unknown_scale_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("GANBOOK_SCALE", "huge")
    with pytest.raises(ValueError, match="GANBOOK_SCALE must be one of smoke, book, paper"):
        settings.get_scale()


def test_device_override(monkeypatch):
    monkeypatch.setenv("GANBOOK_DEVICE", "cpu")
    assert settings.get_device() == torch.device("cpu")
    monkeypatch.setenv("GANBOOK_DEVICE", "tpu")
    with pytest.raises(ValueError, match="must be cuda, mps or cpu"):
        settings.get_device()


def test_missing_device_is_refused(monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA, so asking for it is not an error")
    monkeypatch.setenv("GANBOOK_DEVICE", "cuda")
    with pytest.raises(ValueError, match="has no cuda"):
        settings.get_device()


def test_seed_reproduces_numbers():
    settings.seed_everything(3)
    a = torch.randn(5)
    settings.seed_everything(3)
    assert torch.equal(a, torch.randn(5))
    with pytest.raises(ValueError):
        settings.seed_everything(-1)


def test_folders_follow_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GANBOOK_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("GANBOOK_CACHE", str(tmp_path / "c"))
    assert settings.data_dir() == tmp_path / "d"
    assert settings.cache_dir() == tmp_path / "c"
