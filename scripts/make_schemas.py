#!/usr/bin/env python3
"""Write the JSON Schemas of rule files and of ``[tool.cuda2npu]`` (``docs/schema/``), for
editors (YAML and TOML language servers complete and check against them) and for the tests.

The kinds, their fields and the configuration keys come from cuda2npu itself (``rulebook.KINDS``,
``config.KEYS``, ``context.schema``); the shape of each field is below. cuda2npu's own loader
checks more than a schema can say (placeholders, backreferences, dotted names): the schema is
for editing, the loader decides.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cuda2npu.config import KEYS, SEVERITY_LEVELS, SOCS
from cuda2npu.context.schema import CHECKS
from cuda2npu.rulebook import _COMMON_OPTIONAL, _COMMON_REQUIRED, KINDS, targets
from cuda2npu.rulespec import STATUSES

OUT = ROOT / "docs" / "schema"
TEXT = {"type": "string"}
TEXTS = {"type": "array", "items": TEXT}
FLAG = {"type": "boolean"}
TEXT_MAP = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]}}
DOTTED = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"}
FIELDS = {
    "id": {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9_-]*$"},
    "kind": {"enum": sorted(KINDS)},
    "summary": TEXT, "why": TEXT, "message": TEXT,
    "severity": {"enum": list(SEVERITY_LEVELS)},
    "examples": {"type": "array", "items": {"type": "object", "required": ["before"], "additionalProperties": False,
                                            "properties": {"before": TEXT, "after": TEXT,
                                                           "findings": {"type": "integer", "minimum": 0}}}},
    "trigger": TEXTS, "tags": TEXTS, "requires": TEXTS,
    "match": {"anyOf": [TEXT, {"type": "array", "items": TEXT, "minItems": 1}]},
    "replace": TEXT, "module": DOTTED, "after": DOTTED,
    "members": {"type": "array", "items": {"anyOf": [TEXT, {"type": "object", "minProperties": 1, "maxProperties": 1,
                                                            "additionalProperties": TEXT}]}},
    "importable": FLAG, "exact": FLAG, "call": FLAG, "device": FLAG, "prefix": FLAG, "ignore_case": FLAG,
    "once": FLAG, "alone": FLAG, "uncalled": TEXT, "code": TEXT, "fallback": TEXT, "twins": DOTTED, "to_positional": TEXT,
    "positional": {"type": "object", "additionalProperties": TEXT},
    "keywords": TEXT_MAP, "unsupported": TEXT_MAP, "rename": {"type": "object", "additionalProperties": TEXT},
    "max_positional": {"type": "integer", "minimum": 0},
    "accepts": TEXTS, "not_on": TEXTS, "drop": TEXTS, "files": {"type": "array", "items": TEXT, "minItems": 1},
    "unless": TEXT,
    "defaults": {"type": "array", "items": {"type": "object", "required": ["name", "value"],
                                            "properties": {"name": TEXT, "value": TEXT,
                                                           "position": {"type": "integer", "minimum": 0}}}},
    "status": {"enum": list(STATUSES)},
    "check": {"enum": sorted(CHECKS)},
}
ONE_OF = {"rename": ("replace", "code")}
CONTEXT_SHAPES = {"names": TEXTS, "words": TEXTS, "templates": {"type": "object", "additionalProperties": TEXT}}


def field(name: str) -> dict:
    if name in FIELDS:
        return FIELDS[name]
    shapes = {shape for fields, _ in CHECKS.values() for key, shape in fields.items() if key == name}
    return CONTEXT_SHAPES[shapes.pop()] if len(shapes) == 1 else {}


def rules_schema() -> dict:
    kinds = []
    for kind, (required, optional) in sorted(KINDS.items()):
        names = [*_COMMON_REQUIRED, *_COMMON_OPTIONAL, *required, *optional]
        then = {"required": [*_COMMON_REQUIRED, *required], "additionalProperties": False,
                "properties": {name: field(name) for name in names}}
        if kind in ONE_OF:  # fields of which a rule of the kind needs one
            then["oneOf"] = [{"required": [name]} for name in ONE_OF[kind]]
        kinds.append({"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]}, "then": then})
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://cuda2npu.invalid/schema/rules.schema.json",
            "title": "cuda2npu rule file", "description": "See docs/rule-format.md.",
            "type": "object", "required": ["rules"], "additionalProperties": False,
            "properties": {"target": {"anyOf": [TEXT, {"type": "array", "items": TEXT, "minItems": 1}]},
                           "aware": TEXTS, "helpers": {"type": "object", "additionalProperties": TEXT},
                           "rules": {"type": "array", "items": {"type": "object", "required": ["id", "kind"],
                                                                "allOf": kinds}}}}


def config_schema() -> dict:
    shapes = {"select": TEXTS, "ignore": TEXTS, "rules": TEXTS, "exclude": TEXTS, "extend-exclude": TEXTS,
              "per-file-ignores": {"type": "object", "additionalProperties": TEXTS},
              "fused-optimizers": FLAG, "fail-on": {"enum": list(SEVERITY_LEVELS)},
              "cache-dir": {"type": "string", "minLength": 1}, "torch-npu-version": {"type": "string", "minLength": 1},
              "soc": {"enum": [*SOCS, *(s.lower() for s in SOCS if s.lower() != s)]},
              "target": {"enum": targets()}}
    assert set(shapes) == set(KEYS), set(KEYS) ^ set(shapes)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://cuda2npu.invalid/schema/config.schema.json",
            "title": "[tool.cuda2npu] in pyproject.toml", "description": "See the README, Project configuration.",
            "type": "object", "additionalProperties": False, "properties": {k: shapes[k] for k in KEYS}}


def schemas() -> dict[str, str]:
    """File name -> text."""
    return {name: json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
            for name, schema in (("rules.schema.json", rules_schema()), ("config.schema.json", config_schema()))}


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in schemas().items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
