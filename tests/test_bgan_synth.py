import csv

import bench_bgan
import numpy as np
import pytest
import torch

from ganbook.cli import bgan_synth
from ganbook.core import checkpoint


def test_defaults_are_the_original_scripts(tmp_path):
    args = bgan_synth.parser().parse_args(["--out_dir", str(tmp_path)])
    config = bgan_synth.config_from(args)
    assert (config.x_dim, config.z_dim, config.numz, config.num_mcmc) == (100, 10, 1, 1)
    assert (config.train_iter, config.seed, config.batch_size) == (1000, 2222, 64)
    assert (config.lr, config.prior_std, config.gen_observed) == (1e-2, 10.0, 1000)
    assert config.ml and not config.wasserstein
    args = bgan_synth.parser().parse_args(
        ["--numz", "10", "--num_mcmc", "2", "--wasserstein", "--out_dir", str(tmp_path)]
    )
    config = bgan_synth.config_from(args)
    assert config.num_generators == 20 and config.num_discriminators == 2
    assert not config.ml and config.wasserstein


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--numz", "0"], "numz must be at least 1"),
        (["--num_mcmc", "0"], "num_mcmc must be at least 1"),
        (["--x_dim", "1"], "x_dim must be at least 2"),
        (["--lr", "-0.1"], "lr must be a finite number above 0"),
        (["--prior_std", "0"], "prior_std must be a finite number above 0"),
        (["--random_seed", "-3"], "--random_seed: must be 0 or more"),
        (["--numz", "two"], "invalid int value"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_values_exit_2_with_one_line(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        bgan_synth.main([*argv, "--out_dir", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_missing_out_dir_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bgan_synth.main(["--numz", "2"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--out_dir" in err and err.count("\n") == 1


def test_a_short_run_writes_js_csv_samples_and_weights(tmp_path, capsys):
    out = tmp_path / "run"
    argv = "--x_dim 4 --z_dim 2 --numz 2 --train_iter 30 --random_seed 1".split()
    code = bgan_synth.main(
        [*argv, "--save_samples", "--save_weights", "--quiet", "--out_dir", str(out)]
    )
    assert code == 0
    with (out / "js.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["iteration", "js"] and [r[0] for r in rows[1:]] == ["30"]
    assert 0 <= float(rows[1][1]) <= np.log(2) + 1e-9
    assert np.load(out / "real.npy").shape == (10_000, 4)
    # the points scored: eval_points (6,400), shared by the generators, whatever numz
    assert np.load(out / "samples_30.npy").shape == (6400, 4)
    model = checkpoint.load(out / "model.pt", device="cpu")
    assert len(model["G"]) == 2 and len(model["D"]) == 1
    snapshot = checkpoint.load(out / "weights_30.pt", device="cpu")
    for a, b in zip(snapshot["G"].stacked, model["G"].stacked, strict=True):
        assert torch.equal(a, b)
    assert "JS" in capsys.readouterr().out


def test_benchmark_times_both_and_refuses_bad_sizes(capsys):
    cpu = torch.device("cpu")
    looped, batched = bench_bgan.bench(2, 2, steps=1, sampler="sghmc", device=cpu, hidden=16)
    assert all(0 < t < 10 for t in (looped, batched))
    for argv, message in ((["--sizes", "10by1"], "expected JxM"), (["--hidden", "0"], "--hidden")):
        with pytest.raises(SystemExit) as exit_info:
            bench_bgan.main(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_step_times_are_medians_of_interleaved_calls(monkeypatch):
    from ganbook.bayesian import speed

    # a fake clock that each step advances by its own cost: the median is exact
    clock, calls = [0.0], []
    monkeypatch.setattr(speed.time, "perf_counter", lambda: clock[0])

    def step(name, costs):
        def run(i):
            calls.append((name, i))
            clock[0] += costs[i]

        return run

    short = [9.0, 9.0, 1.0, 5.0, 2.0, 1.0, 3.0]  # two warm-up calls, then 5 timed
    long = [9.0, 9.0, 4.0, 3.0, 8.0, 6.0, 100.0]
    times = speed.time_steps({"short": step("short", short), "long": step("long", long)}, 5)
    assert calls[:4] == [("short", 0), ("long", 0), ("short", 1), ("long", 1)]
    assert len(calls) == 2 * (5 + 2)
    assert times == {"short": 2.0, "long": 6.0}
