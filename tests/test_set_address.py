"""The public address: recorded once in course.toml, written into the README and every notebook, checked before publishing."""
import shutil
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO))  # the tools as the package tools/, the name mutmut gives their mutants
from tools.publisher import set_address as tool  # noqa: E402


@pytest.fixture
def course(tmp_path):
    """A copy of the files the tool reads and writes."""
    shutil.copy(REPO / "README.md", tmp_path)
    shutil.copy(REPO / "course.toml", tmp_path)
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks")
    return tmp_path


def _texts(root):
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in tool.managed(root)}


def test_this_checkout_names_one_address_everywhere_and_it_is_still_the_placeholder():
    assert tool.read_address() == "OWNER/REPO"
    assert tool.problems() == ["the public address in course.toml is still the placeholder OWNER/REPO: run "
                               "python tools/publisher/set_address.py owner/name with the repository's real address"]
    names = {path: text.count("OWNER/REPO") for path, text in _texts(REPO).items()}
    assert len(names) == 11 and all(names.values()), names  # the README and ten notebooks


def test_setting_the_address_leaves_no_placeholder_and_can_be_changed_again(course):
    before = _texts(course)
    changed = tool.set_address("alice/lenet-course", course)
    assert sorted(p.relative_to(course).as_posix() for p in changed) == sorted(before)
    after = _texts(course)
    for path, text in after.items():
        assert "OWNER/REPO" not in text
        assert text == before[path].replace("OWNER/REPO", "alice/lenet-course")
    assert "https://mybinder.org/v2/gh/alice/lenet-course/HEAD?" in after["README.md"]
    assert "git+https://github.com/alice/lenet-course@main" in after["notebooks/zh/lenet.ipynb"]
    assert tool.read_address(course) == "alice/lenet-course" and tool.problems(course) == []
    tool.set_address("bob/course", course)
    assert all("alice" not in text and text == before[path].replace("OWNER/REPO", "bob/course")
               for path, text in _texts(course).items())
    assert "OWNER/REPO" not in "".join(p.read_text(encoding="utf-8") for p in course.rglob("*") if p.is_file())


def test_the_check_names_a_file_left_behind(course):
    tool.set_address("alice/lenet-course", course)
    readme = course / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("alice/lenet-course", "OWNER/REPO"), encoding="utf-8")
    assert tool.problems(course) == ["README.md does not name alice/lenet-course: run python tools/publisher/set_address.py "
                                     "alice/lenet-course"]
    readme.write_text("see github.com/alice/lenet-course and github.com/OWNER/REPO", encoding="utf-8")
    assert tool.problems(course) == ["README.md still names OWNER/REPO"]


@pytest.mark.parametrize("address", ["alice", "alice/", "/course", "alice/lenet course", "a/b/c", "OWNER/REPO",
                                     "-alice/course"])
def test_an_address_that_is_not_owner_slash_name_is_refused_and_nothing_changes(course, address):
    before = _texts(course)
    with pytest.raises(ValueError, match=r"^expected the repository's address as owner/name \(e.g. "
                                         r"alice/lenet-course\), got "):
        tool.set_address(address, course)
    assert _texts(course) == before and tool.read_address(course) == "OWNER/REPO"


def test_a_missing_or_broken_course_toml_is_named(course):
    (course / "course.toml").write_text("repository = alice/course\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r'course.toml should hold a line repository = "owner/name"$'):
        tool.read_address(course)
    (course / "course.toml").unlink()
    with pytest.raises(ValueError, match=r'course.toml should hold a line repository = "owner/name"$'):
        tool.read_address(course)


def test_main_check_exit_codes_and_messages(capsys, course):
    assert tool.main(["--check"], course) == 1
    assert capsys.readouterr().err.startswith("the public address in course.toml is still the placeholder OWNER/REPO")
    assert tool.main(["alice/course"], course) == 0
    out = capsys.readouterr().out
    assert out.startswith("course.toml: alice/course; rewritten: README.md, notebooks/en/lenet.ipynb, ") and \
        out.count(".ipynb") == 10
    assert tool.main(["--check"], course) == 0 and capsys.readouterr().out == "every file names alice/course\n"
    assert tool.main(["alice/course"], course) == 0 and capsys.readouterr().out.endswith("rewritten: none\n")
    for argv in ([], ["--check", "alice/course"], ["alice"]):
        with pytest.raises(SystemExit):
            tool.main(argv, course)
        assert "error:" in capsys.readouterr().err
