"""Shared test settings: small, offline, isolated from the user's caches; one book build."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

os.environ.setdefault("GANBOOK_SCALE", "smoke")
os.environ.setdefault("GANBOOK_MNIST", "sample")

ROOT = Path(__file__).resolve().parent.parent
# The benchmarks live in scripts/, outside the installed package; their tests import them.
sys.path.insert(0, str(ROOT / "scripts"))
# The launch buttons need a GitHub address; the test build uses this one to check the
# links it writes (they are never followed).
TEST_REPOSITORY_URL = "https://github.com/ganbook/ganbook"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Each test session trains into its own model cache, never the user's."""
    cache = tmp_path_factory.getbasetemp() / "model-cache"
    monkeypatch.setenv("GANBOOK_CACHE", str(cache))
    return cache


@dataclass(frozen=True)
class BookBuild:
    """The result of one `jupyter-book build` of the repository."""

    returncode: int
    log: str
    html: Path

    def check(self) -> Path:
        """The HTML folder, or a test failure that shows the end of the build log."""
        assert self.returncode == 0, f"the book build failed:\n{self.log[-6000:]}"
        return self.html


@pytest.fixture(scope="session")
def book_build(tmp_path_factory) -> BookBuild:
    """The book built once per test session (as `make book` does, warnings as errors)."""
    out = tmp_path_factory.mktemp("book")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    env = {**os.environ, "GANBOOK_REPOSITORY_URL": TEST_REPOSITORY_URL}
    command = [jupyter_book, "build", ROOT, "--path-output", out, "--warningiserror"]
    command += ["--nitpick", "--keep-going", "--quiet"]
    result = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    return BookBuild(result.returncode, result.stdout + result.stderr, out / "_build" / "html")


@pytest.fixture(autouse=True)
def one_thread():
    """Tests use tiny tensors: one thread is faster, and immune to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
