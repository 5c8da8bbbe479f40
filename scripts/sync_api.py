#!/usr/bin/env python3
"""Build ``cuda2npu/data/api_snapshot.json`` from pinned torch / torch_npu wheels.

The wheels are read statically (zipfile + ast + PyYAML); torch and torch_npu
are never imported.  Run ``python scripts/sync_api.py --help`` for options.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import json
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import yaml

TORCH_NPU_VERSION = "2.14.0"
TORCH_VERSION = "2.14.1"
PYTHON_VERSION = "3.11"
PLATFORM = "manylinux_2_28_x86_64"

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "cuda2npu" / "data" / "api_snapshot.json"
DEFAULT_CACHE = Path.home() / ".cache" / "cuda2npu" / "wheels"

# Snapshot key -> dotted path as seen by user code (``torch.npu`` is resolved
# through the alias torch_npu registers with ``torch._register_device_module``).
MODULE_KEYS = [
    "torch.cuda", "torch.cuda.amp", "torch.cuda.nvtx",
    "torch.npu", "torch.npu.amp", "torch.npu.mstx",
    "torch.optim", "torch_npu", "torch_npu.optim", "torch_npu.profiler",
]
# Modules whose every public function/class gets a signature entry.
SIGNATURE_MODULES = [
    "torch.cuda", "torch.cuda.amp", "torch.cuda.nvtx",
    "torch.npu", "torch.npu.amp", "torch.npu.mstx",
]
# Modules whose public classes get a signature entry.
CLASS_SIGNATURE_MODULES = ["torch.optim", "torch_npu.optim"]

OP_YAMLS = [
    "torch_npu/csrc/aten/npu_native_functions_by_codegen.yaml",
    "torch_npu/csrc/aten/npu_native_functions.yaml",
]
OP_SECTIONS = ("custom", "custom_autograd")
# Import-time code of torch_npu scanned for names added to torch.distributed.
DIST_PATCH_MODULES = ["torch_npu", "torch_npu.distributed"]
DIST_PATCH_PACKAGES = ["torch_npu._init"]
EXPOSED_API_MODULE = "torch_npu.utils.exposed_api"
EXPORTS_MODULE = "torch_npu._init.core._exports"


# --------------------------------------------------------------------------
# Wheels
# --------------------------------------------------------------------------

def find_wheel(directory: Path, dist: str, version: str) -> Path | None:
    """Return the wheel for ``dist==version`` in ``directory``, if present."""
    if not directory.is_dir():
        return None
    matches = sorted(directory.glob(f"{dist}-{version}-*.whl"))
    return matches[0] if matches else None


def pip_download(requirement: str, dest: Path) -> None:
    """Download one binary wheel (no dependencies) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps",
        "--only-binary=:all:", "--python-version", PYTHON_VERSION,
        "--platform", PLATFORM, "-d", str(dest), requirement,
    ]
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=sys.stderr)


def obtain_wheel(dist: str, version: str, explicit: Path | None,
                 wheel_dir: Path | None, cache_dir: Path) -> Path:
    """Use an explicit wheel, else one found locally, else ``pip download``."""
    if explicit is not None:
        if not explicit.is_file():
            sys.exit(f"error: wheel not found: {explicit}")
        return explicit
    for directory in (wheel_dir, cache_dir):
        if directory is not None and (found := find_wheel(directory, dist, version)):
            return found
    if wheel_dir is not None:
        sys.exit(f"error: no {dist}-{version} wheel in {wheel_dir}")
    pip_download(f"{dist.replace('_', '-')}=={version}", cache_dir)
    found = find_wheel(cache_dir, dist, version)
    if found is None:
        sys.exit(f"error: pip did not produce a {dist}-{version} wheel in {cache_dir}")
    return found


def wheel_version(wheel: zipfile.ZipFile) -> str:
    """Read ``Version:`` from the wheel's METADATA."""
    meta = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    for line in wheel.read(meta).decode("utf-8").splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    raise ValueError(f"no Version in {meta}")


# --------------------------------------------------------------------------
# Static module model
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Binding:
    """What a top-level name is bound to.

    kind: ``def`` (function/class node), ``assign`` (value expression),
    ``from`` (``from source import attr``) or ``module`` (``import source``).
    ``module`` is the module holding the statement.
    """
    kind: str
    module: str
    node: ast.AST | None = None
    source: str | None = None
    attr: str | None = None


@dataclass
class ModuleInfo:
    """Top-level facts about one module."""
    name: str
    package: str
    bindings: dict[str, Binding]
    deleted: set[str]
    all_names: list[str] | None
    attr_assigns: list[tuple[str, str, ast.expr]]  # (object, attr, value)


class SourceTree:
    """Python sources of several wheels, addressable by module name."""

    def __init__(self, wheels: list[zipfile.ZipFile], aliases: dict[str, str] | None = None):
        self.files: dict[str, tuple[zipfile.ZipFile, str, bool]] = {}
        self.aliases = aliases or {}
        self._cache: dict[str, ModuleInfo] = {}
        self._star_stack: set[str] = set()
        for wheel in wheels:
            for member in wheel.namelist():
                if member.endswith(".py") and ".dist-info/" not in member:
                    parts = member[:-3].split("/")
                    is_pkg = parts[-1] == "__init__"
                    name = ".".join(parts[:-1] if is_pkg else parts)
                    self.files[name] = (wheel, member, is_pkg)

    def canon(self, name: str) -> str:
        """Map user-visible names (``torch.npu.x``) onto real module names."""
        for alias, real in self.aliases.items():
            if name == alias or name.startswith(alias + "."):
                return real + name[len(alias):]
        return name

    def has(self, name: str) -> bool:
        return self.canon(name) in self.files

    def is_package(self, name: str) -> bool:
        return self.files[self.canon(name)][2]

    def source(self, name: str) -> str:
        wheel, member, _ = self.files[self.canon(name)]
        return wheel.read(member).decode("utf-8", errors="replace")

    def path(self, name: str) -> str:
        return self.files[self.canon(name)][1]

    def submodules(self, name: str) -> list[str]:
        """Immediate child modules/packages of package ``name``."""
        prefix = self.canon(name) + "."
        return sorted({m[len(prefix):].split(".")[0] for m in self.files if m.startswith(prefix)})

    def parse(self, name: str) -> ast.Module:
        try:
            return ast.parse(self.source(name))
        except SyntaxError as exc:
            print(f"warning: cannot parse {name}: {exc}", file=sys.stderr)
            return ast.Module(body=[], type_ignores=[])

    def module(self, name: str) -> ModuleInfo:
        """Parsed top-level model of module ``name`` (cached)."""
        name = self.canon(name)
        if name not in self._cache:
            self._cache[name] = self._build(name)
        return self._cache[name]

    def _build(self, name: str) -> ModuleInfo:
        package = name if self.is_package(name) else name.rpartition(".")[0]
        info = ModuleInfo(name, package, {}, set(), None, [])
        for stmt in top_level_statements(self.parse(name).body):
            self._bind_statement(info, stmt)
        return info

    def _bind_statement(self, info: ModuleInfo, stmt: ast.stmt) -> None:
        """Record the names one top-level statement binds."""
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self._bind(info, stmt.name, Binding("def", info.name, node=stmt))
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    self._bind(info, alias.asname, Binding("module", info.name, source=alias.name))
                else:
                    top = alias.name.split(".")[0]
                    self._bind(info, top, Binding("module", info.name, source=top))
        elif isinstance(stmt, ast.ImportFrom):
            self._bind_import_from(info, stmt)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            self._bind_assign(info, stmt)
        elif isinstance(stmt, ast.Delete):
            info.deleted.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            self._all_call(info, stmt.value)

    def _bind(self, info: ModuleInfo, name: str, binding: Binding) -> None:
        info.bindings[name] = binding
        info.deleted.discard(name)

    def _bind_import_from(self, info: ModuleInfo, stmt: ast.ImportFrom) -> None:
        source = absolute_module(info, stmt.module, stmt.level)
        for alias in stmt.names:
            if alias.name == "*":
                self._bind_star(info, source)
            else:
                binding = Binding("from", info.name, source=source, attr=alias.name)
                self._bind(info, alias.asname or alias.name, binding)

    def _bind_star(self, info: ModuleInfo, source: str) -> None:
        """Copy the bindings a ``from source import *`` brings in."""
        if not self.has(source) or source in self._star_stack:
            return
        self._star_stack.add(source)
        try:
            target = self.module(source)
        finally:
            self._star_stack.discard(source)
        names = target.all_names
        if names is None:
            names = [n for n in target.bindings if not n.startswith("_")]
        for name in names:
            binding = target.bindings.get(name) or Binding("from", source, source=source, attr=name)
            self._bind(info, name, binding)

    def _bind_assign(self, info: ModuleInfo, stmt: ast.stmt) -> None:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        value = stmt.value
        for target in targets:
            if isinstance(target, ast.Name) and target.id == "__all__":
                extra = literal_names(value)
                if isinstance(stmt, ast.AugAssign):
                    info.all_names = (info.all_names or []) + extra
                else:
                    info.all_names = extra
            elif isinstance(target, ast.Name) and value is not None:
                if not isinstance(stmt, ast.AugAssign):
                    self._bind(info, target.id, Binding("assign", info.name, node=value))
            elif isinstance(target, (ast.Tuple, ast.List)):
                for elt in target.elts:
                    if isinstance(elt, ast.Name):
                        self._bind(info, elt.id, Binding("assign", info.name, node=None))
            elif isinstance(target, ast.Attribute) and value is not None:
                owner = dotted_name(target.value)
                if owner:
                    info.attr_assigns.append((owner, target.attr, value))

    @staticmethod
    def _all_call(info: ModuleInfo, call: ast.Call) -> None:
        """Handle ``__all__.extend([...])`` and ``__all__.append("x")``."""
        func = call.func
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id == "__all__" and call.args):
            if func.attr == "extend":
                info.all_names = (info.all_names or []) + literal_names(call.args[0])
            elif func.attr == "append":
                info.all_names = (info.all_names or []) + literal_names(ast.List([call.args[0]]))


def top_level_statements(body: list[ast.stmt]):
    """Yield module-level statements, descending into if/try/with blocks."""
    for stmt in body:
        if isinstance(stmt, ast.If):
            yield from top_level_statements(stmt.body)
            yield from top_level_statements(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            yield from top_level_statements(stmt.body)
            for handler in stmt.handlers:
                yield from top_level_statements(handler.body)
            yield from top_level_statements(stmt.orelse)
            yield from top_level_statements(stmt.finalbody)
        elif isinstance(stmt, ast.With):
            yield from top_level_statements(stmt.body)
        else:
            yield stmt


def absolute_module(info: ModuleInfo, module: str | None, level: int) -> str:
    """Resolve a (possibly relative) ``from`` import target."""
    if level == 0:
        return module or ""
    base = info.package.split(".")
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def literal_names(node: ast.expr | None) -> list[str]:
    """String constants of a list/tuple literal (or a ``+`` of such literals)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return literal_names(node.left) + literal_names(node.right)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


def dotted_name(node: ast.expr) -> str | None:
    """``a.b.c`` for Name/Attribute chains, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def is_internal(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


# --------------------------------------------------------------------------
# Name resolution
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """What a resolved name is: a ``module``, a ``def`` node, or a ``value``."""
    kind: str
    module: str
    node: ast.AST | None = None

    @property
    def is_class(self) -> bool:
        return self.kind == "def" and isinstance(self.node, ast.ClassDef)

    @property
    def is_function(self) -> bool:
        return self.kind == "def" and isinstance(self.node, (ast.FunctionDef, ast.AsyncFunctionDef))


def resolve(tree: SourceTree, module: str, name: str, seen: frozenset = frozenset()) -> Target | None:
    """Follow imports/aliases of ``module.name`` to its definition in the wheels."""
    module = tree.canon(module)
    key = (module, name)
    submodule = f"{module}.{name}"
    if key in seen or not tree.has(module):
        return Target("module", tree.canon(submodule)) if tree.has(submodule) else None
    seen = seen | {key}
    binding = tree.module(module).bindings.get(name)
    if binding is None:
        return Target("module", tree.canon(submodule)) if tree.has(submodule) else None
    if binding.kind == "def":
        return Target("def", binding.module, binding.node)
    if binding.kind == "module":
        return Target("module", tree.canon(binding.source)) if tree.has(binding.source) else None
    if binding.kind == "from":
        return resolve(tree, binding.source, binding.attr, seen)
    if binding.node is not None and (dotted := dotted_name(binding.node)):
        return resolve_dotted(tree, binding.module, dotted, seen)
    return Target("value", binding.module, binding.node)


def resolve_dotted(tree: SourceTree, module: str, dotted: str, seen: frozenset = frozenset()) -> Target | None:
    """Resolve ``a.b.c`` as written inside ``module``."""
    head, *rest = dotted.split(".")
    target = resolve(tree, module, head, seen)
    for part in rest:
        if target is None:
            return None
        if target.kind == "module":
            target = resolve(tree, target.module, part, seen)
        elif target.is_class:
            target = class_member(target, part)
        else:
            return None
    return target


def class_member(cls: Target, name: str) -> Target | None:
    """A def directly in the body of class ``cls``."""
    for stmt in cls.node.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and stmt.name == name:
            return Target("def", cls.module, stmt)
    return None


def resolve_path(tree: SourceTree, dotted: str) -> Target | None:
    """Resolve a user-visible dotted path such as ``torch.npu.mstx``.

    A package attribute wins over a same-named submodule (as at runtime when
    the package does ``from .x import x``).
    """
    parent, _, leaf = dotted.rpartition(".")
    if parent and tree.has(parent):
        return resolve(tree, parent, leaf)
    return Target("module", tree.canon(dotted)) if tree.has(dotted) else None


# --------------------------------------------------------------------------
# Public names
# --------------------------------------------------------------------------

def module_public_names(tree: SourceTree, module: str) -> list[str]:
    """``__all__`` + public own defs/assignments/package imports + submodules."""
    info = tree.module(module)
    names = set(info.all_names or [])
    for name, binding in info.bindings.items():
        if name.startswith("_") or name in info.deleted:
            continue
        if binding.kind in ("def", "assign") and is_internal(binding.module, info.package):
            names.add(name)
        elif binding.kind == "from" and is_internal(binding.source, info.package):
            names.add(name)
    if tree.is_package(module):
        names.update(s for s in tree.submodules(module)
                     if not s.startswith("_") and s not in info.deleted)
    return sorted(names)


def class_public_names(tree: SourceTree, cls: Target) -> list[str]:
    """Public members of a class body plus ``Cls.attr = ...`` in its module."""
    names = set()
    for stmt in cls.node.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, ast.Assign):
            names.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            names.add(stmt.target.id)
    for owner, attr, _ in tree.module(cls.module).attr_assigns:
        if owner == cls.node.name:
            names.add(attr)
    return sorted(n for n in names if not n.startswith("_"))


def class_attr_target(tree: SourceTree, cls: Target, name: str) -> Target | None:
    """Resolve ``Cls.name`` from the class body or a ``Cls.name = x`` assignment."""
    member = class_member(cls, name)
    if member is not None:
        return member
    for owner, attr, value in tree.module(cls.module).attr_assigns:
        if owner == cls.node.name and attr == name and (dotted := dotted_name(value)):
            return resolve_dotted(tree, cls.module, dotted)
    return None


def public_names(tree: SourceTree, dotted: str) -> tuple[list[str], str, Target]:
    """Public names reachable as ``<dotted>.<name>``, the source, and the target."""
    target = resolve_path(tree, dotted)
    if target is None:
        raise SystemExit(f"error: {dotted} not found in the wheels")
    if target.is_class:
        source = f"{tree.path(target.module)}::{target.node.name}"
        return class_public_names(tree, target), source, target
    if target.kind != "module":
        raise SystemExit(f"error: {dotted} is neither a module nor a class")
    return module_public_names(tree, target.module), tree.path(target.module), target


def member_target(tree: SourceTree, owner: Target, name: str) -> Target | None:
    """Resolve ``owner.name`` where owner is a module or a class."""
    if owner.is_class:
        return class_attr_target(tree, owner, name)
    return resolve(tree, owner.module, name)


# --------------------------------------------------------------------------
# Signatures
# --------------------------------------------------------------------------

def param(name: str, kind: str, default: ast.expr | None) -> dict:
    return {"name": name, "kind": kind,
            "default": None if default is None else ast.unparse(default)}


def function_params(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[dict]:
    """Parameters of a def, in order."""
    args = node.args
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params = [param(a.arg, "positional", d) for a, d in zip(positional, defaults)]
    if args.vararg:
        params.append(param(args.vararg.arg, "var_positional", None))
    params += [param(a.arg, "keyword_only", d) for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    if args.kwarg:
        params.append(param(args.kwarg.arg, "var_keyword", None))
    return params


def decorator_names(node: ast.AST) -> set[str]:
    names = set()
    for dec in getattr(node, "decorator_list", []):
        dotted = dotted_name(dec.func if isinstance(dec, ast.Call) else dec)
        if dotted:
            names.add(dotted.rpartition(".")[2])
    return names


def dataclass_params(node: ast.ClassDef) -> list[dict]:
    """Synthesised ``__init__`` parameters of a ``@dataclass``."""
    return [param(s.target.id, "positional", s.value)
            for s in node.body
            if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
            and "ClassVar" not in ast.unparse(s.annotation)]


def class_params(tree: SourceTree, cls: Target) -> list[dict] | None:
    """``__init__`` (else ``__new__``) parameters without self, following bases.

    Returns None when the constructor may live in a base outside the wheels.
    """
    found, params = constructor(tree, cls, frozenset())
    return params if found else []


def is_builtin_exception(name: str | None) -> bool:
    obj = getattr(builtins, name or "", None)
    return isinstance(obj, type) and issubclass(obj, BaseException)


def constructor(tree: SourceTree, cls: Target, seen: frozenset) -> tuple[bool, list[dict] | None]:
    """Depth-first MRO walk: (found, params); params None means unknown."""
    if cls.node in seen:
        return False, None
    seen = seen | {cls.node}
    for method in ("__init__", "__new__"):
        member = class_member(cls, method)
        if member is not None:
            return True, function_params(member.node)[1:]
    if "dataclass" in decorator_names(cls.node):
        return True, dataclass_params(cls.node)
    for base in cls.node.bases:
        dotted = dotted_name(base)
        if dotted in ("object", "Generic", "Protocol", "typing.Generic"):
            continue
        target = resolve_dotted(tree, cls.module, dotted) if dotted else None
        if target is None and is_builtin_exception(dotted):
            return True, [param("args", "var_positional", None)]
        if target is None or not target.is_class:
            return True, None
        found, params = constructor(tree, target, seen)
        if found:
            return True, params
    return False, None


def signature(tree: SourceTree, target: Target, owner_is_class: bool) -> list[dict] | None:
    """Signature of a function or class target (None if unknown)."""
    if target.is_class:
        return class_params(tree, target)
    if target.is_function:
        params = function_params(target.node)
        decorators = decorator_names(target.node)
        if owner_is_class and "classmethod" in decorators:
            params = params[1:]
        return params
    return None


def collect_signatures(tree: SourceTree, dotted: str, names: list[str],
                       owner: Target, classes_only: bool) -> dict[str, list[dict]]:
    """Signatures of the functions/classes among ``names`` of ``dotted``."""
    result = {}
    for name in names:
        target = member_target(tree, owner, name)
        if target is None or (classes_only and not target.is_class):
            continue
        params = signature(tree, target, owner.is_class)
        if params is not None:
            result[f"{dotted}.{name}"] = params
    return result


# --------------------------------------------------------------------------
# torch_npu specifics: device alias, custom ops, torch.distributed additions
# --------------------------------------------------------------------------

def device_module_aliases(tree: SourceTree) -> dict[str, str]:
    """``torch.<dev>`` aliases from ``torch._register_device_module("dev", mod)``."""
    aliases = {}
    for name in sorted(tree.files):
        if not name.startswith("torch_npu") or "_register_device_module" not in tree.source(name):
            continue
        for node in ast.walk(tree.parse(name)):
            if (isinstance(node, ast.Call) and dotted_name(node.func) == "torch._register_device_module"
                    and len(node.args) == 2 and isinstance(node.args[0], ast.Constant)):
                module = dotted_name(node.args[1])
                if module:
                    aliases[f"torch.{node.args[0].value}"] = module
    return aliases


def custom_op_names(wheel: zipfile.ZipFile) -> list[str]:
    """Op names (overload stripped) in the ``custom:`` sections of the op YAML."""
    members = set(wheel.namelist())
    names = set()
    for path in OP_YAMLS:
        if path not in members:
            continue
        data = yaml.safe_load(wheel.read(path)) or {}
        for section in OP_SECTIONS:
            for entry in data.get(section) or []:
                func = entry.get("func", "") if isinstance(entry, dict) else str(entry)
                match = re.match(r"\s*([A-Za-z_]\w*)", func)
                if match:
                    names.add(match.group(1))
    if not names:
        raise SystemExit("error: no custom ops found in torch_npu op YAML")
    return sorted(names)


def module_literal(tree: SourceTree, module: str, variable: str) -> list[str]:
    """A top-level list literal of strings, e.g. ``public_npu_functions``."""
    if not tree.has(module):
        return []
    binding = tree.module(module).bindings.get(variable)
    return literal_names(binding.node) if binding and binding.kind == "assign" else []


def torch_npu_exported_names(tree: SourceTree, ops: list[str]) -> list[str]:
    """Names torch_npu's export step adds to ``torch_npu`` / ``torch_npu.__all__``.

    Custom ops listed in ``public_npu_functions`` and ``globals_dict["X"] = ...``.
    """
    names = set(module_literal(tree, EXPOSED_API_MODULE, "public_npu_functions")) & set(ops)
    if tree.has(EXPORTS_MODULE):
        for node in ast.walk(tree.parse(EXPORTS_MODULE)):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if (isinstance(t, ast.Subscript) and dotted_name(t.value) == "globals_dict"
                            and isinstance(t.slice, ast.Constant) and not t.slice.value.startswith("_")):
                        names.add(t.slice.value)
    return sorted(names)


def distributed_patch_names(tree: SourceTree) -> dict[str, set[str]]:
    """Names torch_npu's import-time code assigns on ``torch.distributed``.

    Recognises ``torch.distributed.X = ...``, ``setattr(torch.distributed, "X", ...)``
    and alias tables of ``("distributed.X", "...")`` string pairs.
    Returns name -> wheel paths where it is set.
    """
    found: dict[str, set[str]] = {}
    modules = {m for m in tree.files if any(is_internal(m, p) for p in DIST_PATCH_PACKAGES)}
    for module in sorted(modules | set(DIST_PATCH_MODULES)):
        if not tree.has(module):
            continue
        for node in ast.walk(tree.parse(module)):
            for name in distributed_assignment(node):
                found.setdefault(name, set()).add(tree.path(module))
    return found


def distributed_assignment(node: ast.AST) -> list[str]:
    """Names a single AST node sets on torch.distributed (see caller)."""
    if isinstance(node, ast.Assign):
        return [t.attr for t in node.targets if isinstance(t, ast.Attribute)
                and dotted_name(t.value) in ("torch.distributed", "dist")]
    if (isinstance(node, ast.Call) and dotted_name(node.func) == "setattr" and len(node.args) >= 2
            and dotted_name(node.args[0]) == "torch.distributed" and isinstance(node.args[1], ast.Constant)):
        return [node.args[1].value]
    if (isinstance(node, ast.Tuple) and len(node.elts) == 2
            and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts)):
        match = re.fullmatch(r"distributed\.([A-Za-z_]\w*)", node.elts[0].value)
        return [match.group(1)] if match else []
    return []


def torch_distributed_names(tree: SourceTree) -> set[str]:
    """Every top-level name torch.distributed binds (incl. star imports)."""
    return set(tree.module("torch.distributed").bindings) | set(tree.submodules("torch.distributed"))


# --------------------------------------------------------------------------
# Snapshot
# --------------------------------------------------------------------------

def build_snapshot(torch_whl: zipfile.ZipFile, npu_whl: zipfile.ZipFile) -> dict:
    """Assemble the snapshot dictionary."""
    tree = SourceTree([torch_whl, npu_whl])
    tree.aliases = device_module_aliases(tree)
    ops = custom_op_names(npu_whl)

    modules, sources, signatures = {}, {}, {}
    for key in MODULE_KEYS:
        names, source, owner = public_names(tree, key)
        if key == "torch_npu":
            names = sorted(set(names) | set(torch_npu_exported_names(tree, ops)))
        modules[key], sources[key] = names, source
        if key in SIGNATURE_MODULES or key in CLASS_SIGNATURE_MODULES:
            classes_only = key in CLASS_SIGNATURE_MODULES
            signatures.update(collect_signatures(tree, key, names, owner, classes_only))

    patched, existing = distributed_patch_names(tree), torch_distributed_names(tree)
    added = sorted(n for n in patched if n not in existing and not n.startswith("_"))
    modules["torch.distributed"] = added
    sources["torch.distributed"] = " ".join(sorted(set().union(*(patched[n] for n in added))))

    npu_all = set(tree.module("torch_npu").all_names or []) | set(torch_npu_exported_names(tree, ops))
    return {
        "generated_by": "scripts/sync_api.py",
        "wheels": {"torch_npu": wheel_version(npu_whl), "torch": wheel_version(torch_whl)},
        "aliases": dict(sorted(tree.aliases.items())),
        "sources": sources,
        "modules": modules,
        "signatures": signatures,
        "custom_ops": {"public": sorted(set(ops) & npu_all), "all": ops},
    }


def dump(snapshot: dict) -> str:
    return json.dumps(snapshot, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------
# Sanity report
# --------------------------------------------------------------------------

EXPECTED_MEMBERS = {
    "torch.npu.amp": ["autocast", "GradScaler", "custom_fwd", "custom_bwd"],
    "torch_npu.optim": ["NpuFusedAdamW", "NpuFusedAdam", "NpuFusedSGD", "NpuFusedAdadelta",
                        "NpuFusedRMSprop", "NpuFusedRMSpropTF", "NpuFusedLamb",
                        "NpuFusedAdamP", "NpuFusedBertAdam"],
    "torch.npu.mstx": ["mark", "range_push", "range_pop", "range_start", "range_end"],
    "torch.distributed": ["is_hccl_available", "reinit_process_group"],
}
EXPECTED_COUNTS = {"torch.cuda": 135, "torch.npu": 166, "twins": 94}


def get_param(snapshot: dict, qualname: str, pname: str) -> dict | None:
    for p in snapshot["signatures"].get(qualname, []):
        if p["name"] == pname:
            return p
    return None


def sanity_report(snapshot: dict) -> list[str]:
    """Print counts; return human-readable discrepancies with known facts."""
    mods = snapshot["modules"]
    print(f"wheels: {snapshot['wheels']}")
    for key in sorted(mods):
        print(f"  {key:22s} {len(mods[key]):4d} names")
    twins = set(mods["torch.cuda"]) & set(mods["torch.npu"])
    print(f"  {'twins (cuda & npu)':22s} {len(twins):4d}")
    print(f"  signatures {len(snapshot['signatures'])}, custom ops "
          f"{len(snapshot['custom_ops']['public'])} public / {len(snapshot['custom_ops']['all'])} all")

    problems = []
    counts = {"torch.cuda": len(mods["torch.cuda"]), "torch.npu": len(mods["torch.npu"]), "twins": len(twins)}
    for what, expected in EXPECTED_COUNTS.items():
        if abs(counts[what] - expected) > expected * 0.1:
            problems.append(f"{what}: {counts[what]} names, expected about {expected}")
    for key, members in EXPECTED_MEMBERS.items():
        missing = sorted(set(members) - set(mods.get(key, [])))
        if missing:
            problems.append(f"{key}: missing {missing}")
    lr = get_param(snapshot, "torch_npu.optim.NpuFusedSGD", "lr")
    if lr is None or lr["default"] not in (None, "required"):  # optimizer.required sentinel
        problems.append(f"torch_npu.optim.NpuFusedSGD lr: expected no default, got {lr}")
    dev = snapshot["signatures"].get("torch.npu.get_device_name")
    if not dev or (dev[0]["name"], dev[0]["default"]) != ("device_name", "None"):
        problems.append(f"torch.npu.get_device_name: expected (device_name=None), got {dev}")
    for line in problems:
        print(f"  DISCREPANCY: {line}")
    if not problems:
        print("  all known facts check out")
    return problems


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--torch-npu-version", default=TORCH_NPU_VERSION,
                        help=f"torch_npu release (default {TORCH_NPU_VERSION})")
    parser.add_argument("--torch-version", default=TORCH_VERSION,
                        help=f"torch release matching torch_npu (default {TORCH_VERSION})")
    parser.add_argument("--wheel-dir", type=Path,
                        help="directory with already downloaded wheels (no download)")
    parser.add_argument("--torch-wheel", type=Path, help="path to the torch wheel")
    parser.add_argument("--torch-npu-wheel", type=Path, help="path to the torch_npu wheel")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                        help=f"download cache outside the repo (default {DEFAULT_CACHE})")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT,
                        help="snapshot path (default cuda2npu/data/api_snapshot.json)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cache = args.cache_dir.expanduser().resolve()
    if cache == REPO_ROOT or REPO_ROOT in cache.parents:
        sys.exit(f"error: cache dir {cache} is inside the repository")
    torch_path = obtain_wheel("torch", args.torch_version, args.torch_wheel, args.wheel_dir, cache)
    npu_path = obtain_wheel("torch_npu", args.torch_npu_version, args.torch_npu_wheel, args.wheel_dir, cache)
    print(f"torch wheel:     {torch_path}\ntorch_npu wheel: {npu_path}")
    with zipfile.ZipFile(torch_path) as torch_whl, zipfile.ZipFile(npu_path) as npu_whl:
        snapshot = build_snapshot(torch_whl, npu_whl)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    text = dump(snapshot)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(text.encode()) // 1024} KiB)")
    sanity_report(snapshot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
