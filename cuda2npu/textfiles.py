"""Text rules: line-based rewrites and reports for non-Python files (shell scripts, env files,
requirements). Comment lines (``#``) are left alone unless a rule asks for them (``comments``:
``#SBATCH`` lines); line endings are kept.

Patterns run on the ``regex`` engine with a time bound: a pattern that backtracks without end on
some line (a user rule can bring one in, even through a repository's pyproject) fails that file
with a message, never the run.
"""

from __future__ import annotations

import fnmatch

import regex

from .results import Edit, Finding, Migration, SourceError
from .rulebook import Rule, RuleBook

TIME_BOUND = 1.0  # seconds a pattern may take on one line


class TextRules:
    """The text rules of a book, compiled once."""

    def __init__(self, book: RuleBook):
        self.rules = [(rule, regex.compile(rule.get("match"))) for rule in book.of_kind("text")]
        self._unless = {rule.id: regex.compile(rule.get("unless")) for rule in book.of_kind("text") if rule.get("unless")}
        if any(rule.get("known") for rule, _ in self.rules):
            from .known import names
            self._known = {rule.id: names(rule.get("known")) for rule, _ in self.rules if rule.get("known")}
        else:
            self._known = {}

    def applies(self, name: str) -> bool:
        return any(_matches(rule, name) for rule, _ in self.rules)

    def migrate(self, text: str, name: str) -> Migration:
        """Apply the rules whose ``files`` patterns match the file ``name``."""
        rules = [(rule, rx) for rule, rx in self.rules if _matches(rule, name)
                 and not (rule.id in self._unless and self._unless[rule.id].search(text, timeout=TIME_BOUND))]
        out, edits, findings = [], [], []
        for number, line in enumerate(text.splitlines(keepends=True), 1):
            comment = line.lstrip().startswith("#")
            for rule, rx in rules:
                if comment and not rule.get("comments"):
                    continue
                try:
                    line = _apply(rule, rx, line, number, edits, findings, self._known.get(rule.id))
                except TimeoutError:
                    raise SourceError(f"rule {rule.id}: its pattern took over {TIME_BOUND:g} s on this line "
                                      "(it backtracks without end): file not migrated", number) from None
            out.append(line)
        return Migration(text, "".join(out), edits, findings)


def _matches(rule: Rule, name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in rule.get("files"))


def _apply(rule: Rule, rx: regex.Pattern, line: str, number: int, edits: list, findings: list,
           known: frozenset[str] | None) -> str:
    """Each match of the rule on ``line``: replaced (an edit) or reported; with ``known`` (the list
    the rule names), replaced only where the new text is in it."""
    replace = rule.get("replace")

    def one(match) -> str:
        new = match.expand(replace) if replace is not None else None
        if new is None or (known is not None and new not in known):
            findings.append(Finding(rule.id, number, match.start() + 1, rule.severity, rule.get("message").format(
                *(g or "" for g in match.groups()), match=match.group(0), replace=new or "")))
            return match.group(0)
        edits.append(Edit(rule.id, number, match.start() + 1, f"{match.group(0)} -> {new}"))
        return new
    return rx.sub(one, line, timeout=TIME_BOUND)
