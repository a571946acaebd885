"""Each tool's --help says what the tool does (its docstring's first line) and what its arguments mean."""
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO))
from tools import setup_course  # noqa: E402
from tools.instructor import release  # noqa: E402
from tools.instructor.grading import verdicts  # noqa: E402
from tools.maintainer import mutation_score, sync_d2l_local, sync_zh_outputs  # noqa: E402
from tools.publisher import set_address  # noqa: E402
from website import build_site  # noqa: E402


@pytest.mark.parametrize("tool, argv, expected", [
    (sync_d2l_local, ["--help"], ["--check", "report drift and exit 1 instead of writing"]),
    (set_address, ["--help"], ["address", "the repository's address on GitHub, owner/name",
                               "exit 1 while the address is the placeholder or a file names another one"]),
    (release, ["--help"], ["build", "grade", "autograde the handed-in notebooks, write feedback and grades"]),
    (release, ["grade", "--help"], ["the course folder that build wrote (default: build/release/course)",
                                    "examples per split (exercise 2's accuracy then fails)"]),
    (verdicts, ["--help"], ["the graded notebook's name", "the folder its check cells exported their answers to"]),
    (mutation_score, ["--help"], ["print the names of this fraction of each module's mutants"]),
    (build_site, ["--help"], ["--out", "where to write the site", "--quiet", "print only Sphinx's warnings"]),
    (setup_course, ["--help"], ["--check", "--no-install", "--download-data"]),
    (sync_zh_outputs, ["--help"], ["NAME.ipynb", "English notebooks to copy from (default: every notebook in "
                                                 "notebooks/en)"]),
])
def test_help_describes_the_tool_and_its_arguments(tool, argv, expected, capsys):
    with pytest.raises(SystemExit) as exit_:
        tool.main(argv)
    assert exit_.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps long lines
    first_line = tool.__doc__.strip().splitlines()[0]
    assert " ".join(first_line.split()) in shown or argv != ["--help"]  # a subcommand's help is its own
    assert [text for text in expected if text not in shown] == []
