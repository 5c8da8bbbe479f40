"""The published JSON Schemas (docs/schema/, made by scripts/make_schemas.py) are current and agree
with the loader on the built-in rule files and the README's configuration."""

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

jsonschema = pytest.importorskip("jsonschema")
ROOT = Path(__file__).resolve().parent.parent
if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _script():
    spec = importlib.util.spec_from_file_location("make_schemas", ROOT / "scripts" / "make_schemas.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def validator(name: str):
    schema = json.loads((ROOT / "docs" / "schema" / name).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def test_the_schemas_are_current():
    for name, text in _script().schemas().items():
        assert (ROOT / "docs" / "schema" / name).read_text(encoding="utf-8") == text, "run scripts/make_schemas.py"


@pytest.mark.parametrize("path", sorted((ROOT / "rules").glob("*.yaml")), ids=lambda p: p.name)
def test_every_built_in_rule_file_is_valid(path):
    assert [e.message for e in validator("rules.schema.json").iter_errors(yaml.safe_load(path.read_text()))] == []
    assert path.read_text().startswith("# yaml-language-server: $schema=../docs/schema/rules.schema.json\n")


@pytest.mark.parametrize("rule", [
    {"id": "X1", "kind": "rename", "summary": "s", "match": "a.b"},                        # no replace
    {"id": "X1", "kind": "report", "summary": "s", "match": "a", "message": "m", "color": 1},  # unknown field
    {"id": "X1", "kind": "string", "summary": "s", "match": "cuda", "severity": "fatal"},   # bad severity
    {"id": "X1", "kind": "support", "summary": "s", "status": "slow", "message": "m"},       # bad status
    {"id": "1X", "kind": "report", "summary": "s", "match": "a", "message": "m"},            # bad id
])
def test_the_schema_and_the_loader_both_refuse(tmp_path, rule):
    from cuda2npu.rulebook import RuleError, load_rulebook

    assert list(validator("rules.schema.json").iter_errors({"rules": [rule]}))
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"target": "npu", "rules": [rule]}))
    with pytest.raises(RuleError):
        load_rulebook([tmp_path / "r.yaml"], builtin=False)


def test_the_readme_configuration_is_valid_and_an_unknown_key_is_not():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(\[tool\.cuda2npu\].*?)```", readme, re.S).group(1)
    table = tomllib.loads(block)["tool"]["cuda2npu"]
    check = validator("config.schema.json")
    assert [e.message for e in check.iter_errors(table)] == []
    assert list(check.iter_errors({**table, "selectt": ["NPU"]}))
