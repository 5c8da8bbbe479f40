"""Parse only what matters: the top-level statements that hold a trigger word (or an import).

Large library files often hold one CUDA site in thousands of lines. ``ast`` finds the line span of
every top-level statement about ten times faster than LibCST parses them; LibCST then parses only
the selected statements, and their new text is spliced back between the untouched lines, so the
output is byte for byte what a whole-file run gives.
"""

from __future__ import annotations

import ast
import bisect
import re
from dataclasses import dataclass

_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")
_IMPORT = re.compile(r"\bimport\b")
MIN_SKIPPED_LINES = 200  # below this, parsing the whole file costs less than splitting it


@dataclass(frozen=True)
class Chunk:
    """Lines ``start``..``end`` (0-based, end exclusive) holding whole top-level statements."""

    start: int
    end: int


class Plan:
    """The selected chunks of a source, the text LibCST parses, and the way back."""

    def __init__(self, lines: list[str], chunks: list[Chunk], selected: list[int]):
        self.lines, self.chunks, self.selected = lines, chunks, selected
        self._sub_starts: list[int] = []  # 1-based first line of each selected chunk in the text
        line = 1
        for i in selected:
            self._sub_starts.append(line)
            line += chunks[i].end - chunks[i].start
        self.text = "".join(self._chunk_text(i) for i in selected)

    def _chunk_text(self, i: int) -> str:
        return "".join(self.lines[self.chunks[i].start:self.chunks[i].end])

    def original_line(self, line: int) -> int:
        """The source line of a line of the parsed text."""
        k = bisect.bisect_right(self._sub_starts, line) - 1
        return self.chunks[self.selected[k]].start + 1 + line - self._sub_starts[k]

    def assemble(self, new_texts: list[str], prefix: str = "") -> str:
        """The source with each selected chunk replaced by its new text (``prefix`` before the first)."""
        out, at = [], 0
        for i, text in zip(self.selected, new_texts):
            chunk = self.chunks[i]
            out.append("".join(self.lines[at:chunk.start]))
            if i == self.selected[0]:
                out.append(prefix)
            out.append(text)
            at = chunk.end
        out.append("".join(self.lines[at:]))
        return "".join(out)


def plan(source: str, tree: ast.Module, trigger: re.Pattern[str]) -> Plan | None:
    """Which top-level statements of ``source`` (parsed by ``ast`` as ``tree``) to give LibCST;
    None when the whole file should be parsed."""
    lines = _LINE.findall(source)
    if len(lines) < MIN_SKIPPED_LINES or source.count("\r") != source.count("\r\n"):
        return None  # small (parsing it whole is cheaper), or lone CR line endings
    chunks: list[Chunk] = []
    for stmt in tree.body:
        first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])]) - 1
        last = stmt.end_lineno or stmt.lineno
        if chunks and first < chunks[-1].end:  # statements sharing a line (`a = 1; b = 2`)
            chunks[-1] = Chunk(chunks[-1].start, max(last, chunks[-1].end))
        else:
            chunks.append(Chunk(first, last))
    if not chunks:
        return None
    wanted = _wanted_lines(source, trigger)
    selected = [i for i, c in enumerate(chunks)
                if i == 0 or bisect.bisect_left(wanted, c.start) < bisect.bisect_left(wanted, c.end)]
    skipped = len(lines) - sum(chunks[i].end - chunks[i].start for i in selected)
    return Plan(lines, chunks, selected) if skipped >= MIN_SKIPPED_LINES else None


def _wanted_lines(source: str, trigger: re.Pattern[str]) -> list[int]:
    """0-based lines holding a trigger word (a rule may act there) or an import (it may bind a name)."""
    offsets = sorted(m.start() for rx in (trigger, _IMPORT) for m in rx.finditer(source))
    starts = [0] + [m.end() for m in re.finditer("\n", source)]
    return sorted({bisect.bisect_right(starts, offset) - 1 for offset in offsets})
