"""Worker processes: a pool that takes the files the main process hands it, in order, and fails
only the file of a worker that crashes; every worker stops with the run, even when the run is
killed."""

from __future__ import annotations

import itertools
import os
import signal
from collections import deque
from typing import TYPE_CHECKING, Iterator, Sequence

from . import runner

if TYPE_CHECKING:
    from .cache import Cache
    from .files import Source
    from .rulebook import RuleBook
    from .runner import Engines, FileResult, Options

WINDOW = 64  # files in flight per worker: a slow task at the head must not leave the other workers idle
CHUNK = 8  # files per task: a task each would cost the main process about 0.2 ms of IPC per file

_worker: tuple[Engines, Options] | None = None
_HELD = {signal.SIGINT, signal.SIGTERM}  # signals held while a worker may be forked


def _stop_worker(signum: int, frame) -> None:
    """SIGTERM in a worker: exit now, or right after the file being written is whole."""
    runner._stopping = True
    if not runner._writing:
        os._exit(1)


def _init_worker(book: RuleBook, options: Options) -> None:
    global _worker
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles Ctrl-C and stops the pool
    signal.signal(signal.SIGTERM, _stop_worker)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)  # held while this process was forked (_submit)
    _worker = (runner.Engines(book, options.positions), options)


def _die_with_parent() -> None:
    """Linux: SIGTERM this worker when the process that started it dies (even by SIGKILL), so no
    worker lives on as an orphan. Elsewhere the pool's own shutdown has to do."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before the call took effect
            os._exit(1)
    except (OSError, AttributeError):
        pass


def _submit(pool, sources: list[Source]):
    """``pool.submit`` of a task, which may fork a worker, with Ctrl-C and SIGTERM held until it
    returns: an interrupt in between would leave a worker the pool does not know of yet, that
    outlives the run."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD) if hasattr(signal, "pthread_sigmask") else None
    try:
        return pool.submit(_work, sources)
    finally:
        if held is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _work(sources: list[Source]) -> list[FileResult]:
    assert _worker is not None
    return [runner.process(source, *_worker) for source in sources]  # looked up on the module: tests replace it


def pooled(sources: Sequence[Source], engines: Engines, options: Options, jobs: int,
            cache: "Cache | None") -> Iterator[FileResult]:
    """A window of files in flight in worker processes, a few consecutive files per task, results
    in order. A worker that dies (a crash in native code) fails only its own file: the files in
    flight then that had no result yet are retried one by one in fresh processes, and the run
    goes on."""
    from concurrent.futures import Future, ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    book = engines.book

    def start(size: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(size, initializer=_init_worker, initargs=(book, options))

    def submit(chunk: list[Source]) -> Future:
        try:
            return _submit(pool, chunk)
        except BrokenProcessPool as exc:  # a worker died since the last result: fail like a future
            failed: Future = Future()
            failed.set_exception(exc)
            return failed

    def tasks() -> Iterator[tuple[list[Source], Future]]:
        """(files, the future of their results), in order: the cache's answers one by one, the
        files between them in tasks of up to CHUNK."""
        chunk: list[Source] = []
        for source in sources:
            hit = cache and runner.cached(source, cache, options)
            if hit:
                if chunk:
                    yield chunk, submit(chunk)
                    chunk = []
                done: Future = Future()
                done.set_result([hit])
                yield [source], done
            else:
                chunk.append(source)
                if len(chunk) == CHUNK:
                    yield chunk, submit(chunk)
                    chunk = []
        if chunk:
            yield chunk, submit(chunk)

    pool, window = start(jobs), deque()
    queue, size = tasks(), max(2, jobs * WINDOW // CHUNK)
    try:
        while True:
            window.extend(itertools.islice(queue, size - len(window)))
            if not window:
                break
            chunk, future = window.popleft()
            try:
                results = future.result()
            except BrokenProcessPool:
                _stop(pool)
                for retry, done in [(chunk, None), *window]:
                    results = done.result() if _succeeded(done) else [_isolated(s, start) for s in retry]
                    yield from map(runner.stored, itertools.repeat(cache), retry, results)
                pool, window = start(jobs), deque()
                continue
            yield from map(runner.stored, itertools.repeat(cache), chunk, results)
    finally:
        _stop(pool)  # on an interrupt too: each worker finishes the file it is writing (_stop_worker)


def _succeeded(future) -> bool:
    return future is not None and future.done() and not future.cancelled() and future.exception() is None


def _isolated(source: Source, start) -> FileResult:
    """One file in a process of its own, so that a crash is pinned on the file that caused it."""
    from concurrent.futures.process import BrokenProcessPool

    pool = start(1)
    try:
        return _submit(pool, [source]).result()[0]
    except BrokenProcessPool:
        return runner.FileResult(source.display, error="the process migrating this file crashed; file left unchanged",
                                 internal=True)
    finally:
        _stop(pool)


def _stop(pool) -> None:
    """Shut a pool down now: queued files are dropped, running workers are terminated; a second
    Ctrl-C waits until that is done."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD) if hasattr(signal, "pthread_sigmask") else None
    try:
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join()
    finally:
        if held is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
