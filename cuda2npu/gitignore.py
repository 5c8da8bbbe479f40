"""``.gitignore`` honoured by reading the files themselves: git is never run.

Running git on a repository under migration would honour its ``.git/config``, which can run
commands (``core.fsmonitor``, hooks, pagers). The ignore files are data, read with ``pathspec``'s
gitignore semantics and git's precedence: a folder's ``.gitignore`` over its parents', those over
``.git/info/exclude``, that over the user's global ignore file. Outside a git work tree (no
``.git`` in the folder or above it) nothing is ignored, as in git.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

_MAX_BYTES = 1 << 20  # an ignore file larger than this is not read (git itself has a 100 MB limit)


def _read_spec(path: Path) -> GitIgnoreSpec | None:
    try:
        if not path.is_file() or path.stat().st_size > _MAX_BYTES:
            return None
        lines = path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError:
        return None
    from pathspec import GitIgnoreSpec  # imported only where a tree has ignore files

    spec = GitIgnoreSpec.from_lines(lines)
    return spec if len(spec) else None


def _global_ignore() -> Path:
    """git's default ``core.excludesFile`` (the setting itself lives in git's config, not read)."""
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(config) / "git" / "ignore"


def work_tree(path: Path) -> Path | None:
    """The top of the git work tree holding ``path``: the nearest folder with a ``.git``."""
    here = Path(os.path.abspath(path))
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return None


class GitIgnore:
    """Whether paths below a work tree are ignored; ignore files are read once, when first needed."""

    def __init__(self, top: Path):
        self.top = Path(os.path.abspath(top))
        self._specs: dict[Path, GitIgnoreSpec | None] = {}
        self._base = [s for s in (_read_spec(self.top / ".git" / "info" / "exclude"),
                                  _read_spec(_global_ignore())) if s is not None]

    @classmethod
    def for_path(cls, path: Path) -> "GitIgnore | None":
        top = work_tree(path)
        return cls(top) if top is not None else None

    def _spec(self, folder: Path) -> GitIgnoreSpec | None:
        if folder not in self._specs:
            self._specs[folder] = _read_spec(folder / ".gitignore")
        return self._specs[folder]

    def __call__(self, path: Path, is_dir: bool) -> bool:
        """Whether git ignores ``path`` (its folders are checked by the walk that reaches it)."""
        path = Path(os.path.abspath(path))
        try:
            rel = path.relative_to(self.top)
        except ValueError:
            return False
        if not rel.parts or rel.parts[0] == ".git":
            return False
        suffix = "/" if is_dir else ""
        folder = path.parent
        while True:  # the nearest ignore file with a matching pattern decides
            spec = self._spec(folder)
            if spec is not None:
                decided = spec.check_file(path.relative_to(folder).as_posix() + suffix).include
                if decided is not None:
                    return decided
            if folder == self.top:
                break
            folder = folder.parent
        for spec in self._base:
            decided = spec.check_file(rel.as_posix() + suffix).include
            if decided is not None:
                return decided
        return False
