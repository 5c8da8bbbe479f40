"""The project index: facts about the project's own modules, for the file being migrated.

``from .kernels import rotary`` means nothing by itself; whether ``rotary`` is a Triton kernel is
written in ``kernels.py``. The index resolves a file's imports of its own package to files and
reads what each module binds that is CUDA-only (see :mod:`cuda2npu.context.guards`). Modules are
read on demand and kept per process, so a file's result depends on the files its imports name and
never on which other files are on the command line; a module without any CUDA-only library's name
is settled by a text search, without parsing.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from pathlib import Path

from .files import MAX_FILE_BYTES, ReadError, read_regular
from .results import SourceError
from .ruleindex import RuleIndex
from .sourcefile import decode


@dataclass(frozen=True)
class ModuleFacts:
    """What one module of the project binds that is CUDA-only, and whether importing it needs CUDA."""

    display: str
    names: dict = field(default_factory=dict)
    reason: object | None = None


class ProjectIndex:
    """Module facts by file, computed once per process."""

    def __init__(self, index: RuleIndex):
        self.index = index
        self._modules: dict[str, ModuleFacts | None] = {}

    def for_file(self, path: Path) -> "ModuleResolver":
        return ModuleResolver(self, Path(os.path.abspath(path)))

    def facts(self, path: Path, display: str) -> ModuleFacts | None:
        key = str(path)
        if key not in self._modules:
            self._modules[key] = self._read(path, display)
        return self._modules[key]

    def _read(self, path: Path, display: str) -> ModuleFacts | None:
        trigger = self.index.cuda_only_trigger
        try:
            text = decode(read_regular(path, MAX_FILE_BYTES)).text
        except (ReadError, SourceError):
            return None
        if trigger is None or not trigger.search(text):
            return ModuleFacts(display)
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        from .context.facts import FileFacts
        from .context.guards import module_reasons

        names, reason = module_reasons(FileFacts(text, tree, self.index))
        return ModuleFacts(display, names, reason)


class ModuleResolver:
    """Resolves one file's imports of its own package to the facts of those modules."""

    def __init__(self, project: ProjectIndex, path: Path):
        self.project, self.path = project, path
        top = path.parent
        while (top.parent / "__init__.py").is_file() and top.parent != top:
            top = top.parent
        self.package = top if (top / "__init__.py").is_file() else None  # the top package holding the file

    def module(self, level: int, name: str | None) -> ModuleFacts | None:
        """The facts of ``from <level dots><name> import ...``, for a module of this project."""
        if level:
            base = self.path.parent
            for _ in range(level - 1):
                base = base.parent
        elif name and self.package is not None and name.split(".")[0] == self.package.name:
            base = self.package.parent
        else:
            return None
        target = base.joinpath(*name.split(".")) if name else base
        for candidate in (target.with_name(target.name + ".py"), target / "__init__.py"):
            if candidate != self.path and candidate.is_file():
                display = os.path.relpath(candidate, self.path.parent)
                return self.project.facts(candidate, display)
        return None
