"""The public repository's GitHub workflows: valid against GitHub's workflow schema (checked offline), and portable."""
import importlib.util
import subprocess
import sys

import pytest

from conftest import REPO, skip_if_missing

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def _need_validator() -> None:
    """check-jsonschema (requirements-test.txt): skip without it, but never under CI."""
    skip_if_missing("check-jsonschema is not installed (pip install -r requirements-test.txt)"
            if importlib.util.find_spec("check_jsonschema") is None else None)


def _validate(*paths):
    """check-jsonschema with the workflow schema it bundles: nothing is downloaded."""
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           *map(str, paths)], capture_output=True, text=True)


def test_every_workflow_passes_the_schema():
    _need_validator()
    assert [p.name for p in WORKFLOWS] == ["ci.yml", "publish.yml", "tests.yml"]
    result = _validate(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_a_workflow_with_a_mistake_fails_the_schema(tmp_path):
    _need_validator()
    broken = tmp_path / "tests.yml"
    broken.write_text((REPO / ".github" / "workflows" / "tests.yml").read_text(encoding="utf-8")
                      .replace("runs-on: ${{ matrix.os }}", "runs_on: ${{ matrix.os }}"), encoding="utf-8")
    result = _validate(broken)
    assert result.returncode == 1 and "Schema validation errors were encountered" in result.stdout + result.stderr


def test_the_matrix_covers_three_systems_and_the_oldest_and_newest_versions():
    text = (REPO / ".github" / "workflows" / "tests.yml").read_text(encoding="utf-8")
    assert "os: [ubuntu-latest, macos-latest, windows-latest]" in text
    assert 'python: "3.10"\n            constraints: requirements-oldest.txt' in text and 'python: "3.13"' in text
    assert "shell: bash" in text  # one shell on every system, Windows included
    assert (REPO / "requirements-oldest.txt").exists()


def test_ci_workflow_runs_the_readmes_test_command_through_ci_run():
    assert "run: bash .ci/run" in (REPO / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    assert "python -m pytest\n" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_publishing_checks_the_address_first():
    steps = (REPO / ".github" / "workflows" / "publish.yml").read_text(encoding="utf-8")
    assert steps.index("python tools/publisher/set_address.py --check") < steps.index("python tools/instructor/release.py build")
    website = steps[steps.index("  website:"):steps.index("  student-release:")]
    assert website.index("python tools/publisher/set_address.py --check") < website.index("python website/build_site.py")
    assert "path: build/site" in website  # where build_site.py writes by default
