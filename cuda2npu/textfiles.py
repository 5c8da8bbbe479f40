"""Text rules: line-based rewrites and reports for non-Python files (shell scripts, env files,
requirements). Comment lines (``#``) are left alone; line endings are kept.

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

    def applies(self, name: str) -> bool:
        return any(_matches(rule, name) for rule, _ in self.rules)

    def migrate(self, text: str, name: str) -> Migration:
        """Apply the rules whose ``files`` patterns match the file ``name``."""
        rules = [(rule, rx) for rule, rx in self.rules if _matches(rule, name)
                 and not (rule.id in self._unless and self._unless[rule.id].search(text, timeout=TIME_BOUND))]
        out, edits, findings = [], [], []
        for number, line in enumerate(text.splitlines(keepends=True), 1):
            if not line.lstrip().startswith("#"):
                for rule, rx in rules:
                    try:
                        line = _apply(rule, rx, line, number, edits, findings)
                    except TimeoutError:
                        raise SourceError(f"rule {rule.id}: its pattern took over {TIME_BOUND:g} s on this line "
                                          "(it backtracks without end): file not migrated", number) from None
            out.append(line)
        return Migration(text, "".join(out), edits, findings)


def _matches(rule: Rule, name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in rule.get("files"))


def _apply(rule: Rule, rx: regex.Pattern, line: str, number: int, edits: list, findings: list) -> str:
    replace = rule.get("replace")
    for match in rx.finditer(line, timeout=TIME_BOUND):
        if replace is None:
            findings.append(Finding(rule.id, number, match.start() + 1, rule.severity,
                                    rule.get("message").format(*match.groups(), match=match.group(0))))
        else:
            edits.append(Edit(rule.id, number, match.start() + 1, f"{match.group(0)} -> {match.expand(replace)}"))
    return rx.sub(replace, line, timeout=TIME_BOUND) if replace is not None else line
