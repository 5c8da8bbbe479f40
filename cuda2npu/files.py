"""Finding the files to migrate and writing results safely."""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .gitignore import GitIgnore

PYTHON_SUFFIXES = (".py", ".pyi")
NOTEBOOK_SUFFIXES = (".ipynb",)
DEFAULT_EXCLUDE = (
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "__pycache__", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", "build", "dist", "node_modules", "site-packages", ".eggs",
    "*.egg-info", ".ipynb_checkpoints",
)


class UsageError(Exception):
    """A path or option the user gave that cannot be used."""


@dataclass(frozen=True)
class Source:
    """A file to process: where it is, how to show it, and where its output goes."""

    path: Path
    display: str
    dest: Path | None = None  # --out-dir copy; None: in place
    ignore: tuple[str, ...] = ()  # rule ids not applied to this file (per-file-ignores)
    kind: str = "python"  # python, notebook, text (text rules), or other (only copied to --out-dir)
    out_root: Path | None = None  # the --out-dir folder that ``dest`` lies in


def file_kind(path: Path, text_patterns: Iterable[str] = ()) -> str:
    """How a file is migrated, by its name."""
    if path.suffix in PYTHON_SUFFIXES:
        return "python"
    if path.suffix in NOTEBOOK_SUFFIXES:
        return "notebook"
    return "text" if any(fnmatch.fnmatchcase(path.name, p) for p in text_patterns) else "other"


def _glob(pattern: str) -> tuple[str, bool]:
    """A gitignore-style glob as a regular expression (``pathspec``'s) and whether it excludes
    (``!`` patterns include again)."""
    try:
        from pathspec.patterns.gitignore.basic import GitIgnoreBasicPattern as Pattern
    except ImportError:  # pathspec < 1
        from pathspec.patterns import GitWildMatchPattern as Pattern
    regex, include = Pattern.pattern_to_regex(pattern)
    return regex or "(?!)", include is not False


def _translation(known) -> bool:
    """Whether ``known`` has the shape of a :func:`_glob` translation."""
    return isinstance(known, list) and len(known) == 2 and isinstance(known[0], str) and isinstance(known[1], bool)


class Excluder:
    """Gitignore-style globs (``build``, ``*.pyc``, ``**/test_*.py``, ``src/gen/*.py``, ``vendor/``,
    ``!keep.py``) matched against a path's name, its folders (as ``name/``), and its path relative
    to ``base``; each must match a whole name or path, and a ``!`` pattern matching any of them
    keeps the path. ``translated`` maps globs to their :func:`_glob` translation: the ones known
    are not translated again (the results cache keeps them, so a cached run needs no pathspec),
    and new ones are added to it."""

    def __init__(self, patterns: Iterable[str] = DEFAULT_EXCLUDE, base: Path | None = None,
                 translated: dict[str, list] | None = None):
        self.base = Path(os.path.abspath(base or Path.cwd()))
        self._base = str(self.base)
        translated = {} if translated is None else translated
        globs = []
        for pattern in patterns:
            if not _translation(translated.get(pattern)):
                translated[pattern] = list(_glob(pattern))
            globs.append(translated[pattern])
        self._out = re.compile("|".join(f"(?:{r})" for r, include in globs if include) or "(?!)").fullmatch
        self._back = re.compile("|".join(f"(?:{r})" for r, include in globs if not include) or "(?!)").fullmatch

    def __call__(self, path: Path, root: Path | None = None) -> bool:
        """Whether ``path`` is excluded. Its folders count from ``root`` down (the folder given on
        the command line, which is itself never matched) or, for a file named on its own, from
        ``base`` down: a project below a folder called ``build`` is still migrated."""
        absolute = os.path.abspath(path)
        rel = _below(absolute, self._base)
        below = _below(absolute, os.path.abspath(root)) if root is not None else rel
        names = {os.path.basename(os.fspath(path))}
        if below:
            parts = below.split("/")
            names.add(below)
            names.update("/".join(parts[:i]) + "/" for i in range(1, len(parts)))
            names.update(part + "/" for part in parts[:-1])
        if rel is not None and below is not None:
            names.add(rel)
            parts = rel.split("/")
            names.update("/".join(parts[:i]) + "/" for i in range(len(parts) - len(below.split("/")) + 1, len(parts)))
        return any(map(self._out, names)) and not any(map(self._back, names))


def _below(path: str, folder: str) -> str | None:
    """``path`` relative to ``folder`` with ``/`` separators (both absolute and normalized), ``.``
    for the folder itself, None outside it."""
    if path == folder:
        return "."
    prefix = folder if folder.endswith(os.sep) else folder + os.sep
    if not path.startswith(prefix):
        return None
    rest = path[len(prefix):]
    return rest if os.sep == "/" else rest.replace(os.sep, "/")


NEVER_COPIED = (".git", ".hg", ".svn")  # what --out-dir leaves out even of a whole-tree copy


def _walk(root: Path, excluded: Callable, everything: bool = False) -> Iterator[tuple[Path, bool, str]]:
    """Regular files below ``root`` in a stable order, each with whether it is left out (excluded
    or git-ignored) and its real path, without linked ones (so that path is the real folder's
    followed by the names walked) or virtualenvs (special files such as FIFOs and devices
    are never listed). Left-out files are listed only with ``everything`` (a copy of the tree
    holds them, unmigrated), and never those of version-control folders."""
    ignored = GitIgnore.for_path(root)

    def skip(path: Path, is_dir: bool) -> bool:
        return excluded(path, root) or (ignored is not None and ignored(path, is_dir))

    walk = [(Path(root), os.path.realpath(root), False)]
    while walk:
        here, real, left_out = walk.pop()
        try:
            entries = sorted(os.scandir(here), key=lambda e: e.name)
        except OSError:
            continue
        folders = []
        for entry in entries:
            path = here / entry.name
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if (path / "pyvenv.cfg").is_file() or (everything and entry.name in NEVER_COPIED):
                    continue
                out = left_out or skip(path, True)
                if everything or not out:
                    folders.append((path, os.path.join(real, entry.name), out))
            elif entry.is_file():
                out = left_out or skip(path, False)
                if everything or not out:
                    yield path, out, os.path.join(real, entry.name)
        walk.extend(reversed(folders))


def collect(paths: Iterable[str], out_dir: str | None = None, excluded: Callable | None = None,
            text_patterns: Iterable[str] = (), kind: Callable[[Path], str] | None = None) -> list[Source]:
    """The Python files named or found below ``paths`` (every file when copying to ``out_dir``).

    Excluded paths are skipped even when named on the command line (as pre-commit needs).
    ``excluded`` is an :class:`Excluder` or a callable like it; ``kind`` tells a file's kind
    (default: by its name and ``text_patterns``).
    """
    excluded = excluded or Excluder()
    text_patterns = tuple(text_patterns)
    kind = kind or (lambda path: file_kind(path, text_patterns))
    paths = list(paths)
    out = Path(out_dir).resolve() if out_dir else None
    single_dir = len(paths) == 1 and Path(paths[0]).is_dir()
    seen: set[str] = set()
    dests: dict[Path, str] = {}
    sources: list[Source] = []
    for given in paths:
        root = Path(given)
        if not root.exists() and not root.is_symlink():
            raise UsageError(f"{given}: no such file or folder")
        if out is not None and root.is_dir() and (out == root.resolve() or root.resolve() in out.parents):
            raise UsageError(f"--out-dir {out_dir} is inside the input {given}")
        files = []  # (path, its kind, its real path)
        if root.is_dir():
            for path, left_out, real in _walk(root, excluded, everything=out is not None):
                found = "other" if left_out else kind(path)
                if out is not None or found != "other":
                    files.append((path, found, real))
        elif not excluded(root):
            files.append((target := _link_target(root), kind(Path(given)), os.path.realpath(target)))
        for path, found, key in files:
            if key in seen:
                continue
            seen.add(key)
            dest = None
            if out is not None:
                rel = path.relative_to(root) if root.is_dir() else Path(path.name)
                dest = out / rel if single_dir or not root.is_dir() else out / root.resolve().name / rel
                if os.path.realpath(dest) == key:
                    raise UsageError(f"--out-dir {out_dir} would overwrite the input {path}")
                if dest in dests:
                    raise UsageError(f"--out-dir: {dests[dest]} and {path} would both be written to {dest}")
                dests[dest] = str(path)
            sources.append(Source(path, str(path) if root.is_dir() else given, dest, kind=found, out_root=out))
    return sources


def _link_target(path: Path) -> Path:
    """A file named on the command line: a symlink is written through to its file."""
    if not path.is_symlink():
        return path
    try:
        return path.resolve(strict=True)
    except (OSError, RuntimeError):
        return path  # a broken link or a loop: reading it reports the error


MAX_FILE_BYTES = 16 * 1024 * 1024  # a larger file is refused: parsing costs ~160 bytes of memory per byte


class ReadError(Exception):
    """A file that is not read: not a regular file, too large, or unreadable."""


def read_regular(path: Path, limit: int | None = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (None: any size). A FIFO or device is
    never opened in a way that could block, and never read."""
    return read_stamped(path, limit)[0]


def read_stamped(path: Path, limit: int | None = MAX_FILE_BYTES) -> tuple[bytes, tuple[int, int]]:
    """:func:`read_regular`, with the file's (size, modification time in ns) taken before reading."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise ReadError(f"cannot read: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ReadError("not a regular file: skipped")
        if limit is not None and info.st_size > limit:
            raise ReadError(f"larger than {limit // (1024 * 1024)} MiB ({info.st_size:,} bytes): skipped")
        try:
            data = handle.read() if limit is None else handle.read(limit + 1)
        except OSError as exc:
            raise ReadError(f"cannot read: {exc.strerror or exc}") from None
    if limit is not None and len(data) > limit:
        raise ReadError(f"larger than {limit // (1024 * 1024)} MiB: skipped")
    return data, (info.st_size, info.st_mtime_ns)


def stamp(path: Path | str) -> tuple[int, int] | None:
    """A regular file's (size, modification time in ns); None when it is missing or not regular."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return (info.st_size, info.st_mtime_ns) if stat.S_ISREG(info.st_mode) else None


def default_rules_dir() -> Path:
    """The built-in rules: shipped inside the package, or ``rules/`` of a source checkout."""
    here = Path(__file__).resolve().parent
    shipped = here / "rules"
    return shipped if shipped.is_dir() else here.parent / "rules"


def rule_files(path: Path) -> list[Path] | None:
    """A rule file, or the ``*.yaml``/``*.yml`` files of a folder in name order; None for neither."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    return [path] if path.is_file() else None


def rule_sources(extra: Iterable[str | Path] = (), builtin: bool = True) -> list[tuple[Path, bool]]:
    """Every rule file of a rulebook, with whether it was named by the user: the built-in ones,
    then each of ``extra``'s. Raises FileNotFoundError naming an entry that is neither."""
    sources = [(p, False) for p in rule_files(default_rules_dir()) or ()] if builtin else []
    for entry in extra:
        files = rule_files(Path(entry))
        if files is None:
            raise FileNotFoundError(str(entry))
        sources += [(p, True) for p in files]
    return sources


def in_place_refusal(path: Path) -> str | None:
    """Why a file must not be replaced in place, if it must not. Replacing gives a new inode owned
    by whoever runs cuda2npu, so a file with other hard links (they would keep the old code), a
    file of another user (root keeps its owner instead), and one not writable are left alone."""
    info = path.stat()
    if not info.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(path, os.W_OK):
        return "read-only file: not written"
    if info.st_nlink > 1:
        return f"has {info.st_nlink} hard links: not written (a rewrite would split them; migrate a copy)"
    if hasattr(os, "geteuid") and os.geteuid() not in (0, info.st_uid):
        return "owned by another user: not written (the rewrite would become yours)"
    return None


def through_link(dest: Path, root: Path | None) -> str | None:
    """Why a --out-dir file must not be written, if it must not: a link (to a file or a folder) in
    the output tree that cuda2npu did not make would send the write elsewhere."""
    folder = dest
    while True:
        if folder.is_symlink():
            return f"{folder} is a symlink in the output folder: {dest} not written"
        if root is None or folder == root or folder.parent == folder:
            return None
        folder = folder.parent


def write_atomic(path: Path, data: bytes, like: Path | None = None) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename, keeping ``like``'s mode (and,
    when run as root, its owner and group)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    original = (like or path).stat() if (like or path).exists() else None
    import tempfile  # only a run that writes needs it

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".cuda2npu.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if original is not None:
            os.chmod(tmp, stat.S_IMODE(original.st_mode))
            in_place = like is None or like == path
            if in_place and hasattr(os, "geteuid") and os.geteuid() == 0:
                os.chown(tmp, original.st_uid, original.st_gid)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
