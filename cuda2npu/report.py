"""Run summaries and the machine-readable JSON report."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .runner import FileResult

REPORT_VERSION = 1


@dataclass
class Summary:
    """Counts over a run, accumulated as results stream in."""

    scanned: int = 0
    changed: int = 0
    failed: int = 0
    edits: Counter = field(default_factory=Counter)
    findings: Counter = field(default_factory=Counter)

    @property
    def unchanged(self) -> int:
        return self.scanned - self.changed - self.failed

    def add(self, result: FileResult) -> None:
        self.scanned += 1
        self.failed += result.error is not None
        self.changed += result.changed and result.error is None
        self.edits.update(e.rule for e in result.edits)
        self.findings.update(f.rule for f in result.findings)

    def as_dict(self) -> dict:
        return {"files": self.scanned, "changed": self.changed, "unchanged": self.unchanged,
                "failed": self.failed, "edits": dict(sorted(self.edits.items())),
                "findings": dict(sorted(self.findings.items()))}


def file_entry(result: FileResult) -> dict:
    """One file of the JSON report."""
    return {
        "path": result.path,
        "changed": result.changed,
        "edits": [asdict(e) for e in result.edits],
        "findings": [asdict(f) for f in result.findings],
        "error": None if result.error is None else {"message": result.error, "line": result.error_line},
    }


def write_json(path: str, entries: list[dict], summary: Summary, mode: str) -> None:
    """The JSON report: ``{"version", "mode", "files": [...], "summary": {...}}``."""
    document = {"version": REPORT_VERSION, "tool": "cuda2npu", "mode": mode,
                "files": entries, "summary": summary.as_dict()}
    Path(path).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
