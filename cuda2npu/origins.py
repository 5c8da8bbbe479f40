"""Where a file's names get their values: the callables whose results it assigns to them.

For rules that act on an attribute only where its receiver comes from a given call (``results_of``):
``props = torch.cuda.get_device_properties(0)`` makes ``props`` a device-properties object, and
``self.unet = UNet2DConditionModel.from_pretrained(...)`` a diffusers model. Read from Python's
``ast`` of the whole file (also the statements the splicer leaves out), flow- and
scope-insensitive: a name the file binds in any other way too has an unknown origin (``x += y``
updates ``x`` in place and keeps its origin).
"""

from __future__ import annotations

import ast
import fnmatch

from .context.facts import dotted
from .symbols import Bindings

UNKNOWN = ""  # the origin of a value that is not the result of a call to a resolved name


def _dotted(node: ast.AST) -> str | None:
    parts = dotted(node)
    return ".".join(parts) if parts else None


def callee(name: str | None, bindings: Bindings) -> str:
    """The full dotted name of a called chain (``UNet.from_pretrained`` ->
    ``diffusers.UNet.from_pretrained``), or :data:`UNKNOWN`."""
    if not name:
        return UNKNOWN
    qualified = bindings.qualify(name.split("."))
    return ".".join(qualified[0]) if qualified else UNKNOWN


def result_of(value: ast.AST | None, bindings: Bindings) -> str:
    """What a value is the result of: ``diffusers.UNet.from_pretrained`` for
    ``UNet.from_pretrained(...)``, ``diffusers.UNet.from_pretrained().to`` for a method called on
    that result (``.to(device)``: rules' patterns say which such chains they accept)."""
    if not isinstance(value, ast.Call):
        return UNKNOWN
    func = value.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
        inner = result_of(func.value, bindings)
        return f"{inner}().{func.attr}" if inner else UNKNOWN
    return callee(_dotted(func), bindings)


def origins(tree: ast.Module, bindings: Bindings, describe=result_of) -> dict[str, frozenset[str]]:
    """For each name or dotted target (``self.unet``) the file assigns: the callables whose
    results it is given (:data:`UNKNOWN` for any other value, a loop, a parameter, ...), or
    whatever else ``describe(value, bindings)`` says of each value assigned."""
    found: dict[str, set[str]] = {}

    def bind(target: ast.AST, value: ast.AST | None) -> None:
        key = _dotted(target)
        if key is None:
            for inner in getattr(target, "elts", ()):  # a, b = ...: unknown parts
                bind(inner, None)
            return
        found.setdefault(key, set()).add(describe(value, bindings) if value is not None else UNKNOWN)

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                bind(target, node.value)
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            bind(node.target, node.value)
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):  # (`x += y` keeps x's origin)
            bind(node.target, None)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            bind(node.optional_vars, None)
        elif isinstance(node, ast.arg):
            found.setdefault(node.arg, set()).add(UNKNOWN)
    return {key: frozenset(values) for key, values in found.items()}


def comes_from(values: frozenset[str] | None, patterns) -> bool:
    """Whether every origin of a value matches one of ``patterns`` (globs over dotted names)."""
    return bool(values) and all(v and any(fnmatch.fnmatchcase(v, p) for p in patterns) for v in values)
