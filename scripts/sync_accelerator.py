#!/usr/bin/env python3
"""Build ``cuda2npu/data/accelerator.json``: which of the names the accelerator target writes each
torch release has.

For each torch release (the newest build of each minor version from 2.6 on), its wheel is read
statically as a zip archive (nothing is imported): the public names of ``torch.accelerator`` (its
``__all__`` and that of ``torch.accelerator.memory``), and each dotted ``torch.*`` name that the
rules of the ``accelerator`` target write (``replace``, ``fallback``, ``code``, templates and
helpers) is looked up through the modules' imports. The wheels are the CPU builds PyPI serves
for aarch64 (about 100 to 430 MB each), kept in ``~/.cache/cuda2npu/torch_wheels``.
Run ``python scripts/sync_accelerator.py [--releases 2.6.0 2.7.1 ...]``.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sync_api  # (the sibling script: the static module model)

sys.path.insert(0, str(sync_api.REPO_ROOT))
from cuda2npu.helpers import _DOTTED  # noqa: E402 (the names a template spells)
from cuda2npu.rulebook import load_rulebook  # noqa: E402

DEFAULT_OUTPUT = sync_api.REPO_ROOT / "cuda2npu" / "data" / "accelerator.json"
CACHE = Path.home() / ".cache" / "cuda2npu" / "torch_wheels"
RELEASES = ("2.6.0", "2.7.1", "2.8.0", "2.9.1", "2.10.0", "2.11.0", "2.12.1", "2.13.0", "2.14.1")
PLATFORM = "manylinux_2_28_aarch64"  # PyPI's aarch64 wheels are CPU builds: small, same Python API


def written_names() -> list[str]:
    """Every dotted ``torch.*`` name the accelerator rules write."""
    book = load_rulebook(target="accelerator")
    texts = [value for _, value in book.helpers]
    for rule in book:
        for key in ("replace", "fallback", "code"):
            if isinstance(rule.get(key), str):
                texts.append(rule.get(key))
                texts += [f"{rule.get(key)}.{new}" for _, new in _members(rule)]
        texts += list((rule.get("positional") or {}).values()) + [d["value"] for d in rule.get("defaults", [])]
    names = {m.group(0) for text in texts for m in _DOTTED.finditer(re.sub(r"\{\w+\}", "x", text))}
    return sorted(n for n in names if n.startswith("torch.") and "()" not in n)


def _members(rule) -> list[tuple[str, str]]:
    out = []
    for member in rule.get("members") or []:
        out.append(next(iter(member.items())) if isinstance(member, dict) else (member, member))
    return out


def wheel(version: str) -> Path:
    found = sorted(CACHE.glob(f"torch-{version}-*.whl"))
    if not found:
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.11", "--platform", PLATFORM, "-d", str(CACHE), f"torch=={version}"],
                       check=True, stdout=sys.stderr)
        found = sorted(CACHE.glob(f"torch-{version}-*.whl"))
    return found[0]


def _all(tree: sync_api.SourceTree, module: str) -> list[str]:
    if not tree.has(module):
        return []
    for node in tree.parse(module).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return sync_api.literal_names(node.value)
    return []


def present(tree: sync_api.SourceTree, full: str) -> bool:
    if tree.has(full):
        return True
    module, _, name = full.rpartition(".")
    while module and not tree.has(module):  # a class attribute (torch.amp.GradScaler.x): not needed here
        module, _, name = module.rpartition(".")
    if not module:
        return False
    # bound there, or found through imports, or defined by the stub of a compiled module it
    # star-imports (torch.Stream, torch.device: `from torch._C import *`, described in torch/_C/__init__.pyi)
    return (name in tree.module(module).bindings or sync_api.resolve(tree, module, name) is not None
            or any(name in stubs.get(source, ()) for source in _star_imports(tree, module)))


def _star_imports(tree: sync_api.SourceTree, module: str) -> list[str]:
    return [node.module for node in ast.walk(tree.parse(module))  # (also under `if`/`try`)
            if isinstance(node, ast.ImportFrom) and node.module and any(a.name == "*" for a in node.names)]


def stub_names(archive: zipfile.ZipFile) -> dict[str, set[str]]:
    """Module -> the names its ``.pyi`` stub defines at the top level (compiled modules have only these)."""
    out = {}
    for member in archive.namelist():
        if member.endswith("/__init__.pyi") or (member.endswith(".pyi") and "/" in member):
            name = member[:-4].replace("/__init__", "").replace("/", ".")
            tree = ast.parse(archive.read(member))
            out[name] = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))} | {
                t.id for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
    return out


stubs: dict[str, set[str]] = {}


def read(version: str, names: list[str]) -> list[str]:
    with zipfile.ZipFile(wheel(version)) as archive:
        tree = sync_api.SourceTree([archive])
        stubs.clear()
        stubs.update(stub_names(archive))
        public = {f"torch.accelerator.{n}" for n in _all(tree, "torch.accelerator")}
        public |= {f"torch.accelerator.{n}" for n in _all(tree, "torch.accelerator.memory")}
        return sorted(public | {n for n in names if present(tree, n)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", nargs="+", default=list(RELEASES))
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    names = written_names()
    torch = {}
    for version in args.releases:
        minor = ".".join(version.split(".")[:2])
        torch[minor] = {"release": version, "names": read(version, names)}
        print(f"  torch {version}: {len(torch[minor]['names'])} names", file=sys.stderr)
    data = {"generated_by": "scripts/sync_accelerator.py", "checked": names, "torch": torch}
    args.output.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
