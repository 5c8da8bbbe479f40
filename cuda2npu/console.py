"""Human output on stderr: rich on a terminal, plain text otherwise (and with NO_COLOR)."""

from __future__ import annotations

import os
import re
import sys
from contextlib import contextmanager
from typing import Callable, Iterator, TextIO

from .report import Summary, reaches
from .runner import FileResult


PROGRESS_MIN_FILES = 20
_DIFF_COLORS = ((b"+++", b"1"), (b"---", b"1"), (b"@@", b"36"), (b"+", b"32"), (b"-", b"31"))
_DIFF_LINE = re.compile(rb"[^\n]*\n|[^\n]+\Z")


def fancy(stream: TextIO, color: str = "auto") -> bool:
    """Colour: ``--color always``/``never``; else not with ``NO_COLOR``, always with ``FORCE_COLOR``
    (CI logs show it), and otherwise on a terminal."""
    if color != "auto":
        return color == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR", "0") not in ("", "0"):
        return True
    return stream.isatty()


def color_diff(diff: bytes) -> bytes:
    """A unified diff with ANSI colours (headers bold, hunks cyan, additions green, removals red)."""
    out = []
    for line in _DIFF_LINE.findall(diff):
        code = next((c for prefix, c in _DIFF_COLORS if line.startswith(prefix)), None)
        body, end = (line[:-1], b"\n") if line.endswith(b"\n") else (line, b"")
        out.append(b"\x1b[" + code + b"m" + body + b"\x1b[0m" + end if code else line)
    return b"".join(out)


class Console:
    """Per-file lines as results arrive, then a summary."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False, color: str = "auto"):
        self.stream = stream = stream or sys.stderr
        self.quiet = quiet
        self._rich = None
        self._live = stream.isatty()  # a progress bar only where it can redraw
        if fancy(stream, color):
            from rich.console import Console as RichConsole

            self._rich = RichConsole(file=stream, highlight=False, force_terminal=True)

    @contextmanager
    def progress(self, total: int) -> Iterator[Callable[[], None]]:
        """A progress bar on a terminal for runs over many files; yields the function that advances it."""
        if self._rich is None or not self._live or total < PROGRESS_MIN_FILES:
            yield lambda: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("cuda2npu"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=self._rich, transient=True) as bar:
            task = bar.add_task("files", total=total)
            yield lambda: bar.advance(task)

    def _line(self, text: str, style: str = "") -> None:
        if self._rich is not None:
            self._rich.print(text, style=style or None, markup=False)
        else:
            print(text, file=self.stream)

    def file(self, result: FileResult, *, check: bool, fail_on: str | None = None) -> None:
        """A file's lines: its error, whether it changed (``would migrate``/``migrated``, as Black
        says ``reformatted``), its findings. With ``quiet``, only errors and the findings that make
        the run fail (``fail_on``)."""
        if result.error is not None:
            where = f"{result.path}:{result.error_line}" if result.error_line else result.path
            self._line(f"{where}: error: {result.error}", "bold red")
            return
        if result.changed and not self.quiet:
            self._line(f"would migrate {result.path}" if check else f"migrated {result.path}", "yellow")
        for f in result.findings:
            if not self.quiet or reaches(f.severity, fail_on):
                self._line(f"{result.path}:{f.line}:{f.col} {f.rule} {f.message}",
                           {"error": "red", "warning": "yellow"}.get(f.severity, "cyan"))

    def failing(self, summary: Summary, level: str) -> None:
        """Why the run fails with --fail-on: how many findings reached the level."""
        count = summary.failing
        self._line(f"cuda2npu: failing: {count} finding{'s' * (count != 1)} of severity {level} or higher "
                   f"(--fail-on {level})", "bold red")

    def summary(self, summary: Summary, *, mode: str, releases: list[str] = ()) -> None:
        verb = {"check": "would change", "diff": "would change"}.get(mode, "changed")
        head = (f"{summary.scanned} file{'s' * (summary.scanned != 1)} scanned: {summary.changed} {verb}, "
                f"{summary.unchanged} unchanged, {summary.failed} failed")
        edits = ", ".join(f"{rule} {n}" for rule, n in sorted(summary.edits.items())) or "none"
        total = sum(summary.findings.values())
        findings = ", ".join(f"{rule} {n}" for rule, n in sorted(summary.findings.items()))
        lines = [head, f"edits: {sum(summary.edits.values())} ({edits})",
                 f"findings: {total}" + (f" ({findings})" if findings else "")]
        lines += [f"for {release}" for release in releases]
        if self._rich is not None:
            from rich.panel import Panel

            self._rich.print(Panel("\n".join(lines), title="cuda2npu", expand=False))
        else:
            for line in lines:
                print(f"cuda2npu: {line}", file=self.stream)

    def statistics(self, summary: Summary, summaries: dict[str, str]) -> None:
        """``--statistics``: per rule, its edits and findings and what it does, most frequent first
        (as ruff's)."""
        rules = sorted(set(summary.edits) | set(summary.findings),
                       key=lambda r: (-(summary.edits[r] + summary.findings[r]), r))
        if rules:
            print(f"{'edits':>6} {'findings':>8}  rule", file=self.stream)
        for rule in rules:
            print(f"{summary.edits[rule]:>6} {summary.findings[rule]:>8}  {rule:<8} {summaries.get(rule, '')}",
                  file=self.stream)
