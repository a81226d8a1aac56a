"""The rendered book builds with Sphinx warnings as errors, figures included."""

import re

from conftest import ROOT, TEST_REPOSITORY_URL


def test_book_builds_with_warnings_as_errors(book_build):
    html = book_build.check()
    for notebook in sorted((ROOT / "book").glob("*.ipynb")):
        page = html / "book" / f"{notebook.stem}.html"
        assert page.exists(), f"{page} was not built"
        images = re.findall(r'<img[^>]+src="([^"]+\.png)"', page.read_text())
        assert images, f"{page.name} has no figures"
        for src in images:
            assert (page.parent / src).resolve().exists(), f"{page.name}: missing {src}"


def test_scripts_are_served_by_the_book(book_build):
    """MathJax, RequireJS and the widget manager come from _static/, not from a CDN."""
    html = book_build.check()
    for page in sorted(html.rglob("*.html")):
        if "_static" in page.parts:
            continue
        for src in re.findall(r'<script[^>]+src="([^"]+)"', page.read_text()):
            assert "://" not in src, f"{page.name} loads {src} from outside the book"
            path = (page.parent / src.split("?")[0]).resolve()
            assert path.is_file(), f"{page.name}: missing script {src}"
    chapter4 = (html / "book" / "04_bayesian_gan.html").read_text()
    assert re.search(r"_static/mathjax-[\d.]+/es5/tex-mml-chtml.js", chapter4)
    explorer = (html / "book" / "04b_bayesian_gan_explorer.html").read_text()
    assert re.search(r"_static/html-manager-[\d.]+/embed-amd.js", explorer)


def test_notebook_pages_have_colab_and_binder_buttons(book_build):
    html = book_build.check()
    org_repo = TEST_REPOSITORY_URL.removeprefix("https://github.com/")
    for notebook in sorted((ROOT / "book").glob("*.ipynb")):
        text = (html / "book" / f"{notebook.stem}.html").read_text()
        path = f"book/{notebook.stem}.ipynb"
        colab = f"https://colab.research.google.com/github/{org_repo}/blob/main/{path}"
        binder = f"https://mybinder.org/v2/gh/{org_repo}/main?urlpath=lab/tree/{path}"
        assert colab in text, f"{notebook.name}: no Colab button"
        assert binder in text, f"{notebook.name}: no Binder button"
