"""What each check of the ``context`` kind reads from its rule: data fields and message placeholders.

Plain data and a validator, imported by the rule loader without loading any analysis.
"""

from __future__ import annotations

import re

# check -> (its data fields, the placeholders its message and reasons may use)
_NAMES, _WORDS, _TEMPLATES = "names", "words", "templates"
CHECKS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "optimizer-swap": ({"drivers": _NAMES, "driver_methods": _WORDS, "returned_by": _WORDS, "optimizers": _NAMES,
                        "bfloat16": _WORDS, "bfloat16_methods": _WORDS, "dtype_methods": _WORDS,
                        "dtype_keywords": _WORDS, "layers": _NAMES, "placement": _WORDS,
                        "reasons": _TEMPLATES},
                       ("name", "replace", "reason", "line", "call", "var", "value", "how", "more")),
    "fused-traps": ({"reasons": _TEMPLATES}, ("name", "reason", "line", "call", "var", "value", "how", "more")),
    "fused-clip": ({"clip": _NAMES}, ("name", "call", "var", "line")),
    "cuda-guard": ({}, ("test", "callee", "line", "rule", "summary")),
    "cuda-only-import": ({}, ("name", "module", "callee", "line", "rule", "summary")),
    "dispatching-module": ({"words": _WORDS}, ("edit", "line")),
    "device-agnostic": ({"markers": _NAMES}, ("edit", "line", "marker")),
    "float64-args": ({"apis": _TEMPLATES}, ("name", "page", "value")),
}
FIELDS = tuple(sorted({name for fields, _ in CHECKS.values() for name in fields}))
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def validate(spec: dict, fail) -> None:
    """Refuse a context rule whose check, data fields or message placeholders cannot work."""
    check = spec.get("check")
    if check not in CHECKS:
        raise fail("check", f"unknown check {check!r}; expected one of {', '.join(CHECKS)}")
    fields, placeholders = CHECKS[check]
    for name in spec:
        if name in FIELDS and name not in fields:
            raise fail(name, f"not a field of check '{check}'")
    for name, shape in fields.items():
        value = spec.get(name)
        if value is None:
            continue
        if shape in (_NAMES, _WORDS):
            if not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
                raise fail(name, "must be a list of " + ("dotted names" if shape == _NAMES else "words"))
        elif not (isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
            raise fail(name, "must map names to text" if name == "apis" else "must map reasons to message templates")
    templates = [("message", spec["message"])] + [(f"reasons.{k}", v) for k, v in (spec.get("reasons") or {}).items()]
    for name, template in templates:
        if not isinstance(template, str):
            raise fail(name, "must be text")
        for used in _PLACEHOLDER.findall(template):
            if used not in placeholders:
                raise fail(name, f"unknown placeholder {{{used}}}; this check fills {', '.join(placeholders)}")
