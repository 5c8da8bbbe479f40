"""Project configuration: ``[tool.cuda2npu]`` in the nearest ``pyproject.toml``."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


SEVERITY_LEVELS = ("info", "warning", "error")
SOCS = ("A2", "A3", "950")  # the chip families of Ascend's op-support pages
_LISTS = ("select", "ignore", "rules", "exclude", "extend-exclude")
KEYS = (*_LISTS, "per-file-ignores", "fused-optimizers", "fail-on", "cache-dir", "torch-npu-version", "soc",
        "target")


class ConfigError(Exception):
    """An invalid ``[tool.cuda2npu]`` table; the message names the file and the key."""


@dataclass
class Config:
    """Settings from pyproject.toml; command-line flags are applied on top by the CLI."""

    path: Path | None = None
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    exclude: list[str] | None = None  # None: the built-in excludes
    extend_exclude: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    fused_optimizers: bool = True
    fail_on: str | None = None
    cache_dir: Path | None = None  # relative to the pyproject.toml
    torch_npu_version: str | None = None  # None: the project's pin, else the newest known
    soc: str | None = None  # the chip family of op-support findings; None: A2
    target: str | None = None  # the migration target (npu, accelerator); None: npu


def nearest(folder: Path, known: dict[str, Path | None] | None = None) -> Path | None:
    """The nearest pyproject.toml with a ``[tool.cuda2npu]`` table in ``folder`` or above it. One on
    the way that cannot be read is an error (it may hold the table), as in ruff. ``known`` holds
    the answers for folders (absolute paths) already looked at, and gets those of this walk."""
    known = {} if known is None else known
    here, walked, found = os.path.abspath(folder), [], None
    while True:
        if here in known:
            found = known[here]
            break
        walked.append(here)
        candidate = Path(here, "pyproject.toml")
        if candidate.is_file() and "cuda2npu" in _table(candidate):
            found = candidate
            break
        parent = os.path.dirname(here)
        if parent == here:
            break
        here = parent
    known.update(dict.fromkeys(walked, found))
    return found


def _table(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):  # imported only where there is a pyproject.toml to read
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc} (fix it, or pass --config FILE or --no-config)") from None
    return data.get("tool", {}) if isinstance(data.get("tool"), dict) else {}


def load(path: Path | None) -> Config:
    """The configuration in ``path`` (defaults when None), validated key by key."""
    if path is None:
        return Config()
    table = _table(path).get("cuda2npu", {})
    where = f"{path}: [tool.cuda2npu]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    config = Config(path=path)
    for key, value in table.items():
        if key not in KEYS:
            raise ConfigError(f"{where}: unknown key '{key}' (known: {', '.join(KEYS)})")
        if key in _LISTS:
            if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise ConfigError(f"{where}: '{key}' must be a list of strings")
            if key == "rules":
                value = [str((path.parent / v).resolve()) for v in value]
            setattr(config, key.replace("-", "_"), value)
        elif key == "per-file-ignores":
            if not (isinstance(value, dict) and all(isinstance(v, list) and all(isinstance(i, str) for i in v)
                                                    for v in value.values())):
                raise ConfigError(f"{where}: 'per-file-ignores' maps file patterns to lists of rule ids")
            config.per_file_ignores = value
        elif key == "fused-optimizers":
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: 'fused-optimizers' must be true or false")
            config.fused_optimizers = value
        elif key == "fail-on":
            if value not in SEVERITY_LEVELS:
                raise ConfigError(f"{where}: 'fail-on' must be one of {', '.join(SEVERITY_LEVELS)}")
            config.fail_on = value
        elif key == "cache-dir":
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{where}: 'cache-dir' must be a folder path")
            config.cache_dir = path.parent / value
        elif key == "torch-npu-version":
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{where}: 'torch-npu-version' must be a release, as \"2.6.0.post5\"")
            config.torch_npu_version = value
        elif key == "target":
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{where}: 'target' must be the name of a target, as \"accelerator\"")
            config.target = value
        elif key == "soc":
            if not isinstance(value, str) or value.upper() not in SOCS:
                raise ConfigError(f"{where}: 'soc' must be one of {', '.join(SOCS)}")
            config.soc = value.upper()
    return config
