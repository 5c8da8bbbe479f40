"""Suppression comments: ``# cuda2npu: ignore``, ``# cuda2npu: ignore[ID, ...]``, ``# cuda2npu: skip-file``."""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

UNUSED = "C2N100"  # the finding for a suppression that suppresses nothing
UNUSED_WHY = (
    "A `# cuda2npu: ignore` or `ignore[ID, ...]` comment on a line where no rule (or none of the named\n"
    "ones) acts is reported, so suppressions do not outlive the code they were written for: remove it,\n"
    "or name the rule that acts there. `--ignore C2N100` (or `ignore = [\"C2N100\"]`) turns the check\n"
    "off; with `--select`, it runs only when selected, and then judges only suppressions that name a\n"
    "selected rule.")
_DIRECTIVE = re.compile(r"#\s*cuda2npu:\s*(ignore|skip-file)\b(?:\[([^\]]*)\])?")


@dataclass
class Suppressions:
    """Per line, the rule ids ignored there (None: all); and whether the whole file is skipped."""

    lines: dict[int, frozenset[str] | None] = field(default_factory=dict)
    columns: dict[int, int] = field(default_factory=dict)
    skip_file: bool = False

    def covers(self, line: int, rule: str) -> bool:
        if line not in self.lines:
            return False
        ids = self.lines[line]
        return ids is None or rule in ids


def scan(source: str) -> Suppressions:
    """The suppressions of a source: directives in comments, never in strings (a docstring that
    quotes ``# cuda2npu: skip-file`` skips nothing); ``skip-file`` on a comment line of its own."""
    found = Suppressions()
    if "cuda2npu:" not in source:
        return found
    for number, column, comment, alone in _comments(source):
        match = _DIRECTIVE.search(comment)
        if match is None:
            continue
        if match.group(1) == "skip-file":
            found.skip_file = found.skip_file or alone
            continue
        ids = match.group(2)
        found.lines[number] = None if ids is None else frozenset(i.strip() for i in ids.split(",") if i.strip())
        found.columns[number] = column + match.start() + 1
    return found


def _comments(source: str):
    """(line, 0-based column, text, alone on its line) of each comment, found with ``tokenize``.
    Source it cannot tokenize (the parse then reports it) is read line by line instead."""
    try:
        return [(tok.start[0], tok.start[1], tok.string, not tok.line[:tok.start[1]].strip())
                for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError):
        out = []
        for number, line in enumerate(source.split("\n"), 1):  # Python's line breaks, not str.splitlines
            at = line.find("#")
            if at >= 0:
                out.append((number, at, line[at:], not line[:at].strip()))
        return out
