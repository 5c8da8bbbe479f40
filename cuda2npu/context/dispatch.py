"""Checks ``dispatching-module`` and ``device-agnostic``: code that already serves the target.

A module that dispatches to the target (an ``if`` whose test names it, such as
``is_torch_npu_available()`` or ``device.type == "npu"``; a conditional expression, ``match`` or
dict that names both it and CUDA; an ``X["npu"] = ...`` entry of a dispatch table) already runs
with and without an NPU: its CUDA branches must stay CUDA. Its edits are not made; each becomes a
finding, since a CUDA call outside the dispatch still needs an NPU branch.

A device-agnostic module (the device comes from ``torch.accelerator``, accelerate's
``Accelerator``, ...) runs on every backend: a hard-coded ``npu`` (a device string, ``torch.npu``)
would break the others, and a partial rewrite would pair a ``"cuda"`` key with an NPU call. Its
edits are not made either; each is reported with the device-agnostic spelling to use.
"""

from __future__ import annotations

import ast
import re
from typing import Iterator

from ..kinds import fill
from ..rulebook import Rule
from ..ruleindex import WORD_CHAR, word_offsets, word_pattern
from .judgement import Veto
from .facts import FileFacts


def _words(node: ast.AST) -> Iterator[str]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            yield sub.id
        elif isinstance(sub, ast.Attribute):
            yield sub.attr
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and len(sub.value) < 80:
            yield sub.value


def _mentions(pattern, nodes) -> bool:
    return any(pattern.search(word) for node in nodes if node is not None for word in _words(node))


def dispatch_line(facts: FileFacts, rule: Rule) -> int | None:
    """The first line where the module chooses between the target and CUDA, if it does."""
    marked = facts.lines_at(facts.index.target_offsets(facts.source))
    if not marked:
        return None
    target, source = facts.index.aware, word_pattern(rule.get("words", ["cuda"]))
    found = []
    for stmt, _, _ in facts.statements():
        if isinstance(stmt, ast.If) and facts.touches(marked, stmt.test.lineno, stmt.test.end_lineno):
            if _mentions(target, [stmt.test]):  # an NPU branch: the code also runs where there is none
                found.append(stmt.lineno)
        elif isinstance(stmt, ast.Assign) and facts.touches(marked, stmt.lineno, stmt.lineno):
            keys = [t.slice for t in stmt.targets if isinstance(t, ast.Subscript) and isinstance(t.slice, ast.Constant)]
            if _mentions(target, keys):  # TABLE["npu"] = ...: an NPU entry of a dispatch table
                found.append(stmt.lineno)
        elif isinstance(stmt, ast.Match):
            patterns = [case.pattern for case in stmt.cases]
            if _mentions(target, patterns) and _mentions(source, patterns):
                found.append(stmt.lineno)
    for node in facts.expressions_at(marked):
        if isinstance(node, ast.IfExp):
            both = _mentions(target, [node.test, node.body, node.orelse]) and _mentions(source, [node])
        elif isinstance(node, ast.Dict):
            keys = [k for k in node.keys if isinstance(k, ast.Constant)]
            both = _mentions(target, keys) and _mentions(source, keys)
        else:
            continue
        if both:
            found.append(node.lineno)
    return min(found, default=None)


def dispatching(facts: FileFacts, rule: Rule) -> Iterator[Veto]:
    line = dispatch_line(facts, rule)
    if line is not None:
        yield Veto(rule, fill(rule.get("message"), line=str(line), edit="{edit}"))


def agnostic_marker(facts: FileFacts, rule: Rule) -> tuple[int, str] | None:
    """The first use of a device-agnostic API (the rule's ``markers``): its line and full name.
    Found from the text and the imports, without a walk: ``X.accelerator`` where ``X`` is torch,
    or a name an import binds to a marker (``from accelerate import Accelerator``)."""
    markers = tuple(rule.get("markers", ()))
    lasts = {m.rsplit(".", 1)[-1] for m in markers}
    if not markers or not any(w in facts.source for w in lasts):
        return None

    def marker(full: str) -> bool:
        return any(full == m or full.startswith(m + ".") for m in markers)

    bound = {local: full for local, full in facts.bindings.items() if marker(full)}
    found = []
    for word in sorted(lasts | bound.keys()):
        for at in word_offsets(facts.source, [word], WORD_CHAR):
            prefix = _PREFIX.search(facts.source, max(0, at - 120), at)
            full = facts.bindings.qualify(prefix.group(1).split(".") + [word]) if prefix else None
            name = ".".join(full[0]) if full else bound.get(word)
            if name and marker(name):
                found.append((facts.source.count("\n", 0, at) + 1, name))
                break
    return min(found, default=None)


_PREFIX = re.compile(r"([A-Za-z_][\w.]*?)\s*\.\s*\Z")


def agnostic(facts: FileFacts, rule: Rule) -> Iterator[Veto]:
    found = agnostic_marker(facts, rule)
    if found is None:
        return
    yield Veto(rule, fill(rule.get("message"), line=str(found[0]), marker=found[1], edit="{edit}"))
