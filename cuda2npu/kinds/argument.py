"""Kind ``argument``: rename keyword arguments of a call, or drop or report those the twin lacks."""

from __future__ import annotations

import libcst as cst

from . import Kind, fill
from .args import CallPlan, unsupported
from ..rulebook import Rule


class ArgumentKind(Kind):
    def visit_Call(self, node: cst.Call, name: str, plan: CallPlan) -> None:
        for rule in self.m.index.arguments.get(name, ()):
            self._keywords(node, rule, name, plan)

    def _keywords(self, node: cst.Call, rule: Rule, name: str, plan: CallPlan) -> None:
        m, renames = self.m, rule.get("rename", {})
        safe, kept = unsupported(node, rule.get("unsupported", {}))
        first = rule.get("to_positional")  # a keyword the twin takes only as its first positional argument
        for i, arg in enumerate(node.args):
            keyword = arg.keyword.value if arg.keyword is not None else None
            if keyword is not None and keyword == first:
                if any(a.keyword is None for a in node.args) or plan.positional is not None:
                    m.finding(arg.keyword, rule, fill(rule.get("message") or "{name}(): pass {keyword} as the "
                                                      "first positional argument", name=name, keyword=keyword))
                elif m.edit(arg.keyword, rule, f"{keyword}=... -> the first positional argument"):
                    plan.drop.add(i)
                    plan.positional = [arg.value]
            elif keyword in renames:
                if m.edit(arg.keyword, rule, f"{keyword}= -> {renames[keyword]}="):
                    plan.renames[keyword] = renames[keyword]
            elif i in safe:
                if m.edit(arg.keyword, rule, f"{keyword}= dropped (its default; the twin lacks it)"):
                    plan.drop.add(i)
            elif keyword in kept:
                message = rule.get("message") or "{name}() on the target does not accept {keyword}="
                m.finding(arg.keyword, rule, fill(message, name=name, keyword=keyword))
