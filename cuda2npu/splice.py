"""Parse only what matters: the statements no rule can act on become one-line placeholders.

Large library files often hold one CUDA site in thousands of lines. ``ast`` parses a file about ten
times faster than LibCST does, and its tree tells which statements may hold a site: those with a
trigger word (outside docstrings), absolute imports (they bind the names rules resolve), and the
compound statements around them. Each run of other statements that has its lines to itself becomes
one placeholder line (``...  # cuda2npu-hole N``); LibCST parses and transforms the much shorter
text; the placeholders then get their lines back, so the output is byte for byte what a whole-file
run gives (tests check this on every fixture, every rule example and generated programs).
"""

from __future__ import annotations

import ast
import bisect
import re

from .symbols import BLOCK_FIELDS, import_nodes

_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")
MARKER = "cuda2npu-hole"
_PLACEHOLDER = re.compile(r"^[ \t\f]*\.\.\.  # %s (\d+)(?:\r?\n|\Z)" % MARKER, re.M)
_INDENT = " \t\f"
_BLOCKS = ("body", "orelse", "finalbody")
_CLAUSES = ("handlers", "cases")


class Lost(Exception):
    """The placeholders did not come through the transformation intact: parse the whole file."""


class Plan:
    """The text LibCST parses (the source with its holes as placeholders), and the way back."""

    def __init__(self, lines: list[str], holes: list[tuple[int, int]], unvisited: tuple[int, int] | None = None):
        parts: list[str] = []
        # 0-based line spans no rule visits: the holes, and a module docstring kept for the imports
        self._unvisited = sorted(holes + [unvisited] * (unvisited is not None))
        self._holes: list[str] = []  # the source lines each placeholder stands for
        self._text_starts: list[int] = []  # 1-based: where each run of kept lines starts in the text
        self._source_starts: list[int] = []  # ... and in the source
        at, line = 0, 1
        for number, (first, last) in enumerate(holes):
            self._keep(parts, lines, at, first, line)
            line += first - at
            head, end = lines[first], lines[last]
            indent = head[:len(head) - len(head.lstrip(_INDENT))]
            newline = end[len(end.rstrip("\r\n")):]
            parts.append(f"{indent}...  # {MARKER} {number}{newline}")
            self._holes.append("".join(lines[first:last + 1]))
            line, at = line + 1, last + 1
        self._keep(parts, lines, at, len(lines), line)
        self.text = "".join(parts)

    def _keep(self, parts: list[str], lines: list[str], start: int, end: int, line: int) -> None:
        self._text_starts.append(line)
        self._source_starts.append(start + 1)
        parts.extend(lines[start:end])

    def visits(self, lines: list[int]) -> bool:
        """Whether any of these 0-based source lines is left in the text for the rules to visit."""
        for line in lines:
            k = bisect.bisect_right(self._unvisited, (line, float("inf"))) - 1
            if k < 0 or self._unvisited[k][1] < line:
                return True
        return False

    def original_line(self, line: int) -> int:
        """The source line of a kept line of the text."""
        k = bisect.bisect_right(self._text_starts, line) - 1
        return self._source_starts[k] + line - self._text_starts[k]

    def assemble(self, code: str) -> str:
        """The transformed ``code`` of the text with every placeholder back to its source lines."""
        seen: list[int] = []

        def restore(match: re.Match[str]) -> str:
            seen.append(int(match.group(1)))
            return self._holes[seen[-1]]

        out = _PLACEHOLDER.sub(restore, code)
        if seen != list(range(len(self._holes))):
            raise Lost
        return out


def wanted_lines(source: str, tree: ast.Module, triggers: list[re.Pattern[str]], imports: list | None = None,
                 possible=None, hits: list | None = None) -> list[int]:
    """0-based lines that may hold a site (see :func:`_wanted_lines`); no site is anywhere else.
    ``imports``: the file's import statements (:func:`~cuda2npu.symbols.import_nodes`), when the
    caller has them.
    ``possible(match)`` tells whether a match of ``triggers`` may be a site at all; ``hits`` gets
    the lines of those that may, and of the imports that bind a name a site may use."""
    return _wanted_lines(source, _LINE.findall(source), tree, triggers, imports, possible, hits)


def plan(source: str, tree: ast.Module, wanted: list[int]) -> Plan | None:
    """The placeholders for ``source`` (parsed by ``ast`` as ``tree``) given the lines that may
    hold a site (:func:`wanted_lines`); None when nothing can be left out."""
    if MARKER in source or source.count("\r") != source.count("\r\n"):
        return None
    lines = _LINE.findall(source)
    scan = _Scan(lines, wanted)
    holes: list[tuple[int, int]] = []
    scan.block(tree.body, holes, keep_first=True)  # new imports go after a module docstring
    first = tree.body[0] if tree.body else None
    docstring = _span(first) if isinstance(first, ast.Expr) and _is_string(first.value) else None
    return Plan(lines, sorted(holes), docstring) if holes else None


class _Scan:
    """Which statements may hold a site, and the runs of the others that can be left out."""

    def __init__(self, lines: list[str], wanted: list[int]):
        self.lines, self.wanted = lines, wanted

    def block(self, body: list[ast.stmt], holes: list[tuple[int, int]], keep_first: bool = False) -> bool:
        """Add the holes of a statement list to ``holes``; whether any of its statements is kept."""
        kept_any, run = False, None
        spans = [_span(stmt) for stmt in body]
        for i, stmt in enumerate(body):
            first, last = spans[i]
            alone = self._alone(stmt, first, last, spans[i + 1][0] if i + 1 < len(body) else None)
            inner: list[tuple[int, int]] = []
            keep = self._keeps(stmt, first, last, alone, inner)
            if keep or not alone or (keep_first and i == 0):
                if run is not None:
                    holes.append(run)
                    run = None
                holes.extend(inner)
                kept_any = kept_any or keep
            else:
                run = (run[0] if run is not None else first, last)
        if run is not None:
            holes.append(run)
        return kept_any

    def _keeps(self, stmt: ast.stmt, first: int, last: int, alone: bool, inner: list) -> bool:
        """Whether ``stmt`` may hold a site (holes inside it go to ``inner``)."""
        if not self._wanted_in(first, last):
            return False
        if alone and isinstance(stmt, ast.Expr) and _is_string(stmt.value):
            return False  # docstrings and other bare strings: never visited
        fields = BLOCK_FIELDS.get(type(stmt), ())
        blocks = [getattr(stmt, name) for name in fields if name in _BLOCKS and getattr(stmt, name)]
        clauses = [clause for name in fields if name in _CLAUSES for clause in getattr(stmt, name)]
        if not blocks and not clauses:
            return True
        kept = [self.block(block, inner) for block in blocks] + [self.block(c.body, inner) for c in clauses]
        return (any(kept) or self._wanted_in(first, _header_last(stmt, first))
                or any(self._wanted_in(start, _header_last(c, start)) for c in clauses for start in [_clause_first(c)]))

    def _wanted_in(self, first: int, last: int) -> bool:
        return bisect.bisect_left(self.wanted, first) < bisect.bisect_right(self.wanted, last)

    def _alone(self, stmt: ast.stmt, first: int, last: int, next_first: int | None) -> bool:
        """Whether ``stmt`` has its lines to itself, so that they can be cut out whole."""
        line = self.lines[first]
        if getattr(stmt, "decorator_list", None):
            start = stmt.decorator_list[0]
            alone = start.lineno - 1 == first and line[:start.col_offset].strip(_INDENT) == "@"
        else:
            elif_ = isinstance(stmt, ast.If) and line[stmt.col_offset:].startswith("elif")
            alone = not line[:stmt.col_offset].strip(_INDENT) and not elif_
        return (alone and (next_first is None or next_first > last)
                and not self.lines[last].rstrip().endswith("\\")
                and not (first and self.lines[first - 1].rstrip().endswith("\\")))


def _wanted_lines(source: str, lines: list[str], tree: ast.Module, triggers: list[re.Pattern[str]],
                  imports: list | None = None, possible=None, hits: list | None = None) -> list[int]:
    """0-based lines that may hold a site: a trigger word in a statement (not in a comment of its
    own line between statements), an absolute import (it binds the names rules resolve), or a
    name that an import with a trigger word binds (``from torch import cuda as C`` makes
    ``C.synchronize()`` a site)."""
    aliases: set[str] = set()
    wanted: set[int] = set()
    hits = [] if hits is None else hits
    for node in import_nodes(tree) if imports is None else imports:
        if not getattr(node, "level", 0):
            wanted.add(node.lineno - 1)
        text = "".join(lines[node.lineno - 1:node.end_lineno])
        if any(trigger.search(text) for trigger in triggers):
            aliases.update(a.asname or a.name.split(".")[0] for a in node.names if a.name != "*")
            hits.extend(range(node.lineno - 1, node.end_lineno or node.lineno))
    offsets = [m.start() for trigger in triggers for m in trigger.finditer(source) if possible is None or possible(m)]
    if aliases:
        offsets += [m.start() for m in re.finditer(r"\b(?:%s)\b" % "|".join(map(re.escape, sorted(aliases))), source)]
    spans = [_span(stmt) for stmt in tree.body]  # in order: a line outside them all is a comment or blank
    firsts = [first for first, _ in spans]
    line, at = 0, 0
    for offset in sorted(offsets):
        line += source.count("\n", at, offset)
        at = offset
        k = bisect.bisect_right(firsts, line) - 1
        if k >= 0 and line <= spans[k][1]:
            hits.append(line)
    wanted.update(hits)
    return sorted(wanted)


def _is_string(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)))


def _header_last(node: ast.AST, first: int) -> int:
    """0-based last line of the code in the header of a compound statement or clause starting on
    line ``first``."""
    last = max(first + 1, getattr(node, "lineno", 0))
    for name, value in ast.iter_fields(node):
        if name not in _BLOCKS + _CLAUSES:
            for part in value if isinstance(value, list) else [value]:
                if isinstance(part, ast.AST):
                    last = max(last, _end(part))
    return last - 1


def _end(node: ast.AST) -> int:
    """1-based last line of a node (of its parts, for nodes without a position like ``arguments``)."""
    end = getattr(node, "end_lineno", None)
    return end if end is not None else max(map(_end, ast.iter_child_nodes(node)), default=0)


def _clause_first(clause: ast.AST) -> int:
    """0-based first line of an ``except`` or ``case`` clause."""
    return (clause.pattern if isinstance(clause, ast.match_case) else clause).lineno - 1


def _span(stmt: ast.stmt) -> tuple[int, int]:
    """0-based first (decorators included) and last line of a statement."""
    first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])]) - 1
    return first, (stmt.end_lineno or stmt.lineno) - 1
