"""Unified diffs of files' bytes, as ``git apply`` and ``patch -p1`` take them; and a notebook's
cell-by-cell view (for reading, not a patch)."""

from __future__ import annotations

import os
import re

_LINE = re.compile(rb"[^\n]*\n|[^\n]+\Z")


def _header_name(prefix: bytes, name: bytes) -> bytes:
    """A file name in a diff header as git writes it: C-quoted when it holds a quote, a backslash
    or a control character (``git apply`` takes the other bytes as they are)."""
    name = prefix + name
    if not any(b < 0x20 or b == 0x7F or b in b'"\\' for b in name):
        return name
    escapes = {0x07: b"\\a", 0x08: b"\\b", 0x09: b"\\t", 0x0A: b"\\n", 0x0B: b"\\v", 0x0C: b"\\f",
               0x0D: b"\\r", 0x22: b'\\"', 0x5C: b"\\\\"}
    return b'"' + b"".join(escapes.get(b) or (b"\\%03o" % b if b < 0x20 or b == 0x7F else bytes([b]))
                           for b in name) + b'"'


def unified_diff(old: bytes, new: bytes, path: str) -> bytes:
    """A ``git apply``-able unified diff of one file's bytes (encoding and BOM as in the file)."""
    import difflib  # only a run that shows diffs needs it

    name = os.path.normpath(path).lstrip("/").replace(os.sep, "/").encode("utf-8", "surrogateescape")
    out = []
    for line in difflib.diff_bytes(difflib.unified_diff, _LINE.findall(old), _LINE.findall(new),
                                   _header_name(b"a/", name), _header_name(b"b/", name)):
        out.append(line if line.endswith(b"\n") else line + b"\n\\ No newline at end of file\n")
    return b"".join(out)


def cell_diff(old: bytes, new: bytes, path: str) -> bytes:
    """A notebook's changed cells as unified diffs of their sources, headed
    ``a/nb.ipynb (cell 3)``: a view for reading (``--notebook-cells``), not a patch."""
    import difflib
    import json

    def sources(data: bytes) -> list[str]:
        cells = json.loads(data.decode("utf-8")).get("cells") or []
        return ["".join(c.get("source", "")) if isinstance(c, dict) else "" for c in cells]

    name = os.path.normpath(path).lstrip("/").replace(os.sep, "/")
    out = []
    for i, (before, after) in enumerate(zip(sources(old), sources(new)), 1):
        if before != after:
            lines = [line if line.endswith("\n") else line + "\n"
                     for line in difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                                      f"a/{name} (cell {i})", f"b/{name} (cell {i})")]
            out.append("".join(lines))
    return "".join(out).encode("utf-8")
