"""Every page of the built book, opened in headless Chromium with no network.

The book is served on 127.0.0.1; any request to another host is blocked and counts as a
failure, so a page passes only if everything it needs comes from the book itself. For each
page: no console errors or uncaught exceptions, no failed requests, every image loaded,
every equation typeset by MathJax (without TeX errors), every saved widget drawn by the
widget manager. A full-page screenshot of each page is saved to _build/screenshots/, with
what was checked on it in a JSON file beside it.
"""

import functools
import http.server
import json
import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from conftest import ROOT

CHROMIUM = Path(os.environ.get("GANBOOK_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = ROOT / "_build" / "screenshots"
TIMEOUT_MS = 30_000
#: The page whose saved widgets must work without a kernel: numz x num_mcmc sliders.
EXPLORER = "book/04b_bayesian_gan_explorer"


def book_pages() -> list[str]:
    """The book's pages, from _toc.yml, plus the pages Sphinx writes itself."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]] + [entry["file"] for entry in toc.get("chapters", [])]
    return [*pages, "genindex", "search"]


PAGES = book_pages()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without logging every request to stderr."""

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def site(book_build):
    """The built HTML served on 127.0.0.1 by a background thread: its base URL."""
    html = book_build.check()
    handler = functools.partial(QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium, driven by Playwright."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the browser test needs it. "
            "`make test` installs it with `apt-get install -y chromium` where apt is "
            "available; elsewhere install Chromium and set GANBOOK_CHROMIUM to its path."
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("The browser test needs Playwright: pip install -e '.[test]'")

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


def test_every_built_page_is_tested(book_build):
    html = book_build.check()
    built = {
        str(page.relative_to(html).with_suffix(""))
        for page in html.rglob("*.html")
        if "_static" not in page.relative_to(html).parts
    }
    # index.html only redirects to the root page.
    assert built - {"index"} == set(PAGES)


def open_page(browser, url: str, host: str):
    """Open url in a fresh page; return it and the problems seen while loading."""
    problems: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)

    def block_outside(route):
        request_host = urlsplit(route.request.url).netloc
        if route.request.url.startswith(("http://", "https://")) and request_host != host:
            problems.append(f"request to outside host: {route.request.url}")
            route.abort()
        else:
            route.continue_()

    page.route("**/*", block_outside)
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda error: problems.append(f"uncaught exception: {error}"))
    page.on(
        "requestfailed",
        lambda r: (
            urlsplit(r.url).netloc == host
            and problems.append(f"request failed: {r.url} ({r.failure})")
        ),
    )
    page.on(
        "response",
        lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"),
    )
    page.goto(url, wait_until="load")
    return page, problems


def check_images(page) -> list[str]:
    """Load every image (lazy ones too); return the sources of those that did not load."""
    page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    return page.evaluate(
        "Array.from(document.images).filter(i => i.naturalWidth === 0).map(i => i.src)"
    )


def check_math(page) -> tuple[int, int, int]:
    """Typeset the page; return (equations, equations typeset, TeX errors)."""
    equations = page.locator(".math").count()
    if equations == 0:
        return 0, 0, 0
    page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("() => MathJax.startup.promise")
    typeset = page.evaluate(
        "Array.from(document.querySelectorAll('.math'))"
        ".filter(e => e.querySelector('mjx-container')).length"
    )
    return equations, typeset, page.locator("mjx-merror").count()


VIEW_TYPE = "application/vnd.jupyter.widget-view+json"
WIDGET_VIEWS = f"document.querySelectorAll('script[type=\"{VIEW_TYPE}\"]')"
# A view is drawn when the manager has put a widget next to its script tag.
WIDGETS_DRAWN = (
    f"Array.from({WIDGET_VIEWS}).filter(s => s.parentElement.querySelector('.jupyter-widgets'))"
)


def check_widgets(page) -> tuple[int, int]:
    """Wait for the widget manager to draw the saved views; return (views, drawn)."""
    views = page.evaluate(f"{WIDGET_VIEWS}.length")
    if views:
        page.wait_for_function(f"{WIDGETS_DRAWN}.length === {views}")
    return views, page.evaluate(f"{WIDGETS_DRAWN}.length")


@pytest.mark.parametrize("name", PAGES)
def test_page_renders_offline(name, site, browser):
    host = urlsplit(site).netloc
    page, problems = open_page(browser, f"{site}{name}.html", host)
    try:
        broken_images = check_images(page)
        images = page.evaluate("document.images.length")
        equations, typeset, tex_errors = check_math(page)
        views, drawn = check_widgets(page)
        page.wait_for_load_state("networkidle")  # fonts and the like, before the page closes
    except Exception as error:  # a wait timed out: say what the page logged meanwhile
        pytest.fail(f"{name}: {error}\nwhile loading:\n" + "\n".join(problems))
    finally:  # a screenshot of what the reader would see, whatever failed
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{name.replace('/', '__')}.png", full_page=True)
        page.close()
    seen = dict(page=name, images=images, broken_images=len(broken_images), problems=problems)
    seen.update(equations=equations, typeset=typeset, tex_errors=tex_errors)
    seen.update(widget_views=views, widgets_drawn=drawn)
    (SCREENSHOTS / f"{name.replace('/', '__')}.json").write_text(json.dumps(seen, indent=1))
    assert not problems, f"{name}: " + "\n".join(problems)
    assert not broken_images, f"{name}: images that did not load: {broken_images}"
    assert typeset == equations, f"{name}: {equations - typeset} of {equations} not typeset"
    assert tex_errors == 0, f"{name}: {tex_errors} TeX errors"
    assert drawn == views, f"{name}: {views - drawn} of {views} widgets not drawn"
    if name == "book/04_bayesian_gan":  # the checks above must have had work to do
        assert equations > 0, "chapter 4 shows no equations"
    if name == EXPLORER:
        assert views > 0, "chapter 4's explorer shows no saved widget"


#: Phone, tablet and desktop widths; the desktop layout starts at 1200 px.
WIDTHS = (400, 800, 1280)
DESKTOP = 1280
#: The chapter whose screenshots at every width and colour scheme are kept.
SHOWN = "book/01_gan_basics"
VISIBLE_SEARCH = """() => [...document.querySelectorAll('.search-button-field, .search-button')]
  .filter(e => { const r = e.getBoundingClientRect(), s = getComputedStyle(e);
                 return r.width > 0 && r.height > 0 && s.visibility !== 'hidden'; }).length"""
# Figures (the notebooks' outputs, in _images/) are drawn on an opaque background: sample
# the corners of each one in a canvas.
TRANSPARENT_FIGURES = """() => [...document.querySelectorAll('img')]
  .filter(i => i.naturalWidth > 0 && i.src.includes('/_images/')).filter(i => {
    const c = document.createElement('canvas');
    c.width = i.naturalWidth; c.height = i.naturalHeight;
    const g = c.getContext('2d'); g.drawImage(i, 0, 0);
    return [[0, 0], [c.width - 1, 0], [0, c.height - 1], [c.width - 1, c.height - 1]]
      .some(([x, y]) => g.getImageData(x, y, 1, 1).data[3] < 255); }).map(i => i.src)"""


# Every chapter at every width in light mode and at desktop width in dark mode; the one
# shown chapter in dark mode at every width.
LAYOUTS = [
    (name, width, scheme)
    for name in PAGES
    if name not in ("genindex", "search")
    for width in WIDTHS
    for scheme in ("light", "dark")
    if scheme == "light" or width == DESKTOP or name == SHOWN
]


@pytest.mark.parametrize(("name", "width", "scheme"), LAYOUTS)
def test_layout_at_every_width_and_in_dark_mode(name, width, scheme, site, browser):
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    try:
        page.goto(f"{site}{name}.html", wait_until="load")
        check_images(page)
        theme = page.evaluate("document.documentElement.dataset.theme")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        searches = page.evaluate(VISIBLE_SEARCH)
        transparent = page.evaluate(TRANSPARENT_FIGURES)
        if name == SHOWN:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shot = SCREENSHOTS / f"{name.replace('/', '__')}-{width}-{scheme}.png"
            page.screenshot(path=shot)
    finally:
        context.close()
    assert theme == scheme, f"{name}: the page follows the reader's colour scheme"
    assert overflow <= 0, f"{name} at {width} px scrolls sideways by {overflow} px"
    if width == DESKTOP:
        assert searches == 1, f"{name} at {width} px shows {searches} search fields"
    assert not transparent, f"{name}: figures with a transparent background: {transparent}"


SHOWN_PICTURE = """() => [...document.querySelectorAll('.widget-image')]
  .filter(i => i.offsetParent !== null && i.naturalWidth > 0).map(i => i.src)"""


def move_slider(page, index: int, key: str) -> None:
    """Press an arrow key on the ``index``-th slider handle of the page."""
    page.locator(".noUi-handle").nth(index).focus()
    page.keyboard.press(key)


def test_explorer_sliders_change_the_picture(site, browser):
    """Moving numz, then num_mcmc, shows another precomputed picture, with no kernel."""
    page, _ = open_page(browser, f"{site}{EXPLORER}.html", urlsplit(site).netloc)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        check_widgets(page)
        page.wait_for_function(f"({SHOWN_PICTURE})().length === 1")
        widget = page.locator(".widget-vbox", has=page.locator(".widget-image")).first
        shown = [page.evaluate(SHOWN_PICTURE)]
        widget.screenshot(path=SCREENSHOTS / "widget-before.png")
        for handle, key in ((0, "ArrowLeft"), (1, "ArrowRight")):
            move_slider(page, handle, key)
            page.wait_for_function(
                f"(before => {{ const now = ({SHOWN_PICTURE})();"
                " return now.length === 1 && now[0] !== before; })",
                arg=shown[-1][0],
            )
            shown.append(page.evaluate(SHOWN_PICTURE))
        widget.screenshot(path=SCREENSHOTS / "widget-after.png")
        readouts = page.locator(".widget-readout").all_inner_texts()
    finally:
        page.close()
    assert [len(s) for s in shown] == [1, 1, 1], shown
    assert len({s[0] for s in shown}) == 3, "every slider move shows another picture"
    before = (SCREENSHOTS / "widget-before.png").read_bytes()
    assert before != (SCREENSHOTS / "widget-after.png").read_bytes()
    assert readouts[:2] != ["10", "1"], "the sliders moved from numz 10, num_mcmc 1"
