"""The process pool starts only when the files parsed so far, with the next one to parse, predict
enough parsing ahead; that file is the pool's first."""

import pytest

from cuda2npu import pool, runner
from cuda2npu.files import collect
from cuda2npu.rulebook import load_rulebook

BOOK = load_rulebook()
CUDA = "import torch\nx = t.cuda()\n"
PLAIN = "import os\nx = 1\n"


def _run(tmp_path, monkeypatch, texts):
    for i, text in enumerate(texts):
        (tmp_path / f"m{i:03}.py").write_text(text)
    pooled = []
    real = pool.pooled

    def spy(sources, *args):
        pooled.append(len(sources))
        return real(sources, *args)

    monkeypatch.setattr(pool, "pooled", spy)
    results = list(runner.run(collect([str(tmp_path)]), BOOK, runner.Options(write=False), jobs=2))
    assert [r.changed for r in results] == [text == CUDA for text in texts]
    return pooled


@pytest.mark.parametrize("texts, pooled", [
    ([CUDA] * 40, [40]),  # every file is parsed: the pool takes over at the first
    ([PLAIN] * 200 + [CUDA] * 3, []),  # a large tree with few files to parse: one process
    ([CUDA] * 10, []),  # too few files
    ([PLAIN] * 20 + [CUDA] + [PLAIN] * 400, [401]),  # one file to parse in 21 predicts 19 more in 400
])
def test_pool_starts_when_enough_files_are_left_to_parse(tmp_path, monkeypatch, texts, pooled):
    assert _run(tmp_path, monkeypatch, texts) == pooled


def test_an_internal_error_fails_only_its_file(cli, tmp_path, monkeypatch):
    """A bug in an analysis or a rule kind fails the file it met, never the run."""
    from cuda2npu.context import judgement

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(judgement, "judge", broken)
    monkeypatch.setattr("cuda2npu.engine.judge", broken)
    (tmp_path / "a.py").write_text("import torch\nx = t.cuda()\n")
    (tmp_path / "b.sh").write_text("export CUDA_VISIBLE_DEVICES=0\n")
    result = cli("migrate", "--jobs", "1", tmp_path)
    assert result.exit_code == 3  # a bug of ours: its own status, the run still went on
    assert "a.py: error: internal error (RuntimeError: boom); file left unchanged, please report it" in result.stderr
    assert (tmp_path / "a.py").read_text() == "import torch\nx = t.cuda()\n"
    assert (tmp_path / "b.sh").read_text() == "export ASCEND_RT_VISIBLE_DEVICES=0\n"


def test_a_crash_outside_any_file_is_an_internal_error_with_status_3(cli, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("cuda2npu.console.Console.summary", broken)
    (tmp_path / "a.py").write_text("import os\n")
    result = cli("migrate", "--jobs", "1", "--no-config", tmp_path)
    assert result.exit_code == 3 and result.traceback == ""
    assert result.stderr.splitlines()[-1].startswith("cuda2npu: internal error (RuntimeError: boom) at test_runner.py:")
    assert result.stderr.splitlines()[-1].endswith("; please report it")
