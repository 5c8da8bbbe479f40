"""Jupyter notebooks: migrate the code cells as one program; keep outputs, metadata and JSON layout.

The code cells are joined (with marker comments between them) so that imports and aliases work
across cells and ``import torch_npu`` is added once, after the first torch import. IPython magics
and shell lines are masked as ``pass`` statements while the engine runs and put back afterwards.
Shell lines (``!nvidia-smi``, ``files = !ls``) and ``%%bash``/``%%sh`` cells go through the text
rules of shell scripts, as a ``.sh`` file would.
"""

from __future__ import annotations

import io
import json
import re
import tokenize
from dataclasses import replace
from typing import Any, Callable

from .results import Migration, SourceError

_LINES = re.compile(r"[^\n]*\n|[^\n]+\Z")  # lines as Python and nbformat count them
_MAGIC = re.compile(r"^(\s*)(?:[%!?]|\w[\w.,\s]*=\s*[!%])")  # %magic, !shell, ?help, x = !cmd


class _Markers:
    """The marker comments of one notebook: a word found nowhere in it, so that no text of a cell
    can be taken for a marker (a cell may well contain ``# cuda2npu-cell-0``)."""

    def __init__(self, text: str):
        n = 0
        while f"c2n{n}x" in text:
            n += 1
        word = f"c2n{n}x"
        self.cell = "# " + word + "-cell-{}"
        self.cell_line = re.compile(r"^# %s-cell-(\d+)\r?\n" % word, re.M)
        self.mask = "{}pass  # " + word + "-magic-{}"
        self.masked = re.compile(r"^(\s*)pass  # %s-magic-(\d+)$" % word)
_PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture", "%%prun")  # their cell body is Python
_SHELL_CELL = re.compile(r"%%(?:bash|sh|script (?:ba|z)?sh)\b")  # a cell in the shell
# !cmd, x = !cmd, %pip ...: the command after '!' (after '%' for the magics that run one)
_SHELL_LINE = re.compile(r"^(\s*(?:\w[\w.,\s]*=\s*)?(?:!!?|%(?=(?:pip|conda|sx|system)\b)))(.*)$", re.S)
SHELL_NAME = "notebook.sh"  # the file name shell lines are migrated as: the text rules of *.sh
_INDENT = re.compile(r"\{\r?\n([ \t]+)\"")  # the first key of the top object, on a line of its own


def _layout(nb: Any, text: str) -> Callable[[Any], str]:
    """The json.dumps settings that reproduce ``text`` exactly: the indent the file uses (any
    number of spaces, a tab, or none), its line endings (CRLF from a Windows checkout too), ASCII
    escapes or not, a last newline or not. A notebook written otherwise is refused, saying how."""
    found = _INDENT.match(text)
    indents = [found.group(1) if found else None] + [None] * bool(found)
    crlf = "\r\n" in text
    end = "\r\n" if text.endswith("\r\n") else "\n" if text.endswith("\n") else ""
    for indent in indents:
        for ascii_only in (False, True):
            def dump(obj: Any, indent=indent, ascii_only=ascii_only) -> str:
                out = json.dumps(obj, indent=indent, ensure_ascii=ascii_only)
                return (out.replace("\n", "\r\n") if crlf else out) + end
            if dump(nb) == text:
                return dump
    raise SourceError("notebook JSON is laid out in a way that cannot be kept exactly (not as json.dumps "
                      "or nbformat writes it): not migrated; `jupyter nbconvert --to notebook --inplace` "
                      "rewrites it in the standard layout", 1)


def _table(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _code_cells(nb: Any) -> list[tuple[int, str]]:
    """(index, source) of the Python code cells of a Python notebook (not %%bash, %%writefile, ...)."""
    if "worksheets" in nb and "cells" not in nb:
        raise SourceError(f"nbformat {nb.get('nbformat', 3)} notebook: not migrated (convert it to nbformat 4 "
                          "first: jupyter nbconvert --to notebook --inplace)", 1)
    metadata = _table(nb.get("metadata"))
    language = (_table(metadata.get("kernelspec")).get("language")
                or _table(metadata.get("language_info")).get("name") or "python")
    if not isinstance(nb.get("cells"), list) or not isinstance(language, str) or language.lower() != "python":
        return []
    cells = []
    for i, cell in enumerate(nb["cells"]):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            if not (isinstance(source, str) or (isinstance(source, list) and all(isinstance(s, str) for s in source))):
                raise SourceError(f"invalid notebook: cell {i + 1} has a source that is not text", 1)
            text = "".join(source) if isinstance(source, list) else source
            if not text.startswith("%%") or text.split(None, 1)[0] in _PYTHON_CELL_MAGICS:
                cells.append((i, text))
    return cells


def _continues(code: str) -> bool:
    """Whether ``code`` ends inside a bracket, a string or a backslash continuation, where IPython
    takes no line for a magic (``!= 0`` and ``% n`` there are Python)."""
    try:
        for _ in tokenize.generate_tokens(io.StringIO(code).readline):
            pass
    except tokenize.TokenError:
        return True
    except (SyntaxError, ValueError):  # not Python up to here: no bracket to be inside of
        return False
    return False


def _mask(text: str, magics: list[str], markers: _Markers) -> str:
    """Magic and shell lines (at the start of a logical line) as numbered ``pass`` lines."""
    out: list[str] = []
    for line in _LINES.findall(text):
        body = line.rstrip("\r\n")
        match = _MAGIC.match(body)
        if match and out and _continues("".join(out)):
            match = None
        if match:
            out.append(markers.mask.format(match.group(1), len(magics)) + line[len(body):])
            magics.append(body)
        else:
            out.append(line)
    return "".join(out)


def _cell_magic(text: str) -> tuple[str, str]:
    """A ``%%time``-like first line, kept out of the program so nothing is put above it; the rest."""
    if not text.startswith("%%"):
        return "", text
    first, _, rest = text.partition("\n")
    return first + "\n", rest


def _unmask(text: str, magics: list[str], markers: _Markers) -> str:
    out = []
    for line in _LINES.findall(text):
        body = line.rstrip("\r\n")
        match = markers.masked.match(body)
        out.append(magics[int(match.group(2))] + line[len(body):] if match else line)
    return "".join(out)


def _shell_cells(nb: Any) -> list[tuple[int, str, str]]:
    """(index, magic line, body) of the ``%%bash``-like cells."""
    out = []
    for i, cell in enumerate(nb.get("cells") or []):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            text = "".join(source) if isinstance(source, list) else source
            if isinstance(text, str) and _SHELL_CELL.match(text):
                first, _, body = text.partition("\n")
                out.append((i, first + "\n", body))
    return out


def _shell_lines(program: str, magics: list[str], markers: _Markers, shell) -> tuple[list, list]:
    """Run ``shell`` on each masked shell line (its command after ``!``), updating ``magics``;
    the edits and findings at the lines of the joined program."""
    edits, findings = [], []
    for number, line in enumerate(_LINES.findall(program), 1):
        masked = markers.masked.match(line.rstrip("\r\n"))
        found = _SHELL_LINE.match(magics[int(masked.group(2))]) if masked else None
        if found is None:
            continue
        head, command = found.groups()
        sub = shell(command)
        magics[int(masked.group(2))] = head + sub.code
        edits += [replace(e, line=number, col=e.col + len(head)) for e in sub.edits]
        findings += [replace(f, line=number, col=f.col + len(head)) for f in sub.findings]
    return edits, findings


def migrate_notebook(text: str, migrate: Callable[[str], Migration],
                     shell: Callable[[str], Migration] | None = None) -> tuple[str, Migration]:
    """The new notebook text and the migration of its joined code (lines counted per cell);
    ``shell`` migrates shell text (the text rules of shell scripts) for its shell lines and cells."""
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"invalid notebook JSON: {exc.msg}", exc.lineno, exc.colno) from None
    if not isinstance(nb, dict):
        raise SourceError("invalid notebook: not a JSON object", 1)
    dump = _layout(nb, text)
    cells = _code_cells(nb)
    magics: list[str] = []
    markers = _Markers(text)
    heads = {i: _cell_magic(src) for i, src in cells}
    program = "".join(f"{markers.cell.format(i)}\n{_mask(heads[i][1], magics, markers)}\n" for i, _ in cells)
    try:
        result = migrate(program)
    except SourceError as exc:  # its line in the joined program: say which cell and which line there
        raise _in_cell(exc, program, markers) from None
    before = list(magics)
    if shell is not None:
        edits, findings = _shell_lines(program, magics, markers, shell)
        result = Migration(result.source, result.code, result.edits + edits, result.findings + findings)
    found = _cell_positions(result, program, markers)
    new_sources = {}
    if result.changed or magics != before:
        bodies = _split(_unmask(result.code, magics, markers), markers)
        if len(bodies) != len(cells):  # never write cells that did not come back whole
            raise SourceError("internal error: the notebook's cells could not be told apart after migration; "
                              "not migrated", 1)
        new_sources = {i: heads[i][0] + body for (i, _), body in zip(cells, bodies)}
    for i, first, body in _shell_cells(nb) if shell is not None else ():
        sub = shell(body)
        new_sources[i] = first + sub.code
        found.edits.extend(replace(e, line=e.line + 1, message=f"cell {i + 1}: {e.message}", cell=i + 1)
                           for e in sub.edits)
        found.findings.extend(replace(f, line=f.line + 1, message=f"cell {i + 1}: {f.message}", cell=i + 1)
                              for f in sub.findings)
    old_sources = {i: src for i, src in cells} | {i: first + body for i, first, body in _shell_cells(nb)}
    changed = False
    for i, new in new_sources.items():
        if new != old_sources[i]:
            changed, cell = True, nb["cells"][i]
            cell["source"] = _LINES.findall(new) if isinstance(cell.get("source"), list) else new
    order = lambda item: (item.cell or 0, item.line, item.col)  # noqa: E731
    found = Migration(found.source, found.code, sorted(found.edits, key=order), sorted(found.findings, key=order))
    return (dump(nb) if changed else text), found


def _split(code: str, markers: _Markers) -> list[str]:
    """The joined program back into cell sources (each lost the newline added when joining)."""
    parts = markers.cell_line.split(code)[1:]
    return [body[:-1] if body.endswith("\n") else body for body in parts[1::2]]


def _cell_of(program: str, markers: _Markers):
    """For a line of the joined program: (its line inside its cell, the cell's index)."""
    starts = [(program.count("\n", 0, m.start()) + 2, int(m.group(1))) for m in markers.cell_line.finditer(program)]
    return lambda line: next(((line - first + 1, c) for first, c in reversed(starts) if line >= first), (line, 0))


def _in_cell(exc: SourceError, program: str, markers: _Markers) -> SourceError:
    if not exc.line:
        return exc
    line, cell = _cell_of(program, markers)(exc.line)
    return type(exc)(f"cell {cell + 1}, line {line}: {exc.message}")  # no line of the JSON


def _cell_positions(result: Migration, program: str, markers: _Markers) -> Migration:
    """Edits and findings with lines counted inside their cell, and the cell named in the message."""
    cell_of = _cell_of(program, markers)

    def where(item):
        line, cell = cell_of(item.line)
        return replace(item, line=max(line, 1), message=f"cell {cell + 1}: {item.message}", cell=cell + 1)

    return Migration(result.source, result.code, [where(e) for e in result.edits],
                     [where(f) for f in result.findings])
