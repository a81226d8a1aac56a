"""``python -m ganbook.cli.sample``: selectors on saved models, and bad inputs."""

import numpy as np
import pytest

from ganbook.cli import sample, train


@pytest.fixture(scope="module")
def grid_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("grid")
    argv = ["grid25", "--scale", "smoke", "--steps", "1", "--out", str(out)]
    assert train.main(argv) == 0
    return out


@pytest.mark.parametrize(
    "method, calibrate", [("gan", "none"), ("drs", "none"), ("mh", "isotonic")]
)
def test_points_from_a_toy_model(grid_dir, tmp_path, method, calibrate, capsys):
    out = tmp_path / "x.npy"
    argv = [str(grid_dir), "--method", method, "--calibrate", calibrate, "-K", "4", "-n", "9"]
    assert sample.main([*argv, "--real", "50", "--out", str(out)]) == 0
    x = np.load(out)
    assert x.shape == (9, 2) and np.isfinite(x).all()
    assert "9 samples by" in capsys.readouterr().out


def test_a_refined_discriminator_changes_the_selection(grid_dir, tmp_path):
    outs = []
    for refine in ([], ["--refine", "300"]):
        out = tmp_path / f"x{len(refine)}.npy"
        argv = [str(grid_dir), "--method", "mh", "-K", "5", "-n", "30", "--real", "30"]
        assert sample.main([*argv, *refine, "--out", str(out)]) == 0
        outs.append(np.load(out))
    assert outs[0].shape == outs[1].shape == (30, 2)
    assert not np.array_equal(outs[0], outs[1])


def test_refine_is_for_toy_models_only(tmp_path, capsys):
    run = tmp_path / "gan"
    assert train.main(["gan", "--scale", "smoke", "--steps", "1", "--out", str(run)]) == 0
    argv = [str(run), "--refine", "5", "-n", "4", "--out", str(tmp_path / "x.npy")]
    assert sample.main(argv) == 2
    assert "refine applies to the toy mixtures' models, not 'gan'" in capsys.readouterr().err


def test_mh_on_a_dcgan_writes_a_png(tmp_path, capsys):
    run = tmp_path / "dcgan"
    assert train.main(["dcgan", "--scale", "smoke", "--steps", "1", "--out", str(run)]) == 0
    out = tmp_path / "mh.png"
    argv = [str(run), "--method", "mh", "--calibrate", "isotonic", "-K", "3", "-n", "4"]
    assert sample.main([*argv, "--real", "40", "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert "(3.0 per sample)" in capsys.readouterr().out


def _bayesian_gan_dir(tmp_path, **overrides):
    from ganbook.bayesian import images as bd
    from ganbook.core import checkpoint

    config = bd.config_for("smoke", numz=2, num_mcmc=1, **overrides).to_dict()
    run = checkpoint.Checkpoint("bayesian_dcgan", config, bd.build(config), [], {})
    checkpoint.save(run, tmp_path / "bgan" / "model.pt")
    return tmp_path / "bgan"


def test_mh_across_a_bayesian_gans_generators(tmp_path, capsys):
    out = tmp_path / "mh.npy"
    argv = [str(_bayesian_gan_dir(tmp_path)), "--method", "mh", "--calibrate", "isotonic"]
    assert sample.main([*argv, "-K", "3", "-n", "5", "--real", "30", "--out", str(out)]) == 0
    x = np.load(out)
    assert x.shape == (5, 1, 28, 28) and np.abs(x).max() <= 1
    assert "(3.0 per sample)" in capsys.readouterr().out


def test_a_wasserstein_critic_is_refused(tmp_path, capsys):
    run = _bayesian_gan_dir(tmp_path, wasserstein=True)
    assert sample.main([str(run), "-n", "2", "--out", str(tmp_path / "x.npy")]) == 2
    assert "not a probability" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "x.png"], "makes points, not images"),
        (["--out", "x.txt"], "must end in .png or .npy"),
    ],
)
def test_bad_output_is_one_line_and_status_2(grid_dir, args, message, capsys):
    assert sample.main([str(grid_dir), "-n", "2", "-K", "2", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganbook-sample: error:") and message in err and err.count("\n") == 1


def test_missing_model_is_one_line(tmp_path, capsys):
    assert sample.main([str(tmp_path), "--out", str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err
    assert "no model at" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["m", "--out", "x.npy", "-K", "0"], "must be at least 1"),
        (["m", "--out", "x.npy", "--method", "best"], "invalid choice: 'best'"),
        (["m", "--out", "x.npy", "--calibrate", "platt"], "invalid choice: 'platt'"),
        (["m", "--out", "x.npy", "--gamma", "120"], "between 0 and 100"),
        (["m", "--out", "x.npy", "--batchnorm", "fake"], "invalid choice: 'fake'"),
        (["m"], "--out"),
    ],
)
def test_bad_arguments_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        sample.main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err
