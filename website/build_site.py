"""Build the course website: the notebooks as pages, with the outputs stored in them, in English and Chinese.

    python website/build_site.py                  # writes build/site/ (open build/site/index.html)
    python website/build_site.py --out DIR

Jupyter Book 1 (Sphinx with sphinx-book-theme; ``pip install -r requirements-site.txt``)
builds one book per language from a copy of ``notebooks/<lang>/`` and ``website/``:
nothing is executed and nothing is downloaded (MathJax comes from the
sphinx-mathjax-offline package). The copy differs from the notebooks in four ways:
links that leave the book (``../../README.md``) point to the repository on GitHub,
worked solutions are folded behind a button, what only tools read (nbval's markers, the
autograder's hidden tests, saved widget state) is left out, and the exercise panels
show the still picture stored beside them. Each page has Binder and Colab launch buttons for the
address in ``course.toml`` and a button to the same page in the other language.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
WEBSITE = Path(__file__).resolve().parent  # this folder: the home pages, theme additions and icon
from tools.publisher.set_address import PLACEHOLDER, read_address  # noqa: E402

LANGUAGES = {  # code: (Sphinx language, book title, name shown on the other edition's switch)
    "en": ("en", "LeNet on Fashion-MNIST", "English"),
    "zh": ("zh_CN", "LeNet：在 Fashion-MNIST 上训练卷积神经网络", "中文"),
}
CHAPTER = "lenet"
EXERCISES = ["lenet_ex1_max_pooling", "lenet_ex2_improve", "lenet_ex3_mnist", "lenet_ex4_feature_maps"]
NOTEBOOKS = [CHAPTER, *EXERCISES]  # in course order
CHAPTER_CAPTION = {"en": "Chapter", "zh": "正文"}
EXERCISES_CAPTION = {"en": "Exercises", "zh": "练习"}
SOLUTION = {"en": "Worked solution", "zh": "参考答案"}  # a written answer's fold
SOLUTION_CODE = {"en": ("Show the worked solution (code)", "Hide the worked solution"),  # a code answer's fold
                 "zh": ("显示参考答案（代码）", "隐藏参考答案")}
# Jupyter Book's extensions, less sphinx-thebe (live code in the page: unused here, and its setup
# script, declared twice, is an error in every page's console), plus MathJax served from the site.
EXTENSIONS = ["sphinx_togglebutton", "sphinx_copybutton", "myst_nb", "jupyter_book", "sphinx_comments",
              "sphinx_external_toc", "sphinx_design", "sphinx_book_theme", "sphinx-mathjax-offline"]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# What only the tools read: nbval's markers and the autograder's hidden tests.
TOOLING = re.compile(r"^# NBVAL_\w+\n|^### BEGIN HIDDEN TESTS\n.*?^### END HIDDEN TESTS\n?", re.M | re.S)
OUTSIDE = re.compile(r"\]\(\.\./\.\./([^)\s]*)\)")  # a Markdown link to a file of the repository outside the book


def repository_url(address: str, path: str = "") -> str:
    """The address of the repository on GitHub, or of one of its files on the main branch."""
    return f"https://github.com/{address}" + (f"/blob/main/{path}" if path else "")


def page_markdown(text: str, address: str) -> str:
    """A notebook's Markdown as the site shows it: links out of the book go to GitHub, figures to the book's copy."""
    text = OUTSIDE.sub(lambda m: f"]({repository_url(address, m.group(1))})", text)
    return text.replace("](../figures/", "](figures/")


def page_notebook(nb: dict, address: str, lang: str) -> dict:
    """A course notebook as a page: links rewritten, solutions folded, markers for tools left out; outputs as stored."""
    nb = json.loads(json.dumps(nb))
    nb["metadata"].pop("widgets", None)  # saved widget state would load the widget manager from a CDN
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        tags = cell["metadata"].get("tags", [])
        if cell["cell_type"] == "markdown":
            source = page_markdown(source, address)
            if "solution" in tags:  # a dropdown (sphinx-togglebutton), closed until the reader opens it
                source = f":::{{admonition}} {SOLUTION[lang]}\n:class: dropdown\n\n{source}\n:::"
        else:
            source = TOOLING.sub("", source).rstrip("\n")
            if "solution" in tags:  # input and output behind one toggle
                cell["metadata"]["tags"] = [*tags, "hide-cell"]
                cell["metadata"]["mystnb"] = {"code_prompt_show": SOLUTION_CODE[lang][0],
                                              "code_prompt_hide": SOLUTION_CODE[lang][1]}
        cell["source"] = source
    return nb


def extra_pages(lang: str) -> list[str]:
    """The Markdown pages beside one language's notebooks (the Chinese glossary)."""
    return sorted(p.stem for p in (REPO / "notebooks" / lang).glob("*.md"))


def pages(lang: str) -> list[str]:
    """Every page of one language's edition, by name, Sphinx's own pages included."""
    return ["index", *NOTEBOOKS, *extra_pages(lang), "genindex", "search"]


def book_config(lang: str, address: str) -> dict:
    """Jupyter Book's _config.yml (as JSON, which YAML reads) for one language's edition."""
    language, title, _ = LANGUAGES[lang]
    other = next(code for code in LANGUAGES if code != lang)
    return {
        "title": title,
        "author": "the course authors",
        "copyright": "2026",
        "only_build_toc_files": True,
        "execute": {"execute_notebooks": "off"},
        "parse": {"myst_enable_extensions": ["colon_fence", "dollarmath"]},
        "html": {"use_repository_button": True, "home_page_in_navbar": True, "favicon": "favicon.svg"},
        "launch_buttons": {"notebook_interface": "jupyterlab", "binderhub_url": "https://mybinder.org",
                           "colab_url": "https://colab.research.google.com"},
        "repository": {"url": repository_url(address), "path_to_book": f"notebooks/{lang}", "branch": "main"},
        "sphinx": {
            "recursive_update": True,
            "config": {
                "extensions": EXTENSIONS,
                "language": language,
                "templates_path": [str(WEBSITE / "_templates")],
                "html_css_files": ["course.css"],
                "html_theme_options": {"article_header_end": ["language-switch.html", "article-header-buttons.html"]},
                "html_context": {"other_language": other, "other_language_name": LANGUAGES[other][2],
                                 "other_language_title": LANGUAGES[other][1], "other_language_pages": pages(other),
                                 "default_mode": "auto"},  # without it a first visit logs "invalid theme mode"
                # The panels' live view needs a kernel; the still picture stored beside it shows instead.
                "nb_mime_priority_overrides": [["html", WIDGET_VIEW, None]],
            },
        },
    }


def book_toc(lang: str, extra: list[str]) -> dict:
    """Jupyter Book's _toc.yml: the home page, the chapter, the exercises, then any extra pages."""
    return {"format": "jb-book", "root": "index",
            "parts": [{"caption": CHAPTER_CAPTION[lang], "chapters": [{"file": CHAPTER}]},
                      {"caption": EXERCISES_CAPTION[lang], "chapters": [{"file": name} for name in EXERCISES]},
                      *([{"caption": "", "chapters": [{"file": page} for page in extra]}] if extra else [])]}


def write_book(lang: str, source: Path, address: str) -> None:
    """Write one language's book sources into ``source``: config, contents, home page, notebooks, figures."""
    notebooks = REPO / "notebooks" / lang
    missing = [name for name in NOTEBOOKS if not (notebooks / f"{name}.ipynb").exists()]
    if missing:
        raise FileNotFoundError(f"{notebooks} lacks {', '.join(f'{m}.ipynb' for m in missing)}")
    source.mkdir(parents=True)
    for name in NOTEBOOKS:
        nb = json.loads((notebooks / f"{name}.ipynb").read_text(encoding="utf-8"))
        (source / f"{name}.ipynb").write_text(json.dumps(page_notebook(nb, address, lang), ensure_ascii=False),
                                              encoding="utf-8")
    extra = extra_pages(lang)
    for name in extra:
        (source / f"{name}.md").write_text(page_markdown((notebooks / f"{name}.md").read_text(encoding="utf-8"),
                                                         address), encoding="utf-8")
    home = (WEBSITE / lang / "index.md").read_text(encoding="utf-8")
    (source / "index.md").write_text(page_markdown(home, address), encoding="utf-8")
    shutil.copytree(REPO / "notebooks" / "figures", source / "figures")
    shutil.copy(WEBSITE / "favicon.svg", source)
    shutil.copytree(WEBSITE / "_static", source / "_static")  # Jupyter Book serves a book's _static
    (source / "_config.yml").write_text(json.dumps(book_config(lang, address), ensure_ascii=False, indent=1),
                                        encoding="utf-8")
    (source / "_toc.yml").write_text(json.dumps(book_toc(lang, extra), ensure_ascii=False, indent=1),
                                     encoding="utf-8")


def build(out: Path, quiet: bool = False) -> Path:
    """Build both editions into ``out`` (``out/en``, ``out/zh`` and a home page that opens the English one)."""
    address = read_address()
    if address == PLACEHOLDER:
        print(f"note: course.toml still holds the placeholder {PLACEHOLDER}; the launch buttons point there "
              "until `python tools/publisher/set_address.py owner/name` records the real address", file=sys.stderr)
    work = out.parent / f".{out.name}-sources"
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    for lang in LANGUAGES:
        source = work / lang
        write_book(lang, source, address)
        command = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(source),
                   "--path-output", str(source), "--warningiserror", "--keep-going", *(["--quiet"] if quiet else [])]
        if subprocess.run(command).returncode:
            raise RuntimeError(f"Jupyter Book could not build the {lang} edition; its messages are above "
                               f"(sources in {source})")
        shutil.copytree(source / "_build" / "html", out / lang)
    (out / "index.html").write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>LeNet on Fashion-MNIST</title>\n'
        '<link rel="icon" href="en/_static/favicon.svg">\n'  # else browsers ask for /favicon.ico, which is not there
        '<meta http-equiv="refresh" content="0; url=en/index.html"></head>\n'
        '<body><p><a href="en/index.html">English</a> · <a href="zh/index.html" lang="zh">中文</a></p></body></html>\n',
        encoding="utf-8")
    (out / ".nojekyll").write_text("", encoding="utf-8")  # GitHub Pages: serve the _static folders as they are
    shutil.rmtree(work)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "build" / "site", help="where to write the site")
    parser.add_argument("--quiet", action="store_true", help="print only Sphinx's warnings")
    args = parser.parse_args(argv)
    try:
        import jupyter_book  # noqa: F401
    except ImportError:
        print("Jupyter Book is not installed: pip install -r requirements-site.txt", file=sys.stderr)
        return 1
    try:
        out = build(args.out.resolve(), args.quiet)
    except (FileNotFoundError, RuntimeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"site written to {out}; open {out / 'index.html'}, or serve it: python -m http.server -d {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
