#!/usr/bin/env python3
"""Build ``cuda2npu/data/known.json``: names torch_npu is known to have, for rules' ``known`` field.

- ``environment``: the environment variables the torch_npu wheel reads, found statically as
  string constants in its shared libraries and as string literals in its Python modules, for
  the families rules rename into (``TORCH_HCCL_*``, ``HCCL_*``, ``PYTORCH_NPU_*``, ...).
  A family rule (``TORCH_NCCL_*`` -> ``TORCH_HCCL_*``) renames a variable only where its twin
  is in this list, and reports it otherwise.

The wheel is read as a zip archive; nothing is imported. Run with ``--help`` for options.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sync_api  # (the sibling script: wheels)

DEFAULT_OUTPUT = sync_api.REPO_ROOT / "cuda2npu" / "data" / "known.json"
# The families of variables torch_npu reads that rules may rename into.
FAMILIES = ("TORCH_HCCL_", "HCCL_", "P2P_HCCL_", "PYTORCH_NPU_", "TORCH_NPU_", "ASCEND_")
_NAME = re.compile(rb"(?<![A-Z0-9_])(?:%s)[A-Z0-9_]*[A-Z0-9](?![A-Za-z0-9_])"
                   % b"|".join(re.escape(f.encode()) for f in FAMILIES))
_WHOLE = re.compile(r"^(?:%s)[A-Z0-9_]*[A-Z0-9]$" % "|".join(map(re.escape, FAMILIES)))


def environment(wheel: zipfile.ZipFile) -> list[str]:
    """The variable names of :data:`FAMILIES` in the wheel's libraries and Python string literals."""
    names: set[str] = set()
    for member in wheel.namelist():
        if ".so" in Path(member).suffixes:
            names.update(m.decode() for m in _NAME.findall(wheel.read(member)))
        elif member.endswith(".py"):
            try:
                tree = ast.parse(wheel.read(member))
            except SyntaxError:  # pragma: no cover - a wheel's own sources parse
                continue
            names.update(node.value for node in ast.walk(tree)
                         if isinstance(node, ast.Constant) and isinstance(node.value, str)
                         and _WHOLE.match(node.value))
    return sorted(names)


def build(wheel_path: Path) -> dict:
    with zipfile.ZipFile(wheel_path) as wheel:
        return {"generated_by": "scripts/sync_known.py", "torch_npu": sync_api.wheel_version(wheel),
                "environment": environment(wheel)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--torch-npu-version", default=sync_api.TORCH_NPU_VERSION)
    parser.add_argument("--wheel", type=Path, help="a torch_npu wheel to read (default: download it)")
    parser.add_argument("--cache", type=Path, default=sync_api.DEFAULT_CACHE)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    wheel = sync_api.obtain_wheel("torch_npu", args.torch_npu_version, args.wheel, None, args.cache)
    data = build(wheel)
    args.output.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{args.output}: {len(data['environment'])} environment variables of torch_npu {data['torch_npu']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
