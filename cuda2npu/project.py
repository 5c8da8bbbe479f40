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

from .files import MAX_FILE_BYTES, ReadError, read_regular, stamp
from .results import SourceError
from .ruleindex import RuleIndex
from .sourcefile import decode


@dataclass(frozen=True)
class ModuleFacts:
    """What one module of the project binds that is CUDA-only, and whether importing it needs CUDA."""

    path: Path
    names: dict = field(default_factory=dict)  # name the module binds -> why it is CUDA-only
    reason: object | None = None

    def name(self, name: str):
        """Why ``name`` of this module is CUDA-only, if it is."""
        return self.names.get(name)


class ProjectIndex:
    """Module facts by file, computed once per process."""

    def __init__(self, index: RuleIndex):
        self.index = index
        self._modules: dict[str, ModuleFacts | None] = {}
        # (importing folder, level, name) -> the module's file, and the candidate files looked at
        self._paths: dict[tuple, tuple[Path | None, tuple[Path, ...]]] = {}

    def for_file(self, path: Path) -> "ModuleResolver":
        return ModuleResolver(self, Path(os.path.abspath(path)))

    def facts(self, path: Path) -> ModuleFacts | None:
        key = str(path)
        if key not in self._modules:
            self._modules[key] = self._read(path)
        return self._modules[key]

    def _read(self, path: Path) -> ModuleFacts | None:
        try:
            data = read_regular(path, MAX_FILE_BYTES)
            if not self.index.may_use_cuda_only(data):
                return ModuleFacts(path)  # settled by the text alone: no CUDA-only library named
            text = decode(data).text
        except (ReadError, SourceError):
            return None
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        from .context.facts import FileFacts
        from .context.guards import module_names, module_reason

        facts = FileFacts(text, tree, self.index)  # not kept: only what the module binds is
        return ModuleFacts(path, module_names(facts), module_reason(facts))


class ModuleResolver:
    """Resolves one file's imports of its own package to the facts of those modules, and records
    the files the resolution looked at (``consulted``: what a cached result depends on)."""

    def __init__(self, project: ProjectIndex, path: Path):
        self.project, self.path, self.folder = project, path, str(path.parent)
        self.consulted: dict[str, object] = {}  # path -> (size, mtime_ns), True (present), None (absent)
        top, self._layout = path.parent, [path.parent / "__init__.py"]
        while (top.parent / "__init__.py").is_file() and top.parent != top:
            top = top.parent
            self._layout.append(top / "__init__.py")
        self._layout.append(top.parent / "__init__.py")
        self.package = top if (top / "__init__.py").is_file() else None  # the top package holding the file

    def module(self, level: int, name: str | None) -> ModuleFacts | None:
        """The facts of ``from <level dots><name> import ...``, for a module of this project."""
        key = (self.folder, level, name)  # many files share an import: resolved once
        if key not in self.project._paths:
            self.project._paths[key] = self._find(level, name)
        path, looked_at = self.project._paths[key]
        if not level and name:  # whether the name is this file's package depends on the __init__ files
            for init in self._layout:
                if str(init) not in self.consulted:
                    self.consulted[str(init)] = init.is_file() or None
        for candidate in looked_at:
            if str(candidate) not in self.consulted:
                self.consulted[str(candidate)] = stamp(candidate)
        if path is None or path == self.path:
            return None
        return self.project.facts(path)

    def _find(self, level: int, name: str | None) -> tuple[Path | None, tuple[Path, ...]]:
        if level:
            base = self.path.parent
            for _ in range(level - 1):
                base = base.parent
        elif name and self.package is not None and name.split(".")[0] == self.package.name:
            base = self.package.parent
        else:
            return None, ()
        target = base.joinpath(*name.split(".")) if name else base
        looked_at: list[Path] = []
        for candidate in (target.with_name(target.name + ".py"), target / "__init__.py"):
            looked_at.append(candidate)
            if candidate.is_file():
                return candidate, tuple(looked_at)
        return None, tuple(looked_at)

    def display(self, module: ModuleFacts) -> str:
        """How to name ``module`` in a finding: its path from the importing file's folder."""
        return os.path.relpath(module.path, self.path.parent)
