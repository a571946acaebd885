"""tools/setup_course.py and the JupyterLab settings it installs (jupyter/overrides.json)."""
import json
import sys
from pathlib import Path

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
import setup_course  # noqa: E402


def test_setup_course_merges_overrides(tmp_path):
    """tools/setup_course.py adds the course's settings to an existing overrides.json, keeping the rest."""
    (tmp_path / "overrides.json").write_text(json.dumps({"@other/ext:plugin": {"x": 1}}), encoding="utf-8")
    assert setup_course.install_overrides(tmp_path)
    merged = json.loads((tmp_path / "overrides.json").read_text(encoding="utf-8"))
    ours = json.loads(setup_course.OVERRIDES.read_text(encoding="utf-8"))
    assert merged["@other/ext:plugin"] == {"x": 1}
    for plugin, values in ours.items():
        assert merged[plugin] == values


def test_course_overrides_match_jupyterlab_schemas():
    """Every setting in jupyter/overrides.json names a real plugin and setting, with a valid value.

    (JupyterLab silently ignores overrides for plugins it does not have, so a typo would
    only show as a popup in class.)
    """
    jsonschema = pytest.importorskip("jsonschema")
    from jupyterlab.commands import get_app_dir

    schemas = Path(get_app_dir()) / "schemas"
    overrides = json.loads(setup_course.OVERRIDES.read_text(encoding="utf-8"))
    assert overrides, "jupyter/overrides.json is empty"
    for plugin, values in overrides.items():
        package, _, name = plugin.partition(":")
        schema_file = schemas / package / f"{name}.json"
        assert schema_file.is_file(), f"{plugin}: JupyterLab has no such plugin ({schema_file} missing)"
        schema = json.loads(schema_file.read_text(encoding="utf-8"))
        unknown = set(values) - set(schema.get("properties", {}))
        assert not unknown, f"{plugin}: unknown settings {sorted(unknown)}"
        jsonschema.validate(values, schema)
