"""Kinds ``rename`` and ``report`` in code: dotted names resolved through the file's imports."""

from __future__ import annotations

import libcst as cst

from . import Kind, fill
from ..symbols import build_dotted


class SymbolKind(Kind):
    def __init__(self, migrator):
        super().__init__(migrator)
        self._chains: dict[int, cst.BaseExpression] = {}

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
            if target[:bound] == full[:bound]:
                replacement = build_dotted(".".join([parts[0]] + target[bound:]))
            else:
                replacement = m.write(".".join(target))
            self._chains[id(node)] = replacement.with_changes(lpar=node.lpar, rpar=node.rpar)
        return True

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        return self._chains.get(id(original), updated)
