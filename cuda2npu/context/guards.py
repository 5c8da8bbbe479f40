"""Checks ``cuda-guard`` and ``cuda-only-import``: code that can only run on CUDA, and the tests
that select it.

CUDA-only are the APIs of the report rules tagged ``cuda-only`` (Triton, flash-attn, xformers,
apex, ``data_parallel``, cupy, ...), the calls that pass a keyword of an argument rule tagged so
(``torch.linalg.svd(driver=...)``), this file's functions that use one (a ``@triton.jit`` kernel,
a wrapper that launches it), and the names a sibling module of the project defines that way. A
test such as ``x.is_cuda``, ``q.device.type == "cuda"`` or ``torch.cuda.is_available()`` whose
branches reach such code, or that chooses the value of such a keyword, selects CUDA-only code:
renamed to ``npu`` it would send NPU tensors into it. Such a test is kept, with a finding; a guard
around ordinary torch code is still renamed.
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
    """The CUDA-only names of one file: bound by its imports (of CUDA-only libraries, or of the
    project's CUDA-only modules) and defined by it (functions that use one, found when asked)."""

    def __init__(self, facts: FileFacts):
        self.facts = facts
        self.index = facts.index.cuda_only
        self.imported: dict[str, Reason] = {}
        self._functions: dict[str, Reason | None] = {}
        self._project: dict[str, tuple[ast.ImportFrom, ast.alias]] = {}  # names from the project, unread
        libraries = facts.index.may_use_cuda_only(facts.source)
        for node in facts.imports:
            for local, reason in _library_imports(self.index, node) if libraries else ():
                if local is not None:  # `import a.b` binds `a`: its references resolve through it
                    self.imported[local] = reason
            if isinstance(node, ast.ImportFrom) and facts.project is not None and (node.level or node.module):
                for alias in node.names:  # looked up in the project index when the name is called
                    self._project.setdefault(alias.asname or alias.name, (node, alias))
        self.possible = bool(self.imported or self._project) or libraries  # can anything here be CUDA-only

    def name(self, name: str) -> Reason | None:
        """Why a name used in this file is CUDA-only, if it is."""
        if name in self._project:
            node, alias = self._project.pop(name)
            for _, (_, reason) in project_imports(self.facts.project, node, [alias], calls=True):
                self.imported.setdefault(name, reason)
        if name in self.imported:
            return self.imported[name]
        return self.function(name) if name in self.facts.defs else None

    def function(self, name: str) -> Reason | None:
        """Why this file's function ``name`` is CUDA-only (it, or a function it calls, calls a
        CUDA-only API; decorators count): the reason names where the calls end, e.g. a kernel."""
        if name in self._functions:
            return self._functions[name]
        self._functions[name] = None  # while it is worked out: a recursive call adds nothing
        library = callee = None
        for function in self.facts.defs[name]:
            for target, call in [*((_callee(d), None) for d in function.decorator_list), *_called(function.body)]:
                if isinstance(target, ast.Name) and target.id in self.facts.defs:
                    if target.id != name:
                        callee = callee or self.function(target.id)
                else:
                    library = library or self._target(target, call)
        found = callee or library
        if found is not None:
            root = found.what.split(" (uses ")[-1].rstrip(")")
            found = Reason(found.rule, f"{name}() (uses {root})", self.facts.defs[name][0].lineno)
        self._functions[name] = found
        return found

    def _target(self, node: ast.AST, call: ast.Call | None = None) -> Reason | None:
        """Why calling ``node`` (a name or an attribute chain; in ``call``, which passes its
        keywords) runs CUDA-only code, if it does."""
        passes = call is not None and call.keywords and self.facts.index.cuda_only_keywords
        if isinstance(node, ast.Name):
            found = self.name(node.id)
            if found is not None or not passes:
                return found
        full = self.facts.resolve(node) if passes or (self.index and isinstance(node, ast.Attribute)) else None
        hit = self.index.longest(full.split(".")) if full and isinstance(node, ast.Attribute) else None
        if hit is not None:
            return Reason(hit.value, full, node.lineno)
        rule = self.facts.index.cuda_only_keywords.get(full) if passes else None
        for keyword in call.keywords if rule is not None else ():
            default = rule.get("unsupported").get(keyword.arg)
            if default is not None and ast.dump(keyword.value) != ast.dump(ast.parse(default, mode="eval").body):
                return Reason(rule, f"{full}({keyword.arg}=...)", call.lineno)
        return None

    def reach(self, nodes) -> Reason | None:
        """The first CUDA-only API the code in ``nodes`` calls (mentioning one is not calling it:
        ``isinstance(m, nn.DataParallel)`` is fine on NPU)."""
        for target, call in _called(nodes):
            found = self._target(target, call)
            if found is not None:
                return found
        return None


def _library_imports(index, node: ast.stmt) -> Iterator[tuple[str | None, Reason]]:
    """(the local name it binds, None for ``import a.b``; why) for each CUDA-only API an absolute
    import statement imports."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            hit = index.longest(alias.name.split(".")) if index else None
            if hit is not None:
                local = alias.asname or (alias.name if "." not in alias.name else None)
                yield local, Reason(hit.value, alias.name, node.lineno)
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        for alias in node.names:
            full = f"{node.module}.{alias.name}"
            hit = index.longest(full.split(".")) if index else None
            if hit is not None:
                yield alias.asname or alias.name, Reason(hit.value, full, node.lineno)


def _callee(node: ast.AST) -> ast.AST:
    """What a call or decorator calls: ``f`` of ``f(...)``, ``kernel`` of ``kernel[grid](...)``."""
    while isinstance(node, (ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


def _called(nodes) -> Iterator[tuple[ast.AST, ast.Call | None]]:
    """(what it calls, the call) for every call in ``nodes``, and the decorators of the functions
    among them (with no call)."""
    for top in nodes:
        for node in ast.walk(top):
            if isinstance(node, ast.Call):
                yield _callee(node.func), node
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for decorator in node.decorator_list:
                    yield _callee(decorator), None


def _guarded(facts: FileFacts, lines: list[int]) -> Iterator[tuple[ast.AST, ast.AST, list[ast.AST]]]:
    """(test, where its finding goes, the code it selects) for every if, assert, conditional
    expression and boolean chain on ``lines``. An ``if`` whose body always leaves, and an
    ``assert``, also select the rest of their block."""
    for stmt, block, _ in facts.statements():
        if isinstance(stmt, ast.If) and facts.touches(lines, stmt.test.lineno, stmt.test.end_lineno):
            selected: list[ast.AST] = [*stmt.body, *stmt.orelse]
            if stmt.body and isinstance(stmt.body[-1], _EXITS):
                selected += block[block.index(stmt) + 1:]
            yield stmt.test, stmt.test, selected
        elif isinstance(stmt, ast.Assert) and facts.touches(lines, stmt.test.lineno, stmt.test.end_lineno):
            yield stmt.test, stmt.test, block[block.index(stmt) + 1:]  # what runs once it holds
    chosen = {}  # conditional expressions passed as a keyword: the call with just that keyword
    for node in facts.expressions_at(lines):
        if isinstance(node, ast.Call):  # met before its arguments (ast.walk goes breadth first)
            chosen.update((id(k.value), ast.copy_location(ast.Call(node.func, [], [k]), node))
                          for k in node.keywords if isinstance(k.value, ast.IfExp))
        elif isinstance(node, ast.IfExp):
            yield node.test, node.test, [node.body, node.orelse, *([chosen[id(node)]] if id(node) in chosen else ())]
        elif isinstance(node, ast.BoolOp):
            yield node, node, list(node.values)


def project_imports(project, node: ast.ImportFrom, aliases=None, *, calls: bool = False):
    """(alias, (module facts, reason)) for each name ``from <node> import`` (or of ``aliases``)
    brings from the project that is CUDA-only: a CUDA-only name of that module, a module that
    needs CUDA, or such a submodule. With ``calls``, only names whose call runs CUDA-only code
    (a plain function of a module that imports Triton is not)."""
    module = project.module(node.level, node.module)
    if module is None and not node.level:
        return  # not a module of this project
    package = module is None or module.path.name == "__init__.py"
    for alias in node.names if aliases is None else aliases:
        if alias.name == "*":
            continue
        found, reason = module, (module.name(alias.name) or (None if calls else module.reason)) if module else None
        if reason is None and package and not calls:
            found = project.module(node.level, f"{node.module}.{alias.name}" if node.module else alias.name)
            reason = found.reason if found is not None else None
        if reason is not None:
            yield alias, (found, Reason(reason.rule, reason.what, reason.line, project.display(found)))


def guard(facts: FileFacts, rule: Rule) -> Iterator[Veto]:
    cuda = facts.cuda_only
    if not cuda.possible:
        return
    sites = facts.site_lines  # a test without a site has nothing to keep
    for test, at, selected in _guarded(facts, sites):
        if not facts.touches(sites, at.lineno, at.end_lineno):
            continue
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
    for node in facts.imports:
        if not isinstance(node, ast.ImportFrom):
            continue
        for alias, (_, reason) in project_imports(facts.project, node):  # one finding per import
            yield Note(rule, *facts.where(node), fill(
                rule.get("message"), name=alias.name, module=reason.file, callee=reason.what,
                line=reason.place, rule=reason.rule.id, summary=reason.rule.summary))
            break


def module_names(facts: FileFacts) -> dict[str, Reason]:
    """For the project index: the CUDA-only names a module binds at its top level (what another
    module can import): its imports of CUDA-only code, and its functions that call some."""
    cuda = facts.cuda_only
    if not cuda.possible:
        return {}
    out = dict(cuda.imported)
    for stmt in facts.tree.body:
        found = cuda.function(stmt.name) if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
        if found is not None:
            out[stmt.name] = found
    return out


def module_reason(facts: FileFacts) -> Reason | None:
    """For the project index: why a module cannot be imported without CUDA (an unconditional
    module-level import of a CUDA-only library), if it cannot."""
    return next((reason for stmt in facts.tree.body for _, reason in _library_imports(facts.index.cuda_only, stmt)),
                None)
