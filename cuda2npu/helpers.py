"""Expressions that rules write from templates, and the file-level helpers they use.

A template is Python expression text such as ``torch.device({accelerator}.type, {0})``: its dotted
names are spelled as the file imports them (``th.device`` after ``import torch as th``; a module
not imported yet is noted for import), ``{0}``... stand for the call's own arguments and
``{receiver}`` for the object a method is called on, and ``{NAME}`` for a helper of the rule
file (``helpers: {accelerator: torch.accelerator.current_accelerator()}``). A helper a file uses
once is written in place; used more than once, or when its expression is not a single name, call
or attribute (``a or b``), it becomes one binding after the file's imports (``accelerator =
torch.accelerator.current_accelerator() or torch.device("cuda")``), under a name the file does not use.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import libcst as cst

from .kinds.args import code_of

if TYPE_CHECKING:  # pragma: no cover
    from .symbols import Bindings

_DOTTED = re.compile(r"(?<![\w.)\]}])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_FIELD = re.compile(r"\{(\w+)\}")
_ATOMS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.BaseString, cst.Integer, cst.Float)


def spell(template: str, bindings: Bindings, needed: list[str]) -> str:
    """``template`` with its dotted names as the file spells them (modules to import added to ``needed``)."""
    def one(match: re.Match[str]) -> str:
        text, missing = bindings.spell(match.group(0))
        if missing and missing not in needed:
            needed.append(missing)
        return text
    return _DOTTED.sub(one, template)


def shown(template: str) -> str:
    """A template as messages show it: ``{accelerator}.type`` -> ``accelerator.type``."""
    return _FIELD.sub(r"\1", template)


def free_name(source: str, wanted: str) -> str:
    """``wanted``, or a variant of it, that ``source`` never uses as a name (in strings and
    comments it may: "no accelerator")."""
    used = _names(source) if wanted in source else set()
    for name in (wanted, f"_{wanted}", f"{wanted}_", f"_{wanted}_"):
        if name not in used:
            return name
    n = 2
    while f"{wanted}{n}" in used:
        n += 1
    return f"{wanted}{n}"


def _names(source: str) -> set[str]:
    import io
    import tokenize

    try:
        return {t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.NAME}
    except (tokenize.TokenError, SyntaxError, ValueError):  # pragma: no cover - the source parsed
        return set(re.findall(r"\w+", source))


class Writer:
    """Writes the templates of one file's rules; counts the helpers they use."""

    def __init__(self, helpers: dict[str, str], bindings: Bindings, source: str, needed: list[str]):
        self.helpers = helpers
        self.bindings = bindings
        self.needed = needed
        self.names = {h: free_name(source, h) for h in helpers}
        self.uses: dict[str, int] = {}

    def write(self, template: str, values: dict[str, cst.BaseExpression] | None = None) -> cst.BaseExpression:
        text = spell(template, self.bindings, self.needed)
        values = values or {}

        def fill(match: re.Match[str]) -> str:
            key = match.group(1)
            if key in self.helpers:
                self.uses[key] = self.uses.get(key, 0) + 1
                spell(self.helpers[key], self.bindings, self.needed)  # the modules its expression names
                return self.names[key]
            node = values[key]
            code = code_of(node)
            return code if isinstance(node, _ATOMS) else f"({code})"
        return cst.parse_expression(_FIELD.sub(fill, text))

    def finish(self, module: cst.Module) -> cst.Module:
        """Each helper used: in place when once and atomic, else bound after the imports that its
        expression needs."""
        for key, count in self.uses.items():
            name, value = self.names[key], spell(self.helpers[key], self.bindings, self.needed)
            expression = cst.parse_expression(value)
            bind = count > 1 or not isinstance(expression, _ATOMS)
            at = _after_imports(module, value.split(".", 1)[0]) if bind else None
            if at is None or _used_before(module, name, at):
                module = module.visit(_Inline(name, expression))
            else:
                line = cst.parse_statement(f"{name} = {value}\n")
                if at < len(module.body):  # set off by the blank lines that set off the code after it
                    blank = []
                    for empty in getattr(module.body[at], "leading_lines", ()):
                        if empty.comment is not None:
                            break
                        blank.append(empty)
                    line = line.with_changes(leading_lines=blank)
                module = module.with_changes(body=[*module.body[:at], line, *module.body[at:]])
        return module


def _binds(stmt: cst.CSTNode, root: str) -> bool:
    if isinstance(stmt, cst.SimpleStatementLine):
        for small in stmt.body:
            if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
                for alias in small.names:
                    bound = alias.asname.name if alias.asname else alias.name
                    head = bound
                    while isinstance(head, cst.Attribute):
                        head = head.value
                    if isinstance(head, cst.Name) and head.value == root:
                        return True
        return False
    if isinstance(stmt, cst.Try):
        return any(_binds(s, root) for s in stmt.body.body)
    return False


def _after_imports(module: cst.Module, root: str) -> int | None:
    """The index after the last top-level statement importing ``root`` and after the leading imports;
    None when no top-level statement imports it."""
    found = None
    for i, stmt in enumerate(module.body):
        if _binds(stmt, root):
            found = i + 1
    if found is None:
        return None
    lead = 0
    for i, stmt in enumerate(module.body):
        if isinstance(stmt, cst.SimpleStatementLine) and all(
                isinstance(s, (cst.Import, cst.ImportFrom)) or (isinstance(s, cst.Expr) and isinstance(s.value, cst.BaseString))
                for s in stmt.body):
            lead = i + 1
        elif not isinstance(stmt, cst.Try):
            break
    return max(found, lead)


class _Uses(cst.CSTVisitor):
    """Whether a tree reads the name (not as an attribute: ``torch.accelerator`` is no use)."""

    def __init__(self, name: str):
        self.name, self.found, self.attrs = name, False, set()

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.attrs.add(id(node.attr))

    def visit_Name(self, node: cst.Name) -> None:
        self.found = self.found or (node.value == self.name and id(node) not in self.attrs)


def _used_before(module: cst.Module, name: str, at: int) -> bool:
    uses = _Uses(name)
    for stmt in module.body[:at]:
        stmt.visit(uses)
    return uses.found


class _Inline(cst.CSTTransformer):
    """Writes a helper's expression for its name: in parentheses unless atomic or a whole argument."""

    def __init__(self, name: str, value: cst.BaseExpression):
        super().__init__()
        self.name, self.value, self.attrs, self.args = name, value, set(), set()
        self.wrapped = value if isinstance(value, _ATOMS) else value.with_changes(
            lpar=[cst.LeftParen()], rpar=[cst.RightParen()])

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.attrs.add(id(node.attr))

    def visit_Arg(self, node: cst.Arg) -> None:
        self.args.add(id(node.value))

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        if original.value != self.name or id(original) in self.attrs:
            return updated
        return self.value if id(original) in self.args else self.wrapped

