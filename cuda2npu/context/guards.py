"""Checks ``cuda-guard`` and ``cuda-only-import``: code that can only run on CUDA, and the tests
that select it.

CUDA-only are the APIs of the report rules tagged ``cuda-only`` (Triton, flash-attn, xformers,
apex, ``data_parallel``, cupy, ...), this file's functions that use one (a ``@triton.jit`` kernel,
a wrapper that launches it), and the names a sibling module of the project defines that way. A
test such as ``x.is_cuda``, ``q.device.type == "cuda"`` or ``torch.cuda.is_available()`` whose
branches reach such code selects CUDA-only code: renamed to ``npu`` it would send NPU tensors into
it. Such a test is kept, with a finding; a guard around ordinary torch code is still renamed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Iterator

from ..kinds import fill
from ..rulebook import Rule
from .judgement import Note, Veto
from .facts import FileFacts, text_of

_EXITS = (ast.Return, ast.Raise, ast.Continue, ast.Break)


@dataclass(frozen=True)
class Reason:
    """Why a name is CUDA-only: the rule, what it reaches, and the line that shows it."""

    rule: Rule
    what: str
    line: int
    file: str = ""  # another module of the project: its path from the importing file

    @property
    def place(self) -> str:
        return f"{self.file}:{self.line}" if self.file else f"line {self.line}"


class CudaOnly:
    """The CUDA-only names of one file: bound by its imports, defined by it, imported from siblings."""

    def __init__(self, facts: FileFacts):
        self.facts = facts
        self.index = facts.index.cuda_only
        self.local: dict[str, Reason] = {}
        for node in facts.nodes:
            if isinstance(node, ast.Import) and self.index:
                for alias in node.names:  # `import a.b` binds `a`: its references resolve through it
                    hit = self.index.longest(alias.name.split(".")) if alias.asname or "." not in alias.name else None
                    if hit is not None:
                        self.local[alias.asname or alias.name.split(".")[0]] = Reason(hit.value, alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level and self.index:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    hit = self.index.longest(full.split("."))
                    if hit is not None:
                        self.local[alias.asname or alias.name] = Reason(hit.value, full, node.lineno)
            elif isinstance(node, ast.ImportFrom) and facts.project is not None:
                for alias in node.names:
                    found = project_import(facts.project, node, alias)
                    if found is not None:
                        self.local.setdefault(alias.asname or alias.name, found[1])
        self.imported = dict(self.local)
        if self.local:
            self._functions()

    def _functions(self) -> None:
        """This file's functions that use a CUDA-only name (decorators included), to a fixed point."""
        functions = [f for defs in self.facts.defs.values() for f in defs]
        for _ in range(4):
            grew = False
            for function in functions:
                if function.name in self.local:
                    continue
                found = self.reach([*function.decorator_list, *function.body])
                if found is not None:
                    root = found.what.split(" (uses ")[-1].rstrip(")")
                    self.local[function.name] = Reason(found.rule, f"{function.name}() (uses {root})", function.lineno)
                    grew = True
            if not grew:
                break

    def reach(self, nodes) -> Reason | None:
        """The first CUDA-only name the code in ``nodes`` uses."""
        for top in nodes:
            for node in ast.walk(top):
                if isinstance(node, ast.Name):
                    if node.id in self.local:
                        return self.local[node.id]
                elif isinstance(node, ast.Attribute) and self.index:
                    full = self.facts.resolve(node)
                    hit = self.index.longest(full.split(".")) if full else None
                    if hit is not None:
                        return Reason(hit.value, full, node.lineno)
        return None


def _guarded(facts: FileFacts) -> Iterator[tuple[ast.AST, ast.AST, list[ast.AST]]]:
    """(test, where its finding goes, the code it selects) for every if, conditional expression
    and boolean chain. An ``if`` whose body always leaves also selects the rest of its block."""
    for stmt, block, _ in facts.statements():
        if isinstance(stmt, ast.If):
            selected: list[ast.AST] = [*stmt.body, *stmt.orelse]
            if stmt.body and isinstance(stmt.body[-1], _EXITS):
                selected += block[block.index(stmt) + 1:]
            yield stmt.test, stmt.test, selected
    for node in facts.nodes:
        if isinstance(node, ast.IfExp):
            yield node.test, node.test, [node.body, node.orelse]
        elif isinstance(node, ast.BoolOp):
            yield node, node, list(node.values)


def project_import(project, node: ast.ImportFrom, alias: ast.alias):
    """(module facts, reason) when ``from <node> import <alias>`` brings CUDA-only code from the
    project: a CUDA-only name of that module, a module that needs CUDA, or such a submodule."""
    if alias.name == "*":
        return None
    module = project.module(node.level, node.module)
    reason = (module.names.get(alias.name) or module.reason) if module is not None else None
    if reason is None:
        module = project.module(node.level, f"{node.module}.{alias.name}" if node.module else alias.name)
        reason = module.reason if module is not None else None
    return (module, Reason(reason.rule, reason.what, reason.line, module.display)) if reason is not None else None


def guard(facts: FileFacts, rule: Rule) -> Iterator[Veto]:
    if facts.index.cuda_only_trigger is None:
        return
    if facts.project is None and not facts.index.cuda_only_trigger.search(facts.source):
        return
    cuda = CudaOnly(facts)
    if not cuda.local:
        return
    for test, at, selected in _guarded(facts):
        found = cuda.reach(selected)
        if found is None:
            continue
        message = fill(rule.get("message"), test=text_of(test), callee=found.what, line=found.place,
                       rule=found.rule.id, summary=found.rule.summary)
        span = facts.span(at if isinstance(at, ast.BoolOp) else test)
        yield Veto(rule, message, span, None, facts.where(at))


def imports(facts: FileFacts, rule: Rule) -> Iterator[Note]:
    """Imports from this project's modules that bring in CUDA-only code."""
    if facts.project is None:
        return
    for node in facts.nodes:
        if not (isinstance(node, ast.ImportFrom) and (node.level or node.module)):
            continue
        for alias in node.names:
            found = project_import(facts.project, node, alias)
            if found is not None:
                module, reason = found
                yield Note(rule, *facts.where(node), fill(
                    rule.get("message"), name=alias.name, module=module.display, callee=reason.what,
                    line=reason.place, rule=reason.rule.id, summary=reason.rule.summary))
                break


def module_reasons(facts: FileFacts) -> tuple[dict[str, Reason], Reason | None]:
    """For the project index: the CUDA-only names a module binds (its functions that use CUDA-only
    code, and what it imports), and why the module itself cannot be imported without CUDA (an
    unconditional module-level import of a CUDA-only library), if it cannot."""
    cuda, index = CudaOnly(facts), facts.index.cuda_only
    for stmt in facts.tree.body:
        if isinstance(stmt, ast.Import) or (isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level):
            prefix = f"{stmt.module}." if isinstance(stmt, ast.ImportFrom) else ""
            for alias in stmt.names:
                hit = index.longest((prefix + alias.name).split(".")) if index else None
                if hit is not None:
                    return cuda.local, Reason(hit.value, prefix + alias.name, stmt.lineno)
    return cuda.local, None
