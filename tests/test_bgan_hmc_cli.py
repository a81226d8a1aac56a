import csv

import numpy as np
import pytest
import torch

from ganbook.bayesian import images as bd
from ganbook.cli import bayesian_gan_hmc as cli
from ganbook.core import checkpoint
from ganbook.data.original import Digits, save_digits


@pytest.fixture(scope="module")
def digits_path(tmp_path_factory):
    return save_digits(tmp_path_factory.mktemp("digits"))


def test_defaults_are_the_original_scripts(tmp_path):
    args = cli.parser().parse_args(["--out_dir", str(tmp_path)])
    config = cli.config_from(args)
    assert (args.n_save, config.z_dim, config.dataset, config.gen_observed) == (
        100,
        100,
        "mnist",
        1000,
    )
    assert (config.batch_size, config.prior_std, config.numz, config.num_mcmc) == (64, 1.0, 1, 1)
    assert (config.lr, config.optimizer, config.train_iter) == (2e-4, "adam", 50_000)
    assert not (config.semi_supervised or config.wasserstein or config.ml)
    assert args.data_path is None and not args.save_samples and not args.save_weights
    # the seed's semi-supervised MNIST command, with its short flags
    argv = "--dataset mnist --numz 5 --num_mcmc 5 --train_iter 30000 -N 200 --semi --lr 0.001"
    config = cli.config_from(cli.parser().parse_args([*argv.split(), "--out_dir", "x"]))
    assert config.semi_supervised and config.labels == 200 and config.lr == 1e-3
    assert config.num_generators == 25 and config.num_discriminators == 5
    config = cli.config_from(cli.parser().parse_args(["--ml_ensemble", "3", "--out_dir", "x"]))
    assert config.ml and config.num_generators == 3 and config.num_discriminators == 3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--numz", "0"], "numz must be at least 1"),
        (["--num_mcmc", "0"], "num_mcmc must be at least 1"),
        (["--lr", "-0.001"], "lr must be a finite number above 0"),
        (["--dataset", "imagenet"], "unknown --dataset 'imagenet'"),
        (["--dataset", "digits", "--data_path", "EMPTY"], "x_tr.npy is missing"),
        (["--dataset", "svhn", "--data_path", "EMPTY"], "train_32x32.mat is missing"),
        (["--dataset", "digits", "--data_path", "DIGITS", "--semi", "-N", "5000"], "larger than"),
        (["--dataset", "digits", "--data_path", "DIGITS", "--semi", "-N", "55"], "multiple of"),
        (["--semi", "--wasserstein"], "cannot be --semi_supervised"),
        (["--optimizer", "rmsprop"], "optimizer must be one of 'adam', 'sgd'"),
        (["--numz", "two"], "invalid int value"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path, digits_path, capsys, argv, message
):
    (tmp_path / "empty").mkdir()
    paths = {"EMPTY": str(tmp_path / "empty"), "DIGITS": str(digits_path)}
    argv = [paths.get(a, a) for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--out_dir", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_missing_out_dir_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--numz", "2"])
    assert exit_info.value.code == 2
    assert "--out_dir" in capsys.readouterr().err


def test_write_digits_writes_the_tutorials_files(tmp_path, capsys):
    assert cli.main(["--write_digits", str(tmp_path / "d")]) == 0
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [
        "x_te.npy",
        "x_tr.npy",
        "y_te.npy",
        "y_tr.npy",
    ]


def test_a_tiny_semi_supervised_run_on_digits(tmp_path, digits_path, capsys):
    out = tmp_path / "run"
    argv = (
        "--dataset digits --numz 2 --num_mcmc 1 --train_iter 4 --n_save 2 --burn_in 2 "
        "--width 4 --z_dim 8 --batch_size 8 --semi -N 50 --random_seed 3"
    ).split()
    code = cli.main(
        [
            *argv,
            "--data_path",
            str(digits_path),
            "--out_dir",
            str(out),
            "--save_samples",
            "--save_weights",
            "--quiet",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert printed.count("test accuracy") == 3  # two progress lines and the final one
    for name in (
        "config.json",
        "log.csv",
        "evals.csv",
        "model.pt",
        "samples_2.png",
        "samples_4.png",
        "weights_2.pt",
        "weights_4.pt",
    ):
        assert (out / name).exists(), name
    with (out / "evals.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["iteration"] for r in rows] == ["2", "4"]
    assert [r["phase"] for r in rows] == ["adam", "sghmc"]
    classifier = bd.load_classifier(str(out / "model.pt"), device="cpu")
    images = bd.to_tensor(Digits(digits_path).test_imgs)
    assert classifier.predict(images).shape == (len(images),)
    snapshot = checkpoint.load(out / "weights_4.pt", device="cpu")
    assert len(snapshot["G"]) == 2 and len(snapshot["D"]) == 1


def test_tiny_wasserstein_and_ensemble_runs(tmp_path, digits_path):
    base = "--dataset digits --train_iter 2 --n_save 2 --width 4 --z_dim 8 --batch_size 8 --quiet"
    for extra in ("--wasserstein --numz 2 --burn_in 1", "--ml_ensemble 2 --optimizer sgd"):
        out = tmp_path / extra.split()[0].strip("-")
        argv = [*base.split(), *extra.split(), "--data_path", str(digits_path)]
        assert cli.main([*argv, "--out_dir", str(out)]) == 0
        model = checkpoint.load(out / "model.pt", device="cpu")
        assert len(model["G"]) == 2


def test_a_tiny_semi_supervised_run_on_svhn_files(tmp_path, capsys):
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    for split, count in (("train", 40), ("test", 20)):
        X = rng.integers(0, 256, (32, 32, 3, count), dtype=np.uint8)
        y = np.arange(count).reshape(-1, 1) % 10 + 1  # 10 is the digit 0
        savemat(tmp_path / f"{split}_32x32.mat", {"X": X, "y": y})
    out = tmp_path / "run"
    argv = "--dataset svhn --numz 2 --train_iter 2 --n_save 2 --width 4 --z_dim 8 --batch_size 8"
    argv += " --semi -N 20 --quiet --save_samples"
    assert cli.main([*argv.split(), "--data_path", str(tmp_path), "--out_dir", str(out)]) == 0
    assert "test accuracy" in capsys.readouterr().out and (out / "samples_2.png").exists()
    classifier = bd.load_classifier(str(out / "model.pt"), device="cpu")
    assert classifier.predict(torch.zeros(5, 3, 32, 32)).shape == (5,)
