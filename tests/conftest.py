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


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory, monkeypatch):
    """Each test has a results cache of its own (never the user's ~/.cache/cuda2npu)."""
    monkeypatch.setenv("CUDA2NPU_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("CUDA2NPU_NO_CACHE", raising=False)


@pytest.fixture
def cli():
    """Run ``cuda2npu ARGS...`` in process: a click ``Result`` with ``stdout``, ``stderr``, ``exit_code``."""
    from click.testing import CliRunner

    from cuda2npu.cli import main

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

    def run(*args, cwd=ROOT, timeout=300, env=None, **kwargs) -> subprocess.CompletedProcess:  # a hang guard only
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", **(env or {})}
        return subprocess.run([sys.executable, "-m", "cuda2npu", *map(str, args)], cwd=cwd, env=env,
                              capture_output=True, timeout=timeout, **kwargs)

    return run
