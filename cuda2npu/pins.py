"""The torch_npu release a project declares: its pin in requirements or pyproject.toml (read with
``packaging`` and ``tomllib``), setup.cfg, setup.py or a conda environment file, matched to a known release (as ruff reads
``requires-python``: the oldest release the requirement admits, so the port runs on each).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from . import versions

# Where a project declares its dependencies, in the order they are read.
FILES = ("pyproject.toml", "setup.cfg", "setup.py", "requirements*.txt", "requirements/*.txt",
         "environment.yml", "environment.yaml")
_NAMES = {"torch-npu": r"torch[-_.]npu", "torch": r"torch(?![\w.-])"}  # the packages whose pins matter
# A requirement inside any text: the name, then its specifiers up to a quote or the line's end.
_REQUIREMENT = r"(?<![\w.-])%s\s*(?:\[[^\]]*\])?\s*((?:[=!<>~]=?=?\s*[\w.*+!-]+\s*,?\s*)+)"
_MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class Choice:
    """The release rules are gated to, and why it was chosen (said once in the summary)."""

    release: versions.Release
    why: str
    pinned: bool = True  # chosen on purpose (flag, configuration, the project's pin), not by default


def choose(explicit: str | None, configured: tuple[str, Path] | None, folder: Path | None) -> Choice:
    """``--torch-npu-version``, else ``torch-npu-version`` in the configuration, else the pin found
    in ``folder`` or the nearest folder above it that declares dependencies, else the newest."""
    if explicit:
        return Choice(versions.release(explicit), "--torch-npu-version")
    if configured:
        value, path = configured
        return Choice(versions.release(value, f"{path}: [tool.cuda2npu] torch-npu-version"), f"{path}")
    found = find_pin(folder) if folder is not None else None
    if found is None:
        return Choice(versions.Release(versions.newest()), "the newest known release; no torch-npu pin found", False)
    where, spec = found
    return Choice(matching(spec, where), f"torch-npu{spec} in {where}")


def find_pin(folder: Path, package: str = "torch-npu") -> tuple[str, str] | None:
    """``(path:line, specifiers)`` of the first requirement on ``package`` in the project at
    ``folder``: the folder itself or the nearest one above it holding a dependency file (not past a ``.git``)."""
    name = re.compile(_NAMES[package], re.I)
    requirement = re.compile(_REQUIREMENT % _NAMES[package], re.I)
    for here in (folder, *folder.parents):
        candidates = [p for pattern in FILES for p in sorted(here.glob(pattern)) if p.is_file()]
        for path in candidates:
            found = _pin_in(path, name, requirement, package)
            if found:
                return found
        if candidates or (here / ".git").exists():
            return None
    return None


def _pin_in(path: Path, name: re.Pattern[str], requirement: re.Pattern[str], package: str) -> tuple[str, str] | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_BYTES)
    except OSError:
        return None
    text = data.decode("utf-8", "replace")
    if not name.search(text):
        return None
    if path.name == "pyproject.toml" or path.suffix == ".txt":  # requirements read as the standards say
        return _declared(path, text, package)
    for number, line in enumerate(text.splitlines(), 1):
        code = line.split("#", 1)[0] if not path.name.endswith((".toml", ".py")) else line
        for match in requirement.finditer(code):
            return f"{path}:{number}", re.sub(r"\s+", "", match.group(1)).rstrip(",")
    return None


def _declared(path: Path, text: str, package: str) -> tuple[str, str] | None:
    """The first requirement on ``package`` of a requirements file (one PEP 508 requirement a line)
    or of a pyproject.toml (``[project]`` dependencies and optional dependencies, PEP 735
    dependency groups), read with ``packaging`` (and ``tomllib``): ``(path:line, specifiers)``."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    if path.suffix == ".txt":
        lines = [(n, line.split(" #", 1)[0].strip()) for n, line in enumerate(text.splitlines(), 1)]
        entries = [(n, line) for n, line in lines if line and not line.startswith(("#", "-"))]
    else:
        entries = [(None, entry) for entry in _pyproject_requirements(text)]
    for number, entry in entries:
        try:
            found = Requirement(entry)
        except InvalidRequirement:
            continue
        if canonicalize_name(found.name) == package and found.specifier:
            if number is None:  # the line of the requirement in the file, for the message
                at = text.find(entry)
                number = text.count("\n", 0, at) + 1 if at >= 0 else 1
            written = re.sub(r"^[\w.-]+(?:\[[^\]]*\])?", "", re.sub(r"\s+", "", entry.split(";", 1)[0]))
            return f"{path}:{number}", written.strip("()")  # the specifiers as the project writes them
    return None


def _pyproject_requirements(text: str) -> list[str]:
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return []  # (a broken pyproject.toml that configures cuda2npu is refused by the configuration)
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    groups = [project.get("dependencies", []), *dict(project.get("optional-dependencies") or {}).values(),
              *dict(data.get("dependency-groups") or {}).values()]
    return [entry for group in groups if isinstance(group, list) for entry in group if isinstance(entry, str)]


def matching(spec: str, where: str) -> versions.Release:
    """The oldest known release ``spec`` admits; for ``==X`` of a build not known, the newest known
    build of X's line. Nothing admitted is an error naming ``where``."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import Version

    try:
        specifiers = SpecifierSet(spec)
    except InvalidSpecifier:
        raise versions.VersionError(f"{where}: cannot read the requirement torch-npu{spec}") from None
    admitted = [v for v in versions.known() if specifiers.contains(v, prereleases=True)]
    if admitted:
        return versions.Release(admitted[0])
    exact = re.fullmatch(r"===?([\w.]+?)(?:\+\w+)?", spec)
    if exact:
        line = Version(exact.group(1).rstrip(".*")).release[:3]
        same = [v for v in versions.known() if Version(v).release[:3] == line]
        if same:
            return versions.Release(same[-1])
    raise versions.VersionError(f"{where}: torch-npu{spec} admits no known release (known: "
                                f"{', '.join(versions.known())}); pass --torch-npu-version, or add the "
                                "release with scripts/sync_versions.py (see docs/api-snapshot.md)")
