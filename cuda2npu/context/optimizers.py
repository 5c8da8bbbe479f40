"""Checks ``optimizer-swap``, ``fused-traps`` and ``fused-clip``: is a fused NPU optimizer safe
with what the file does with it?

The torch_npu fused optimizers copy every gradient into one combined buffer on their first step and
read only that buffer afterwards: ``zero_grad(set_to_none=True)`` raises, a module's (or any other
object's) ``zero_grad()`` sets ``p.grad = None`` so the next backward writes fresh tensors the
optimizer never reads (training silently repeats the first step's gradients), and bfloat16 or CPU
parameters are rejected. The stock optimizer is swapped only where the file shows none of that
can happen: every name it lives under is known, each ``zero_grad`` in the file is safe, nothing
that drives optimizers is handed it, no parameter is made bfloat16, and the model goes to the device.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Iterator

from ..kinds import fill
from ..rulebook import Rule
from .judgement import Note, Veto
from .facts import FileFacts, dotted, text_of

_SKIP = object()  # a keyword not passed


@dataclass(frozen=True)
class Use:
    """Something the file does that a fused optimizer does not survive."""

    reason: str
    node: ast.AST
    values: tuple[tuple[str, str], ...] = ()


def _literal(node: ast.AST | None):
    if node is None:
        return _SKIP
    if isinstance(node, ast.Constant):
        return node.value
    return ...  # not a literal: unknown


def _argument(call: ast.Call, keyword: str, position: int) -> ast.AST | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[position] if len(call.args) > position else None


@lru_cache(maxsize=64)
def _words(names: frozenset[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:%s)\b" % "|".join(sorted({re.escape(n.rsplit(".", 1)[-1]) for n in names})))


def _mentions(facts: FileFacts, names) -> bool:
    """Whether the source names any of ``names`` (by its last part): a cheap test before a walk."""
    lasts = {n.rsplit(".", 1)[-1] for n in names}
    return any(w in facts.source for w in lasts) and _words(frozenset(names)).search(facts.source) is not None


def _fused(facts: FileFacts) -> dict[str, Rule]:
    """The fused-optimizer swap rules by the callable they match."""
    return {name: r for name, r in facts.index.calls.items() if "fused-optimizer" in r.tags}


def _names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _held(node: ast.AST) -> set[str]:
    """The names a value holds itself: a name, or names in a tuple, list, set or dict of them (not
    the arguments of a call, whose result is something else)."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return set().union(*map(_held, node.elts))
    if isinstance(node, ast.Dict):
        return set().union(*map(_held, node.values))
    if isinstance(node, ast.Starred):
        return _held(node.value)
    return set()


class Optimizers:
    """The optimizers constructed in one file, the names they live under, and the risky uses."""

    def __init__(self, facts: FileFacts, swap_rule: Rule | None):
        self.facts = facts
        self.data = swap_rule.spec if swap_rule is not None else {}
        self.fused = _fused(facts)
        self.fused_names = {r.get("replace") for r in self.fused.values()}
        self.owners: dict[int, tuple[str, object, ast.AST | None]] = {}
        self.stores: list[tuple[ast.stmt, ast.AST | None]] = []
        for stmt, _, function in facts.statements():
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                self.owners[id(stmt.value)] = ("assign", targets, function)
                self.stores.append((stmt, function))
            elif isinstance(stmt, ast.Return) and stmt.value is not None:
                self.owners[id(stmt.value)] = ("return", None, function)
                self.stores.append((stmt, function))

    @cached_property
    def optimizers(self) -> set[str]:
        """The names assigned any optimizer: their zero_grad is their own."""
        prefixes = tuple(p + "." for p in self.data.get("optimizers", ("torch.optim",)))
        names = set()
        for call in self.facts.calls:
            owner = self.owners.get(id(call))
            if owner is None or owner[0] != "assign":
                continue
            full = self.facts.resolve(call.func) or ""
            if full.startswith(prefixes) or full in self.fused or full in self.fused_names:
                names.update(t.id for t in owner[1] if isinstance(t, ast.Name))
        return names

    def constructors(self, names) -> Iterator[tuple[ast.Call, str]]:
        for call in self.facts.calls:
            full = self.facts.resolve(call.func)
            if full in names:
                yield call, full

    # -- where the optimizer lives ---------------------------------------------------------
    def names(self, call: ast.Call) -> tuple[set[str], list[Use]]:
        """The local names the optimizer built by ``call`` is bound to, and the ways it escapes."""
        facts, owner = self.facts, self.owners.get(id(call))
        if owner is None:
            inside = any(isinstance(n, ast.Lambda) and call in ast.walk(n.body) for n in facts.nodes
                         if isinstance(n, ast.Lambda))
            return set(), [Use("escapes", call, (("how", "builds it inside a lambda" if inside
                                                  else "passes it straight to other code"),))]
        kind, targets, function = owner
        if kind == "assign":
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            others = [t for t in targets if not isinstance(t, ast.Name)]
            if others:
                return names, [Use("escapes", call, (("how", f"stores it in {text_of(others[0])}"),))]
            return self._aliases(names), self._escapes(names)
        name = getattr(function, "name", None)
        if name in self.data.get("returned_by", ()):
            return set(), [Use("driver", call, (("call", f"{name}() (the framework calls it and drives the optimizer)"),))]
        callers = [c for c in facts.calls if isinstance(c.func, ast.Name) and c.func.id == name]
        bound = [self.owners.get(id(c)) for c in callers]
        if not facts.entry_point or not callers or any(
                b is None or b[0] != "assign" or not all(isinstance(t, ast.Name) for t in b[1]) for b in bound):
            return set(), [Use("escapes", call, (("how", f"returns it from {name or 'the module'}()"),))]
        names = {t.id for b in bound for t in b[1]}
        return self._aliases(names), self._escapes(names)

    def _aliases(self, names: set[str]) -> set[str]:
        """``names`` plus the parameters of this file's functions that are handed one of them."""
        names = set(names)
        for _ in range(3):
            before = len(names)
            for call in self.facts.calls:
                if not isinstance(call.func, ast.Name) or call.func.id not in self.facts.defs:
                    continue
                for function in self.facts.defs[call.func.id]:
                    params = [a.arg for a in function.args.posonlyargs + function.args.args]
                    for i, arg in enumerate(call.args):
                        if isinstance(arg, ast.Name) and arg.id in names and i < len(params):
                            names.add(params[i])
                    names.update(k.arg for k in call.keywords if k.arg and isinstance(k.value, ast.Name)
                                 and k.value.id in names)
            if len(names) == before:
                break
        return names

    def _escapes(self, names: set[str]) -> list[Use]:
        out = []
        for stmt, function in self.stores:
            if not (names & _held(stmt.value)):
                continue
            if isinstance(stmt, ast.Return):
                how = f"returns it from {getattr(function, 'name', 'the module')}()"
            elif any(not isinstance(t, ast.Name) for t in getattr(stmt, "targets", [getattr(stmt, "target", None)])):
                target = next(t for t in getattr(stmt, "targets", [getattr(stmt, "target", None)])
                              if not isinstance(t, ast.Name))
                how = f"stores it in {text_of(target)}"
            else:
                continue
            out.append(Use("escapes", stmt, (("how", how),)))
        return out

    # -- what the file does with it --------------------------------------------------------
    def zero_grads(self, names: set[str]) -> Iterator[Use]:
        for call in self.facts.calls:
            func = call.func
            if not (isinstance(func, ast.Attribute) and func.attr == "zero_grad"):
                continue
            receiver = ".".join(dotted(func.value) or [text_of(func.value)])
            value = _literal(_argument(call, "set_to_none", 0))
            shown = (("call", text_of(call)), ("value", repr(value) if value is not ... else "?"))
            if receiver in names:
                if value is not _SKIP and value is not False:
                    yield Use("set_to_none", call, shown)
            elif receiver not in self.optimizers and value is not False:
                yield Use("zero_grad", call, shown)

    def drivers(self, names: set[str]) -> Iterator[Use]:
        dotted_drivers = set(self.data.get("drivers", ()))
        methods = set(self.data.get("driver_methods", ()))
        for call in self.facts.calls:
            full = self.facts.resolve(call.func)
            method = call.func.attr if isinstance(call.func, ast.Attribute) else None
            if full in dotted_drivers or (method in methods and (full is None or full not in self.fused)):
                handed = names & set().union(*(_names_in(a) for a in [*call.args, *(k.value for k in call.keywords)]))
                if handed:
                    yield Use("driver", call, (("call", text_of(call.func) + "()"), ("var", sorted(handed)[0])))

    def bfloat16(self) -> Iterator[Use]:
        data, facts = self.data, self.facts
        words = set(data.get("bfloat16", ()))
        methods, dtype_methods = set(data.get("bfloat16_methods", ())), set(data.get("dtype_methods", ()))
        keywords, layers = set(data.get("dtype_keywords", ())), tuple(p + "." for p in data.get("layers", ()))

        def bf16(node: ast.AST) -> bool:
            if isinstance(node, ast.Constant):
                return isinstance(node.value, str) and node.value in words
            return (facts.resolve(node) or "") in words

        for call in facts.calls:
            func = call.func
            method = func.attr if isinstance(func, ast.Attribute) else None
            full = facts.resolve(func) or ""
            values = [*call.args, *(k.value for k in call.keywords)]
            if ((method in methods and not full)
                    or (method in dtype_methods and any(map(bf16, values)))
                    or any(k.arg in keywords and bf16(k.value) for k in call.keywords)
                    or (full.startswith(layers) and any(k.arg == "dtype" and bf16(k.value) for k in call.keywords))):
                yield Use("bfloat16", call, (("call", text_of(call)),))

    def placed(self) -> bool:
        """Whether the file puts something on the CUDA device (which becomes the NPU): a device
        string (``"cuda"``, ``"cuda:0"``, ``f"cuda:{i}"``) or a ``.cuda()`` call (the rule's ``placement``)."""
        words = tuple(self.data.get("placement", ()))
        prefixes = tuple(w + ":" for w in words)
        for node in self.facts.nodes:
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if node.value in words or node.value.startswith(prefixes):
                    return True
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in words:
                return True
        return False

    def agnostic(self) -> Use | None:
        from .dispatch import agnostic_marker

        rule = self.facts.index.context.get("device-agnostic")
        marker = agnostic_marker(self.facts, rule) if rule is not None else None
        at = ast.Pass(lineno=marker[0], col_offset=0) if marker else None
        return Use("agnostic", at, (("call", marker[1]),)) if marker else None

    def risks(self, names: set[str]) -> list[Use]:
        return sorted([*self.zero_grads(names), *self.drivers(names), *self.bfloat16()],
                      key=lambda u: (u.node.lineno, u.node.col_offset))


def _message(template: str, use: Use, **values: str) -> str:
    return fill(template, **{**dict(use.values), "line": str(use.node.lineno), **values})


def swap(facts: FileFacts, rule: Rule) -> Iterator[Veto]:
    """The stock optimizers a fused-optimizer rule would swap, kept where the swap is unsafe."""
    if not _mentions(facts, _fused(facts)):
        return
    analysis = facts.optimizers
    shared: list[Use] | None = None
    for call, full in analysis.constructors(analysis.fused):
        names, uses = analysis.names(call)
        if shared is None:  # what holds for the whole file, worked out once and named last
            agnostic = analysis.agnostic()
            shared = [agnostic] if agnostic else [] if analysis.placed() else [Use("device", call)]
        uses = sorted([*uses, *analysis.risks(names)], key=lambda u: (u.node.lineno, u.node.col_offset))
        uses += [Use(u.reason, call, u.values) if u.reason == "device" else u for u in shared]
        if not uses:
            continue
        swap_rule = analysis.fused[full]
        first = uses[0]
        more = f" (and {len(uses) - 1} more)" if len(uses) > 1 else ""
        reasons = rule.get("reasons", {})
        var = sorted(names)[0] if names else "the optimizer"
        values = {"var": var, "replace": swap_rule.get("replace"), "name": full}
        template = reasons.get(first.reason, first.reason)
        if not template:  # a reason the rule keeps quiet about (device-agnostic code): just no swap
            yield Veto(rule, "", facts.span(call), frozenset({swap_rule.id}), facts.where(call))
            continue
        reason = _message(template, first, **{**values, **dict(first.values)})
        yield Veto(rule, fill(rule.get("message"), **values, reason=reason, more=more, line=str(first.node.lineno)),
                   facts.span(call), frozenset({swap_rule.id}), facts.where(call))


def traps(facts: FileFacts, rule: Rule) -> Iterator[Note]:
    """The traps of the fused optimizers already in the code, reported where they are set."""
    if not _mentions(facts, {r.get("replace") for r in _fused(facts).values()}):
        return
    analysis = facts.optimizers
    seen: set[int] = set()
    reasons = rule.get("reasons", {})
    for call, full in analysis.constructors(analysis.fused_names):
        names, _ = analysis.names(call)
        for use in analysis.risks(names):
            if use.reason in reasons and use.node.lineno not in seen:
                seen.add(use.node.lineno)
                values = {"var": sorted(names)[0] if names else "the optimizer", "name": full}
                reason = _message(reasons[use.reason], use, **{**values, **dict(use.values)})
                yield Note(rule, *facts.where(use.node), fill(rule.get("message"), **values, reason=reason, more="",
                                                              line=str(use.node.lineno)))


def clip(facts: FileFacts, rule: Rule) -> Iterator[Note]:
    """Gradient clipping over parameters where a fused optimizer (already there, or swapped in)
    could clip its own combined gradients."""
    clips = set(rule.get("clip", ()))
    fused = _fused(facts)
    if not (_mentions(facts, clips) and _mentions(facts, {*fused, *(r.get("replace") for r in fused.values())})):
        return
    sites = [c for c in facts.calls if facts.resolve(c.func) in clips]
    if not sites:
        return
    analysis = facts.optimizers
    found = [(c, full) for c, full in analysis.constructors(set(analysis.fused) | analysis.fused_names)]
    if not found:
        return
    call, full = found[0]
    names, _ = analysis.names(call)
    requires = frozenset() if full in analysis.fused_names else frozenset({analysis.fused[full].id})
    fused = full if full in analysis.fused_names else analysis.fused[full].get("replace")
    for site in sites:
        message = fill(rule.get("message"), name=fused, call=text_of(site.func),
                       var=sorted(names)[0] if names else "optimizer", line=str(call.lineno))
        yield Note(rule, *facts.where(site), message, requires)
