"""Running the engine over files: read, migrate, diff, write; in worker processes when it pays."""

from __future__ import annotations

import difflib
import os
import re
import stat
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from .engine import Edit, Engine, Finding, SourceError
from .files import Source, write_atomic
from .rulebook import RuleBook
from .sourcefile import decode

POOL_MIN_FILES = 32  # fewer files than this are faster in one process than a pool's start-up
_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")


@dataclass(frozen=True)
class Options:
    write: bool = True  # write results (in place, or to the --out-dir copy)
    diff: bool = False  # produce a unified diff


@dataclass
class FileResult:
    """What happened to one file."""

    path: str
    changed: bool = False
    edits: list[Edit] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    error_line: int | None = None
    diff: str = ""


def unified_diff(old: str, new: str, path: str) -> str:
    """A ``git apply``-able unified diff of one file, ``a/``/``b/`` prefixed."""
    name = path.lstrip("/")
    out = []
    for line in difflib.unified_diff(_LINE.findall(old), _LINE.findall(new), f"a/{name}", f"b/{name}"):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def process(source: Source, engine: Engine, options: Options) -> FileResult:
    """Migrate one file; never raises for a bad file, never writes output that does not parse."""
    result = FileResult(source.display)
    try:
        data = source.path.read_bytes()
    except OSError as exc:
        result.error = f"cannot read: {exc.strerror or exc}"
        return result
    if not source.is_python:
        if options.write and source.dest is not None:
            write_atomic(source.dest, data, like=source.path)
        return result
    try:
        decoded = decode(data)
        migration = engine.migrate(decoded.text)
    except SourceError as exc:
        result.error, result.error_line = exc.message, exc.line
        if options.write and source.dest is not None:
            write_atomic(source.dest, data, like=source.path)
        return result
    result.edits, result.findings, result.changed = migration.edits, migration.findings, migration.changed
    if options.diff and migration.changed:
        result.diff = unified_diff(decoded.text, migration.code, source.display)
    if not options.write:
        return result
    target = source.dest or source.path
    if source.dest is None and not migration.changed:
        return result  # untouched: same bytes, same mtime
    if source.dest is None and not source.path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        result.error = "read-only file: not written"
        return result
    try:
        write_atomic(target, decoded.encode(migration.code) if migration.changed else data, like=source.path)
    except (OSError, UnicodeEncodeError) as exc:
        result.error = f"cannot write {target}: {getattr(exc, 'strerror', None) or exc}"
    return result


_worker: tuple[Engine, Options] | None = None


def _init_worker(book: RuleBook, options: Options) -> None:
    global _worker
    _worker = (Engine(book), options)


def _work(source: Source) -> FileResult:
    assert _worker is not None
    return process(source, *_worker)


def run(sources: Sequence[Source], book: RuleBook, options: Options, jobs: int) -> Iterator[FileResult]:
    """Results in input order, streamed; a process pool only for enough files."""
    if jobs <= 1 or len(sources) < POOL_MIN_FILES:
        engine = Engine(book)
        for source in sources:
            yield process(source, engine, options)
        return
    chunk = max(1, min(16, len(sources) // (jobs * 8)))
    with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(book, options)) as pool:
        yield from pool.map(_work, sources, chunksize=chunk)


def default_jobs() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
