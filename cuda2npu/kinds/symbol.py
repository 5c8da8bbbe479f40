"""Kinds ``rename`` and ``report`` in code: dotted names resolved through the file's imports.

An ``idempotent`` rename's call that comes out the same as the statement next to it
(``torch.manual_seed(s)`` then ``torch.cuda.manual_seed_all(s)``) is dropped."""

from __future__ import annotations

from typing import Sequence

import libcst as cst

from . import Kind, fill
from .args import code_of
from ..symbols import build_dotted

_PURE = (cst.Name, cst.Attribute, cst.Integer, cst.Float, cst.SimpleString)  # the same value when read twice


class SymbolKind(Kind):
    def __init__(self, migrator):
        super().__init__(migrator)
        self._chains: dict[int, cst.BaseExpression] = {}
        self._idempotent: set[int] = set()  # the chains an idempotent rename rewrote

    def visit_Attribute(self, node: cst.Attribute, parts: list[str]) -> bool:
        """Rename or report the chain ``parts``; whether a rule took it."""
        m = self.m
        qualified = m.bindings.qualify(parts)
        if qualified is None:
            return False
        full, bound = qualified
        hit = m.index.symbols.longest(full, exact=True)
        if hit is None or hit.size <= bound:
            return False  # no rule, or the import that binds the base carries the rewrite
        rule, new = hit.value
        name = ".".join(full)
        if new is None:
            m.finding(node, rule, fill(rule.get("message"), name=name))
            return True
        if rule.get("code") is not None:  # an expression: torch.get_device_module().X
            text = ".".join([new, *full[hit.size:]])
            if m.edit(node, rule, f"{name} -> {text}"):
                self._chains[id(node)] = m.writer.write(text).with_changes(lpar=node.lpar, rpar=node.rpar)
            return True
        target = new.split(".") + full[hit.size:]
        if m.edit(node, rule, f"{name} -> {'.'.join(target)}"):
            if rule.get("idempotent"):
                self._idempotent.add(id(node))
            if target[:bound] == full[:bound]:
                replacement = build_dotted(".".join([parts[0]] + target[bound:]))
            else:
                replacement = m.write(".".join(target))
            self._chains[id(node)] = replacement.with_changes(lpar=node.lpar, rpar=node.rpar)
        return True

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        return self._chains.get(id(original), updated)

    def leave_block(self, original: Sequence[cst.BaseStatement], updated: Sequence[cst.BaseStatement]) -> list | None:
        """The statements of a block without the calls of an idempotent rename that repeat the
        statement before or after them (None: no change). Only a call of its own line, without a
        comment and with arguments that are names or literals, goes."""
        if not self._idempotent or len(original) != len(updated):
            return None
        calls = [self._idempotent_call(old) for old in original]  # which statements may go
        kept: list[cst.BaseStatement] = []
        for i, new in enumerate(updated):
            if calls[i] and not _commented(new) and (
                    (kept and _same(kept[-1], new)) or (i + 1 < len(updated) and not calls[i + 1]
                                                        and _same(updated[i + 1], new))):
                continue
            kept.append(new)
        return kept if len(kept) < len(updated) else None

    def _idempotent_call(self, statement: cst.BaseStatement) -> bool:
        """Whether a statement is one call of an idempotent rename, with pure arguments."""
        if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
                and isinstance(statement.body[0], cst.Expr) and isinstance(statement.body[0].value, cst.Call)):
            return False
        call = statement.body[0].value
        return id(call.func) in self._idempotent and all(isinstance(a.value, _PURE) and not a.star for a in call.args)


def _commented(statement: cst.BaseStatement) -> bool:
    return (any(line.comment is not None for line in statement.leading_lines)
            or statement.trailing_whitespace.comment is not None)


def _same(a: cst.BaseStatement, b: cst.BaseStatement) -> bool:
    """Two lines of one call each that read the same."""
    return (isinstance(a, cst.SimpleStatementLine) and isinstance(b, cst.SimpleStatementLine)
            and len(a.body) == len(b.body) == 1 and isinstance(a.body[0], cst.Expr) and isinstance(b.body[0], cst.Expr)
            and code_of(a.body[0].value) == code_of(b.body[0].value))
