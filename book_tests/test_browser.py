"""The built book as a reader sees it: headless Chromium (Debian's, no network) opens the
front page and every chapter; fails on console errors, unrendered math, broken images or
broken internal links. Keeps a screenshot of the front page under _build/screenshots/.

Run after the book build: `make check-book` (CI does).
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
CHROMIUM = os.environ.get("MSPD_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.skipif(not (HTML / "index.html").exists(), reason="book not built (make book)"),
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


def chapter_pages() -> list[str]:
    """Every HTML page of the book's chapters (relative to _build/html)."""
    pages = []
    for p in sorted(HTML.rglob("*.html")):
        rel = p.relative_to(HTML).as_posix()
        if rel.startswith(("_static/", "_sources/", "_images/")) or rel in ("genindex.html", "search.html"):
            continue
        pages.append(rel)
    return pages


def meta_refresh_target(rel: str) -> str | None:
    """The URL a redirect-only page (``<meta http-equiv="Refresh" ...>``) sends the browser to, else None."""
    match = re.search(r'http-equiv="Refresh"\s+content="\d+;\s*url=([^"]+)"', (HTML / rel).read_text(), re.I)
    return match.group(1) if match else None


def test_every_chapter_renders_cleanly(server, browser):
    pages = chapter_pages()
    assert "book/index.html" in pages and any(p.startswith("notebooks/_executed/") for p in pages)
    problems = []
    context = browser.new_context()
    context.route(re.compile(r"^(?!http://127\.0\.0\.1).*"), lambda route: route.abort())  # nothing leaves this machine
    external_requests = []
    for rel in pages:
        redirect = meta_refresh_target(rel)
        if redirect is not None:  # a redirect page navigates away at once: check where it points, not the page
            if not (HTML / rel).parent.joinpath(redirect).exists():
                problems.append(f"{rel}: redirects to missing {redirect}")
            continue
        page = context.new_page()
        errors = []
        page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        page.on("requestfailed", lambda r: external_requests.append(r.url) if not r.url.startswith(server) else None)
        page.goto(server + rel, wait_until="load")
        if page.locator(".math").count():  # wait for MathJax (served from _static) to typeset
            try:
                page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=15000)
                page.evaluate("() => MathJax.startup.promise.then(() => true)")
            except Exception as err:
                problems.append(f"{rel}: MathJax did not load ({type(err).__name__})")
        if page.locator(".math").count() and page.locator("mjx-container").count() == 0:
            problems.append(f"{rel}: math not rendered by MathJax")
        if page.locator("mjx-merror").count():
            problems.append(f"{rel}: MathJax error in a formula")
        broken = page.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
        problems += [f"{rel}: broken image {src}" for src in broken]
        for href in page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))"):
            url = urlparse(urljoin(page.url, href))  # page.url: after any redirect
            if url.scheme.startswith("http") and url.netloc == urlparse(server).netloc:
                target = HTML / url.path.lstrip("/")
                if url.path.endswith("/"):
                    target = target / "index.html"
                if not target.exists():
                    problems.append(f"{rel}: broken internal link {href}")
        problems += [f"{rel}: console error: {e}" for e in errors]
        page.close()
    context.close()
    assert not problems, "\n".join(problems[:50])
    assert not external_requests, f"pages tried to load external resources: {sorted(set(external_requests))[:10]}"


def test_front_page_screenshot(server, browser):
    out = ROOT / "_build" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server + "book/index.html", wait_until="load")
    page.wait_for_timeout(500)
    page.screenshot(path=str(out / "front_page.png"))
    assert (out / "front_page.png").stat().st_size > 10_000


def test_each_chapter_shows_one_parameters_cell():
    """Papermill's injected parameters (what this build ran with) show; the notebook's defaults do not."""
    pages = sorted((HTML / "notebooks" / "_executed").glob("*.html"))
    assert pages
    for page in pages:
        text = page.read_text()
        shown = len(re.findall(r"<span class=\"n\">profile</span>\s*<span class=\"o\">=</span>", text))
        assert shown <= 1, f"{page.name} shows {shown} parameters cells"


def test_summary_lists_every_claim_with_a_verdict():
    from mspd_core.claims import SIZES, VERDICTS

    text = (HTML / "notebooks" / "_executed" / "summary.html").read_text()
    assert "claims-table" in text
    rows = re.findall(r"<tr style=\"background:[^\"]+\">(.*?)</tr>", text, re.S)
    assert rows and all(any(f"<b>{v}</b>" in r for v in VERDICTS) for r in rows)
    assert all(any(f"<b>{v}</b>" in r for v in SIZES) for r in rows), "every row shows its size verdict"
    assert "forest" in text.lower() or "At a glance" in text
    assert "Registry fingerprint" in text and "operating characteristics" in text.lower()


def test_summary_table_is_readable_at_1280_px(server, browser):
    """Both verdict columns show on every row, and no column is clipped or pushed off the page at 1280 px."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server + "notebooks/_executed/summary.html", wait_until="load")
    table = page.locator("table.claims-table")
    assert table.count() == 1
    overflow = page.evaluate("""() => {
        const t = document.querySelector('table.claims-table');
        const wrap = t.parentElement;
        const article = t.closest('article') || document.body;
        const cells = Array.from(t.querySelectorAll('th, td'));
        return {tableRight: t.getBoundingClientRect().right, articleRight: article.getBoundingClientRect().right,
                scroll: wrap.scrollWidth - wrap.clientWidth,
                clippedCells: cells.filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.innerText.slice(0, 40))};
    }""")
    (ROOT / "_build" / "screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ROOT / "_build" / "screenshots" / "summary_1280.png"), full_page=False)
    page.close()
    assert overflow["scroll"] <= 1, f"the claims table needs horizontal scrolling at 1280 px: {overflow}"
    assert overflow["tableRight"] <= overflow["articleRight"] + 1, overflow
    assert not overflow["clippedCells"], overflow["clippedCells"][:5]


def test_front_page_answers_first():
    """The landing page shows the verdict counts on both axes and the forest plot above the contents."""
    text = (HTML / "book" / "index.html").read_text()
    assert "What this build found" in text and "direction:" in text and "size against the paper" in text
    assert "forest.png" in text
    assert "_executed/00_data.ipynb out.ipynb" not in text and "notebooks/00_data.ipynb" in text


def test_launch_buttons_open_committed_notebooks():
    """Colab and Binder links of every chapter target a notebooks/<name>.ipynb that the repository has; the
    course's exercises open the student notebook course/course_exercises.ipynb (no solutions), never its twin."""
    checked = 0
    for page in sorted((HTML / "notebooks" / "_executed").glob("*.html")):
        folder = "course" if page.stem == "course_exercises" else "notebooks"
        for url in re.findall(r'href="(https://(?:colab\.research\.google\.com|mybinder\.org)[^"]+)"', page.read_text()):
            path = re.search(rf"({folder}(?:/|%2F)[^?&\"]+)", url)
            assert path, f"{page.name}: launch link without a {folder}/ notebook path: {url}"
            rel = path.group(1).replace("%2F", "/")
            assert rel.endswith(".ipynb") and "_executed" not in rel, f"{page.name}: launch link to {rel}"
            assert (ROOT / rel).exists(), f"{page.name}: launch link to {rel}, which the repository lacks"
            assert "notebooks/course_exercises" not in url.replace("%2F", "/"), f"{page.name}: a link to the solutions"
            checked += 1
    assert checked, "no launch links found"


def test_lemma_blocks_render():
    """The lemma pages state their lemma in a sphinx-proof block."""
    for name in ("lemma1_alignment", "lemma2_forward_backward", "lemma3_shared_subspace", "lemma4_reversion"):
        text = (HTML / "notebooks" / "_executed" / f"{name}.html").read_text()
        assert 'class="admonition lemma' in text or "proof lemma" in text, f"{name}: no rendered lemma block"


def test_pages_work_from_file_urls(browser):
    """The built site also works opened from disk (file://): pages load their CSS/JS and render math."""
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    for rel in ("book/index.html", "notebooks/_executed/lemma2_forward_backward.html", "notebooks/_executed/summary.html"):
        page.goto((HTML / rel).as_uri(), wait_until="load")
        assert page.evaluate("Array.from(document.styleSheets).length") > 0, f"{rel}: no stylesheet from file://"
        assert page.locator("nav").count() > 0, rel
    page.close()
    assert not errors, errors[:5]
