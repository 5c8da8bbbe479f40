"""Rule files: load, validate and select the YAML rules that hold all CUDA->NPU knowledge.

A rule file is a mapping ``{target: NAME, rules: [RULE, ...]}``. Every rule has an ``id``, a
``kind`` (one of :data:`KINDS`), a one-line ``summary`` and kind-specific fields; see
``docs/rules.md``. Errors name the file, the line, the rule and the field.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from .config import SEVERITY_LEVELS
from .context.schema import FIELDS as CONTEXT_FIELDS
from .files import rule_sources
from .suppress import UNUSED
from .rulespec import check_spec

DEFAULT_TARGET = "npu"
ALONGSIDE = ("import", "context")  # kinds that act only alongside other rules: kept by --select
SEVERITIES = SEVERITY_LEVELS
_RULE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")

# kind -> (required fields, optional fields), beyond the common ones.
_COMMON_REQUIRED = ("id", "kind", "summary")
_COMMON_OPTIONAL = ("why", "severity", "examples", "trigger", "tags", "requires")
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "rename": (("match",), ("replace", "code", "fallback", "twins", "members", "message", "module", "importable",
                            "exact", "idempotent")),
    "report": (("match", "message"), ("members", "once")),
    "attribute": (("match",), ("replace", "call", "keywords", "message", "max_positional", "accepts", "not_on",
                               "results_of", "unsupported", "imported", "positional")),
    "string": (("match",), ("replace", "code", "device", "prefix", "ignore_case", "message", "known", "alone")),
    "call": (("match", "replace"), ("drop", "unsupported", "defaults", "max_positional", "message", "uncalled")),
    "argument": (("match",), ("members", "rename", "unsupported", "message", "to_positional")),
    "import": (("module", "after"), ()),
    "text": (("files", "match"), ("replace", "message", "unless", "known", "comments")),
    "context": (("check", "message"), CONTEXT_FIELDS),
    "support": (("status", "message"), ()),  # expanded into reports by opsupport.expand
}
DEFAULT_SEVERITY = {"report": "warning", "call": "warning", "argument": "warning", "rename": "info",
                    "context": "warning", "support": "warning"}


class RuleError(Exception):
    """An invalid rule file: the message names file, line, rule and field."""

    def __init__(self, path: str, message: str, *, line: int | None = None,
                 rule: str | None = None, field: str | None = None):
        where = f"{path}:{line}" if line else str(path)
        parts = [where]
        if rule:
            parts.append(f"rule {rule}")
        if field:
            parts.append(f"field '{field}'")
        super().__init__(": ".join(parts + [message]))


@dataclass(frozen=True)
class Example:
    """An inline example: ``before`` migrates to ``after`` and yields ``findings`` findings."""

    before: str
    after: str
    findings: int = 0


@dataclass(frozen=True)
class Rule:
    """One validated rule. ``spec`` keeps the kind-specific fields as written."""

    id: str
    kind: str
    summary: str
    severity: str
    spec: dict[str, Any]
    why: str = ""
    examples: tuple[Example, ...] = ()
    tags: tuple[str, ...] = ()
    source: str = ""
    line: int = 0

    def get(self, name: str, default: Any = None) -> Any:
        return self.spec.get(name, default)

    def matches(self) -> list[str]:
        """The literal values a string rule matches (the names of an attribute rule)."""
        match = self.spec["match"]
        return list(match) if isinstance(match, list) else [match]

    def pairs(self) -> list[tuple[str, str | None]]:
        """``(old dotted name, new dotted name or None)`` for symbol kinds, members expanded (a
        rename's ``code``, an expression, stands for the new name: ``torch.get_device_module().X``)."""
        match, replace = self.spec["match"], self.spec.get("replace") or self.spec.get("code")
        if isinstance(match, list):  # a report over several names
            return [(name, None) for name in match]
        members = self.spec.get("members")
        if not members:
            return [(match, replace)]
        out = []
        for member in members:
            old, new = next(iter(member.items())) if isinstance(member, dict) else (member, member)
            out.append((f"{match}.{old}", f"{replace}.{new}" if replace else None))
        return out


@dataclass(frozen=True)
class RuleBook:
    """An ordered, id-unique collection of rules for one target."""

    rules: tuple[Rule, ...] = field(default_factory=tuple)
    target: str = DEFAULT_TARGET
    unused_check: bool = True  # report suppressions that suppress nothing (C2N100)
    complete: bool = True  # no rule was left out by a selection
    aware: tuple[str, ...] = ()  # words showing that code already handles the target (beside its name)
    helpers: tuple[tuple[str, str], ...] = ()  # (name, expression) the rules' templates may use as {name}

    def __iter__(self):
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def by_id(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def of_kind(self, kind: str) -> list[Rule]:
        return [r for r in self.rules if r.kind == kind]

    def text_patterns(self) -> set[str]:
        """The file name patterns that text rules apply to (shell scripts, requirements files, ...)."""
        return {g for r in self.rules if r.kind == "text" for g in r.get("files")}

    def tagged(self, tag: str) -> list[str]:
        """The ids of the rules carrying ``tag``."""
        return [r.id for r in self.rules if tag in r.tags]

    def select(self, select: Iterable[str] = (), ignore: Iterable[str] = ()) -> "RuleBook":
        """Keep the rules whose id starts with a ``select`` code (all if none), minus ``ignore``.

        A selection names rewrites and reports; the rules that act only alongside them stay unless
        ignored by name or prefix: the imports that make the rewritten names exist (``--select NPU2``
        still adds ``import torch_npu``) and the context rules that keep them right. A rule tagged
        ``opt-in`` runs only where a ``select`` code is its whole id."""
        select, ignore = list(select), list(ignore)
        for code in select + ignore:
            if not any(r.id.startswith(code) for r in self.rules) and not UNUSED.startswith(code):
                raise RuleError("--select/--ignore", f"no rule matches '{code}'")
        kept = [r for r in self.rules
                if (r.id in select if "opt-in" in r.tags else
                    not select or r.kind in ALONGSIDE or any(r.id.startswith(c) for c in select))
                and not any(r.id.startswith(c) for c in ignore)]
        unused = (self.unused_check and (not select or any(UNUSED.startswith(c) for c in select))
                  and not any(UNUSED.startswith(c) for c in ignore))
        ids = {r.id for r in kept}
        default = all(r.id in ids for r in self.rules if "opt-in" not in r.tags)
        return RuleBook(tuple(kept), self.target, unused, self.complete and default, self.aware, self.helpers)


class _LineDict(dict):
    line: int = 0


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """A safe loader (libyaml's when available) that remembers the line of every mapping."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> _LineDict:
    seen: set = set()
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode):
            if key.value in seen:
                raise yaml.MarkedYAMLError(problem=f"duplicate key '{key.value}'", problem_mark=key.start_mark)
            seen.add(key.value)
    mapping = _LineDict(loader.construct_mapping(node, deep=deep))
    mapping.line = node.start_mark.line + 1
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_rulebook(extra: Iterable[str | Path] = (), *, target: str = DEFAULT_TARGET,
                  builtin: bool = True) -> RuleBook:
    """The built-in rules of ``target`` (unless ``builtin`` is false) plus the ``extra`` files."""
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    aware: list[str] = []
    helpers: dict[str, str] = {}
    try:
        sources = rule_sources(extra, builtin)
    except FileNotFoundError as exc:
        raise RuleError(str(exc), "no such rule file or folder") from None
    for path, explicit in sources:
        file_targets, file_aware, file_helpers, file_rules = _load_file(path)
        if target not in file_targets:
            if explicit:
                raise RuleError(str(path), f"rules are for target {' and '.join(map(repr, file_targets))}, "
                                           f"not '{target}'")
            continue
        aware += [w for w in file_aware if w not in aware]
        for name, value in file_helpers.items():
            if helpers.setdefault(name, value) != value:
                raise RuleError(str(path), f"helper '{name}' is defined otherwise by another rule file")
        for rule in file_rules:
            if rule.id in seen:
                raise RuleError(str(path), f"duplicate rule id (first defined at {seen[rule.id]})",
                                line=rule.line, rule=rule.id, field="id")
            seen[rule.id] = f"{path}:{rule.line}"
            rules.append(rule)
    return RuleBook(tuple(rules), target, aware=tuple(aware), helpers=tuple(helpers.items()))


def targets() -> list[str]:
    """The targets the built-in rule files serve."""
    return sorted({t for path, _ in rule_sources((), True) for t in _load_file(path)[0]})


def _load_file(path: Path) -> tuple[tuple[str, ...], list[str], dict[str, str], list[Rule]]:
    """A rule file's targets, its ``aware`` words, its helpers and its rules."""
    try:
        text = path.read_text(encoding="utf-8")
        alias = next((e for e in yaml.parse(text, Loader=_Loader) if isinstance(e, yaml.AliasEvent)), None)
        if alias is not None:  # an alias can stand for a huge tree: rules have no use for them
            raise RuleError(str(path), "YAML aliases (*name) are not allowed in rule files",
                            line=alias.start_mark.line + 1)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (safe loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise RuleError(str(path), f"invalid YAML: {exc.problem or exc.context}",
                        line=mark.line + 1 if mark else None) from None
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        raise RuleError(str(path), f"cannot read rules: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise RuleError(str(path), "a rule file is a mapping with a 'rules' list")
    unknown = set(data) - {"target", "rules", "aware", "helpers"}
    if unknown:
        raise RuleError(str(path), f"unknown top-level key '{sorted(unknown)[0]}'")
    target = data.get("target", DEFAULT_TARGET)
    found = [target] if isinstance(target, str) else target
    if not (isinstance(found, list) and found and all(isinstance(t, str) and _RULE_ID.match(t) for t in found)):
        raise RuleError(str(path), "'target' must be a target name or a list of them")
    aware = data.get("aware", [])
    if not (isinstance(aware, list) and all(isinstance(w, str) and re.fullmatch(r"\w+", w) for w in aware)):
        raise RuleError(str(path), "'aware' must be a list of words")
    helpers = data.get("helpers", {})
    if not (isinstance(helpers, dict) and all(isinstance(k, str) and re.fullmatch(r"[A-Za-z_]\w*", k)
                                              and isinstance(v, str) and _expression(v) for k, v in helpers.items())):
        raise RuleError(str(path), "'helpers' must map names to Python expressions")
    return tuple(found), aware, helpers, [_parse_rule(str(path), raw, tuple(helpers)) for raw in data["rules"]]


def _expression(text: str) -> bool:
    import ast

    try:
        ast.parse(text, mode="eval")
    except SyntaxError:
        return False
    return True


def _parse_rule(path: str, raw: Any, helpers: tuple[str, ...] = ()) -> Rule:
    line = getattr(raw, "line", None)
    if not isinstance(raw, dict):
        raise RuleError(path, "each rule is a mapping", line=line)
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
        raise RuleError(path, "missing or invalid rule id", line=line, field="id")

    def fail(name: str, message: str) -> RuleError:
        return RuleError(path, message, line=line, rule=rule_id, field=name)

    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise fail("kind", f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    required, optional = KINDS[kind]
    for name in _COMMON_REQUIRED + required:
        if raw.get(name) in (None, ""):
            raise fail(name, "missing")
    allowed = set(_COMMON_REQUIRED + _COMMON_OPTIONAL + required + optional)
    for name in raw:
        if name not in allowed:
            raise fail(name, f"not a field of kind '{kind}'")
    spec = {k: v for k, v in raw.items() if k in required + optional + ("trigger", "requires")}
    if "requires" in spec:
        if not (isinstance(spec["requires"], list) and spec["requires"]
                and all(isinstance(r, str) and r for r in spec["requires"])):
            raise fail("requires", "must be a list of rule ids or id prefixes")
        if spec.get("replace") is not None:
            raise fail("requires", "only rules that report (no 'replace') can require other rules")
    if "trigger" in spec and not (isinstance(spec["trigger"], list) and spec["trigger"]
                                  and all(isinstance(t, str) and t for t in spec["trigger"])):
        raise fail("trigger", "must be a list of words")
    check_spec(kind, spec, fail, helpers)
    severity = raw.get("severity", DEFAULT_SEVERITY.get(kind, "info"))
    if severity not in SEVERITIES:
        raise fail("severity", f"must be one of {', '.join(SEVERITIES)}")
    for name in ("summary", "why"):
        if name in raw and not isinstance(raw[name], str):
            raise fail(name, "must be text")
    tags = raw.get("tags", [])
    if not (isinstance(tags, list) and all(isinstance(t, str) and t for t in tags)):
        raise fail("tags", "must be a list of words")
    return Rule(id=rule_id, kind=kind, summary=raw["summary"].strip(), severity=severity,
                spec=spec, why=str(raw.get("why", "")).strip(),
                examples=_parse_examples(raw.get("examples", []), fail, python=kind != "text"), tags=tuple(tags),
                source=path, line=line or 0)


def _parse_examples(raw: Any, fail, *, python: bool = True) -> tuple[Example, ...]:
    if not isinstance(raw, list):
        raise fail("examples", "must be a list")
    examples = []
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("before"), str):
            raise fail("examples", "each example needs 'before' text")
        extra = set(entry) - {"before", "after", "findings"}
        if extra:
            raise fail("examples", f"unknown example key '{sorted(extra)[0]}'")
        after = entry.get("after", entry["before"])
        findings = entry.get("findings", 0)
        if not isinstance(after, str) or not isinstance(findings, int):
            raise fail("examples", "'after' is text and 'findings' a number")
        for label, text in (("before", entry["before"]), ("after", after)) if python else ():
            try:
                ast.parse(text)
            except SyntaxError as exc:
                raise fail("examples", f"example {label} does not parse: {exc.msg} (line {exc.lineno})") from None
        examples.append(Example(entry["before"], after, findings))
    return tuple(examples)
