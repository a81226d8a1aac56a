import os
import pickle
import warnings

import numpy as np
import pytest
import torch

from ganbook.core import checkpoint
from ganbook.core.checkpoint import CheckpointError
from ganbook.vanilla import gan


def _saved(tmp_path, name="m.pt", **extra):
    config = gan.config_for("smoke").to_dict()
    models = gan.build(config)
    path = tmp_path / name
    checkpoint.save(checkpoint.Checkpoint("gan", config, models, [{"step": 1}], extra), path)
    return path, models


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown model kind 'vae'"):
        checkpoint.build("vae", {})


def test_the_chapters_register_their_kinds():
    import ganbook.bayesian.images  # noqa: F401
    import ganbook.selection.toys  # noqa: F401
    import ganbook.ssl  # noqa: F401

    assert {"gan", "dcgan", "cdcgan", "ssgan", "bayesian_dcgan", "toy"} <= set(checkpoint.kinds())


class _Payload:
    """Unpickling this object would create the file named by ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_crafted_pickle_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    torch.save({"format": checkpoint.FORMAT, "kind": "gan", "x": _Payload(str(marker))}, path)
    assert not marker.exists()
    with pytest.raises(CheckpointError) as error:
        checkpoint.load(path, device="cpu")
    assert not marker.exists(), "loading ran the pickle's payload"
    message = str(error.value)
    assert "\n" not in message and str(path) in message and "not loaded" in message
    # a plain pickle, not a torch file at all
    path.write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(CheckpointError, match="not a readable ganbook checkpoint"):
        checkpoint.load(path, device="cpu")
    assert not marker.exists()


@pytest.mark.parametrize(
    "content",
    [b"", b"not a checkpoint", "truncated", "foreign"],
    ids=["empty", "text", "cut", "foreign"],
)
def test_files_that_are_not_checkpoints_get_one_sentence(tmp_path, content):
    path, _ = _saved(tmp_path)
    if content == "truncated":
        path.write_bytes(path.read_bytes()[:5000])
    elif content == "foreign":
        torch.save({"weights": torch.zeros(3)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError) as error:
        checkpoint.load(path, device="cpu")
    assert "\n" not in str(error.value) and str(path) in str(error.value)


def test_missing_file_and_wrong_kind(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        checkpoint.load(tmp_path / "none.pt")
    path, _ = _saved(tmp_path)
    with pytest.raises(CheckpointError, match="holds a 'gan' model, not 'ssgan'"):
        checkpoint.load(path, device="cpu", kind="ssgan")


def test_round_trip_keeps_weights_log_and_extras(tmp_path):
    points = {3: np.arange(6, dtype=np.float32).reshape(3, 2)}
    path, models = _saved(tmp_path, points=points, seconds=np.float64(1.5), z=torch.ones(2))
    loaded = checkpoint.load(path, device="cpu")
    for name, model in models.items():
        for a, b in zip(
            model.state_dict().values(), loaded[name].state_dict().values(), strict=True
        ):
            assert torch.equal(a, b)
    assert loaded.log == [{"step": 1}]
    assert isinstance(loaded.extra["points"][3], np.ndarray)
    np.testing.assert_array_equal(loaded.extra["points"][3], points[3])
    assert loaded.extra["seconds"] == 1.5 and torch.equal(loaded.extra["z"], torch.ones(2))


def test_loaded_models_are_in_eval_mode(tmp_path):
    path, _ = _saved(tmp_path)
    loaded = checkpoint.load(path, device="cpu")
    assert not loaded["G"].training and not loaded["D"].training
    assert isinstance(loaded["G"], gan.Generator) and isinstance(loaded["D"], gan.Discriminator)


def test_save_is_atomic(tmp_path, monkeypatch):
    path, _ = _saved(tmp_path)
    before = path.read_bytes()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        _saved(tmp_path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.pt"], "a temporary file was left behind"


def test_key_depends_on_kind_scale_config_and_code():
    config = gan.config_for("smoke").to_dict()
    key = checkpoint.config_key("gan", "smoke", config)
    assert key == checkpoint.config_key("gan", "smoke", dict(config))
    assert key != checkpoint.config_key("gan", "book", config)
    assert key != checkpoint.config_key("gan", "smoke", {**config, "seed": 1})
    assert "ganbook.vanilla" in checkpoint._KINDS["gan"].sources


def test_a_corrupt_cache_entry_is_trained_again(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBOOK_CACHE", str(tmp_path))
    config = gan.config_for("smoke").to_dict()
    calls = []

    def train():
        calls.append(1)
        return checkpoint.Checkpoint("gan", config, gan.build(config))

    checkpoint.cached("gan", "smoke", config, train, "cpu", verbose=False)
    checkpoint.cache_path("gan", "smoke", config).write_bytes(b"garbage")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        checkpoint.cached("gan", "smoke", config, train, "cpu", verbose=False)
    assert len(calls) == 2 and "training it again" in str(caught[0].message)
    checkpoint.cached("gan", "smoke", config, train, "cpu", verbose=False)
    assert len(calls) == 2
