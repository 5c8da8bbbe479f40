"""Check ``import-time``: no rewrite that needs an accelerator in code a module runs when imported.

``DEVICE = "cuda"`` at module level is a string on every machine; ``DEVICE = accelerator.type``
asks torch for the current accelerator, and a torch built without one (the CPU wheels of a CI
machine) has none: importing the library would fail. So in a module that is not a script, the
edits of the rule's ``rules`` are not made in code that runs at import (module level, class
bodies, decorators, default values) of a module of a package that has no ``__main__`` test
(without the project index: of any module without one), except under a test of ``is_available()``
(``"cuda" if torch.cuda.is_available() else "cpu"``); each one is reported instead.
"""

from __future__ import annotations

import ast
from typing import Iterator

from ..kinds import fill
from ..rulebook import Rule
from .facts import FileFacts
from .judgement import Veto


def _guard(test: ast.AST) -> bool:
    """Whether a test asks whether an accelerator is there (``*.is_available()``)."""
    return any(isinstance(n, ast.Call) and (getattr(n.func, "attr", None) or getattr(n.func, "id", None))
               == "is_available" for n in ast.walk(test))


def _guarded(node: ast.AST) -> bool:
    return any(isinstance(n, ast.IfExp) and _guard(n.test) for n in ast.walk(node))


def _regions(node: ast.AST) -> Iterator[ast.AST]:
    """The parts of an expression that run unguarded: all of it, or around its guarded branches."""
    if not _guarded(node):
        yield node
    elif isinstance(node, ast.IfExp) and _guard(node.test):
        yield from _regions(node.test)
        yield from _regions(node.orelse)
    else:
        for child in ast.iter_child_nodes(node):
            yield from _regions(child)


def _run_at_import(body: list[ast.stmt]) -> Iterator[ast.AST]:
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for part in [*stmt.decorator_list, *stmt.args.defaults, *stmt.args.kw_defaults]:
                if part is not None:
                    yield from _regions(part)
        elif isinstance(stmt, ast.ClassDef):
            for part in [*stmt.decorator_list, *stmt.bases, *stmt.keywords]:
                yield from _regions(part)
            yield from _run_at_import(stmt.body)
        elif isinstance(stmt, ast.If):
            yield from _regions(stmt.test)
            if not _guard(stmt.test):
                yield from _run_at_import(stmt.body)
            yield from _run_at_import(stmt.orelse)
        elif isinstance(stmt, (ast.For, ast.While, ast.With, ast.Try, getattr(ast, "TryStar", ast.Try))):
            for name, value in ast.iter_fields(stmt):
                if name in ("body", "orelse", "finalbody"):
                    yield from _run_at_import(value)
                elif name == "handlers":
                    for handler in value:
                        yield from _run_at_import(handler.body)
                elif isinstance(value, ast.AST):
                    yield from _regions(value)
                elif name == "items":
                    for item in value:
                        yield from _regions(item.context_expr)
        else:
            yield from _regions(stmt)


def import_time(facts: FileFacts, rule: Rule) -> Iterator[Veto]:
    if facts.entry_point or (facts.project is not None and not facts.project.in_package()):
        return  # a script (a `__main__` test, or a file outside any package): it runs where it is run
    rules = frozenset(rule.get("rules") or ())
    for node in _run_at_import(facts.tree.body):
        if hasattr(node, "lineno"):
            yield Veto(rule, fill(rule.get("message"), line=str(node.lineno), edit="{edit}"), facts.span(node), rules)
