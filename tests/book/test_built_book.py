"""The built book (make book) works offline and publishes no solutions.

`make test` builds the book before running pytest; these tests read `_build/html`.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
CHAPTERS = sorted(p.stem for p in (ROOT / "book").glob("[0-9][0-9]_*.ipynb"))


class _Resources(HTMLParser):
    """Collect what a page loads: scripts, stylesheets, images, frames, fonts."""

    def __init__(self):
        super().__init__()
        self.loaded: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "embed") and attrs.get("src"):
            self.loaded.append(attrs["src"])
        if tag == "link" and attrs.get("href") and attrs.get("rel") not in ("canonical",):
            if any(r in (attrs.get("rel") or "") for r in ("stylesheet", "preload", "icon")):
                self.loaded.append(attrs["href"])


def _pages() -> list[Path]:
    if not HTML.exists():
        pytest.fail("_build/html is missing: run `make book` (make test does) first")
    return sorted(HTML.rglob("*.html"))


def _external(url: str) -> bool:
    return bool(re.match(r"^(https?:)?//", url))


def test_no_page_loads_anything_from_another_site():
    offenders = {}
    for page in _pages():
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        external = [u for u in parser.loaded if _external(u)]
        if external:
            offenders[str(page.relative_to(HTML))] = external
    assert offenders == {}


def test_no_stylesheet_or_script_fetches_from_another_site():
    pattern = re.compile(r"""(?:url\(|@import\s+|fetch\()\s*['"]?(https?:)?//""")
    offenders = [
        str(f.relative_to(HTML))
        for f in HTML.rglob("*")
        if f.suffix in (".css", ".js")
        and "mathjax" not in f.parts
        and pattern.search(f.read_text(errors="ignore"))
    ]
    assert offenders == []


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_pages_load_the_bundled_mathjax(chapter):
    page = HTML / "book" / f"{chapter}.html"
    assert page.exists(), f"{chapter} was not built"
    assert "_static/mathjax/tex-chtml.js" in page.read_text(encoding="utf-8")
    assert (HTML / "_static" / "mathjax" / "tex-chtml.js").exists()
    assert (HTML / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_links_its_exercise_download(chapter):
    html = (HTML / "book" / f"{chapter}.html").read_text(encoding="utf-8")
    match = re.search(rf'href="([^"]*_downloads/[^"]*/{chapter}\.ipynb)"', html)
    assert match, f"{chapter} has no download link to its exercise"
    download = (HTML / "book" / match.group(1)).resolve()
    assert download.exists()
    assert (
        "BEGIN SOLUTION" not in download.read_text() and "HIDDEN TESTS" not in download.read_text()
    )


def test_solutions_and_hidden_tests_are_not_published():
    for f in HTML.rglob("*"):
        if f.is_file() and f.suffix in (".html", ".ipynb", ".txt", ".js"):
            text = f.read_text(errors="ignore")
            assert "BEGIN HIDDEN TESTS" not in text, f"{f} contains hidden tests"
            assert "### BEGIN SOLUTION" not in text, f"{f} contains a solution"
    assert not (HTML / "solutions").exists()
