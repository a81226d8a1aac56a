"""A chapter runs where ``ganbook`` is missing, as in Colab: its first cell installs it.

A fresh virtual environment sees the book's dependencies (through a folder of links to
this environment's packages, ``ganbook`` left out) but not the library. The chapter's
first cell then installs the library from a clone of this repository
(``GANBOOK_INSTALL=git+file://...``, in place of the repository address that the
stored notebook carries), and the chapter's smoke run must pass.
"""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import ROOT

CHAPTER = "book/01_gan_basics.ipynb"
INSTALL_TAG = "install-library"


def _dependencies(into: Path) -> Path:
    """A folder of links to this environment's packages, without ganbook itself."""
    into.mkdir()
    packages = Path(sysconfig.get_paths()["purelib"])
    for entry in packages.iterdir():
        name = entry.name.lower()
        if name.startswith(("ganbook", "__editable__")) or name.endswith(".pth"):
            continue
        (into / entry.name).symlink_to(entry)
    return into


def test_every_chapter_starts_with_the_install_cell():
    import nbformat

    for path in sorted((ROOT / "book").glob("0*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert INSTALL_TAG in first.metadata.get("tags", []), path.name
        assert "REPOSITORY = " in first.source and "GANBOOK_INSTALL" in first.source
        assert "describe()" in first.source, "the first cell reports the device and scale"


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the repository's history")
def test_a_chapter_installs_the_library_where_it_is_missing(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(fresh)], check=True)
    python = fresh / "bin" / "python"
    fresh_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    links = _dependencies(tmp_path / "dependencies")
    Path(fresh_packages, "book-dependencies.pth").write_text(f"{links}\n")
    missing = subprocess.run([python, "-c", "import ganbook"], capture_output=True, text=True)
    assert missing.returncode != 0, "the fresh environment must start without ganbook"
    env = {
        **os.environ,
        "GANBOOK_INSTALL": f"git+file://{clone}",
        "GANBOOK_SCALE": "smoke",
        "GANBOOK_CACHE": str(tmp_path / "cache"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    env.pop("PYTHONPATH", None)
    run = subprocess.run(
        [
            python,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval-lax",
            "--nbval-current-env",
            str(clone / CHAPTER),
        ],
        cwd=clone,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    installed = subprocess.run(
        [python, "-c", "import ganbook, sys; print(ganbook.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert installed.startswith(fresh_packages), installed
