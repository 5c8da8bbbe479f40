"""The kind-specific fields of a rule: their types, names and templates, checked when rules load.

Everything a rule could get wrong is refused here, before any file is touched: a malformed name,
a keyword list of the wrong shape, a ``message`` placeholder its kind does not fill, a
backreference to a group the pattern lacks.
"""

from __future__ import annotations

import ast
import re
import string
from typing import Any

import regex

from .context.schema import validate as validate_context

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The placeholders each kind fills in its ``message`` (a rename's message is shown as written).
PLACEHOLDERS = {"report": ("name",), "attribute": ("name", "keyword"), "string": ("name", "replace"),
                "call": ("name", "replace", "reason"), "argument": ("name", "keyword"),
                "support": ("name", "soc", "torch", "page")}
STATUSES = ("unsupported", "cpu_fallback", "cpu_only", "float64")
# Facts of the torch_npu release a run is for, which any message may use (versions.for_release).
RELEASE_PLACEHOLDERS = ("torch_npu", "compile_backends")  # the lists of data/op_support.json

def check_spec(kind: str, spec: dict[str, Any], fail, helpers: tuple[str, ...] = ()) -> None:
    """Refuse the kind-specific fields of a rule that cannot work; ``fail(field, message)`` makes the
    error. ``helpers``: the names templates may use as ``{name}`` (the rule file's helpers)."""
    if kind == "context":
        return validate_context(spec, fail)
    if kind == "support" and spec["status"] not in STATUSES:
        raise fail("status", f"must be one of {', '.join(STATUSES)}, got {spec['status']!r}")
    for flag in ("once", "idempotent"):
        if flag in spec and not isinstance(spec[flag], bool):
            raise fail(flag, "must be true or false")
    if spec.get("idempotent") and "replace" not in spec:
        raise fail("idempotent", "drops a call the rename makes the same as the one next to it: needs 'replace'")
    dotted = ("match", "replace", "module", "after") if kind not in ("attribute", "string", "text") else ()
    for name in dotted:
        value = spec.get(name)
        if kind == "report" and name == "match" and isinstance(value, list):
            if not value or "members" in spec or not all(isinstance(v, str) and _DOTTED.match(v) for v in value):
                raise fail(name, "a list of dotted names (without 'members')")
        elif name in spec and not (isinstance(value, str) and _DOTTED.match(value)):
            raise fail(name, f"must be a dotted name, got {value!r}")
    _check_templates(kind, spec, fail, helpers)
    if kind == "attribute":
        match = spec["match"]
        if isinstance(match, list):
            if not match or not _is_ident_list(match) or "replace" in spec:
                raise fail("match", "a list of identifiers (a report: without 'replace')")
        elif not (isinstance(match, str) and _IDENT.match(match)):
            raise fail("match", f"must be an identifier, got {match!r}")
        if "replace" in spec and not (isinstance(spec["replace"], str) and _IDENT.match(spec["replace"])):
            raise fail("replace", f"must be an identifier, got {spec['replace']!r}")
        if "replace" not in spec and "message" not in spec:
            raise fail("message", "an attribute rule without 'replace' reports: it needs a message")
        results = spec.get("results_of")
        if results is not None and not (isinstance(results, list) and results and all(
                isinstance(p, str) and _DOTTED.match(p.replace("*", "x")) for p in results)):
            raise fail("results_of", "must be a list of dotted names of callables (`*` matches any part of one)")
        if "unsupported" in spec and ("replace" in spec or not spec.get("call")):
            raise fail("unsupported", "an attribute rule with 'unsupported' reports calls: it takes 'call: true' and no 'replace'")
        if "keywords" in spec:
            spec["keywords"] = _keyword_defaults(spec["keywords"], fail, "keywords")
        for name in ("accepts", "not_on"):
            if name in spec and not _is_ident_list(spec[name]):
                raise fail(name, "must be a list of names")
    if kind == "string":
        words = spec["match"] if isinstance(spec["match"], list) else [spec["match"]]
        if not words or not all(isinstance(w, str) and w for w in words):
            raise fail("match", "must be text or a list of texts")
        if "replace" in spec and not isinstance(spec["replace"], str):
            raise fail("replace", "must be text")
        for flag in ("device", "prefix", "ignore_case", "alone"):
            if flag in spec and not isinstance(spec[flag], bool):
                raise fail(flag, "must be true or false")
        if spec.get("alone") and "replace" in spec:
            raise fail("alone", "limits where a string rule reports: it takes no 'replace'")
        if "replace" not in spec and "code" not in spec and "message" not in spec:
            raise fail("message", "a string rule without 'replace' or 'code' reports: it needs a message")
        families = [w.endswith("*") for w in words]
        if any(families):
            if not all(families) or any("*" in w[:-1] or len(w) < 2 for w in words):
                raise fail("match", "a family (NAME_*) ends with its one '*'; every value of the list must be one")
            if any(spec.get(flag) for flag in ("device", "prefix", "ignore_case")):
                raise fail("match", "a family (NAME_*) takes no device, prefix or ignore_case")
        if "replace" in spec and spec["replace"].endswith("*") != any(families):
            raise fail("replace", "a family's replace ends with '*' (the rest of the name is kept), "
                                  "and only a family's does")
    if "known" in spec:
        from .known import LISTS
        if spec["known"] not in LISTS:
            raise fail("known", f"must be one of {', '.join(LISTS)}, got {spec['known']!r}")
        if "replace" not in spec or "message" not in spec:
            raise fail("known", "a rule with 'known' needs 'replace' (made where the new name is known) "
                                "and 'message' (reported where it is not)")
    if kind == "text":
        if "comments" in spec and not isinstance(spec["comments"], bool):
            raise fail("comments", "must be true or false")
        if not (isinstance(spec["files"], list) and spec["files"] and all(isinstance(g, str) and g for g in spec["files"])):
            raise fail("files", "must be a list of file name patterns")
        if not isinstance(spec["match"], str):
            raise fail("match", "must be a regular expression")
        try:
            pattern = regex.compile(spec["match"])
        except regex.error as exc:
            raise fail("match", f"invalid regular expression: {exc}") from None
        if "unless" in spec:
            try:
                regex.compile(spec["unless"]) if isinstance(spec["unless"], str) else None
            except regex.error as exc:
                raise fail("unless", f"invalid regular expression: {exc}") from None
            if not isinstance(spec["unless"], str):
                raise fail("unless", "must be a regular expression")
        if "replace" not in spec and "message" not in spec:
            raise fail("message", "a text rule without 'replace' reports: it needs a message")
        _check_text_templates(spec, pattern, fail)
        return
    if kind == "argument" and not ("rename" in spec or "unsupported" in spec or "to_positional" in spec):
        raise fail("rename", "an argument rule needs 'rename', 'unsupported' or 'to_positional'")
    if "to_positional" in spec and not (isinstance(spec["to_positional"], str) and _IDENT.match(spec["to_positional"])):
        raise fail("to_positional", "must be a keyword name")
    for name in ("call", "device", "prefix", "importable", "exact", "imported"):
        if name in spec and not isinstance(spec[name], bool):
            raise fail(name, "must be true or false")
    for name in ("message", "uncalled"):
        if name in spec and not isinstance(spec[name], str):
            raise fail(name, "must be text")
    if kind in PLACEHOLDERS and isinstance(spec.get("message"), str):
        extra = ("value",) if kind == "support" and spec.get("status") == "float64" else ()
        _check_placeholders(spec["message"], PLACEHOLDERS[kind] + extra + RELEASE_PLACEHOLDERS, fail)
    if isinstance(spec.get("uncalled"), str):
        _check_placeholders(spec["uncalled"], ("name", "replace") + RELEASE_PLACEHOLDERS, fail, "uncalled")
    if "members" in spec:
        _check_members(spec["members"], has_replace=kind == "rename", fail=fail)
    if "drop" in spec and not _is_ident_list(spec["drop"]):
        raise fail("drop", "must be a list of keyword names")
    if "unsupported" in spec:
        spec["unsupported"] = _keyword_defaults(spec["unsupported"], fail)
    if "max_positional" in spec and not (isinstance(spec["max_positional"], int)
                                         and not isinstance(spec["max_positional"], bool)
                                         and spec["max_positional"] >= 0):
        raise fail("max_positional", "must be a whole number")
    if "rename" in spec:
        mapping = spec["rename"]
        if not (isinstance(mapping, dict) and mapping
                and all(isinstance(k, str) and isinstance(v, str) and _IDENT.match(k) and _IDENT.match(v)
                        for k, v in mapping.items())):
            raise fail("rename", "must map keyword names to keyword names")
    if "defaults" in spec:
        _check_defaults(spec["defaults"], fail, helpers)


def _check_placeholders(template: str, allowed: tuple[str, ...], fail, field: str = "message") -> None:
    """A message may use only the placeholders its kind fills: refused at load, not mid-run."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise fail(field, f"is not a valid template: {exc}") from None
    for name in fields:
        if name not in allowed:
            raise fail(field, f"unknown placeholder {{{name}}}; this kind fills "
                                  + ", ".join(f"{{{a}}}" for a in allowed))


def _check_text_templates(spec: dict[str, Any], pattern, fail) -> None:
    """A text rule's ``replace`` may name only its pattern's groups; its ``message`` only ``{0}``..
    (the groups) and ``{match}``: checked here, not when a file first meets the rule."""
    replace = spec.get("replace")
    if replace is not None:
        if not isinstance(replace, str):
            raise fail("replace", "must be text")
        for number, name in re.findall(r"\\(?:(\d+)|g<([^>]*)>)", replace):
            ref = number or name
            known = int(ref) <= pattern.groups if ref.isdigit() else ref in pattern.groupindex
            if not known:
                raise fail("replace", f"refers to group {ref}, which the pattern does not have "
                                      f"({pattern.groups} group(s))")
    message = spec.get("message")
    if message is not None:
        if not isinstance(message, str):
            raise fail("message", "must be text")
        try:
            message.format(*[""] * pattern.groups, match="", replace="")
        except (IndexError, KeyError, ValueError) as exc:
            raise fail("message", f"cannot be filled ({type(exc).__name__}: {exc}); it may use {{0}}.."
                                  f"{{{max(pattern.groups - 1, 0)}}} for the groups, {{match}} and {{replace}}") from None


def _keyword_defaults(value: Any, fail, field: str = "unsupported") -> dict[str, str]:
    """``{keyword: value}`` with YAML scalars turned into Python source text."""
    if not isinstance(value, dict) or not value:
        raise fail(field, "must map keyword names to values")
    out = {}
    for key, default in value.items():
        if not (isinstance(key, str) and _IDENT.match(key)):
            raise fail(field, f"invalid keyword {key!r}")
        text = default if isinstance(default, str) else repr(default)
        try:
            ast.parse(text, mode="eval")
        except SyntaxError:
            raise fail(field, f"value of {key} is not a Python expression: {text!r}") from None
        out[key] = text
    return out


def _is_ident_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and _IDENT.match(v) for v in value)


def _check_members(members: Any, *, has_replace: bool, fail) -> None:
    if not isinstance(members, list) or not members:
        raise fail("members", "must be a non-empty list")
    for member in members:
        if isinstance(member, dict) and has_replace and len(member) == 1:
            old, new = next(iter(member.items()))
            ok = isinstance(old, str) and isinstance(new, str) and _DOTTED.match(old) and _DOTTED.match(new)
        else:
            ok = isinstance(member, str) and bool(_DOTTED.match(member))
        if not ok:
            raise fail("members", f"invalid member {member!r}: a dotted name"
                       + (" or a one-entry mapping old: new" if has_replace else ""))


def _check_templates(kind: str, spec: dict[str, Any], fail, helpers: tuple[str, ...]) -> None:
    """``code``, ``fallback`` and ``positional``: expressions whose ``{fields}`` are helpers (or,
    in ``positional``, the call's own arguments ``{0}``...)."""
    if kind == "rename":
        if ("replace" in spec) == ("code" in spec):
            raise fail("replace", "a rename needs 'replace' (a dotted name) or 'code' (an expression), not both")
        if "fallback" in spec and "replace" not in spec:
            raise fail("fallback", "a fallback stands in for 'replace' where the release lacks it")
        if "twins" in spec and ("members" in spec or not (isinstance(spec["twins"], str) and _DOTTED.match(spec["twins"]))):
            raise fail("twins", "a dotted module name, whose names (in the API snapshot) become the members")
    if kind == "string" and "code" in spec and "replace" in spec:
        raise fail("code", "a string rule writes 'replace' (text) or 'code' (an expression), not both")
    if "positional" in spec:
        table = spec["positional"]
        if kind != "attribute" or "replace" not in spec or not spec.get("call"):
            raise fail("positional", "rewrites the arguments of a renamed call: needs 'call: true' and 'replace'")
        if not (isinstance(table, dict) and table and all(isinstance(k, str) and k.isdigit() for k in table)):
            raise fail("positional", "must map numbers of positional arguments (\"0\", \"1\") to templates")
        for count, template in table.items():
            _template(template, fail, "positional", helpers, {str(i) for i in range(int(count))})
    for name in ("code", "fallback"):
        if name in spec:
            _template(spec[name], fail, name, helpers)


def _template(text: Any, fail, field: str, helpers: tuple[str, ...], own: set[str] = frozenset()) -> None:
    if not isinstance(text, str):
        raise fail(field, "must be a Python expression")
    for used in re.findall(r"\{([^{}]*)\}", text):
        if used not in helpers and used not in own:
            raise fail(field, f"unknown placeholder {{{used}}}; a template may use "
                              + ", ".join(f"{{{h}}}" for h in (*helpers, *sorted(own))) or "no placeholder")
    try:
        ast.parse(re.sub(r"\{(\w+)\}", r"_\1_", text), mode="eval")
    except SyntaxError:
        raise fail(field, f"is not a Python expression: {text!r}") from None


def _check_defaults(defaults: Any, fail, helpers: tuple[str, ...] = ()) -> None:
    if not isinstance(defaults, list):
        raise fail("defaults", "must be a list of {name, value, position}")
    for entry in defaults:
        if not (isinstance(entry, dict) and set(entry) == {"name", "value", "position"}
                and isinstance(entry["name"], str) and _IDENT.match(entry["name"])
                and isinstance(entry["value"], str)
                and isinstance(entry["position"], int) and entry["position"] >= 0):
            raise fail("defaults", f"invalid entry {entry!r}: needs name, value (source text), position")
        _template(entry["value"], fail, "defaults", helpers)
