import subprocess
import sys

import pandas as pd
import pytest

from ganbook.cli import train
from ganbook.core import checkpoint


def test_train_gan_writes_loadable_model(tmp_path, capsys):
    out = tmp_path / "run"
    status = train.main(["gan", "--scale", "smoke", "--steps", "3", "--out", str(out)])
    assert status == 0
    assert {p.name for p in out.iterdir()} == {"model.pt", "log.csv", "samples.png", "run.json"}
    loaded = checkpoint.load(out / "model.pt", device="cpu")
    assert loaded.kind == "gan" and loaded.config["steps"] == 3
    assert len(pd.read_csv(out / "log.csv")) == 3
    assert "[D loss:" in capsys.readouterr().out  # the seed's log line


@pytest.mark.parametrize(
    "argv, message",
    [
        (["vae", "--out", "x"], "invalid choice: 'vae'"),
        (["gan", "--out", "x", "--scale", "huge"], "invalid choice: 'huge'"),
        (["gan", "--out", "x", "--steps", "0"], "must be at least 1"),
        (["gan", "--out", "x", "--seed", "-3"], "must be 0 or more"),
        (["gan"], "--out"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        train.main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_unavailable_device_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("torch.backends.mps.is_available", lambda: False)
    status = train.main(["gan", "--out", str(tmp_path), "--device", "mps"])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("ganbook-train: error:") and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_python_dash_m_ganbook_train_is_the_same_command(tmp_path):
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "ganbook.train", "ssgan-mlp", "--labels", "0", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stderr
    assert "ganbook-train" in done.stderr and "labels" in done.stderr
    assert not out.exists()
