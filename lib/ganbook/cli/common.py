"""What the book's command lines share: one-line errors, argument types, output folders.

The conventions every command keeps:

* A bad input (a flag, a file, an environment variable) gets one line naming it
  and what to do, exit status 2, and nothing is written.
* A run that diverges (a loss or a weight stops being finite) stops with one
  line naming the step and the likely cause, exit status 1, and keeps nothing.
* Ctrl-C prints one line, exit status 130, and keeps nothing.
* Output folders: a command writes into its output folder only when it is new
  or empty, or when it holds a finished run of the same command and
  ``--overwrite`` is given. Every file of a run is written into a temporary
  folder beside it and moved into place when the run finishes, so an
  interrupted run leaves either the old run intact or nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn

import torch
from torch import nn

#: The largest seed a torch generator accepts.
MAX_SEED = 2**63 - 1
#: The file that marks a finished run, with the command that wrote it.
RUN_MARKER = "run.json"


class CommandError(Exception):
    """A bad input or a failed run, told to the user in one line."""

    status = 2


class Diverged(CommandError):
    """A loss or a weight stopped being finite: nothing of the run is kept."""

    status = 1


class Parser(argparse.ArgumentParser):
    """argparse, but every error is one line (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def run(prog: str, body: Callable[[], int]) -> int:
    """Run a command's ``body``, turning every expected failure into one line.

    Bad inputs (``CommandError``, ``ValueError``, data and checkpoint errors,
    file-system errors) exit 2, a divergence 1, Ctrl-C 130.
    """
    from ganbook.core.checkpoint import CheckpointError
    from ganbook.data.mnist import DataError

    try:
        return body()
    except CommandError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.status
    except (ValueError, DataError, CheckpointError, FileNotFoundError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"{prog}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; this run's files were not kept", file=sys.stderr)
        return 130


def add_original_flags(p: argparse.ArgumentParser, defaults: Any) -> None:
    """The flags the two original Bayesian GAN scripts share, with their defaults.

    ``defaults`` is the script's config class instance (its field values are the
    original's defaults); ``--overwrite`` is the one flag the originals lack.
    """
    d = defaults
    p.add_argument("--out_dir", type=output_path, help="folder for the results (required)")
    p.add_argument("--overwrite", action="store_true", help="replace a finished run in --out_dir")
    p.add_argument("--z_dim", type=int, default=d.z_dim, help=f"dimension of z ({d.z_dim})")
    p.add_argument("--numz", type=int, default=1, help="J, samples of z; 1 is the ML GAN (1)")
    p.add_argument("--num_mcmc", type=int, default=d.num_mcmc, help="M, SGHMC samples per z (1)")
    p.add_argument("--num_disc", type=int, default=d.num_disc, help="J_d, D samples per m (1)")
    p.add_argument("--gen_observed", type=int, default=d.gen_observed, help="(1000)")
    p.add_argument(
        "--prior_std", type=finite_float, default=d.prior_std, help=f"prior std ({d.prior_std:g})"
    )
    p.add_argument("--lr", type=finite_float, default=d.lr, help=f"learning rate ({d.lr:g})")
    p.add_argument("--burn_in", type=int, default=d.burn_in, help="iterations before SGHMC")
    p.add_argument("--alpha", type=finite_float, default=d.alpha, help="SGHMC friction (0.1)")
    p.add_argument("--train_iter", type=int, default=d.train_iter, help="iterations")
    p.add_argument("--wasserstein", action="store_true", help="WGAN-GP critic instead of D")
    p.add_argument("--random_seed", type=seed, default=2222, help="seed (2222, the original's)")
    p.add_argument("--save_samples", action="store_true", help="write the samples of each save")
    p.add_argument("--save_weights", action="store_true", help="write weights_ITER.pt")
    p.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _whole_number(text: str, minimum: int, rule: str, maximum: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {rule}, got {value}")
    if maximum is not None and value > maximum:
        raise argparse.ArgumentTypeError(f"must be at most {maximum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    return _whole_number(text, 1, "at least 1")


def seed(text: str) -> int:
    """An argparse type for seeds: a whole number from 0 to 2**63 - 1."""
    return _whole_number(text, 0, "0 or more", MAX_SEED)


def finite_float(text: str) -> float:
    """An argparse type: a finite number (``inf`` and ``nan`` are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def output_path(text: str) -> Path:
    """An argparse type for output locations: a non-empty path."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a folder or file, got an empty string")
    return Path(text).expanduser()


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation, or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(needed: int, what: str, flags: str) -> None:
    """Refuse a run whose networks alone would need more memory than is available."""
    free = available_memory()
    if free is not None and needed > free:
        raise CommandError(
            f"{what} would need about {needed / 2**30:.1f} GiB, but {free / 2**30:.1f} GiB "
            f"is available; lower {flags}"
        )


def check_finite(models: dict[str, nn.Module], step: int | str, cause: str) -> None:
    """Stop a run whose weights are no longer finite."""
    for name, model in models.items():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise Diverged(f"{name}'s weights are not finite at {step}; {cause}")


def check_finite_values(values: Iterable[float], step: int | str, cause: str) -> None:
    """Stop a run whose logged losses or scores are no longer finite."""
    if not all(math.isfinite(float(v)) for v in values):
        raise Diverged(f"the losses are not finite at {step}; {cause}")


class RunFolder:
    """An output folder that a run fills in a temporary folder, then moves into place.

    ``check()`` (before any work) refuses a location that is a file, cannot be
    written, or holds anything but a finished run of ``command`` (which
    ``overwrite`` allows to replace). Files go to ``folder / name`` while the
    run works; ``finish()`` writes the marker and moves the folder into place;
    ``discard()`` removes it. As a context manager it discards on any error.
    """

    def __init__(self, out: Path, command: str, flag: str, overwrite: bool) -> None:
        self.out, self.command, self.flag, self.overwrite = out, command, flag, overwrite
        self.folder: Path | None = None

    def check(self) -> None:
        out, flag = self.out, self.flag
        if out.exists() and not out.is_dir():
            raise CommandError(f"{flag} {out} is a file; give a folder")
        if out.is_dir() and any(out.iterdir()):
            marker = out / RUN_MARKER
            finished = _marker_command(marker)
            if finished != self.command:
                what = f"a run of {finished}" if finished else "other files"
                raise CommandError(f"{flag} {out} holds {what}; choose a new or empty folder")
            if not self.overwrite:
                raise CommandError(
                    f"{flag} {out} holds a finished {self.command} run; pass --overwrite to "
                    "replace it, or choose a new folder"
                )
        parent = out.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.folder = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
        except OSError as exc:
            raise CommandError(f"cannot write {flag} {out}: {exc.strerror}") from None

    def __enter__(self) -> RunFolder:
        if self.folder is None:
            self.check()
        return self

    def __exit__(self, kind: object, exc: object, traceback: object) -> None:
        if kind is not None:
            self.discard()

    def path(self, name: str) -> Path:
        """Where the run writes ``name`` while it works."""
        if self.folder is None:
            raise RuntimeError("RunFolder.check() first")
        return self.folder / name

    def finish(self, config: dict[str, Any]) -> Path:
        """Mark the run finished and move it into place (replacing an old one)."""
        marker = {"command": self.command, "config": config}
        self.path(RUN_MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        assert self.folder is not None
        old = None
        if self.out.exists():
            old = self.out.with_name(f".{self.out.name}.old-{os.getpid()}")
            self.out.replace(old)
        self.folder.replace(self.out)
        self.folder = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.out

    def discard(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def _marker_command(marker: Path) -> str | None:
    try:
        value = json.loads(marker.read_text()).get("command")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


class OutputFile:
    """A single output file, checked before the work and written atomically."""

    def __init__(self, out: Path, flag: str, overwrite: bool) -> None:
        self.out, self.flag, self.overwrite = out, flag, overwrite

    def check(self) -> None:
        out, flag = self.out, self.flag
        if out.is_dir():
            raise CommandError(f"{flag} {out} is a folder; give a file name")
        if out.exists() and not self.overwrite:
            raise CommandError(f"{flag} {out} exists; pass --overwrite to replace it")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.")
            probe.close()
        except OSError as exc:
            raise CommandError(f"cannot write {flag} {out}: {exc.strerror}") from None

    def write(self, save: Callable[[Path], None]) -> Path:
        """``save(path)`` to a temporary name beside the output, then rename it into place."""
        fd, name = tempfile.mkstemp(
            dir=self.out.parent, prefix=f".{self.out.name}.", suffix=self.out.suffix
        )
        os.close(fd)
        tmp = Path(name)
        try:
            save(tmp)
            tmp.replace(self.out)
        finally:
            tmp.unlink(missing_ok=True)
        return self.out
