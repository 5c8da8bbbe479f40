"""What one file's ``ast`` says, for the analyses: resolved names, positions, and the nodes they need.

Built once per file from Python's own parse of the whole source (the analyses must see every
statement, also those the splicer leaves out of LibCST's text). Positions are 1-based lines and
1-based character columns, as LibCST reports them (``ast`` counts columns in UTF-8 bytes).
"""

from __future__ import annotations

import ast
import bisect
import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Iterator

from ..symbols import BLOCK_FIELDS, Bindings

if TYPE_CHECKING:  # pragma: no cover
    from ..ruleindex import RuleIndex

_BLOCKS = ("body", "orelse", "finalbody")


def dotted(node: ast.AST) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None unless a pure chain of names."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def text_of(node: ast.AST) -> str:
    """Short source-like text of an expression, for messages."""
    try:
        text = ast.unparse(node)
    except (ValueError, RecursionError):  # pragma: no cover
        return "..."
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Span:
    """Where a node stands: start and end as (line, column), both 1-based, end exclusive."""

    start: tuple[int, int]
    end: tuple[int, int]

    def holds(self, line: int, col: int) -> bool:
        return self.start <= (line, col) < self.end


@dataclass
class FileFacts:
    """One file's tree with its import bindings and the statements and calls the analyses read."""

    source: str
    tree: ast.Module
    index: RuleIndex
    project: object | None = None  # a project.ModuleResolver for the file, when the tree is known
    wanted: list[int] | None = None  # 1-based lines that may hold a site, when known

    @cached_property
    def site_lines(self) -> list[int]:
        """The lines that may hold a rule's site: no edit is anywhere else."""
        return self.wanted if self.wanted is not None else self.lines_with(self.index.site_trigger)

    def __post_init__(self) -> None:
        self._lines: list[str] | None = None

    @cached_property
    def bindings(self) -> Bindings:
        return Bindings.of_ast(self.tree)

    def lines_with(self, pattern) -> list[int]:
        """The 1-based lines on which ``pattern`` matches, in order."""
        return self.lines_at(m.start() for m in pattern.finditer(self.source))

    def lines_at(self, offsets) -> list[int]:
        """The 1-based lines of these offsets in the source, in order."""
        starts = self._starts
        return sorted({bisect.bisect_right(starts, at) for at in offsets})

    @cached_property
    def _starts(self) -> list[int]:
        return [0] + [m.end() for m in re.finditer("\n", self.source)]

    @staticmethod
    def touches(lines: list[int], first: int, last: int) -> bool:
        """Whether one of the sorted ``lines`` lies in ``first..last``."""
        return bisect.bisect_left(lines, first) < bisect.bisect_right(lines, last)

    def resolve(self, node: ast.AST) -> str | None:
        """The full dotted name an expression stands for through the file's imports."""
        parts = dotted(node)
        if parts is None:
            return None
        qualified = self.bindings.qualify(parts)
        return ".".join(qualified[0]) if qualified is not None else None

    def column(self, line: int, offset: int) -> int:
        """The 1-based character column of a byte ``offset`` on ``line``."""
        if self.source.isascii():
            return offset + 1
        if self._lines is None:
            self._lines = self.source.splitlines(keepends=True)
        text = self._lines[line - 1] if 0 < line <= len(self._lines) else ""
        return len(text.encode("utf-8")[:offset].decode("utf-8", "replace")) + 1

    def span(self, node: ast.AST) -> Span:
        end_line = getattr(node, "end_lineno", None) or node.lineno
        end_col = getattr(node, "end_col_offset", None)
        return Span((node.lineno, self.column(node.lineno, node.col_offset)),
                    (end_line, self.column(end_line, end_col) if end_col is not None else 1 << 30))

    def where(self, node: ast.AST) -> tuple[int, int]:
        return node.lineno, self.column(node.lineno, node.col_offset)

    @cached_property
    def nodes(self) -> list[ast.AST]:
        """Every node of the tree, in one walk shared by the analyses."""
        return list(ast.walk(self.tree))

    @cached_property
    def imports(self) -> list[ast.Import | ast.ImportFrom]:
        """Every import statement, at any depth of statements (found without walking expressions)."""
        return [s for s, _, _ in self.statements() if isinstance(s, (ast.Import, ast.ImportFrom))]

    @cached_property
    def cuda_only(self):
        """The file's CUDA-only names (:class:`cuda2npu.context.guards.CudaOnly`), worked out once."""
        from .guards import CudaOnly

        return CudaOnly(self)

    @cached_property
    def optimizers(self):
        """The file's optimizers and what it does with them (:mod:`cuda2npu.context.optimizers`),
        worked out once for every check that asks."""
        from .optimizers import Optimizers

        return Optimizers(self, self.index.context.get("optimizer-swap"))

    @cached_property
    def calls(self) -> list[ast.Call]:
        return [n for n in self.nodes if isinstance(n, ast.Call)]

    @cached_property
    def defs(self) -> dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]]:
        """Functions and methods by name."""
        out: dict[str, list] = {}
        for node, _, _ in self.statements():
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.setdefault(node.name, []).append(node)
        return out

    @cached_property
    def entry_point(self) -> bool:
        """Whether the file runs as a script (``if __name__ == "__main__":`` at module level)."""
        return any(isinstance(s, ast.If) and "__main__" in ast.dump(s.test) for s in self.tree.body)

    def expressions_at(self, lines: list[int]) -> Iterator[ast.AST]:
        """Every expression node of the statements (headers of compound ones) that stand on one of
        the sorted ``lines``: a walk of just the code that can matter."""
        if not lines:
            return
        for stmt, _, _ in self.statements():
            body = getattr(stmt, "body", None)
            last = (body[0].lineno - 1 if body and isinstance(body, list) and isinstance(body[0], ast.stmt)
                    else stmt.end_lineno or stmt.lineno)
            if not self.touches(lines, stmt.lineno, max(last, stmt.lineno)):
                continue
            for name, value in ast.iter_fields(stmt):
                if name in _BLOCKS or name in ("handlers", "cases"):
                    continue
                for part in value if isinstance(value, list) else [value]:
                    if isinstance(part, ast.AST):
                        yield from ast.walk(part)

    def statements(self) -> list[tuple[ast.stmt, list[ast.stmt], ast.AST | None]]:
        """Every statement with the block holding it and its enclosing function (None: module level)."""
        return self._statements

    @cached_property
    def _statements(self) -> list[tuple[ast.stmt, list[ast.stmt], ast.AST | None]]:
        return list(self._walk_statements())

    def _walk_statements(self) -> Iterator[tuple[ast.stmt, list[ast.stmt], ast.AST | None]]:
        stack: list[tuple[list[ast.stmt], ast.AST | None]] = [(self.tree.body, None)]
        while stack:
            block, function = stack.pop()
            for stmt in block:
                yield stmt, block, function
                fields = BLOCK_FIELDS.get(type(stmt))
                if not fields:
                    continue
                inner = stmt if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
                for name in fields:
                    body = getattr(stmt, name)
                    if name in ("handlers", "cases"):
                        stack.extend((clause.body, inner) for clause in body)
                    elif body:
                        stack.append((body, inner))
