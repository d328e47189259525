"""The built book works in a real browser, offline.

`make test` builds the book (`make book`) and installs Chromium (`make browser-deps`) before
running pytest. This test serves `_build/html` on 127.0.0.1 and opens every page in headless
Chromium (Debian's `chromium` + `chromium-driver`, driven by Selenium), and checks what a
reader would see: nothing is requested from another host, no script error, no traceback or
error output, equations typeset by the bundled MathJax, figures loaded, search finds English
and Chinese terms (a Chinese word inside a sentence too). On every chapter page, at 1280 and
1920 px, no equation, code line or output is wider than the text column; figures are drawn
for the column, not shrunk into it; the references are labelled author-year. Each chapter page is saved as a full-page screenshot in
`_build/screenshots/<chapter>.png` for a human to look at.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

# one xdist group: the module-scoped fixtures run once (make test: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("browser")

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
# Every page a reader can reach: not the theme's template macros in _static/, nor leftovers
# of old builds in dot-folders.
PAGES = sorted(
    str(p.relative_to(HTML))
    for p in (HTML.rglob("*.html") if HTML.exists() else [])
    if not any(part.startswith((".", "_static")) for part in p.relative_to(HTML).parts)
)
CHAPTERS = sorted(p.stem for p in (ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
# Flags without which Chromium phones home (and, on a closed network, logs refused connections).
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
    "--lang=en-US",
]
# Chromium's own pages (chrome://resources and chrome-untrusted://new-tab-page on the start
# page, logged while the first page loads) never touch the network.
LOCAL_SCHEMES = (
    "data:",
    "about:",
    "blob:",
    "chrome:",
    "chrome-untrusted:",
    "chrome-extension:",
    "devtools:",
)
TIMEOUT = 20  # seconds for a page to load and typeset; the whole file runs in well under a minute

# What a page shows that it should not: notebook errors and stderr, Sphinx/docutils errors.
ERROR_SELECTOR = (
    ".output_error, .output.error, .output.traceback, .output.stderr, .output_stderr,"
    " .system-message, .problematic"
)
VISIBLE_TEXT_JS = """
const body = document.body.cloneNode(true);
body.querySelectorAll('pre, code, script, style, mjx-container, .highlight')
    .forEach(e => e.remove());
return body.innerText;
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").exists():
        pytest.fail("_build/html is missing: run `make book` (make test does) first")
    handler = functools.partial(_Quiet, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: run `make browser-deps` (as root it installs "
            "the Debian packages chromium, chromium-driver and fonts-noto-cjk)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="book-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _requests(driver) -> list[str]:
    """The URLs requested since the last call (Chrome DevTools performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.append(message["params"]["url"])
    return urls


def _console_errors(driver) -> list[str]:
    # The browser asks every host for /favicon.ico by itself; the book links no favicon.
    return [
        e["message"]
        for e in driver.get_log("browser")
        if e["level"] == "SEVERE" and "/favicon.ico " not in e["message"]
    ]


def _foreign(urls: list[str], base: str) -> list[str]:
    host = urlsplit(base).netloc
    return [u for u in urls if not u.startswith(LOCAL_SCHEMES) and urlsplit(u).netloc != host]


def _wait(driver, script: str, what: str, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def _open(driver, url: str):
    driver.get(url)
    _wait(driver, "return document.readyState === 'complete'", f"{url} to load")
    # Typesetting is asynchronous: wait for MathJax where the page loads it.
    driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const start = Date.now();
        (function poll() {
          if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
            MathJax.startup.promise.then(() => done(true), () => done(false));
          } else if (!document.querySelector('script[src*="mathjax"]') || Date.now() - start > 15000) {
            done(false);
          } else {
            setTimeout(poll, 50);
          }
        })();
        """
    )
    # Figures: load lazy images too, then wait until every <img> has finished.
    driver.execute_script("document.querySelectorAll('img').forEach(i => i.loading = 'eager');")
    _wait(
        driver,
        "return Array.from(document.images).every(i => i.complete);",
        f"the images of {url}",
    )


def _screenshot(driver, path: Path):
    """The whole page: the window is made as tall as the document, then restored."""
    height = driver.execute_script(
        "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);"
    )
    metrics = {"width": 1280, "height": int(height), "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


@pytest.mark.parametrize("page", PAGES)
def test_page_works_offline_in_a_browser(page, server, browser):
    _requests(browser)  # drain whatever the previous page left
    browser.get_log("browser")
    url = f"{server}/{quote(page)}"
    _open(browser, url)

    problems = []
    errors = _console_errors(browser)
    if errors:
        problems.append(f"console errors: {errors}")
    shown = browser.execute_script(
        f"return Array.from(document.querySelectorAll({ERROR_SELECTOR!r}))"
        ".map(e => e.innerText.slice(0, 200));"
    )
    if shown:
        problems.append(f"error output shown: {shown}")
    text = browser.execute_script(VISIBLE_TEXT_JS)
    if "Traceback (most recent call last)" in browser.execute_script(
        "return document.body.innerText;"
    ):
        problems.append("a traceback is shown")
    broken = browser.execute_script(
        "return Array.from(document.images).filter(i => !(i.naturalWidth > 0))"
        ".map(i => i.getAttribute('src'));"
    )
    if broken:
        problems.append(f"images that did not load: {broken}")

    chapter = Path(page).stem
    if page.startswith("book/") and chapter in CHAPTERS:
        typeset = browser.execute_script(
            "return document.querySelectorAll('mjx-container').length;"
        )
        if not typeset:
            problems.append("no typeset math (mjx-container) on a chapter page")
        if "$$" in text:
            at = text.index("$$")
            problems.append(f"raw $$ left in the text: ...{text[max(0, at - 80) : at + 80]!r}")
        tex_errors = browser.execute_script(
            "return Array.from(document.querySelectorAll('mjx-merror'))"
            ".map(e => (e.getAttribute('data-mjx-error') || '') + ': ' + e.textContent);"
        )
        if tex_errors:
            problems.append(f"MathJax could not typeset: {tex_errors}")
        if not browser.execute_script("return document.images.length;"):
            problems.append("a chapter page without a figure")
        _screenshot(browser, SCREENSHOTS / f"{chapter}.png")

    foreign = _foreign(_requests(browser), server)
    if foreign:
        problems.append(f"requests that left 127.0.0.1: {sorted(set(foreign))}")
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)


# Everything that can be wider than the text column: equations, code and printed outputs. A
# display equation wider than its box is centred and clipped (cut off on the left, where no
# scroll bar reaches), a <pre> grows a scroll bar, an output table pokes out of the column.
OVERFLOW_JS = """
const article = document.querySelector('article.bd-article') || document.querySelector('main');
const style = getComputedStyle(article);
const box = article.getBoundingClientRect();
const left = box.left + parseFloat(style.paddingLeft) - 1;
const right = box.right - parseFloat(style.paddingRight) + 1;
const items = window.MathJax && MathJax.startup && MathJax.startup.document;
const tex = e => {
  const found = items ? items.getMathItemsWithin(e) : [];
  return found.length ? found[0].math : e.textContent;
};
const squash = s => s.replace(/\\s+/g, ' ').trim();
const problems = [];
function check(kind, e, name) {
  const r = e.getBoundingClientRect();
  if (!(r.width > 0)) return;  // folded away (a closed dropdown) or not displayed
  let lo = r.left, hi = r.right;
  // What is drawn, not the box: the glyphs of an equation, the content of a scrolled <pre>.
  e.querySelectorAll('mjx-c, mjx-mi, mjx-mn, mjx-mo, mjx-mtext, img, table').forEach(x => {
    const q = x.getBoundingClientRect();
    if (q.width > 0) { lo = Math.min(lo, q.left); hi = Math.max(hi, q.right); }
  });
  // Only a box that clips has a scroll bar (inline math overhangs its box by a pixel).
  const clips = x => getComputedStyle(x).overflowX !== 'visible';
  const scrolls = clips(e) && e.scrollWidth > e.clientWidth + 1;
  // The visible part: the column, narrowed by every ancestor that clips (div.math does).
  let [from, to] = [left, right];
  for (let a = e.parentElement; a && a !== article; a = a.parentElement) {
    if (clips(a)) {
      const q = a.getBoundingClientRect();
      [from, to] = [Math.max(from, q.left - 1), Math.min(to, q.right + 1)];
    }
  }
  // A glyph's box is wider than its ink (an accent over a narrow letter): 3 px of slack.
  const inkOut = lo < from - 3 || hi > to + 3;
  if (scrolls || inkOut || r.left < from || r.right > to) {
    const width = Math.round(Math.max(hi - lo, e.scrollWidth));
    const where = lo < from - 3 ? 'cut off on the left' : scrolls ? 'scrolls' : 'past the right edge';
    problems.push(`${kind} ${JSON.stringify(name.slice(0, 70))}: ${width} px in a `
      + `${Math.round(to - from - 2)} px column (${where})`);
  }
}
article.querySelectorAll('mjx-container').forEach(e => {
  const source = squash(tex(e));
  const tag = source.match(/\\\\tag\\{([^}]*)\\}/);
  check(tag ? `equation (${tag[1]})` : 'equation', e, source);
});
article.querySelectorAll('.cell_input pre').forEach(e => {
  const long = e.textContent.split('\\n').reduce((a, b) => (b.length > a.length ? b : a), '');
  check('code line', e, long);
});
article.querySelectorAll('.cell_output pre, .cell_output > :not(:has(pre))').forEach(e => {
  const long = e.innerText.split('\\n').reduce((a, b) => (b.length > a.length ? b : a), '');
  check('output', e, squash(long));
});
return problems;
"""
WIDTHS = [1280, 1920]  # a laptop's browser and a desktop's


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_nothing_overflows_its_column(chapter, width, server, browser):
    browser.set_window_size(width, 1000)
    try:
        _open(browser, f"{server}/book/{quote(chapter)}.html")
        problems = browser.execute_script(OVERFLOW_JS)
    finally:
        browser.set_window_size(1280, 1000)
    assert not problems, (
        f"book/{chapter}.html at {width} px: {len(problems)} element(s) wider than the text "
        "column:\n  " + "\n  ".join(problems)
    )


# A figure wider than the column is scaled down to fit, and its 10-point tick labels with it.
# Drawn at about the column's width (7 in at matplotlib's 100 dpi, or two rows instead of
# three panels side by side), it is shown at least this close to its own size.
LEAST_FIGURE_SCALE = 0.85


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_figures_are_drawn_for_the_column(chapter, server, browser):
    _open(browser, f"{server}/book/{quote(chapter)}.html")
    figures = browser.execute_script(
        "return Array.from(document.querySelectorAll('article .cell_output img'))"
        ".map(i => [i.naturalWidth, i.getBoundingClientRect().width]);"
    )
    shrunk = [
        f"figure {k + 1}: drawn {natural} px wide, shown at {shown:.0f} px ({shown / natural:.0%})"
        for k, (natural, shown) in enumerate(figures)
        if shown < LEAST_FIGURE_SCALE * natural
    ]
    assert not shrunk, f"book/{chapter}.html at 1280 px:\n  " + "\n  ".join(shrunk)


@pytest.mark.parametrize("query", ["LSTM", "门控"])
def test_search_finds(query, server, browser):
    _requests(browser)
    browser.get_log("browser")
    _open(browser, f"{server}/search.html?q={quote(query)}")
    # Sphinx fills #search-results asynchronously; the summary paragraph appears when it is done.
    _wait(
        browser,
        "return document.querySelector('#search-results .search-summary') !== null"
        " || document.querySelectorAll('#search-results li').length > 0;",
        f"search results for {query!r}",
    )
    time.sleep(0.3)  # results are appended one by one
    hits = browser.execute_script(
        "return Array.from(document.querySelectorAll('#search-results li a'))"
        ".map(a => a.getAttribute('href'));"
    )
    assert hits, f"searching {query!r} found nothing"
    # The term is in a chapter (and in the glossary): the chapter must be among the hits.
    assert any(h.startswith("book/0") for h in hits), f"{query!r} found no chapter: {hits}"
    errors = _console_errors(browser)
    assert not errors, errors
    assert not _foreign(_requests(browser), server)


# A Chinese word that occurs only inside a longer run of characters (§3.1 quotes note 003:
# "参数参与过多少次运算，就应该获得多少次梯度的奖励"): an index that splits text only at spaces and
# punctuation holds the whole clause as one "word" and cannot find it.
@pytest.mark.parametrize(("query", "page"), [("奖励", "book/03_backpropagation_through_time")])
def test_search_finds_a_chinese_word_inside_a_sentence(query, page, server, browser):
    _open(browser, f"{server}/search.html?q={quote(query)}")
    _wait(
        browser,
        "return document.querySelector('#search-results .search-summary') !== null"
        " || document.querySelectorAll('#search-results li').length > 0;",
        f"search results for {query!r}",
    )
    time.sleep(0.3)  # results are appended one by one
    hits = browser.execute_script(
        "return Array.from(document.querySelectorAll('#search-results li a'))"
        ".map(a => a.getAttribute('href'));"
    )
    assert any(h.startswith(page) for h in hits), f"searching {query!r} did not find {page}: {hits}"


# A chapter cites author-year ("[Elman, 1990]"); its reference list must use the same labels.
REFERENCE_LABELS_JS = """
return Array.from(document.querySelectorAll('div.citation > span.label'))
    .map(e => e.innerText.replace(/^\\[|\\]$/g, ''));
"""


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_references_are_labelled_author_year(chapter, server, browser):
    _open(browser, f"{server}/book/{quote(chapter)}.html")
    labels = browser.execute_script(REFERENCE_LABELS_JS)
    assert labels, f"book/{chapter}.html has no reference list"
    other = [label for label in labels if not re.fullmatch(r"\D+, (\d{4}[a-z]?|n\.d\.)", label)]
    assert not other, f"book/{chapter}.html: references not labelled author, year: {other}"


def test_every_page_and_chapter_was_found():
    assert "index.html" in PAGES and "search.html" in PAGES
    assert {f"book/{c}.html" for c in CHAPTERS} <= set(PAGES)
