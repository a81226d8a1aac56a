"""The rendered book builds with Sphinx warnings as errors, figures included."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_book_builds_with_warnings_as_errors(tmp_path):
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [
            str(jupyter_book),
            "build",
            str(ROOT),
            "--path-output",
            str(tmp_path),
            "--warningiserror",
            "--nitpick",
            "--keep-going",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html = tmp_path / "_build" / "html"
    for notebook in sorted((ROOT / "book").glob("*.ipynb")):
        page = html / "book" / f"{notebook.stem}.html"
        assert page.exists(), f"{page} was not built"
        images = re.findall(r'<img[^>]+src="([^"]+\.png)"', page.read_text())
        assert images, f"{page.name} has no figures"
        for src in images:
            assert (page.parent / src).resolve().exists(), f"{page.name}: missing {src}"
