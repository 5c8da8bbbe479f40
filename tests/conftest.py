"""Shared helpers for the CLI and file tests: import path, in-process and subprocess runners."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) from any folder
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def cli(monkeypatch):
    """Run ``cuda2npu ARGS...`` in process: a click ``Result`` with ``stdout``, ``stderr``, ``exit_code``.

    ``Console`` binds ``sys.stderr`` as a default argument at import time, so a second CliRunner
    invocation would print into the first one's (dead) stream; the subclass below takes the stream
    at call time. ``test_cli.test_stderr_is_captured_on_every_in_process_run`` covers the bug itself.
    """
    from click.testing import CliRunner

    from cuda2npu import console
    from cuda2npu.cli import main

    class CallTimeConsole(console.Console):
        def __init__(self, stream=None, *, quiet=False):
            super().__init__(sys.stderr if stream is None else stream, quiet=quiet)

    monkeypatch.setattr(console, "Console", CallTimeConsole)
    runner = CliRunner()

    def run(*args, **kwargs):
        result = runner.invoke(main, [str(a) for a in args], **kwargs)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            import traceback

            exc = result.exception
            result.traceback = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        else:
            result.traceback = ""
        return result

    return run


@pytest.fixture
def proc():
    """Run ``python -m cuda2npu ARGS...`` as a real process (separate stdout/stderr pipes, bytes)."""

    def run(*args, cwd=ROOT, timeout=60, **kwargs) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
        return subprocess.run([sys.executable, "-m", "cuda2npu", *map(str, args)], cwd=cwd, env=env,
                              capture_output=True, timeout=timeout, **kwargs)

    return run
