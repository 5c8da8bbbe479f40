"""torch_npu releases: what each one has, and the rulebook gated to the one a project runs.

The facts are ``data/versions.json`` (made by ``scripts/sync_versions.py`` from the wheels on PyPI):
per release, the names and parameters it lacks against the newest snapshot, its torch pin and
its build date. :func:`gate` turns every rewrite whose target the release lacks into a report.
"""

from __future__ import annotations

import dataclasses
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the rule files are not read when the cache knows the results
    from .rulebook import Rule, RuleBook

DATA = Path(__file__).resolve().parent / "data" / "versions.json"
GATED = "torch-npu-version"  # the tag of the reports gate() makes of rewrites
ABSENT = "<absent>"  # an `unsupported` default no argument can equal: always reported


class VersionError(Exception):
    """An unknown torch_npu version (exit 2)."""


@lru_cache(maxsize=1)
def _data() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def known() -> tuple[str, ...]:
    """The known releases, oldest first."""
    from packaging.version import Version

    return tuple(sorted(_data()["versions"], key=Version))


def newest() -> str:
    return _data()["newest"]


def unknown_message(version: str, where: str) -> str:
    return (f"{where}: torch_npu {version} is not a known release (known: {', '.join(known())}); "
            "add one with scripts/sync_versions.py --releases ... (see docs/api-snapshot.md)")


@dataclasses.dataclass(frozen=True)
class Release:
    """One torch_npu release and what it lacks against the newest."""

    version: str

    @property
    def facts(self) -> dict:
        return _data()["versions"][self.version]

    @property
    def is_newest(self) -> bool:
        return self.version == newest()

    def has(self, dotted: str) -> bool:
        """Whether the release has ``dotted`` (a name the newest snapshot has, or outside its modules)."""
        module, name = _split(dotted, self.facts.get("missing", {}))
        return module is None or name not in self.facts["missing"][module]

    def has_param(self, function: str, param: str) -> bool:
        return param not in self.facts.get("params_missing", {}).get(function, ())

    def present_in(self, dotted: str, param: str | None = None) -> str:
        """The releases that have ``dotted`` (or its parameter), as ranges: "2.1.0.post17, 2.6.0.post5+"."""
        have = [Release(v).has(dotted) and (param is None or Release(v).has_param(dotted, param))
                for v in known()]
        spans, start = [], None
        for i, ok in enumerate([*have, False]):
            if ok and start is None:
                start = i
            elif not ok and start is not None:
                last = i - 1
                spans.append(known()[start] + ("+" if last == len(known()) - 1 and last > start else
                                               f" to {known()[last]}" if last > start else ""))
                start = None
        return ", ".join(spans) or "no known release"


def _split(dotted: str, missing: dict) -> tuple[str | None, str]:
    """The deepest module of the versions data holding ``dotted``, and the name's first part there."""
    parts = dotted.split(".")
    for size in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:size])
        if module in missing:
            return module, parts[size]
    return None, ""


def release(version: str, where: str = "--torch-npu-version") -> Release:
    if version not in _data()["versions"]:
        raise VersionError(unknown_message(version, where))
    return Release(version)


def for_release(book: RuleBook, at: Release | None = None, soc: str | None = None,
                everywhere: bool = False) -> RuleBook:
    """The rules for one torch_npu release (the newest by default) and chip family (A2 by
    default): rewrites it lacks reported (:func:`gate`), op-support rules expanded
    (:func:`opsupport.expand`)."""
    from .opsupport import DEFAULT_SOC, expand

    at = at or Release(newest())
    return _filled(expand(gate(book, at), at, soc or DEFAULT_SOC, everywhere), at)


def _filled(book: RuleBook, at: Release) -> RuleBook:
    """Messages with the release's facts: ``{torch_npu}``, ``{compile_backends}``."""
    facts = {"{torch_npu}": at.version, "{compile_backends}": ", ".join(at.facts["compile_backends"]) or "none"}
    out = []
    for rule in book:
        message = rule.get("message")
        if isinstance(message, str) and any(key in message for key in facts):
            for key, value in facts.items():
                message = message.replace(key, value)
            rule = dataclasses.replace(rule, spec={**rule.spec, "message": message})
        out.append(rule)
    return dataclasses.replace(book, rules=tuple(out))


def gate(book: RuleBook, at: Release) -> RuleBook:
    """``book`` with every rewrite to a name or keyword ``at`` lacks turned into a report."""
    if at.is_newest:
        return book
    from .ruleindex import symbol_index

    twins = symbol_index(book)  # old name -> (rule, twin): the names argument rules' calls become
    out: list[Rule] = []
    for rule in book:
        out.extend(_gated(rule, at, twins))
    return dataclasses.replace(book, rules=tuple(out))


def _lacking(at: Release, new: str) -> str:
    return f"its twin `{new}` is not in torch_npu {at.version} (present in {at.present_in(new)})"


def _report(rule: Rule, olds: list[str], message: str) -> Rule:
    return dataclasses.replace(rule, kind="report", spec={"match": olds, "message": message},
                               examples=(), severity="warning", tags=(*rule.tags, GATED))


def _gated(rule: Rule, at: Release, twins) -> list[Rule]:
    if rule.kind == "rename":
        pairs = rule.pairs()
        kept = [(old, new) for old, new in pairs if at.has(new)]
        out = [_report(rule, [old], f"`{{name}}` is left: {_lacking(at, new)}; upgrade torch_npu, "
                                    "or port it by hand")
               for old, new in pairs if not at.has(new)]
        out += [_keyword_report(rule, old, new, param, at) for old, new in kept
                for param in at.facts.get("params_missing", {}).get(new, ())]
        if len(kept) == len(pairs):
            return [rule, *out]
        if kept:
            out.insert(0, _with(rule, members=[m for m, (_, new) in zip(rule.get("members"), pairs) if at.has(new)]))
        return out
    if rule.kind == "call" and not at.has(rule.get("replace")):
        return [_report(rule, [rule.get("match")], f"`{{name}}` is left: {_lacking(at, rule.get('replace'))}")]
    if rule.kind == "argument":
        return _gated_keywords(rule, at, twins)
    return [rule]


def _gated_keywords(rule: Rule, at: Release, twins) -> list[Rule]:
    """An argument rule whose renamed keywords a twin lacks in ``at``: those reported instead."""
    renames = rule.get("rename", {})
    kept, out = [], []
    for member, (old, _) in zip(rule.get("members") or [None], rule.pairs()):
        hit = twins.longest(old.split("."))
        twin = None if hit is None or hit.value[1] is None else hit.value[1] + old[len(hit.key):]
        if twin is not None and not at.has(twin):
            continue  # the call is not renamed (its rename is reported): its keywords stay too
        lacking = {k: new for k, new in renames.items() if twin is not None and not at.has_param(twin, new)}
        if not lacking:
            kept.append(member)
            continue
        rest = {k: v for k, v in renames.items() if k not in lacking}
        if rest or rule.get("unsupported"):
            out.append(_with(rule, match=old, rename=rest))
        out += [_keyword_report(rule, old, twin, new, at, keyword) for keyword, new in lacking.items()]
    if len(kept) == len(rule.pairs()):
        out.insert(0, rule)
    elif kept:
        out.insert(0, _with(rule, members=kept))
    return out


def _keyword_report(rule: Rule, old: str, twin: str, param: str, at: Release, keyword: str | None = None) -> Rule:
    """An argument rule reporting ``old(keyword=)`` (``param=`` on the twin, which ``at`` lacks)."""
    message = (f"`{{name}}({{keyword}}=)`: `{twin}` takes no `{param}=` in torch_npu {at.version} "
               f"(present in {at.present_in(twin, param)}); drop it or upgrade torch_npu")
    return dataclasses.replace(rule, kind="argument", examples=(), tags=(*rule.tags, GATED), severity="warning",
                               spec={"match": old, "unsupported": {keyword or param: ABSENT}, "message": message})


def _with(rule: Rule, **spec) -> Rule:
    """``rule`` with some fields changed (``match`` alone drops its members)."""
    fields = {k: v for k, v in rule.spec.items() if not ("match" in spec and k == "members")}
    return dataclasses.replace(rule, spec={**fields, **spec}, examples=())
