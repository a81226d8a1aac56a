"""The book's Sphinx extension (_ext/book_html.py), without a build or the network."""

import dataclasses
import importlib.util
import io
import sys
import tarfile

import pytest
from conftest import ROOT
from sphinx.errors import ExtensionError


def load_book_html():
    """The extension module, imported from its file."""
    spec = importlib.util.spec_from_file_location("book_html", ROOT / "_ext" / "book_html.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


book_html = load_book_html()


def make_tarball(files: dict[str, bytes]) -> bytes:
    """A gzipped tarball holding files, as npm packs them."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


TARBALL = make_tarball(
    {
        "package/LICENSE": b"licence",
        "package/es5/tex-mml-chtml.js": b"mathjax",
        "package/es5/output/chtml/fonts/woff-v2/a.woff": b"font",
        "package/es5/tex-svg.js": b"another renderer",
        "package/README.md": b"readme",
    }
)
PACKAGE = dataclasses.replace(
    book_html.MATHJAX, integrity=book_html._sri(TARBALL), folder="mathjax-test"
)


def test_package_is_unpacked_with_only_the_files_the_book_serves(monkeypatch, tmp_path):
    monkeypatch.setattr(book_html, "_download", lambda package: TARBALL)
    target = book_html.ensure_package(PACKAGE, tmp_path)
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert files == ["LICENSE", "es5/output/chtml/fonts/woff-v2/a.woff", "es5/tex-mml-chtml.js"]
    assert (target / "es5" / "tex-mml-chtml.js").read_bytes() == b"mathjax"
    assert [p.name for p in tmp_path.iterdir()] == ["mathjax-test"]  # no partial folder


def test_package_already_there_is_not_fetched_again(monkeypatch, tmp_path):
    (tmp_path / PACKAGE.folder).mkdir()
    monkeypatch.setattr(book_html, "_download", lambda package: pytest.fail("fetched"))
    assert book_html.ensure_package(PACKAGE, tmp_path) == tmp_path / PACKAGE.folder


def test_tarball_that_does_not_match_its_hash_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(book_html, "_download", lambda package: TARBALL + b"tampered")
    with pytest.raises(ExtensionError, match="does not match its pinned hash"):
        book_html.ensure_package(PACKAGE, tmp_path)
    assert not (tmp_path / PACKAGE.folder).exists()


def test_registry_out_of_reach_says_what_to_do(monkeypatch, tmp_path):
    def unreachable(package):
        raise OSError("network is unreachable")

    monkeypatch.setattr(book_html, "_download", unreachable)
    with pytest.raises(ExtensionError, match="build once with the registry reachable"):
        book_html.ensure_package(PACKAGE, tmp_path)


def test_tarball_address_follows_the_registry_layout():
    assert book_html.HTML_MANAGER.tarball_url == (
        "https://registry.npmjs.org/@jupyter-widgets/html-manager/-/html-manager-1.0.15.tgz"
    )


def test_repository_url_comes_from_the_environment_or_origin(monkeypatch, tmp_path):
    monkeypatch.setenv("GANBOOK_REPOSITORY_URL", "git@github.com:someone/gans.git")
    assert book_html.repository_url(tmp_path) == "https://github.com/someone/gans"
    monkeypatch.setenv("GANBOOK_REPOSITORY_URL", "https://gitlab.com/someone/gans")
    assert book_html.repository_url(tmp_path) is None
    monkeypatch.delenv("GANBOOK_REPOSITORY_URL")
    assert book_html.repository_url(tmp_path) is None  # not a git checkout: no buttons
