"""The course website (website/build_site.py): what the builder changes, then the built pages in Chromium.

The quick tests check the page sources against the raw notebook JSON. The slow ones build
the site with the README's command into a temporary folder, serve it on 127.0.0.1 and open
every page of both editions in headless Debian Chromium: each figure and still picture
stored in the notebook is shown (the same PNG bytes), the formulas are typeset by the
bundled MathJax, every link inside the site resolves (anchors included), the launch
buttons point at the address in course.toml, the language switch opens the same page in
the other language, worked solutions stay folded until opened, nothing is requested from
another host, and the console shows no error. Screenshots go to screenshots/site-*.png.
Without Chromium, Playwright or Jupyter Book the slow tests skip, except under CI.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import threading
import types
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import browser_helpers as bh
from conftest import REPO, skip_if_missing

sys.path.insert(0, str(REPO))
from website import build_site as site  # noqa: E402
from tools.publisher.set_address import read_address  # noqa: E402

PAGES = {lang: ["index", *site.NOTEBOOKS, *site.extra_pages(lang)] for lang in site.LANGUAGES}
SCREENSHOTS = REPO / "screenshots"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
INLINE_MATH, DISPLAY_MATH = re.compile(r"(?<![\\$])\$[^$\n]+\$"), re.compile(r"\$\$.+?\$\$", re.S)


def raw(lang: str, name: str) -> dict:
    return json.loads((REPO / "notebooks" / lang / f"{name}.ipynb").read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    return "".join(cell["source"])


def formulas(markdown: str) -> int:
    """How many formulas a Markdown text holds: ``$$...$$`` displays, then ``$...$`` inline."""
    return len(DISPLAY_MATH.findall(markdown)) + len(INLINE_MATH.findall(DISPLAY_MATH.sub("", markdown)))


def stored_pngs(nb: dict) -> list[str]:
    """The SHA-256 of every PNG output a notebook stores (figures, and the panels' stills)."""
    return sorted(hashlib.sha256(base64.b64decode(out["data"]["image/png"])).hexdigest()
                  for cell in nb["cells"] for out in cell.get("outputs", []) if "image/png" in out.get("data", {}))


# --- what the builder changes ----------------------------------------------------------------

def test_links_out_of_the_book_go_to_the_repository_and_figures_to_the_books_copy():
    text = ("See the [README](../../README.md) and [the numbers](../../benchmarks/README.md#cpu).\n"
            "![LeNet](../figures/lenet.svg) Next: [Exercise 1](lenet_ex1_max_pooling.ipynb), "
            "[the glossary](GLOSSARY.md), [PyTorch](https://pytorch.org/).")
    assert site.page_markdown(text, "alice/lenet-course") == (
        "See the [README](https://github.com/alice/lenet-course/blob/main/README.md) and "
        "[the numbers](https://github.com/alice/lenet-course/blob/main/benchmarks/README.md#cpu).\n"
        "![LeNet](figures/lenet.svg) Next: [Exercise 1](lenet_ex1_max_pooling.ipynb), "
        "[the glossary](GLOSSARY.md), [PyTorch](https://pytorch.org/).")


@pytest.mark.parametrize("lang, name", [(lang, name) for lang in site.LANGUAGES for name in site.EXERCISES])
def test_pages_fold_the_solutions_and_leave_out_what_only_tools_read(lang, name):
    nb = raw(lang, name)
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"x": {}}}}
    page = site.page_notebook(nb, "alice/lenet-course", lang)
    assert "widgets" not in page["metadata"] and "widgets" in nb["metadata"]  # the input is left as it was
    assert len(page["cells"]) == len(nb["cells"])
    folded = 0
    for before, after in zip(nb["cells"], page["cells"]):
        text, tags = source(before), before["metadata"].get("tags", [])
        assert after.get("outputs") == before.get("outputs")
        if before["cell_type"] == "markdown":
            shown = site.page_markdown(text, "alice/lenet-course")
            if "solution" in tags:
                shown = f":::{{admonition}} {site.SOLUTION[lang]}\n:class: dropdown\n\n{shown}\n:::"
            assert after["source"] == shown
            continue
        kept = [line for line in text.split("\n") if not line.startswith("# NBVAL_")]
        if "### BEGIN HIDDEN TESTS" in text:
            start, end = kept.index("### BEGIN HIDDEN TESTS"), kept.index("### END HIDDEN TESTS")
            assert end > start + 1  # there was a hidden test to leave out
            kept = kept[:start] + kept[end + 1:]
        assert after["source"] == "\n".join(kept).rstrip("\n")
        if "solution" in tags:
            folded += 1
            assert after["metadata"]["tags"] == [*tags, "hide-cell"]
            assert after["metadata"]["mystnb"] == {"code_prompt_show": site.SOLUTION_CODE[lang][0],
                                                   "code_prompt_hide": site.SOLUTION_CODE[lang][1]}
        else:
            assert after["metadata"] == before["metadata"]
    ending = site.page_notebook({"metadata": {}, "cells": [{"cell_type": "code", "metadata": {}, "source": ["X\n"],
                                                             "outputs": []}]}, "a/b", lang)
    assert ending["cells"][0]["source"] == "X"  # only the line end goes
    assert folded == sum(c["cell_type"] == "code" and "solution" in c["metadata"].get("tags", []) for c in nb["cells"]) > 0


def test_the_config_points_launch_buttons_at_the_address_and_drops_the_live_widget_view():
    config = site.book_config("zh", "alice/lenet-course")
    assert config["repository"] == {"url": "https://github.com/alice/lenet-course", "path_to_book": "notebooks/zh",
                                    "branch": "main"}
    assert config["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert config["execute"] == {"execute_notebooks": "off"}  # the stored outputs, never a new run
    sphinx = config["sphinx"]["config"]
    assert sphinx["language"] == "zh_CN" and sphinx["html_context"]["other_language"] == "en"
    assert sphinx["nb_mime_priority_overrides"] == [["html", WIDGET_VIEW, None]]
    assert "sphinx-mathjax-offline" in sphinx["extensions"] and "sphinx_thebe" not in sphinx["extensions"]
    assert config["parse"]["myst_enable_extensions"] == ["colon_fence", "dollarmath"]  # the folds, the formulas
    assert config["launch_buttons"]["notebook_interface"] == "jupyterlab"  # Binder opens the course as README says
    assert config["html"]["use_repository_button"] is True and config["only_build_toc_files"] is True
    assert sphinx["html_context"]["other_language_pages"] == [
        "index", "lenet", "lenet_ex1_max_pooling", "lenet_ex2_improve", "lenet_ex3_mnist", "lenet_ex4_feature_maps",
        "genindex", "search"]  # the English edition has no glossary
    english = site.book_config("en", "alice/lenet-course")["sphinx"]["config"]["html_context"]
    assert english["other_language"] == "zh" and "GLOSSARY" in english["other_language_pages"]


@pytest.mark.parametrize("lang", site.LANGUAGES)
def test_the_contents_hold_every_notebook_of_the_language_in_course_order(lang):
    toc = site.book_toc(lang, site.extra_pages(lang))
    files = [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]
    assert files[:5] == ["lenet", "lenet_ex1_max_pooling", "lenet_ex2_improve", "lenet_ex3_mnist",
                         "lenet_ex4_feature_maps"]
    assert sorted(files) == sorted(p.stem for p in (REPO / "notebooks" / lang).glob("*.*") if p.suffix in {".ipynb", ".md"})


def test_a_missing_notebook_is_named_before_anything_is_written(tmp_path, monkeypatch):
    copy = tmp_path / "course"
    shutil.copytree(REPO / "notebooks", copy / "notebooks")
    shutil.copytree(site.WEBSITE, copy / "website")
    (copy / "notebooks" / "en" / "lenet_ex3_mnist.ipynb").unlink()
    monkeypatch.setattr(site, "REPO", copy)
    monkeypatch.setattr(site, "WEBSITE", copy / "website")
    with pytest.raises(FileNotFoundError, match=r"notebooks/en lacks lenet_ex3_mnist\.ipynb$"):
        site.write_book("en", tmp_path / "book", "alice/lenet-course")
    assert not (tmp_path / "book").exists()


def test_a_book_holds_every_page_its_config_and_contents_and_the_sites_files(tmp_path):
    book = tmp_path / "zh"
    site.write_book("zh", book, "alice/lenet-course")
    assert json.loads((book / "_config.yml").read_text(encoding="utf-8")) == json.loads(
        json.dumps(site.book_config("zh", "alice/lenet-course")))
    assert json.loads((book / "_toc.yml").read_text(encoding="utf-8")) == site.book_toc("zh", ["GLOSSARY"])
    for name in site.NOTEBOOKS:
        written = json.loads((book / f"{name}.ipynb").read_text(encoding="utf-8"))
        assert written == site.page_notebook(raw("zh", name), "alice/lenet-course", "zh")
    glossary = (REPO / "notebooks" / "zh" / "GLOSSARY.md").read_text(encoding="utf-8")
    assert (book / "GLOSSARY.md").read_text(encoding="utf-8") == site.page_markdown(glossary, "alice/lenet-course")
    home = (book / "index.md").read_text(encoding="utf-8")
    assert "](https://github.com/alice/lenet-course/blob/main/README.md)" in home and "../../" not in home
    for copied in ("figures/lenet.svg", "favicon.svg", "_static/course.css"):
        source = REPO / "notebooks" / copied if copied.startswith("figures") else site.WEBSITE / copied
        assert (book / copied).read_bytes() == source.read_bytes()
    assert sorted(p.name for p in book.iterdir()) == sorted(
        ["_config.yml", "_toc.yml", "index.md", "GLOSSARY.md", "figures", "favicon.svg", "_static",
         *(f"{n}.ipynb" for n in site.NOTEBOOKS)])


def _stand_in_for_jupyter_book(monkeypatch, fail: str | None = None):
    """Replace the Jupyter Book run: record its command and write one page, or fail for the language ``fail``."""
    runs = []

    def run(command):
        source = Path(command[command.index("build") + 1])
        runs.append(command)
        if source.name == fail:
            return subprocess.CompletedProcess(command, 2)
        (source / "_build" / "html").mkdir(parents=True)
        (source / "_build" / "html" / "index.html").write_text(f"<p>{source.name}</p>", encoding="utf-8")
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(site.subprocess, "run", run)
    return runs


def test_build_puts_each_edition_under_its_language_and_opens_the_english_one(tmp_path, monkeypatch, capsys):
    runs = _stand_in_for_jupyter_book(monkeypatch)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "stale.html").write_text("from an earlier build", encoding="utf-8")
    assert site.build(tmp_path / "site", quiet=True) == tmp_path / "site"
    assert [(cmd[0], cmd[3:5], cmd[5:]) for cmd in runs] == [
        (sys.executable, ["build", str(tmp_path / ".site-sources" / lang)],
         ["--path-output", str(tmp_path / ".site-sources" / lang), "--warningiserror", "--keep-going", "--quiet"])
        for lang in ("en", "zh")]
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == [".nojekyll", "en", "index.html", "zh"]
    assert (tmp_path / "site" / "zh" / "index.html").read_text(encoding="utf-8") == "<p>zh</p>"
    home = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert '<meta http-equiv="refresh" content="0; url=en/index.html">' in home and 'href="zh/index.html"' in home
    assert '<link rel="icon" href="en/_static/favicon.svg">' in home
    assert not (tmp_path / ".site-sources").exists()  # the book sources go once the site is written
    placeholder = read_address() == "OWNER/REPO"
    assert ("course.toml still holds the placeholder OWNER/REPO" in capsys.readouterr().err) == placeholder


def test_a_failed_edition_is_named_and_its_sources_are_kept(tmp_path, monkeypatch):
    _stand_in_for_jupyter_book(monkeypatch, fail="zh")
    sources = tmp_path / ".site-sources" / "zh"
    with pytest.raises(RuntimeError, match=rf"^Jupyter Book could not build the zh edition; its messages are above "
                                           rf"\(sources in {re.escape(str(sources))}\)$"):
        site.build(tmp_path / "site")
    assert (sources / "_config.yml").is_file()


def test_main_reports_the_site_or_what_went_wrong(tmp_path, monkeypatch, capsys):
    built = []
    monkeypatch.setitem(sys.modules, "jupyter_book", types.ModuleType("jupyter_book"))  # installed or not
    monkeypatch.setattr(site, "build", lambda out, quiet: built.append((out, quiet)) or out)
    assert site.main(["--out", str(tmp_path / "web"), "--quiet"]) == 0
    assert built == [(tmp_path / "web", True)]
    assert capsys.readouterr().out == (f"site written to {tmp_path / 'web'}; open {tmp_path / 'web' / 'index.html'}, "
                                       f"or serve it: python -m http.server -d {tmp_path / 'web'}\n")
    assert site.main([]) == 0 and built[-1] == (REPO / "build" / "site", False)
    capsys.readouterr()

    def broken(out, quiet):
        raise RuntimeError("Jupyter Book could not build the en edition")

    monkeypatch.setattr(site, "build", broken)
    assert site.main([]) == 1
    assert capsys.readouterr().err == "error: Jupyter Book could not build the en edition\n"
    monkeypatch.setitem(sys.modules, "jupyter_book", None)  # as if it were not installed
    assert site.main([]) == 1
    assert capsys.readouterr().err == "Jupyter Book is not installed: pip install -r requirements-site.txt\n"


# --- the built site in Chromium --------------------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The site, built by the README's command into a temporary folder."""
    skip_if_missing("Jupyter Book is not installed (pip install -r requirements-site.txt)"
            if importlib.util.find_spec("jupyter_book") is None else None)
    out = tmp_path_factory.mktemp("site") / "site"
    run = subprocess.run([sys.executable, str(REPO / "website" / "build_site.py"), "--out", str(out), "--quiet"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "WARNING" not in run.stdout + run.stderr
    return out


@pytest.fixture(scope="module")
def server(built):
    """The built site over HTTP on 127.0.0.1, as GitHub Pages serves it."""
    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(built)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def chromium(server):
    skip_if_missing(bh.missing_browser_reason())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=bh.CHROMIUM, args=bh.CHROMIUM_ARGS, timeout=120_000)
        try:
            yield browser
        finally:
            browser.close()


class Visit:
    """A page opened in a fresh browser context, with every console error and outside request recorded."""

    def __init__(self, chromium, server: str):
        self.server, self.problems = server, []
        self.context = chromium.new_context(viewport={"width": 1300, "height": 900})
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error"
                     and self.problems.append(f"console: {m.text} ({m.location['url']})"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        # A request cut short because the page moved on (the front door's redirect) is the browser's doing,
        # not the site's; a missing file still shows as its 404 response.
        self.page.on("requestfailed", lambda r: r.failure == "net::ERR_ABORTED"
                     or self.problems.append(f"failed: {r.url} ({r.failure})"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"{r.status}: {r.url}"))
        self.page.on("request", lambda r: r.url.startswith(server) or r.url.startswith("data:")
                     or self.problems.append(f"outside request: {r.url}"))

    def open(self, path: str):
        self.page.goto(self.server + path, wait_until="networkidle")
        return self.page


@pytest.fixture
def visit(chromium, server):
    v = Visit(chromium, server)
    yield v
    v.context.close()


_checked: dict[str, str | None] = {}


def _link_problem(url: str, server: str) -> str | None:
    """Why an address inside the site does not resolve (missing page, missing anchor), or None."""
    if url not in _checked:
        page_url, _, anchor = url.partition("#")
        try:
            with urllib.request.urlopen(page_url, timeout=30) as response:
                body = response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            _checked[url] = f"{url}: HTTP {err.code}"
        else:
            found = not anchor or re.search(rf'id="{re.escape(urllib.parse.unquote(anchor))}"', body)
            _checked[url] = None if found else f"{url}: no element with id {anchor!r}"
    return _checked[url]


@pytest.mark.slow
@pytest.mark.parametrize("lang, name", [(lang, name) for lang, names in PAGES.items() for name in names])
def test_every_page_renders_in_both_languages(lang, name, visit, server):
    page = visit.open(f"{lang}/{name}.html")
    page.wait_for_function("() => [...document.images].every(img => img.complete)", timeout=30_000)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"site-{lang}-{name}.png"), full_page=True)
    assert page.evaluate("document.documentElement.lang").startswith(lang)
    broken = page.evaluate("[...document.images].filter(img => !img.naturalWidth).map(img => img.src)")
    assert broken == []
    notebook = (REPO / "notebooks" / lang / f"{name}.ipynb")
    if notebook.exists():
        nb = raw(lang, name)
        shown = page.evaluate("[...document.querySelectorAll('.cell_output img')].map(img => img.src)")
        digests = sorted(hashlib.sha256(urllib.request.urlopen(src, timeout=30).read()).hexdigest() for src in shown)
        assert digests == stored_pngs(nb)  # every stored figure and still, once, byte for byte
        widgets = sum(WIDGET_VIEW in out.get("data", {}) for c in nb["cells"] for out in c.get("outputs", []))
        assert "VBox(children" not in page.inner_text("main") and (widgets == 0 or len(shown) > 0)
        math = sum(formulas(source(c)) for c in nb["cells"] if c["cell_type"] == "markdown")
        if math:
            page.evaluate("() => MathJax.startup.promise.then(() => true)")  # typesetting is asynchronous
        assert page.locator("mjx-container").count() == math
        address, relpath = read_address(), f"notebooks/{lang}/{name}.ipynb"
        launch = page.evaluate("[...document.querySelectorAll('.dropdown-launch-buttons a')].map(a => a.href)")
        assert launch == [f"https://mybinder.org/v2/gh/{address}/main?urlpath=lab/tree/{relpath}",
                          f"https://colab.research.google.com/github/{address}/blob/main/{relpath}"]
    other = next(code for code in site.LANGUAGES if code != lang)
    target = name if name in PAGES[other] else "index"  # a page the other edition lacks: its home page
    assert page.locator("a.language-switch").get_attribute("href") == f"../{other}/{target}.html"
    links = page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)")
    inside = sorted({url for url in links if url.startswith(server)})
    assert len(inside) > 10  # the contents, the switch, the neighbours
    assert [p for p in (_link_problem(url, server) for url in inside) if p] == []
    assert visit.problems == []


@pytest.mark.slow
def test_the_switch_opens_the_same_page_in_the_other_language(visit, server):
    page = visit.open("en/lenet_ex2_improve.html")
    title = page.title()
    page.locator("a.language-switch").click()
    page.wait_for_url(server + "zh/lenet_ex2_improve.html", wait_until="networkidle")
    assert page.evaluate("document.documentElement.lang") == "zh-CN" and page.title() != title
    page.locator("a.language-switch").click()
    # Wait until nothing is in flight (the favicon comes last), so that every failed request is on record.
    page.wait_for_url(server + "en/lenet_ex2_improve.html", wait_until="networkidle")
    assert page.title() == title
    home = visit.open("")  # the site's front door opens the English edition
    home.wait_for_url(server + "en/index.html", wait_until="networkidle")
    assert visit.problems == []


@pytest.mark.slow
def test_worked_solutions_stay_folded_until_opened(visit):
    page = visit.open("en/lenet_ex1_max_pooling.html")
    answer = page.get_by_text("def max_lenet():")
    written = page.locator("p", has_text="Pooling layers have no parameters, so the two networks")
    assert answer.count() == 1 and not answer.is_visible() and not written.is_visible()
    page.get_by_text(site.SOLUTION_CODE["en"][0]).first.click()
    assert answer.is_visible()
    page.locator(".dropdown.admonition .toggle-button").first.click()
    assert written.is_visible()
    assert visit.problems == []
