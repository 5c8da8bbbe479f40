"""Kind ``attribute``: a method or attribute on any object (``x.cuda()``, ``t.is_cuda``)."""

from __future__ import annotations

import libcst as cst

from . import Kind, fill
from .args import CallPlan, accepted, passes, unsupported
from ..helpers import shown
from ..origins import UNKNOWN, callee, comes_from
from ..rulebook import Rule
from ..symbols import dotted


class AttributeKind(Kind):
    def __init__(self, migrator):
        super().__init__(migrator)
        self._renames: dict[int, str] = {}

    def visit_Attribute(self, node: cst.Attribute) -> None:
        """An attribute read (not assigned to); rules with ``call: true`` wait for the call."""
        for rule in self.m.index.attributes.get(node.attr.value, ()):
            if not rule.get("call") and self._receiver_ok(node, rule):
                return self._act(node, rule, called=False)

    def visit_Call(self, node: cst.Call, plan: CallPlan) -> None:
        if not isinstance(node.func, cst.Attribute):
            return
        for rule in self.m.index.attributes.get(node.func.attr.value, ()):
            if rule.get("positional") is not None and rule.get("call") and self._receiver_ok(node.func, rule):
                return self._reargue(node, rule, plan)
            if (rule.get("call") and self._receiver_ok(node.func, rule)
                    and passes(node, rule.get("keywords", {})) and accepted(node, rule)):
                if "unsupported" not in rule.spec:
                    return self._act(node.func, rule, called=True)
                kept = unsupported(node, rule.get("unsupported"))[1]
                if kept:  # passed with a value that needs what the target lacks
                    for keyword in kept:
                        self.m.finding(node.func.attr, rule, fill(rule.get("message"), name=f".{node.func.attr.value}()",
                                                                  keyword=keyword))
                    return

    def _reargue(self, node: cst.Call, rule: Rule, plan: CallPlan) -> None:
        """A renamed method whose positional arguments become the template for their number
        (``.cuda(i)`` -> ``.to(torch.device(accelerator.type, i))``); any other call is reported."""
        positional = [a for a in node.args if a.keyword is None and not a.star]
        template = rule.get("positional").get(str(len(positional)))
        accepts = rule.get("accepts")
        if (template is None or any(a.star for a in node.args)
                or (accepts is not None and any(a.keyword is not None and a.keyword.value not in accepts
                                                for a in node.args))):
            self.m.finding(node.func.attr, rule, fill(rule.get("message"), name=f".{node.func.attr.value}()"))
            return
        old, new = node.func.attr.value, rule.get("replace")
        if self.m.edit(node.func.attr, rule, f".{old}() -> .{new}({shown(template)})"):
            self._renames[id(node.func)] = new
            plan.positional = [self.m.writer.write(template, {str(i): a.value for i, a in enumerate(positional)})]

    def _receiver_ok(self, node: cst.Attribute, rule: Rule) -> bool:
        """Not an attribute of an imported name (a module: ``torch.cuda``; unless ``imported``), nor
        of a receiver the rule excludes (``self``); with ``results_of``, a receiver that is the result of
        one of those calls."""
        receiver = dotted(node.value)
        own = receiver is not None and len(receiver) == 1 and receiver[0] in rule.get("not_on", ())
        if own or (self.m.is_module(node.value) and not rule.get("imported")):
            return False
        results = rule.get("results_of")
        return results is None or comes_from(self._origin(node.value, receiver), results)

    def _origin(self, value: cst.BaseExpression, receiver: list[str] | None) -> frozenset[str] | None:
        if isinstance(value, cst.Call):  # get_device_properties(0).major
            func = dotted(value.func)
            return frozenset([callee(".".join(func), self.m.bindings) if func else UNKNOWN])
        return self.m.origins.get(".".join(receiver)) if receiver else None

    def _act(self, node: cst.Attribute, rule: Rule, *, called: bool) -> None:
        old, new, parens = node.attr.value, rule.get("replace"), "()" if called else ""
        if new is None:
            self.m.finding(node.attr, rule, fill(rule.get("message"), name=f".{old}{parens}"))
        elif self.m.edit(node.attr, rule, f".{old}{parens} -> .{new}{parens}"):
            self._renames[id(node)] = new

    def leave_Attribute(self, original: cst.Attribute, updated: cst.BaseExpression) -> cst.BaseExpression:
        new = self._renames.get(id(original))
        return updated.with_changes(attr=cst.Name(new)) if new is not None else updated
