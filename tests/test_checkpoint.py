import pytest
import torch

from ganbook import checkpoint, gan


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown model kind 'vae'"):
        checkpoint.build("vae", {})


def test_missing_and_corrupt_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        checkpoint.load(tmp_path / "none.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="unreadable"):
        checkpoint.load(bad, device="cpu")


def test_key_depends_on_kind_scale_and_config():
    config = gan.config_for("smoke").to_dict()
    key = checkpoint.config_key("gan", "smoke", config)
    assert key == checkpoint.config_key("gan", "smoke", dict(config))
    assert key != checkpoint.config_key("gan", "book", config)
    assert key != checkpoint.config_key("gan", "smoke", {**config, "seed": 1})


def test_loaded_models_are_in_eval_mode(tmp_path):
    models = gan.build(gan.config_for("smoke").to_dict())
    path = checkpoint.save(
        checkpoint.Checkpoint("gan", gan.config_for("smoke").to_dict(), models), tmp_path / "m.pt"
    )
    loaded = checkpoint.load(path, device="cpu")
    assert not loaded["G"].training and isinstance(loaded["D"], torch.nn.Module)
