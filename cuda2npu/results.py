"""What migrating a source produces: edits, findings, the new text, or an error. No LibCST here."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Edit:
    """A change a rule made, at a 1-based line and column of the input."""

    rule: str
    line: int
    col: int
    message: str
    cell: int | None = None  # in a notebook: the 1-based code cell, whose line ``line`` is


@dataclass(frozen=True)
class Finding:
    """Something a human should look at."""

    rule: str
    line: int
    col: int
    severity: str
    message: str
    cell: int | None = None  # in a notebook: the 1-based code cell, whose line ``line`` is


@dataclass
class Migration:
    """The result of migrating one source text."""

    source: str
    code: str
    edits: list[Edit] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.code != self.source


class SourceError(Exception):
    """Source that cannot be migrated (syntax error, too deep); ``line`` where known."""

    def __init__(self, message: str, line: int | None = None, col: int | None = None):
        super().__init__(message)
        self.message, self.line, self.col = message, line, col


class InternalError(SourceError):
    """The rules produced output that does not parse; nothing is written."""
