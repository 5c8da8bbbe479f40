"""``cuda2npu migrate -``: standard input migrated as the file ``--stdin-filename`` would be (its
configuration, kind and per-file ignores), for editors and scripts. As Black does: the migrated
text on stdout (with ``--diff``, the diff; with ``--check``, nothing), messages on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .files import Source


def migrate_stdin(filename: str | None, sessions, mode: str, positions: bool):
    """The session, the result, and the bytes to print on stdout."""
    from .diffs import unified_diff
    from .runner import Engines, process_bytes

    name = filename or "-"
    path = Path(filename) if filename else Path("stdin.py")
    session = sessions.of_folder(path.parent if filename else Path.cwd())
    kind = session.kind(path)
    source = Source(path, name, kind="python" if kind == "other" else kind, ignore=session.ignores(path))
    data = sys.stdin.buffer.read()
    result, new = process_bytes(data, source, Engines(session.book, positions))
    if result.error is not None:
        return session, result, b""
    if mode == "diff":
        return session, result, unified_diff(data, new, name) if new != data else b""
    return session, result, b"" if mode == "check" else new
