"""Checks ``dispatching-module`` and ``device-agnostic``: code that already serves the target.

A module that dispatches between the target and CUDA (an ``if``/``elif`` chain, conditional
expression, ``match`` or dict that names both, e.g. ``"npu" if is_torch_npu_available() else
"cuda"``) is a library that supports both: its CUDA branches must stay CUDA. Its edits are not made;
each becomes a finding, since a CUDA call outside the dispatch still needs an NPU branch.

A device-agnostic module (the device comes from ``torch.accelerator``, accelerate's
``Accelerator``, ...) runs on every backend: a hard-coded ``npu`` would break the others, so the
device-placement rewrites (rules tagged ``device-placement``) are not made there.
"""

from __future__ import annotations

import ast
from typing import Iterator

from ..kinds import fill
from ..rulebook import Rule
from ..ruleindex import word_pattern
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
    target = facts.index.aware
    if not target.search(facts.source):
        return None
    source = word_pattern(rule.get("words", ["cuda"]))
    for node in facts.nodes:
        if isinstance(node, ast.If):
            chosen = _mentions(target, [node.test])
            both = chosen and _mentions(source, [node.test, *node.body, *node.orelse])
        elif isinstance(node, ast.IfExp):
            both = _mentions(target, [node.test, node.body, node.orelse]) and _mentions(source, [node])
        elif isinstance(node, ast.Dict):
            keys = [k for k in node.keys if isinstance(k, ast.Constant)]
            both = _mentions(target, keys) and _mentions(source, keys)
        elif isinstance(node, ast.Match):
            patterns = [case.pattern for case in node.cases]
            both = _mentions(target, patterns) and _mentions(source, patterns)
        else:
            continue
        if both:
            return node.lineno
    return None


def dispatching(facts: FileFacts, rule: Rule) -> Iterator[Veto]:
    line = dispatch_line(facts, rule)
    if line is not None:
        yield Veto(rule, fill(rule.get("message"), line=str(line), edit="{edit}"))


def agnostic_marker(facts: FileFacts, rule: Rule) -> tuple[ast.AST, str] | None:
    """The first use of a device-agnostic API (the rule's ``markers``) in the file."""
    markers = tuple(rule.get("markers", ()))
    if not any(m.rsplit(".", 1)[-1] in facts.source for m in markers):
        return None
    for node in facts.nodes:
        if isinstance(node, (ast.Attribute, ast.Name)):
            full = facts.resolve(node)
            if full and any(full == m or full.startswith(m + ".") for m in markers):
                return node, full
    return None


def agnostic(facts: FileFacts, rule: Rule) -> Iterator[Veto]:
    found = agnostic_marker(facts, rule)
    if found is None:
        return
    placement = frozenset(r.id for r in facts.index.book if "device-placement" in r.tags)
    yield Veto(rule, fill(rule.get("message"), line=str(found[0].lineno), marker=found[1], edit="{edit}"),
               None, placement)
