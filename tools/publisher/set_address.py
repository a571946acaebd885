"""Keep the course's public address (GitHub ``owner/name``) in one place, and write it everywhere else.

    python tools/publisher/set_address.py alice/lenet-course   # record it in course.toml, then rewrite every file that names it
    python tools/publisher/set_address.py --check              # exit 1 while it is the placeholder, or a file names another

The address lives in ``course.toml``. The files that name it (``MANAGED``: the README's
badges and links, the Colab cell at the top of every notebook) are rewritten from the
address recorded before: each occurrence right after a ``/`` (``github.com/``, ``gh/``,
``github/``) is replaced. Publishing runs ``--check`` first, so a site or student release
never goes out with the placeholder.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLACEHOLDER = "OWNER/REPO"
ADDRESS = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
LINE = re.compile(r'^repository = "([^"]*)"$', re.M)


def managed(root: Path = REPO) -> list[Path]:
    """The files that name the address: the README and every notebook of the course."""
    return [root / "README.md", *sorted((root / "notebooks").glob("*/*.ipynb"))]


def read_address(root: Path = REPO) -> str:
    """The address recorded in ``course.toml``."""
    path = root / "course.toml"
    found = LINE.search(path.read_text(encoding="utf-8")) if path.exists() else None
    if found is None:
        raise ValueError(f'{path} should hold a line repository = "owner/name"')
    return found.group(1)


def _pattern(address: str) -> re.Pattern[str]:
    """``address`` as it appears in a link: after a '/' and followed by '/', '@', '.git', '?', a quote or the end."""
    return re.compile(r"(?<=/)" + re.escape(address) + r"(?=[/@?\"'`)\s]|\.git|$)")


def set_address(address: str, root: Path = REPO) -> list[Path]:
    """Record ``address`` in course.toml and write it into every managed file; return the files changed."""
    if not ADDRESS.fullmatch(address) or address == PLACEHOLDER:
        raise ValueError(f"expected the repository's address as owner/name (e.g. alice/lenet-course), got {address!r}")
    old = read_address(root)
    changed = []
    for path in managed(root):
        text = path.read_text(encoding="utf-8")
        new = _pattern(old).sub(address, text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    config = root / "course.toml"
    config.write_text(LINE.sub(f'repository = "{address}"', config.read_text(encoding="utf-8")), encoding="utf-8")
    return changed


def problems(root: Path = REPO) -> list[str]:
    """Why the course is not ready to publish: the placeholder address, or files that name another address."""
    address = read_address(root)
    found = []
    if address == PLACEHOLDER:
        found.append(f"the public address in course.toml is still the placeholder {PLACEHOLDER}: run "
                     f"python tools/publisher/set_address.py owner/name with the repository's real address")
    for path in managed(root):
        text = path.read_text(encoding="utf-8")
        if not _pattern(address).search(text):
            found.append(f"{path.relative_to(root)} does not name {address}: run python tools/publisher/set_address.py {address}")
        elif address != PLACEHOLDER and PLACEHOLDER in text:
            found.append(f"{path.relative_to(root)} still names {PLACEHOLDER}")
    return found


def main(argv: list[str] | None = None, root: Path = REPO) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address", nargs="?", help="the repository's address on GitHub, owner/name")
    parser.add_argument("--check", action="store_true", help="exit 1 while the address is the placeholder or a "
                                                             "file names another one")
    args = parser.parse_args(argv)
    if args.check == (args.address is not None):
        parser.error("give either an address (owner/name) or --check")
    if args.check:
        found = problems(root)
        for line in found:
            print(line, file=sys.stderr)
        if not found:
            print(f"every file names {read_address(root)}")
        return 1 if found else 0
    try:
        changed = set_address(args.address, root)
    except ValueError as error:
        parser.error(str(error))
    print(f"course.toml: {args.address}; rewritten: " + (", ".join(p.relative_to(root).as_posix() for p in changed)
                                                           or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
