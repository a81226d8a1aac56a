"""HTML settings of the book: its scripts served offline, and its launch buttons.

The rendered book needs three pieces of JavaScript that Sphinx and myst-nb load from CDNs
by default: MathJax (equations), RequireJS and the Jupyter widgets HTML manager (the saved
state of the notebooks' widgets). This Sphinx extension fetches them once, at pinned versions,
from the npm registry into ``_vendor/`` (ignored by git), checks each tarball against the
registry's sha512 integrity hash, adds ``_vendor/`` to the HTML static files, and points
``mathjax_path`` and myst-nb's ``nb_ipywidgets_js`` at the copies in ``_static/``.
The built book then works with no network at all.

It uses ``npm pack`` when npm is installed, and otherwise downloads the same tarball with
Python; either way only the first build on a fresh clone needs the registry.

``_ext/static/widgets-offline.js`` lets the widget manager find its fonts there and gives
ipywidgets 8 the MathJax 2 call it still makes. The extension also gives the Colab and
Binder launch buttons their repository address (``setup_launch_buttons``) and removes two
console errors of the installed Sphinx and theme versions (``drop_duplicate_scripts``,
``set_default_colour_mode``), which the browser test (tests/test_browser.py) would report.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

REGISTRY = "https://registry.npmjs.org"
VENDOR_DIR = "_vendor"
STATIC_DIR = Path(__file__).resolve().parent / "static"  # this extension's own scripts


@dataclass(frozen=True)
class Package:
    """An npm package to copy into the book: which files, from where in its tarball."""

    name: str
    version: str
    integrity: str  # the registry's "dist.integrity" (sha512, base64)
    folder: str  # the folder under _vendor/ and under the HTML's _static/
    root: str  # the folder inside the tarball whose files are kept
    keep: tuple[str, ...] = ()  # files or folders under root to keep (all if empty)
    skip: tuple[str, ...] = ()  # endings of file names to leave out

    @property
    def tarball_url(self) -> str:
        """The tarball's address in the npm registry."""
        basename = self.name.split("/")[-1]
        return f"{REGISTRY}/{self.name}/-/{basename}-{self.version}.tgz"


MATHJAX = Package(
    name="mathjax",
    version="3.2.2",
    integrity="sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
    folder="mathjax-3.2.2",
    root="package",
    # The combined TeX component and what it loads on demand: fonts, TeX extensions,
    # the menu's renderers and the accessibility tools.
    keep=(
        "LICENSE",
        "es5/tex-mml-chtml.js",
        "es5/input",
        "es5/output",
        "es5/ui",
        "es5/a11y",
        "es5/sre",
        "es5/adaptors",
    ),
)
REQUIREJS = Package(
    name="requirejs",
    version="2.3.8",
    integrity="sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
    folder="requirejs-2.3.8",
    root="package",
    keep=("require.js",),
)
HTML_MANAGER = Package(
    name="@jupyter-widgets/html-manager",
    version="1.0.15",
    integrity="sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
    folder="html-manager-1.0.15",
    root="package/dist",
    # embed-amd.js (ipywidgets 8's standard widgets), its licence notice and the icon
    # fonts it loads relative to itself; not the other bundles or the source maps.
    skip=(".map", "/embed.js", "libembed-amd.js"),
)
PACKAGES = (MATHJAX, REQUIREJS, HTML_MANAGER)


def _sri(data: bytes) -> str:
    """The subresource-integrity string of data, as the npm registry writes it."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _download(package: Package) -> bytes:
    """The package's tarball, by ``npm pack`` if npm is installed, else over HTTPS."""
    spec = f"{package.name}@{package.version}"
    npm = shutil.which("npm")
    if npm:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                subprocess.run(
                    [npm, "pack", spec, "--pack-destination", tmp, "--silent"],
                    check=True,
                    capture_output=True,
                    timeout=300,
                )
                (tarball,) = Path(tmp).glob("*.tgz")
                return tarball.read_bytes()
            except (OSError, subprocess.SubprocessError, ValueError) as error:
                logger.info(f"book_html: npm pack {spec} failed ({error}); trying HTTPS")
    with urllib.request.urlopen(package.tarball_url, timeout=120) as response:
        return response.read()


def _wanted(package: Package, relative: str) -> bool:
    """Whether a file (path relative to the package's root) is copied into the book."""
    if ("/" + relative).endswith(package.skip):
        return False
    if not package.keep:
        return True
    return any(relative == keep or relative.startswith(keep + "/") for keep in package.keep)


def _extract(package: Package, tarball: bytes, target: Path) -> None:
    """Unpack the package's wanted files from its tarball into target."""
    prefix = package.root.rstrip("/") + "/"
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member in archive.getmembers():
            if not member.isfile() or not member.name.startswith(prefix):
                continue
            relative = member.name[len(prefix) :]
            if ".." in Path(relative).parts or not _wanted(package, relative):
                continue
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(archive.extractfile(member).read())


def ensure_package(package: Package, vendor: Path) -> Path:
    """The package's folder under vendor, fetched, checked and unpacked if missing."""
    target = vendor / package.folder
    if target.is_dir():
        return target
    spec = f"{package.name}@{package.version}"
    logger.info(f"book_html: fetching {spec} from the npm registry")
    try:
        tarball = _download(package)
    except (OSError, subprocess.SubprocessError) as error:
        raise ExtensionError(
            f"Could not fetch {spec} from the npm registry ({error}). The book serves "
            f"MathJax and the widget manager itself: build once with the registry reachable, "
            f"or copy {target} from a machine that has it."
        ) from error
    if _sri(tarball) != package.integrity:
        raise ExtensionError(f"{spec}: the downloaded tarball does not match its pinned hash")
    vendor.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{package.folder}-", dir=vendor))
    try:
        _extract(package, tarball, partial)
        os.replace(partial, target)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
        if not target.is_dir():  # another build may have won the race
            raise
    return target


def setup_offline_assets(app: Sphinx, config) -> None:
    """Fetch the packages and point Sphinx and myst-nb at their local copies."""
    vendor = Path(app.confdir) / VENDOR_DIR
    for package in PACKAGES:
        ensure_package(package, vendor)
    config.html_static_path = [*config.html_static_path, str(vendor), str(STATIC_DIR)]
    # Relative script paths are served from _static/ of the built HTML.
    config.mathjax_path = f"{MATHJAX.folder}/es5/tex-mml-chtml.js"
    config.nb_ipywidgets_js = {
        f"{REQUIREJS.folder}/require.js": {},
        "widgets-offline.js": {"data-manager": f"{HTML_MANAGER.folder}/"},
        f"{HTML_MANAGER.folder}/embed-amd.js": {},
    }


def drop_duplicate_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Write each inline script once.

    Sphinx 7 lists an inline script twice when an extension adds it after the builder has
    started (once named None, once ""), and sphinx-thebe's ``const THEBE_JS_URL`` then
    fails on every page with "Identifier 'THEBE_JS_URL' has already been declared".
    """
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen = set()
    unique = []
    for script in scripts:
        key = (
            getattr(script, "filename", script) or "",
            getattr(script, "priority", 0),
            tuple(sorted(getattr(script, "attributes", {}).items())),
        )
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def repository_url(confdir: Path) -> str | None:
    """The book's GitHub repository: ``GANBOOK_REPOSITORY_URL``, else the ``origin`` remote."""
    url = os.environ.get("GANBOOK_REPOSITORY_URL", "").strip()
    if not url:
        try:
            url = subprocess.run(
                ["git", "-C", str(confdir), "remote", "get-url", "origin"],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None
    if url.startswith("git@github.com:"):
        url = "https://github.com/" + url.removeprefix("git@github.com:")
    url = url.removesuffix(".git").rstrip("/")
    if url.startswith("https://github.com/") and url.count("/") == 4:
        return url
    return None


def setup_launch_buttons(app: Sphinx, config) -> None:
    """Point the Colab and Binder buttons at the book's repository, or hide them.

    The links need a GitHub repository. Rather than a placeholder in ``_config.yml``, the
    address comes from ``GANBOOK_REPOSITORY_URL`` or the checkout's ``origin`` remote;
    a build with neither shows no launch buttons (and no links to a wrong repository).
    """
    options = dict(config.html_theme_options)
    url = repository_url(Path(app.confdir))
    if url:
        options["repository_url"] = url
    else:
        logger.info("book_html: no GitHub repository known, so no launch buttons")
        options.pop("launch_buttons", None)
    config.html_theme_options = options


def set_default_colour_mode(app: Sphinx, config) -> None:
    """Start in the reader's system colour mode: the theme's default, written out.

    Left empty, pydata-sphinx-theme logs "Got invalid theme mode" as a console error on
    a reader's first visit, then falls back to this same mode.
    """
    config.html_context = {"default_mode": "auto", **config.html_context}


def setup(app: Sphinx) -> dict:
    """Register the extension with Sphinx."""
    app.connect("config-inited", setup_offline_assets)
    app.connect("config-inited", setup_launch_buttons)
    app.connect("config-inited", set_default_colour_mode)
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    app.add_css_file("book.css")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
