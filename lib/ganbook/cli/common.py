"""What the book's command lines share: one-line errors, argument types, output folders."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, NoReturn


class Parser(argparse.ArgumentParser):
    """argparse, but every error is one line (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _whole_number(text: str, minimum: int, rule: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {rule}, got {value}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    return _whole_number(text, 1, "at least 1")


def seed(text: str) -> int:
    """An argparse type for seeds: a whole number, 0 or more."""
    return _whole_number(text, 0, "0 or more")


def prepare_out_dir(
    parser: argparse.ArgumentParser, out: Path, config: dict[str, Any], flag: str = "--out_dir"
) -> Path:
    """Create ``out`` (or stop with a one-line error) and write ``config.json`` into it."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"cannot create {flag} {out}: {exc.strerror}")
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return out
