"""Qualified names without LibCST metadata: import bindings and a longest-prefix rule index."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Generic, Iterable, Iterator, TypeVar

import libcst as cst

T = TypeVar("T")
_AST_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")
# The statement lists (and except/case clauses) each kind of ``ast`` statement holds, in that order.
BLOCK_FIELDS: dict[type, tuple[str, ...]] = {
    kind: fields for kind in (*ast.stmt.__subclasses__(), ast.ExceptHandler, ast.match_case)
    if (fields := tuple(f for f in _AST_BLOCKS if f in kind._fields))}

# Statement containers walked to find imports; expressions are never entered.
_BLOCKS = (cst.BaseSuite, cst.BaseStatement, cst.Else, cst.ExceptHandler, cst.ExceptStarHandler,
           cst.Finally, cst.MatchCase)


def dotted(node: cst.BaseExpression) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None unless a pure chain of names."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return parts[::-1]


def chain_ending(source: str, start: int, end: int) -> list[str] | None:
    """The chain of names the name at ``source[start:end]`` ends (``torch.cuda`` for ``cuda`` in
    ``torch.cuda.is_available()``): ``[]`` when what comes before the dot is not a name (``f().x``,
    ``x[0].y``, ``"s".z``), None when the text alone cannot tell (a line break in the chain)."""
    parts = [source[start:end]]
    while True:
        i = start - 1
        while i >= 0 and source[i] in " \t":
            i -= 1
        if i >= 0 and source[i] in "\n\r\\":  # the chain may go on from the line before: ``x.\\n y``
            while i >= 0 and source[i] in " \t\r\n\\":
                i -= 1
            return None if i >= 0 and source[i] == "." else parts
        if i < 0 or source[i] != ".":
            return parts
        i -= 1
        while i >= 0 and source[i] in " \t":
            i -= 1
        start = i + 1
        while start > 0 and (source[start - 1].isalnum() or source[start - 1] == "_"):
            start -= 1
        if start > i:  # no name before the dot
            return [] if i >= 0 and source[i] in ")]}'\"" else None
        if source[start].isdigit():
            return None
        parts.insert(0, source[start:i + 1])


def build_dotted(name: str) -> cst.BaseExpression:
    """The expression ``a.b.c`` for the text ``"a.b.c"``."""
    head, *rest = name.split(".")
    node: cst.BaseExpression = cst.Name(head)
    for part in rest:
        node = cst.Attribute(value=node, attr=cst.Name(part))
    return node


def iter_statements(body: Iterable[cst.CSTNode]) -> Iterator[cst.SimpleStatementLine]:
    """Every simple-statement line in ``body``, at any depth of compound statements."""
    for node in body:
        if isinstance(node, cst.SimpleStatementLine):
            yield node
        elif isinstance(node, _BLOCKS):
            yield from iter_statements(c for c in node.children if isinstance(c, _BLOCKS))


def import_roots(stmt: cst.BaseSmallStatement) -> list[str]:
    """The full dotted module names an import statement imports (from-imports: the module)."""
    if isinstance(stmt, cst.Import):
        return [cst.helpers.get_full_name_for_node(a.name) or "" for a in stmt.names]
    if isinstance(stmt, cst.ImportFrom) and not stmt.relative and stmt.module is not None:
        return [cst.helpers.get_full_name_for_node(stmt.module) or ""]
    return []


def import_nodes(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of a module, at any depth of its statements (not in expressions,
    where none can stand), in no particular order."""
    out: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is ast.Import or kind is ast.ImportFrom:
            out.append(node)
        else:
            for name in BLOCK_FIELDS.get(kind, ()):
                stack.extend(getattr(node, name))
    return out


class Bindings:
    """Names bound by imports anywhere in a module, flow- and scope-insensitive.

    A name imported to two different things is ambiguous and resolves to nothing. Built from a
    LibCST module (:meth:`of_module`) or from Python's ``ast`` (:meth:`of_ast`), with the same result.
    """

    def __init__(self) -> None:
        self._names: dict[str, str | None] = {}
        self.imported: set[str] = set()

    @classmethod
    def of_module(cls, module: cst.Module) -> "Bindings":
        bindings = cls()
        for line in iter_statements(module.body):
            for stmt in line.body:
                if isinstance(stmt, cst.Import):
                    for alias in stmt.names:
                        asname = alias.asname.name if alias.asname is not None else None
                        if asname is None or isinstance(asname, cst.Name):
                            bindings.add_import(cst.helpers.get_full_name_for_node(alias.name) or "",
                                                asname.value if asname is not None else None)
                elif isinstance(stmt, cst.ImportFrom) and not stmt.relative and stmt.module is not None:
                    module_name = cst.helpers.get_full_name_for_node(stmt.module) or ""
                    bindings.imported.add(module_name)
                    if not isinstance(stmt.names, cst.ImportStar):
                        for alias in stmt.names:
                            local = alias.asname.name if alias.asname is not None else alias.name
                            if isinstance(local, cst.Name):
                                bindings._bind(local.value, f"{module_name}.{alias.name.value}")
        return bindings

    @classmethod
    def of_ast(cls, tree: ast.Module, imports: list[ast.Import | ast.ImportFrom] | None = None) -> "Bindings":
        """The bindings of a module's import statements (``imports``: those :func:`import_nodes`
        found, when the caller has them)."""
        bindings = cls()
        for node in import_nodes(tree) if imports is None else imports:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    bindings.add_import(alias.name, alias.asname)
            elif not node.level and node.module:
                bindings.imported.add(node.module)
                for alias in node.names:
                    if alias.name != "*":
                        bindings._bind(alias.asname or alias.name, f"{node.module}.{alias.name}")
        return bindings

    def add_import(self, full: str, asname: str | None) -> None:
        """``import full`` (``as asname``)."""
        self.imported.add(full)
        if asname is not None:
            self._bind(asname, full)
        else:
            root = full.split(".")[0]
            self._bind(root, root)

    def _bind(self, local: str, full: str) -> None:
        known = self._names.get(local, full)
        self._names[local] = full if known == full else None

    def qualify(self, parts: list[str]) -> tuple[list[str], int] | None:
        """Full dotted parts of a chain, and how many of them the bound base name stands for."""
        bound = self._names.get(parts[0])
        if bound is None:
            return None
        base = bound.split(".")
        return base + parts[1:], len(base)

    def items(self) -> Iterator[tuple[str, str]]:
        """Each unambiguous local name and the full dotted name it is bound to."""
        return ((local, full) for local, full in self._names.items() if full is not None)

    def spell(self, full: str) -> tuple[str, str | None]:
        """How to write ``full`` here, and the module to import for it (None if bound already)."""
        parts = full.split(".")
        for size in range(len(parts), 0, -1):
            prefix = ".".join(parts[:size])
            for local, bound in self._names.items():
                if bound == prefix:
                    return ".".join([local] + parts[size:]), None
        return full, parts[0]

    def imports_module(self, module: str) -> bool:
        return any(m == module or m.startswith(module + ".") for m in self.imported)


@dataclass(frozen=True)
class Hit(Generic[T]):
    """A rule entry found for a dotted name: its key length and payload."""

    key: str
    size: int
    value: T


class PrefixIndex(Generic[T]):
    """Dotted keys looked up by the longest key that is a prefix of a name."""

    def __init__(self) -> None:
        self._entries: dict[str, T] = {}
        self._exact: dict[str, T] = {}  # keys that match only the name itself, not what is below it
        self._parents: set[str] = set()

    def add(self, key: str, value: T, *, exact: bool = False) -> None:
        (self._exact if exact else self._entries).setdefault(key, value)
        parts = key.split(".")
        self._parents.update(".".join(parts[:i]) for i in range(1, len(parts)))

    def __bool__(self) -> bool:
        return bool(self._entries or self._exact)

    def longest(self, parts: list[str], *, exact: bool = False) -> Hit[T] | None:
        """The entry of the longest key that is a prefix of ``parts`` (with ``exact``, an entry
        for exactly ``parts`` first)."""
        if exact and self._exact:
            key = ".".join(parts)
            if key in self._exact:
                return Hit(key, len(parts), self._exact[key])
        for size in range(len(parts), 0, -1):
            key = ".".join(parts[:size])
            if key in self._entries:
                return Hit(key, size, self._entries[key])
        return None

    def exact(self, name: str) -> T | None:
        return self._entries.get(name)

    def has_children(self, key: str) -> bool:
        return key in self._parents
