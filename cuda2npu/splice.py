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


def plan(source: str, tree: ast.Module, wanted: list[int]) -> Plan | None:
    """Which top-level statements of ``source`` (parsed by ``ast`` as ``tree``) to give LibCST: those
    on the ``wanted`` lines (see :func:`wanted_lines`); None when the whole file should be parsed."""
    lines = _LINE.findall(source)
    if len(lines) < MIN_SKIPPED_LINES or source.count("\r") != source.count("\r\n"):
        return None  # small (parsing it whole is cheaper), or lone CR line endings
    chunks: list[Chunk] = []
    for stmt in tree.body:
        first, last = _span(stmt)
        if chunks and first < chunks[-1].end:  # statements sharing a line (`a = 1; b = 2`)
            chunks[-1] = Chunk(chunks[-1].start, max(last + 1, chunks[-1].end))
        else:
            chunks.append(Chunk(first, last + 1))
    if not chunks:
        return None
    selected = [i for i, c in enumerate(chunks) if i == 0 or _any_in(wanted, c.start, c.end - 1)]
    skipped = len(lines) - sum(chunks[i].end - chunks[i].start for i in selected)
    return Plan(lines, chunks, selected) if skipped >= MIN_SKIPPED_LINES else None


def wanted_lines(source: str, tree: ast.Module, trigger: re.Pattern[str]) -> list[int]:
    """0-based lines a rule may act on: a trigger word, a name an import with a trigger word binds
    (``from torch import cuda as C`` makes ``C.synchronize()`` a site), or an import."""
    patterns = [trigger, _IMPORT]
    aliases = _aliases(source, tree, trigger)
    if aliases:
        patterns.append(re.compile(r"\b(?:%s)\b" % "|".join(map(re.escape, sorted(aliases)))))
    offsets = sorted(m.start() for rx in patterns for m in rx.finditer(source))
    starts = [0] + [m.end() for m in re.finditer("\n", source)]
    return sorted({bisect.bisect_right(starts, offset) - 1 for offset in offsets})


def def_flags(tree: ast.Module, wanted: list[int], chunks: Plan | None) -> list[tuple[str, bool, int]]:
    """For every def and class LibCST will visit, in visiting order: its name, whether it holds a
    wanted line, and the index of the first def after it (where visiting resumes when it is skipped)."""
    kept = set(chunks.selected) if chunks is not None else None
    starts = [c.start for c in chunks.chunks] if chunks is not None else []
    found = []
    for stmt in tree.body:
        if kept is None or bisect.bisect_right(starts, _span(stmt)[0]) - 1 in kept:
            found.extend(_defs(stmt))
    found.sort(key=lambda d: (d.lineno, d.col_offset))
    spans = [_span(d) for d in found]
    firsts = [first for first, _ in spans]
    return [(d.name, _any_in(wanted, first, last), bisect.bisect_right(firsts, last, lo=k + 1))
            for k, (d, (first, last)) in enumerate(zip(found, spans))]


def _defs(stmt: ast.stmt):
    """The defs and classes in a statement, at any depth of statements (not expressions)."""
    stack = [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            stack.extend(getattr(node, field, ()) or ())


def _aliases(source: str, tree: ast.Module, trigger: re.Pattern[str]) -> set[str]:
    """Local names bound by import statements that spell a trigger word."""
    names: set[str] = set()
    lines = None
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            lines = lines if lines is not None else source.split("\n")
            if trigger.search("\n".join(lines[node.lineno - 1:node.end_lineno])):
                for alias in node.names:
                    if alias.name != "*":
                        names.add(alias.asname or alias.name.split(".")[0])
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            stack.extend(getattr(node, field, ()) or ())
    return names


def _span(stmt: ast.stmt) -> tuple[int, int]:
    """0-based first (decorators included) and last line of a statement."""
    first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])]) - 1
    return first, (stmt.end_lineno or stmt.lineno) - 1


def _any_in(sorted_lines: list[int], first: int, last: int) -> bool:
    return bisect.bisect_left(sorted_lines, first) < bisect.bisect_right(sorted_lines, last)
