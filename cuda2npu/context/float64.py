"""Check ``float64-args``: a call that hands a float64 tensor to an API that takes none on the NPU.

Ascend's support pages list the dtypes of most operators, and most lists leave out float64 (HCCL's
``all_reduce``, ``all_gather`` and ``reduce_scatter`` among them). A tensor is known to be float64
where the file spells it so: ``x.double()``, ``x.to(torch.float64)``, ``x.type(torch.double)``, a
call passing ``dtype=torch.float64``, or a name the file binds only to such values (read through
:func:`cuda2npu.origins.origins`, flow- and scope-insensitive).
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from typing import Iterator

from ..kinds import fill
from ..origins import comes_from, origins
from ..rulebook import Rule
from .facts import FileFacts, dotted, text_of
from .judgement import Note

_FLOAT64 = frozenset({"torch.float64", "torch.double"})
_SPELLED = re.compile(r"\b(?:float64|double)\b")
_KEEP = frozenset({"to", "cuda", "npu", "cpu", "contiguous", "clone", "detach", "view", "reshape", "flatten"})
_MARK = "float64"  # the origin of a value known to be float64


def _dtype(facts: FileFacts, node: ast.AST) -> bool:
    return facts.resolve(node) in _FLOAT64 or (isinstance(node, ast.Constant) and node.value in ("float64", "double"))


def _base(facts: FileFacts, node: ast.AST) -> ast.AST:
    """``x`` of ``x.cuda().contiguous()``: the value under methods that keep the dtype."""
    while (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _KEEP
           and not any((facts.resolve(v) or "").startswith("torch.") or isinstance(v, ast.Constant)
                       for v in [*node.args, *(kw.value for kw in node.keywords)])):
        node = node.func.value
    return node


def _is_float64(facts: FileFacts, node: ast.AST) -> bool:
    """Whether the expression itself makes a float64 tensor (methods that keep the dtype followed:
    ``x.double().cuda()``)."""
    node = _base(facts, node)
    if not isinstance(node, ast.Call):
        return False
    func, values = node.func, [*node.args, *(kw.value for kw in node.keywords)]
    if any(kw.arg == "dtype" and _dtype(facts, kw.value) for kw in node.keywords):
        return True
    if not isinstance(func, ast.Attribute):
        return False
    return (func.attr == "double" and not values) or (func.attr in ("to", "type") and any(_dtype(facts, v) for v in values))


@lru_cache(maxsize=4)
def _lasts(names: frozenset[str]) -> frozenset[str]:
    """The last parts of the APIs' names: a cheap test of a call before resolving its callee."""
    return frozenset(name.rsplit(".", 1)[-1] for name in names)


def args(facts: FileFacts, rule: Rule) -> Iterator[Note]:
    """Read only the statements on lines that spell float64 (or ``double``), and the calls on
    those lines or on lines naming a variable those statements make float64: no walk of the file."""
    apis = rule.get("apis") or {}
    source = facts.source
    spelled = apis and ("float64" in source or "double" in source) and _SPELLED.search(source)  # substrings first: fast
    lines = facts.lines_with(_SPELLED) if spelled else []
    if not lines:
        return
    lasts = _lasts(frozenset(apis))
    candidates = {".".join(dotted(t) or ()) for stmt, _, _ in facts.statements()
                  if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None
                  and facts.touches(lines, stmt.lineno, stmt.end_lineno or stmt.lineno)
                  and _is_float64(facts, stmt.value)
                  for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])} - {""}
    if candidates:  # the lines that name one of them (as a word) may pass it on
        words = re.compile(r"\b(?:%s)\b" % "|".join(sorted(map(re.escape, candidates))))
        lines = sorted(set(lines) | set(facts.lines_with(words)))
    held = None  # of the candidates, the names bound only to float64 values (worked out when one is passed)
    calls = sorted({id(n): n for n in facts.expressions_at(lines) if isinstance(n, ast.Call)}.values(),
                   key=lambda n: (n.lineno, n.col_offset))
    for call in calls:
        func = call.func
        if (func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)) not in lasts:
            continue
        name = facts.resolve(func)
        if name not in apis:
            continue
        for value in [*call.args, *(kw.value for kw in call.keywords)]:
            how, base = None, _base(facts, value)
            if _is_float64(facts, value):
                how = text_of(value)
            elif isinstance(base, (ast.Name, ast.Attribute)) and (key := ".".join(dotted(base) or ())) in candidates:
                if held is None:
                    held = origins(facts.tree, facts.bindings, lambda v, _: _MARK if _is_float64(facts, v) else "")
                if comes_from(held.get(key), (_MARK,)):
                    how = text_of(value)
            if how:
                yield Note(rule, *facts.where(call), fill(rule.get("message"), name=name, page=apis[name], value=how))
                break
