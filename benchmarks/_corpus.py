"""Pinned real-world packages for the benchmarks: downloaded with pip, their Python files unpacked.

Shared by ``bench.py`` and ``corpus_check.py``; stdlib only. Nothing is written inside the repo:
archives and unpacked sources live in the cache (``~/.cache/cuda2npu/corpus`` by default).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = Path.home() / ".cache" / "cuda2npu" / "corpus"
SUFFIXES = (".py", ".pyi")
ARCHIVES = (".whl", ".tar.gz", ".zip")

# Concrete current versions; a pin that PyPI no longer serves falls back to the newest (with a notice).
PINS = {
    "transformers": "5.24.0",
    "diffusers": "0.42.1",
    "deepspeed": "0.19.8",  # no wheel on PyPI: the sdist is used
    "timm": "1.0.31",
    "accelerate": "1.15.0",
}


class FetchError(Exception):
    """A package could not be downloaded or unpacked."""


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _archive_key(filename: str) -> tuple[str, str] | None:
    """(normalized name, version) of a wheel or sdist file name."""
    if filename.endswith(".whl"):
        name, version = filename.split("-")[:2]
    else:
        stem = next((filename[: -len(s)] for s in ARCHIVES[1:] if filename.endswith(s)), None)
        if stem is None or "-" not in stem:
            return None
        name, version = stem.rsplit("-", 1)
    return _norm(name), version


def _cached_archive(folder: Path, name: str, version: str) -> Path | None:
    if not folder.is_dir():
        return None
    found = [p for p in sorted(folder.iterdir()) if _archive_key(p.name) == (_norm(name), version)]
    return min(found, key=lambda p: not p.name.endswith(".whl")) if found else None  # wheels first


def _pip_download(spec: str, folder: Path) -> bool:
    """A pure wheel if there is one, else the sdist; True if pip saved something."""
    for choice in ("--only-binary=:all:", "--no-binary=:all:"):
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "-q", choice, "-d", str(folder), spec]
        if subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            return True
    return False


def newest_version(name: str) -> str | None:
    """The newest version PyPI offers, from ``pip index versions``."""
    out = subprocess.run([sys.executable, "-m", "pip", "index", "versions", name, "--disable-pip-version-check"],
                         check=False, capture_output=True, text=True).stdout
    match = re.search(rf"^{re.escape(name)} \(([^)]+)\)", out, re.MULTILINE | re.IGNORECASE)
    return match.group(1) if match else None


def download(name: str, version: str, cache: Path) -> tuple[str, Path]:
    """The version used and its archive; the newest version replaces a pin that does not exist."""
    folder = cache / "dl"
    folder.mkdir(parents=True, exist_ok=True)
    archive = _cached_archive(folder, name, version)
    if archive is None and _pip_download(f"{name}=={version}", folder):
        archive = _cached_archive(folder, name, version)
    if archive is not None:
        return version, archive
    newest = newest_version(name)
    if newest is None or newest == version:
        raise FetchError(f"cannot download {name}=={version}")
    print(f"note: {name}=={version} is not available; using the newest, {newest}", file=sys.stderr)
    return download(name, newest, cache)


def _members(archive: Path) -> list[tuple[str, bytes]]:
    """(relative path, content) of every Python file; an sdist's top folder is stripped."""
    out = []
    if archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            names = [n for n in z.namelist() if n.endswith(SUFFIXES)]
            strip = archive.name.endswith(".zip")
            out = [(n.split("/", 1)[1] if strip else n, z.read(n)) for n in names]
    else:
        with tarfile.open(archive) as t:
            for m in t.getmembers():
                if m.isfile() and m.name.endswith(SUFFIXES) and "/" in m.name:
                    out.append((m.name.split("/", 1)[1], t.extractfile(m).read()))
    return [(rel, data) for rel, data in out if rel and not rel.startswith("/") and ".." not in rel.split("/")]


def unpack(name: str, version: str, archive: Path, cache: Path) -> Path:
    """The folder holding the package's Python files, unpacked once into the cache."""
    dest = cache / "src" / f"{name}-{version}"
    if (dest / ".complete").exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=dest.parent))
    try:
        for rel, data in _members(archive):
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (tmp / ".complete").write_text(archive.name + "\n")
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def fetch(name: str, cache: Path, version: str | None = None) -> tuple[str, Path]:
    """Download (once) and unpack (once) a pinned package: (version used, source folder)."""
    used, archive = download(name, version or PINS[name], cache)
    return used, unpack(name, used, archive, cache)


def python_files(root: Path) -> list[Path]:
    """Every Python file below ``root``, in a stable order."""
    return sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES and p.is_file())


def count_lines(data: bytes) -> int:
    return data.count(b"\n") + (bool(data) and not data.endswith(b"\n"))


def snapshot(dest: Path, source: Path | None = None) -> str:
    """Copy ``cuda2npu/`` and ``rules/`` to ``dest`` (others edit them meanwhile); describe the state.

    ``source`` is a checkout to copy instead of this repo (described as such).
    """
    for part in ("cuda2npu", "rules"):
        shutil.copytree((source or REPO) / part, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
    if source is not None:
        return f"cuda2npu from {source}"
    git = ["git", "-C", str(REPO)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"],
                          check=False, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "cuda2npu", "rules"],
                           check=False, capture_output=True, text=True).stdout.splitlines()
    return f"cuda2npu at {head or 'unknown commit'}" + (
        f" + {len(dirty)} uncommitted change(s) in cuda2npu/ and rules/ ({', '.join(d[3:] for d in dirty)})"
        if dirty else " (clean)")


def child_env(cache: Path, code: Path = REPO) -> dict[str, str]:
    """Environment for child processes: ``code`` importable, plain output, bytecode cached in the cache.

    PYTHONDONTWRITEBYTECODE is dropped: with it every run would compile cuda2npu and its dependencies
    anew (about 0.4 s here), which no installed tool pays.
    """
    env = dict(os.environ, NO_COLOR="1", PYTHONPYCACHEPREFIX=str(cache / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
    return env
