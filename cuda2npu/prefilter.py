"""The text prefilter: a file containing no rule's trigger word is never parsed."""

from __future__ import annotations

import re

from .rulebook import Rule, RuleBook


def triggers(rule: Rule, *, dependent: bool = False) -> set[str]:
    """Words one of which any code the rule acts on contains: its ``trigger``, else a part of ``match``.

    Every part of a dotted name is spelled somewhere in a file that uses it (in an import or an
    attribute chain), so the last part of ``match`` will do; string rules match their whole value.
    Import rules and rules that ``require`` others act only alongside other edits, and text rules
    on other files: they have none, unless ``dependent`` asks for the words of the latter too
    (to find every statement a rule may act on, once a file is being parsed).
    """
    if rule.kind in ("import", "text") or (rule.get("requires") and not dependent):
        return set()  # they act only alongside other rules' edits, or on other files
    if rule.get("trigger"):
        return set(rule.get("trigger"))
    if rule.kind == "string":
        return set(rule.matches())
    match = rule.get("match")
    return {name.split(".")[-1] for name in (match if isinstance(match, list) else [match])}


def trigger_pattern(book: RuleBook, *, dependent: bool = False) -> re.Pattern[str] | None:
    """One regular expression finding any trigger word of the book as a whole word (None: no rules)."""
    words = sorted({w for rule in book for w in triggers(rule, dependent=dependent)}, key=len, reverse=True)
    return re.compile(r"\b(?:%s)\b" % "|".join(map(re.escape, words))) if words else None
