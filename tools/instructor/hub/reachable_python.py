"""Let every account run this Python: give others passage (x, not r) through the folders above it that lack it.

    sudo python tools/instructor/hub/reachable_python.py

The hub starts each user's server with the Python that runs the hub. A Python installed under
a private folder (pyenv under /root, say) cannot be run by the class's accounts; this opens a
way through, and lists nothing: others can pass through a folder, not see what is in it.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def closed_folders() -> list[Path]:
    """The folders above this Python's files that other accounts cannot pass through."""
    prefixes = {Path(os.path.realpath(sys.executable)).parent, Path(sys.base_prefix).resolve(),
                Path(sys.prefix).resolve()}
    return sorted({folder for prefix in prefixes for folder in [prefix, *prefix.parents]
                   if not os.stat(folder).st_mode & 0o001})


def main() -> int:
    for folder in closed_folders():
        os.chmod(folder, os.stat(folder).st_mode | 0o001)
        print(f"others may now pass through {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
