"""Kind ``call``: swap a call for another callable, adjusting its keywords."""

from __future__ import annotations

import libcst as cst

from . import Kind, fill
from .args import CallPlan, rewrite_args, unsupported
from ..rulebook import Rule
from ..symbols import dotted


class CallKind(Kind):
    def __init__(self, migrator):
        super().__init__(migrator)
        self._uncalled = any(r.get("uncalled") for r in migrator.index.calls.values())  # else nothing to look for

    def visit_Call(self, node: cst.Call, name: str, plan: CallPlan) -> None:
        rule = self.m.index.calls.get(name)
        if rule is not None:
            self._swap(node, rule, name, plan)

    def _swap(self, node: cst.Call, rule: Rule, name: str, plan: CallPlan) -> None:
        m, replace = self.m, rule.get("replace")
        safe, kept = unsupported(node, rule.get("unsupported", {}))
        limit = rule.get("max_positional")
        positional = sum(1 for a in node.args if a.keyword is None and not a.star)
        reason = ""
        if any(a.star == "**" for a in node.args):
            reason = "it passes **kwargs"
        elif kept:
            reason = f"{replace} does not accept {', '.join(f'{k}=' for k in kept)}"
        elif limit is not None and positional > limit:
            reason = f"{replace} orders its arguments differently after the first {limit}"
        if reason:
            message = rule.get("message") or "{name} left as is: {reason}; swap it for {replace} by hand"
            m.finding(node, rule, fill(message, name=name, replace=replace, reason=reason))
            return
        if not m.edit(node, rule, f"{name}(...) -> {replace}(...)"):
            return
        dropped = set(rule.get("drop", []))
        plan.drop = safe | {i for i, a in enumerate(node.args) if a.keyword is not None and a.keyword.value in dropped}
        keywords = {a.keyword.value for a in node.args if a.keyword is not None}
        starred = any(a.star == "*" for a in node.args)
        for default in rule.get("defaults", []):
            if not starred and default["name"] not in keywords and positional <= default["position"]:
                plan.inserts.append((default["name"], m.writer.write(default["value"])))
        m.skip.add(id(node.func))
        plan.func = m.write(replace).with_changes(lpar=node.func.lpar, rpar=node.func.rpar)

    def reference(self, value: cst.BaseExpression) -> None:
        """A callable of a rule with ``uncalled`` passed on as a value (assigned, put in a container,
        passed or returned): its calls cannot be seen, so it is reported."""
        m = self.m
        branches = ((value.body, value.orelse) if isinstance(value, cst.IfExp)  # `FusedAdam if apex else ...`
                    else (value.left, value.right) if isinstance(value, cst.BooleanOperation) else ())
        if branches:
            for branch in branches:
                self.reference(branch)
            return
        if not self._uncalled or not isinstance(value, (cst.Name, cst.Attribute)):
            return  # (aliases: `FusedAdam as Adam` is found through the imports, not by its last part)
        parts = dotted(value)
        qualified = m.bindings.qualify(parts) if parts else None
        if qualified is None:
            return
        name = ".".join(qualified[0])
        rule = m.index.calls.get(name)
        if rule is not None and rule.get("uncalled"):
            m.finding(value, rule, fill(rule.get("uncalled"), name=name, replace=rule.get("replace")))

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        """Apply the plan the call and argument kinds made for this call."""
        plan = self.m.calls.get(id(original))
        if plan is None:
            return updated
        return updated.with_changes(func=plan.func or updated.func, args=rewrite_args(list(updated.args), plan))
