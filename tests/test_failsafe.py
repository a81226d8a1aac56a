"""Every command fails safe: a table of bad inputs, interruptions and divergences.

For each row the command runs as a user would run it (in this process, or in a
child process for Ctrl-C and SIGKILL) and the test asserts its exit status, that
it said one line and no traceback, and that every file that was there before is
byte-identical afterwards, with nothing new left behind (no partial file, no
temporary folder) unless the row expects a finished run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from ganbook.cli import bayesian_gan_hmc, bgan_synth, sample, train
from ganbook.core import checkpoint
from ganbook.core.checkpoint import CheckpointError

MAINS = {
    "ganbook-train": train.main,
    "ganbook-sample": sample.main,
    "bgan_synth": bgan_synth.main,
    "bayesian_gan_hmc": bayesian_gan_hmc.main,
}
HUGE_SEED = "99999999999999999999999"
SMALL_SYNTH = ["--numz", "1", "--train_iter", "20", "--quiet"]


@dataclass(frozen=True)
class Case:
    """One row: a command line, what it must do, and what must be left on disk."""

    id: str
    command: str
    argv: str
    status: int
    says: str
    env: dict[str, str] = field(default_factory=dict)
    creates: tuple[str, ...] = ()


CASES = [
    # 1. the supervised baseline has no generator, hence no samples
    Case(
        "supervised-run",
        "ganbook-train",
        "ssgan-supervised --scale smoke --steps 2 --out {tmp}/new",
        0,
        "saved",
        creates=("new",),
    ),
    Case(
        "supervised-all-labels",
        "ganbook-train",
        "ssgan-supervised --scale smoke --steps 2 --labels 100% --out {tmp}/new",
        0,
        "saved",
        creates=("new",),
    ),
    Case(
        "mlp-supervised-all-labels",
        "ganbook-train",
        "ssgan-mlp-supervised --scale smoke --steps 2 --labels 100% --out {tmp}/new",
        0,
        "saved",
        creates=("new",),
    ),
    Case(
        "mlp-bad-labels",
        "ganbook-train",
        "ssgan-mlp --scale smoke --labels 0.1% --out {tmp}/new",
        2,
        "fewer than one per class",
    ),
    # 2. output folders never mix runs
    Case(
        "reuse-finished-run",
        "ganbook-train",
        "grid25 --scale smoke --out {old}",
        2,
        "pass --overwrite",
    ),
    Case(
        "reuse-foreign-folder",
        "ganbook-train",
        "grid25 --scale smoke --out {foreign}",
        2,
        "holds other files",
    ),
    Case(
        "reuse-other-command",
        "bgan_synth",
        "--out_dir {old} " + " ".join(SMALL_SYNTH),
        2,
        "holds a run of ganbook-train",
    ),
    Case(
        "synth-reuse-finished-run",
        "bgan_synth",
        "--out_dir {synth} " + " ".join(SMALL_SYNTH),
        2,
        "pass --overwrite",
    ),
    Case(
        "sample-existing-file",
        "ganbook-sample",
        "{toy} --method gan -n 4 --out {tmp}/points.npy",
        2,
        "pass --overwrite",
    ),
    # 3. bad output locations are found before any training
    Case(
        "out-is-a-file",
        "ganbook-train",
        "grid25 --scale smoke --out {tmp}/notes.txt",
        2,
        "is a file",
    ),
    Case(
        "out-under-a-file",
        "ganbook-train",
        "grid25 --scale smoke --out {tmp}/notes.txt/run",
        2,
        "cannot write",
    ),
    Case(
        "sample-out-is-a-folder",
        "ganbook-sample",
        "{toy} --method gan -n 4 --out {tmp}/folder.npy",
        2,
        "is a folder",
    ),
    Case(
        "sample-out-under-a-file",
        "ganbook-sample",
        "{toy} --method gan -n 4 --out {tmp}/notes.txt/x.npy",
        2,
        "cannot write",
    ),
    Case("empty-out", "ganbook-train", "grid25 --out ''", 2, "empty string"),
    # 4. divergence stops the run; non-finite flags are refused
    Case(
        "synth-diverges",
        "bgan_synth",
        "--lr 1e30 --numz 1 --train_iter 200 --quiet --out_dir {tmp}/new",
        1,
        "not finite",
    ),
    Case("synth-inf-lr", "bgan_synth", "--lr inf --out_dir {tmp}/new", 2, "finite number"),
    Case(
        "synth-inf-prior", "bgan_synth", "--prior_std inf --out_dir {tmp}/new", 2, "finite number"
    ),
    Case(
        "hmc-inf-lr",
        "bayesian_gan_hmc",
        "--dataset digits --data_path {digits} --lr inf --out_dir {tmp}/new",
        2,
        "finite number",
    ),
    Case(
        "hmc-diverges",
        "bayesian_gan_hmc",
        "--dataset digits --data_path {digits} --lr 1e30 --optimizer sgd --width 4 --z_dim 8 "
        "--train_iter 4 --n_save 2 --burn_in 2 --batch_size 16 --quiet --out_dir {tmp}/new",
        1,
        "not finite",
    ),
    Case(
        "sample-nan-model",
        "ganbook-sample",
        "{nan} --method gan -n 4 --out {tmp}/x.npy",
        2,
        "not finite",
    ),
    Case(
        "sample-nan-drs",
        "ganbook-sample",
        "{nan} --method drs -n 4 --out {tmp}/x.npy",
        2,
        "samples of the 4 asked for",
    ),
    # 5. GANBOOK_SCALE sets the default scale
    Case(
        "scale-from-environment",
        "ganbook-train",
        "grid25 --out {tmp}/new",
        0,
        "saved",
        env={"GANBOOK_SCALE": "smoke"},
        creates=("new",),
    ),
    Case(
        "bad-scale-environment",
        "ganbook-train",
        "grid25 --out {tmp}/new",
        2,
        "GANBOOK_SCALE",
        env={"GANBOOK_SCALE": "huge"},
    ),
    # 6. checkpoints and devices
    Case(
        "cut-checkpoint",
        "ganbook-sample",
        "{cut} --out {tmp}/x.npy",
        2,
        "not a readable ganbook checkpoint",
    ),
    Case(
        "tensor-as-checkpoint",
        "ganbook-sample",
        "{tensor} --out {tmp}/x.npy",
        2,
        "not written by ganbook",
    ),
    Case(
        "bad-device-flag",
        "ganbook-train",
        "grid25 --scale smoke --device tpu --out {tmp}/new",
        2,
        "the device must be cuda, mps or cpu",
    ),
    Case(
        "bad-device-environment",
        "ganbook-sample",
        "{toy} --out {tmp}/x.npy",
        2,
        "GANBOOK_DEVICE must be",
        env={"GANBOOK_DEVICE": "gpu"},
    ),
    Case(
        "missing-device",
        "ganbook-sample",
        "{toy} --device cuda --out {tmp}/x.npy",
        2,
        "but this machine has no cuda",
    ),
    Case(
        "device-with-index",
        "ganbook-sample",
        "{toy} --method gan -n 4 --out {tmp}/new.npy",
        0,
        "wrote",
        env={"GANBOOK_DEVICE": "cpu:0"},
        creates=("new.npy",),
    ),
    # 7. seeds out of a generator's range
    Case(
        "train-huge-seed",
        "ganbook-train",
        f"grid25 --seed {HUGE_SEED} --out {{tmp}}/new",
        2,
        "--seed",
    ),
    Case(
        "sample-huge-seed",
        "ganbook-sample",
        f"{{toy}} --seed {HUGE_SEED} --out {{tmp}}/x.npy",
        2,
        "--seed",
    ),
    Case(
        "sample-negative-seed", "ganbook-sample", "{toy} --seed -1 --out {tmp}/x.npy", 2, "--seed"
    ),
    Case(
        "synth-huge-seed",
        "bgan_synth",
        f"--random_seed {HUGE_SEED} --out_dir {{tmp}}/new",
        2,
        "--random_seed",
    ),
    Case(
        "hmc-huge-seed",
        "bayesian_gan_hmc",
        f"--random_seed {HUGE_SEED} --out_dir {{tmp}}/new",
        2,
        "--random_seed",
    ),
    # 8. sizes checked against the memory before allocating
    Case(
        "synth-too-big",
        "bgan_synth",
        "--numz 100000000 --train_iter 2 --out_dir {tmp}/new",
        2,
        "GiB",
    ),
    Case(
        "hmc-too-big",
        "bayesian_gan_hmc",
        "--dataset digits --data_path {digits} --numz 1000 --num_mcmc 1000 --out_dir {tmp}/new",
        2,
        "GiB",
    ),
    # 9. an empty data set
    Case(
        "empty-celeba",
        "ganbook-train",
        "dcgan --scale smoke --dataset celeba --data-path {celeba} --out {tmp}/new",
        2,
        "holds no images",
    ),
    Case(
        "missing-data-files",
        "ganbook-train",
        "dcgan --scale smoke --dataset svhn --data-path {tmp}/foreign --out {tmp}/new",
        2,
        "is missing; download it from",
    ),
    # 10. the smaller ones
    Case(
        "labels-below-one-per-class",
        "ganbook-train",
        "ssgan --scale smoke --labels 0.1% --out {tmp}/new",
        2,
        "fewer than one per class",
    ),
    Case(
        "labels-on-a-gan",
        "ganbook-train",
        "gan --labels 100 --out {tmp}/new",
        2,
        "--labels applies only to",
    ),
    Case(
        "dcgan-option-on-a-gan",
        "ganbook-train",
        "gan --dataset cifar10 --out {tmp}/new",
        2,
        "--dataset applies only to dcgan",
    ),
    Case(
        "feature-matching-on-a-gan",
        "ganbook-train",
        "gan --feature-matching --out {tmp}/new",
        2,
        "--feature-matching applies only to dcgan",
    ),
    Case(
        "calibrating-nothing",
        "ganbook-sample",
        "{toy} --method gan --calibrate isotonic --out {tmp}/x.npy",
        2,
        "--calibrate applies",
    ),
    Case(
        "unknown-flag",
        "ganbook-train",
        "grid25 --epochs 3 --out {tmp}/new",
        2,
        "unrecognized arguments",
    ),
]


def _snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file and folder under ``root`` (hidden ones too), with the files' bytes."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Finished runs and files the rows start from (made once, copied per row)."""
    root = tmp_path_factory.mktemp("made")
    env = {**os.environ, "GANBOOK_CACHE": str(root / "cache"), "OMP_NUM_THREADS": "1"}
    for argv in (
        ["ganbook-train", "ssgan", "--scale", "smoke", "--steps", "2", "--out", "old"],
        ["ganbook-train", "grid25", "--scale", "smoke", "--steps", "1", "--out", "toy"],
        ["bgan_synth", *SMALL_SYNTH, "--out_dir", "synth"],
        ["bayesian_gan_hmc", "--write_digits", "digits"],
    ):
        subprocess.run(
            [*_command(argv[0]), *argv[1:]], cwd=root, env=env, check=True, capture_output=True
        )
    nan = checkpoint.load(root / "toy" / "model.pt", device="cpu")
    for model in nan.models.values():
        for p in model.parameters():
            p.data.fill_(float("nan"))
    checkpoint.save(nan, root / "nan.pt")
    whole = (root / "toy" / "model.pt").read_bytes()
    (root / "cut.pt").write_bytes(whole[: len(whole) // 3])
    torch.save(torch.zeros(3), root / "tensor.pt")
    (root / "celeba" / "Anno").mkdir(parents=True)
    (root / "celeba" / "img_align_celeba").mkdir()
    names = " ".join(f"a{i}" for i in range(40))
    (root / "celeba" / "Anno" / "list_attr_celeba.txt").write_text(f"0\n{names}\n")
    return root


def _command(name: str) -> list[str]:
    module = {"ganbook-train": "train", "ganbook-sample": "sample"}.get(name, name)
    return [sys.executable, "-m", f"ganbook.cli.{module}"]


def _workspace(made: Path, tmp_path: Path) -> dict[str, str]:
    """A fresh folder with copies of the finished runs; the row's placeholders."""
    work = tmp_path / "work"
    work.mkdir()
    for name in ("old", "toy", "synth"):
        shutil.copytree(made / name, work / name)
    (work / "foreign").mkdir()
    (work / "foreign" / "notes.txt").write_text("mine\n")
    (work / "notes.txt").write_text("a file\n")
    (work / "folder.npy").mkdir()
    (work / "points.npy").write_bytes(b"not to be replaced")
    return {
        "tmp": str(work),
        "old": str(work / "old"),
        "foreign": str(work / "foreign"),
        "synth": str(work / "synth"),
        "toy": str(work / "toy"),
        "nan": str(made / "nan.pt"),
        "cut": str(made / "cut.pt"),
        "tensor": str(made / "tensor.pt"),
        "digits": str(made / "digits"),
        "celeba": str(made / "celeba"),
    }


def _one_error_line(err: str, prog: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith(f"{prog}: ")]
    assert "Traceback" not in err, err
    assert len(lines) == 1, f"expected one line from {prog}, got:\n{err}"
    return lines[0]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_every_bad_input_is_one_line_and_leaves_the_disk_as_it_was(
    case, made, tmp_path, capsys, monkeypatch
):
    import shlex

    if "no cuda" in case.says and torch.cuda.is_available():
        pytest.skip("this machine has the device the row expects to be missing")
    places = _workspace(made, tmp_path)
    work = Path(places["tmp"])
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    before = _snapshot(work)
    argv = shlex.split(case.argv.format(**places))
    try:
        status = MAINS[case.command](argv)
    except SystemExit as exit_info:
        status = exit_info.code
    out, err = capsys.readouterr()
    assert status == case.status, f"status {status}\nstdout: {out}\nstderr: {err}"
    after = _snapshot(work)
    new = sorted(set(after) - set(before))
    if case.status == 0:
        assert case.says in out
        assert "Traceback" not in err
        assert {name.split("/")[0] for name in new} == set(case.creates)
    else:
        line = _one_error_line(err, case.command)
        assert case.says in line, line
        assert new == [], f"left behind: {new}"
    changed = [name for name in before if after.get(name, b"<gone>") != before[name]]
    assert changed == [], f"changed: {changed}"


def test_overwrite_replaces_a_finished_run_whole(made, tmp_path, capsys):
    places = _workspace(made, tmp_path)
    old = Path(places["old"])
    assert (old / "samples.png").exists()
    argv = ["grid25", "--scale", "smoke", "--steps", "1", "--out", str(old), "--overwrite"]
    assert train.main(argv) == 0
    # the ssgan run's samples are gone: the folder holds the new run alone
    assert sorted(p.name for p in old.iterdir()) == ["log.csv", "model.pt", "run.json"]
    assert checkpoint.load(old / "model.pt", device="cpu").kind == "toy"
    assert [p.name for p in old.parent.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_an_interrupted_run_leaves_the_old_run_intact(how, made, tmp_path):
    places = _workspace(made, tmp_path)
    synth = Path(places["synth"])
    before = _snapshot(synth)
    argv = [
        *_command("bgan_synth"),
        "--numz",
        "1",
        "--train_iter",
        "1000000",
        "--quiet",
        "--out_dir",
        str(synth),
        "--overwrite",
    ]
    child = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        # as from a terminal: a test run started in the background inherits an
        # ignored SIGINT, and Python then never turns Ctrl-C into KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".synth.") for p in synth.parent.iterdir()):
        assert child.poll() is None and time.monotonic() < deadline, child.stderr.read()
        time.sleep(0.2)
    time.sleep(1.0)  # let it train a little
    child.send_signal(how)
    try:
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()  # never leave a runaway training process behind
    assert _snapshot(synth) == before
    if how == signal.SIGINT:
        assert child.returncode == 130, err  # the child's own words if it ended otherwise
        assert "interrupted" in _one_error_line(err, "bgan_synth")
        assert [p.name for p in synth.parent.iterdir() if p.name.startswith(".")] == []
    else:
        assert child.returncode == -signal.SIGKILL


def test_an_unwritable_model_cache_fails_before_training(tmp_path, monkeypatch):
    from ganbook.selection import toys

    cache = tmp_path / "cache"
    cache.write_text("a file, not a folder\n")
    monkeypatch.setenv("GANBOOK_CACHE", str(cache))
    calls = []
    monkeypatch.setattr(toys, "train", lambda *a, **k: calls.append(1))
    with pytest.raises(CheckpointError, match="GANBOOK_CACHE") as error:
        toys.trained(toys.config_for("smoke"))
    assert calls == [] and "\n" not in str(error.value)


def test_library_loaders_refuse_the_wrong_model_and_nan_images(made):
    from ganbook import ssl

    with pytest.raises(CheckpointError, match="holds a 'toy' model, not 'ssgan'"):
        ssl.load_classifier(str(made / "toy" / "model.pt"), device="cpu")
    classifier = ssl.load_classifier(str(made / "old" / "model.pt"), device="cpu")
    images = torch.zeros(2, 1, 28, 28)
    images[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        classifier.predict(images)
