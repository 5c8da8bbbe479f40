"""Human output on stderr: rich on a terminal, plain text otherwise (and with NO_COLOR)."""

from __future__ import annotations

import os
import sys
from typing import TextIO

from .report import Summary
from .runner import FileResult


def fancy(stream: TextIO) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR")


class Console:
    """Per-file lines as results arrive, then a summary."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False):
        self.stream = stream = stream or sys.stderr
        self.quiet = quiet
        self._rich = None
        if fancy(stream):
            from rich.console import Console as RichConsole

            self._rich = RichConsole(file=stream, highlight=False)

    def _line(self, text: str, style: str = "") -> None:
        if self._rich is not None:
            self._rich.print(text, style=style or None, markup=False)
        else:
            print(text, file=self.stream)

    def file(self, result: FileResult, *, check: bool) -> None:
        if result.error is not None:
            where = f"{result.path}:{result.error_line}" if result.error_line else result.path
            self._line(f"{where}: error: {result.error}", "bold red")
            return
        if check and result.changed:
            self._line(f"would migrate {result.path}", "yellow")
        if not self.quiet:
            for f in result.findings:
                self._line(f"{result.path}:{f.line}:{f.col} {f.rule} {f.message}",
                           {"error": "red", "warning": "yellow"}.get(f.severity, "cyan"))

    def summary(self, summary: Summary, *, mode: str) -> None:
        verb = {"check": "would change", "diff": "would change"}.get(mode, "changed")
        head = (f"{summary.scanned} file{'s' * (summary.scanned != 1)} scanned: {summary.changed} {verb}, "
                f"{summary.unchanged} unchanged, {summary.failed} failed")
        edits = ", ".join(f"{rule} {n}" for rule, n in sorted(summary.edits.items())) or "none"
        total = sum(summary.findings.values())
        findings = ", ".join(f"{rule} {n}" for rule, n in sorted(summary.findings.items()))
        lines = [head, f"edits: {sum(summary.edits.values())} ({edits})",
                 f"findings: {total}" + (f" ({findings})" if findings else "")]
        if self._rich is not None:
            from rich.panel import Panel

            self._rich.print(Panel("\n".join(lines), title="cuda2npu", expand=False))
        else:
            for line in lines:
                print(f"cuda2npu: {line}", file=self.stream)
