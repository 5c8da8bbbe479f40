"""Source positions of chosen nodes: one code generation pass that counts characters, instead of
LibCST's position metadata (which builds a position object for every node of the module, several
times the cost of generating its code). The positions are those of ``PositionProvider``: a
node's syntactic span where its code records one, else the span of all its code.

The pass subclasses LibCST's code generation state, which LibCST does not export (its position
providers subclass it the same way); where it is missing, the positions come from the provider."""

from __future__ import annotations

import bisect
import re

import libcst as cst

try:
    from libcst._nodes.internal import CodegenState
except ImportError:  # pragma: no cover - a LibCST that moved it: the provider answers
    CodegenState = None

_NEWLINE = re.compile(r"\r\n?|\n")  # as LibCST counts lines


class _Counting(CodegenState or object):
    """Code generation that keeps the character offset and, for every node, its syntactic span
    where its code records one, else the span of all its code (which a parent's syntactic span
    may take its start or end from)."""

    def __init__(self, module: cst.Module):
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.offset = 0
        self.spans: dict[int, tuple[int, int]] = {}  # by the node's id
        self._starts: list[int] = []
        self.popped = ""  # the trailing newline of a file without one

    def add_indent_tokens(self) -> None:
        self.tokens.extend(self.indent_tokens)
        self.offset += sum(map(len, self.indent_tokens))

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        self.offset += len(value)

    def pop_trailing_newline(self) -> None:  # offsets already count it, as the provider's lines do
        self.popped = self.tokens[-1] if self.tokens else ""
        super().pop_trailing_newline()

    def before_codegen(self, node: cst.CSTNode) -> None:
        self._starts.append(self.offset)

    def after_codegen(self, node: cst.CSTNode) -> None:
        self.spans.setdefault(id(node), (self._starts.pop(), self.offset))

    def record_syntactic_position(self, node: cst.CSTNode, *, start_node: cst.CSTNode | None = None,
                                  end_node: cst.CSTNode | None = None) -> "_Record":
        return _Record(self, node, start_node, end_node)


class _Record:
    """The context in which a node's code is generated: its syntactic span is what was written
    inside (or starts or ends with a child's)."""

    __slots__ = ("state", "node", "start_node", "end_node", "start")

    def __init__(self, state: _Counting, node, start_node, end_node):
        self.state, self.node, self.start_node, self.end_node = state, node, start_node, end_node

    def __enter__(self) -> None:
        self.start = self.state.offset

    def __exit__(self, kind, *exc) -> None:
        if kind is not None:  # the error goes on as it is
            return
        spans = self.state.spans
        spans[id(self.node)] = (spans[id(self.start_node)][0] if self.start_node is not None else self.start,
                                spans[id(self.end_node)][1] if self.end_node is not None else self.state.offset)


def spans(module: cst.Module, nodes: list[cst.CSTNode]) -> dict[int, tuple[int, int, int, int]]:
    """(line, column, end line, end column) of each node of ``module`` by the node's id: lines
    1-based and columns 0-based, as LibCST's ``PositionProvider`` gives them."""
    if CodegenState is None:  # pragma: no cover
        return _from_provider(module, nodes)
    state = _Counting(module)
    module._codegen(state)
    code = "".join(state.tokens) + state.popped
    ends = [m.end() for m in _NEWLINE.finditer(code)]  # where each line after the first starts

    def where(offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(ends, offset)
        return line + 1, offset - (ends[line - 1] if line else 0)

    out = {}
    for node in nodes:
        start, end = state.spans[id(node)]
        out[id(node)] = (*where(start), *where(end))
    return out


def _from_provider(module: cst.Module, nodes: list[cst.CSTNode]) -> dict[int, tuple[int, int, int, int]]:
    from libcst.metadata import MetadataWrapper, PositionProvider

    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    return {id(node): (p.start.line, p.start.column, p.end.line, p.end.column)
            for node in nodes for p in [positions[node]]}
