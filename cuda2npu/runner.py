"""Running the engine over files: read, migrate, diff, write; in worker processes when it pays."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from zlib import error as zlib_error
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from .diffs import unified_diff
from .files import MAX_FILE_BYTES, ReadError, Source, in_place_refusal, read_stamped, through_link, write_atomic
from .results import Edit, Finding, SourceError
from .sourcefile import decode, decode_as

_SHELL_IN_JSON = re.compile(r'"\s*(?:!|%%(?:bash|sh|script)\b)')  # a notebook's shell line or cell, in its JSON

if TYPE_CHECKING:
    from .cache import Cache
    from .rulebook import RuleBook

    BookOrLoader = RuleBook | Callable[[], RuleBook]

POOL_MIN_PARSED = 16  # fewer files left to parse than this are faster in one process than a pool's start-up


@dataclass(frozen=True)
class Options:
    write: bool = True  # write results (in place, or to the --out-dir copy)
    diff: bool = False  # produce a unified diff
    notebook_cells: bool = False  # notebooks' diffs cell by cell (a view, not a patch)
    positions: bool = True  # exact lines for every edit (a report needs them; a summary does not)
    cache: bool = False  # record what the results cache keeps (stamp, migrated bytes, dependencies)


@dataclass
class FileResult:
    """What happened to one file."""

    path: str
    changed: bool = False
    edits: list[Edit] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    error_line: int | None = None
    diff: bytes = b""
    parsed: bool = False  # passed the prefilter: the engine ran
    stamp: tuple | None = None  # ((size, mtime_ns), content hash) of the input, for the cache
    new: bytes | None = None  # the migrated bytes, for the cache
    deps: dict = field(default_factory=dict)  # project files the analysis read -> their stamps
    cached: bool = False  # answered by the results cache
    internal: bool = False  # the error is a bug of cuda2npu's, not the file's


class Engines:
    """One engine per set of per-file ignores, built (and LibCST imported) on first use; the
    rulebook itself is loaded on first use when given as a loader (a cached run may need none)."""

    def __init__(self, book: "BookOrLoader", positions: bool = True):
        self._load = book if callable(book) else (lambda: book)
        self._book_loaded = None
        self.positions = positions
        self._trigger: list = []
        self._engines: dict = {}
        self._text: dict = {}
        self._project = None

    @property
    def book(self) -> "RuleBook":
        if self._book_loaded is None:
            self._book_loaded = self._load()
        return self._book_loaded

    def triggered(self, text: str | bytes) -> bool:
        """The prefilter, without LibCST: most files of a large tree stop here. The bytes of a UTF-8
        file are scanned word by word (:meth:`~cuda2npu.prefilter.TriggerWords.in_bytes`), about twice as fast
        as the pattern on the text, and finding a superset: in bytes only ASCII letters are word
        characters, so a word boundary is never missed."""
        if not self._trigger:
            from .prefilter import TriggerWords, trigger_pattern, trigger_words

            pattern = trigger_pattern(self.book)
            self._trigger.extend([pattern, pattern and re.compile(pattern.pattern.encode("utf-8")),
                                  TriggerWords(*trigger_words(self.book))])
        pattern, in_bytes, words = self._trigger
        if pattern is None:
            return False
        return words.in_bytes(text, in_bytes) if isinstance(text, bytes) else pattern.search(text) is not None

    def __call__(self, ignore: tuple[str, ...]):
        if ignore not in self._engines:
            from .engine import Engine

            self._engines[ignore] = Engine(self._book(ignore), edit_positions=self.positions)
        return self._engines[ignore]

    def project(self, path):
        """The project index's resolver for a file (module facts shared by every engine)."""
        if self._project is None:
            from .project import ProjectIndex
            from .ruleindex import RuleIndex

            self._project = ProjectIndex(RuleIndex(self.book))
        return self._project.for_file(path)

    def text(self, ignore: tuple[str, ...]):
        """The text rules (for shell scripts, requirements, ...) for a set of ignores."""
        if ignore not in self._text:
            from .textfiles import TextRules

            self._text[ignore] = TextRules(self._book(ignore))
        return self._text[ignore]

    def _book(self, ignore: tuple[str, ...]) -> RuleBook:
        return self.book.select(ignore=ignore) if ignore else self.book


def process(source: Source, engines: Engines, options: Options) -> FileResult:
    """Migrate one file; never raises for a bad file, never writes output that does not parse."""
    try:
        data, stat = read_stamped(source.path, None if source.kind == "other" else MAX_FILE_BYTES)
    except ReadError as exc:
        return FileResult(source.display, error=str(exc))
    result, new = process_bytes(data, source, engines)
    if result.internal:
        return result
    if options.cache and source.kind != "other":
        from .cache import content_hash

        result.stamp, result.new = (stat, content_hash(data)), new if new != data else None
    _finish(source, data, new, result, options)
    return result


def would_parse(source: Source, engines: Engines) -> bool:
    """Whether a Python file passes the prefilter (a read error or another kind: False, and the
    file is processed where it is)."""
    if source.kind != "python":
        return False
    try:
        data, _ = read_stamped(source.path, MAX_FILE_BYTES)
        decoded = decode(data)
    except (ReadError, SourceError):
        return False
    return engines.triggered(data if decoded.encoding in ("utf-8", "utf-8-sig") else decoded.text)


def process_bytes(data: bytes, source: Source, engines: Engines) -> tuple[FileResult, bytes]:
    """Migrate bytes that are no file (standard input, an editor's buffer) as ``source`` would be:
    the result and the new bytes (the same bytes when unchanged or failed)."""
    result = FileResult(source.display)
    migrate = {"python": _migrate, "notebook": _migrate_notebook, "text": _migrate_text}.get(source.kind)
    try:
        return result, migrate(data, engines, source, result) if migrate else data
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001
        return _internal(result, exc), data


def _internal(result: FileResult, exc: Exception) -> FileResult:
    result.edits, result.findings, result.changed = [], [], False
    result.error = f"internal error ({type(exc).__name__}: {exc}); file left unchanged, please report it"
    result.internal = True
    return result


def _finish(source: Source, data: bytes, new: bytes, result: FileResult, options: Options) -> None:
    """The diff and the write of a migrated file (from the rules, or from the cache)."""
    if options.diff and new != data:
        if options.notebook_cells and source.kind == "notebook":
            from .diffs import cell_diff

            result.diff = cell_diff(data, new, source.display)
        else:
            result.diff = unified_diff(data, new, source.display)
    if options.write:
        _write(source, data, new, result)
        if result.error or (new != data and source.dest is None):
            result.stamp = None  # a write failure depends on more than the file; a new file is unknown


def cached(source: Source, cache: "Cache", options: Options) -> FileResult | None:
    """The result the cache holds for ``source``, with its diff and write done; None on a miss.
    The file is read only when its stamp changed (then its hash decides) or its bytes are needed."""
    from .cache import content_hash, result_parts

    entry, fresh = cache.lookup(source)
    if entry is None:
        return None
    try:
        edits, findings, new = result_parts(entry)
        changed, error, error_line = bool(entry["changed"]), entry["error"], entry["error_line"]
    except (KeyError, TypeError, ValueError, zlib_error):  # a damaged entry: a miss
        return None
    if changed and new is None:
        return None
    data = None
    if not fresh or (changed and (options.diff or options.write)) or (options.write and source.dest is not None):
        try:
            data, stat = read_stamped(source.path, MAX_FILE_BYTES)
        except ReadError:
            return None
        if content_hash(data) != entry.get("hash"):
            return None
        if not fresh:
            cache.refresh(source, entry, stat)
    cache.used(source, entry)
    result = FileResult(source.display, changed, edits, findings, error if isinstance(error, str) else None,
                        error_line if isinstance(error_line, int) else None, cached=True)
    if data is not None:
        _finish(source, data, new if changed else data, result, options)
        if options.write and changed and source.dest is None:
            cache.forget(source)
    return result


def _migrate(data: bytes, engines: Engines, source: Source, result: FileResult) -> bytes:
    """The migrated bytes of a Python file (the same bytes when unchanged or failed)."""
    try:
        decoded = decode(data)
        if not engines.triggered(data if decoded.encoding in ("utf-8", "utf-8-sig") else decoded.text):
            return data
        result.parsed = True
        project = engines.project(source.path)
        try:
            # the prefilter ran with the whole rulebook: the engine of one with rules left out checks again
            migration = engines(source.ignore).migrate(decoded.text, project, prefiltered=not source.ignore)
        finally:
            result.deps = project.consulted
    except SourceError as exc:
        result.error, result.error_line = exc.message, exc.line
        return data
    result.edits, result.findings = migration.edits, migration.findings
    if not migration.changed:
        return data
    try:
        new = decoded.encode(migration.code)
    except UnicodeEncodeError as exc:
        result.error = f"the migrated code cannot be written in {decoded.encoding}: {exc.reason}"
        return data
    result.changed = True
    return new


def _migrate_notebook(data: bytes, engines: Engines, source: Source, result: FileResult) -> bytes:
    """The migrated bytes of a notebook (its diff is a patch of the JSON, as ``git apply`` needs)."""
    try:
        text = decode_as(data, "utf-8")
        if not engines.triggered(text) and not _SHELL_IN_JSON.search(text):
            return data
        result.parsed = True
        from .notebook import SHELL_NAME, migrate_notebook

        shell, engine, project = engines.text(source.ignore), engines(source.ignore), engines.project(source.path)
        try:
            new, migration = migrate_notebook(text, lambda program: engine.migrate(program, project),
                                              lambda command: shell.migrate(command, SHELL_NAME))
        finally:
            result.deps = project.consulted
    except SourceError as exc:
        result.error, result.error_line = exc.message, exc.line
        return data
    result.edits, result.findings, result.changed = migration.edits, migration.findings, new != text
    return new.encode("utf-8")


def _migrate_text(data: bytes, engines: Engines, source: Source, result: FileResult) -> bytes:
    """The migrated bytes of a file the text rules apply to (UTF-8)."""
    try:
        text = decode_as(data, "utf-8")
        migration = engines.text(source.ignore).migrate(text, source.path.name)
    except SourceError as exc:
        result.error, result.error_line = exc.message, exc.line
        return data
    result.edits, result.findings, result.changed = migration.edits, migration.findings, migration.changed
    return migration.code.encode("utf-8")


def _write(source: Source, data: bytes, new: bytes, result: FileResult) -> None:
    """In place only when changed and writable; to --out-dir always."""
    try:
        if source.dest is None:
            if new == data:
                return  # untouched: same bytes, same mtime
            refusal = in_place_refusal(source.path)
        else:
            refusal = through_link(source.dest, source.out_root)
    except OSError as exc:  # e.g. deleted while the run was on
        refusal = f"cannot write: {exc.strerror or exc}"
    if refusal:
        result.error = refusal
        return
    target = source.dest or source.path
    global _writing
    _writing = True
    try:
        write_atomic(target, new, like=source.path)
    except OSError as exc:
        result.error = f"cannot write {target}: {exc.strerror or exc}"
    finally:
        _writing = False
        if _stopping:
            os._exit(1)  # a worker told to stop: the file it was writing is whole, now stop


_writing = False   # a worker is between creating a temporary file and renaming it
_stopping = False  # a worker got SIGTERM while writing


def run(sources: Sequence[Source], book: "BookOrLoader", options: Options, jobs: int,
        cache: "Cache | None" = None) -> Iterator[FileResult]:
    """Results in input order, streamed. Files are taken in this process until those seen so far,
    with the next one to parse, predict enough files left to parse to pay for a pool of ``jobs``
    worker processes (the prefilter stops most files of a large tree cheaply, the cache answers
    unchanged ones); that file and the rest then go to the pool. With a cache, its hits need no
    rules, and the results are stored at the end."""
    engines = Engines(book, options.positions)
    options = replace(options, cache=cache is not None)
    parsed = 0
    try:
        for done, source in enumerate(sources, 1):
            hit = cache and cached(source, cache, options)
            if (not hit and jobs > 1 and (parsed + 1) * (len(sources) - done) >= POOL_MIN_PARSED * done
                    and would_parse(source, engines)):  # this file too goes to the pool, started now
                from .pool import pooled

                yield from pooled(sources[done - 1:], engines, options, jobs, cache)
                return
            result = hit or stored(cache, source, process(source, engines, options))
            parsed += result.parsed
            yield result
    finally:
        if cache is not None:
            cache.save()


def stored(cache: "Cache | None", source: Source, result: FileResult) -> FileResult:
    if cache is not None and not result.cached:
        cache.store(source, result)
    return result


def default_jobs() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
