"""Kind ``attribute``: a method or attribute on any object (``x.cuda()``, ``t.is_cuda``)."""

from __future__ import annotations

import libcst as cst

from . import Kind, fill
from .args import accepted, passes
from ..rulebook import Rule
from ..symbols import dotted


class AttributeKind(Kind):
    def __init__(self, migrator):
        super().__init__(migrator)
        self._renames: dict[int, str] = {}

    def visit_Attribute(self, node: cst.Attribute) -> None:
        """An attribute read (not assigned to); rules with ``call: true`` wait for the call."""
        rule = self.m.index.attributes.get(node.attr.value)
        if rule is not None and not rule.get("call") and self._receiver_ok(node, rule):
            self._act(node, rule, called=False)

    def visit_Call(self, node: cst.Call) -> None:
        if not isinstance(node.func, cst.Attribute):
            return
        rule = self.m.index.attributes.get(node.func.attr.value)
        if (rule is not None and rule.get("call") and self._receiver_ok(node.func, rule)
                and passes(node, rule.get("keywords", {})) and accepted(node, rule)):
            self._act(node.func, rule, called=True)

    def _receiver_ok(self, node: cst.Attribute, rule: Rule) -> bool:
        """Not an attribute of an imported module, nor of a receiver the rule excludes (``self``)."""
        receiver = dotted(node.value)
        own = receiver is not None and len(receiver) == 1 and receiver[0] in rule.get("not_on", ())
        return not own and not self.m.is_module(node.value)

    def _act(self, node: cst.Attribute, rule: Rule, *, called: bool) -> None:
        old, new, parens = node.attr.value, rule.get("replace"), "()" if called else ""
        if new is None:
            self.m.finding(node.attr, rule, fill(rule.get("message"), name=f".{old}{parens}"))
        elif self.m.edit(node.attr, rule, f".{old}{parens} -> .{new}{parens}"):
            self._renames[id(node)] = new

    def leave_Attribute(self, original: cst.Attribute, updated: cst.BaseExpression) -> cst.BaseExpression:
        new = self._renames.get(id(original))
        return updated.with_changes(attr=cst.Name(new)) if new is not None else updated
