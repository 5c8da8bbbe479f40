"""Interrupting a parallel in-place run: every file is whole (original or migrated), nothing is left behind.

A tree of 600 files is migrated with ``--jobs 2``; as soon as the first file has been rewritten the run
is interrupted, with SIGINT to its process group (Ctrl-C in a terminal) or SIGTERM to the main process
(``kill PID``, ``timeout``, ``docker stop``). Afterwards every file must be byte-identical to its
original or to its fully migrated form, no temporary file may be left, the command must exit
non-zero without hanging, no worker may outlive it (and keep writing files), and stderr must not fill
with tracebacks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cuda2npu.engine import Engine
from cuda2npu.rulebook import load_rulebook

ROOT = Path(__file__).resolve().parents[1]
N_FILES = 2000  # far more than a run gets through between its first write and the signal
VARIANTS = 6
MARK = "QQQ"  # replaced by the file number: only in identifiers and comments, so migration commutes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="POSIX signals and /proc")


def template(variant: int) -> str:
    """About 150 lines with a dozen CUDA sites and no findings."""
    lines = [f'"""Training helpers, part {MARK} (variant {variant})."""', "", "import os", "import torch",
             "import torch.distributed as dist", "", ""]
    for k in range(12):
        lines += [
            f"def step_{MARK}_{k}(model, batch, rank):",
            f'    """Step {k} of part {MARK}."""',
            f"    total = {k + variant}",
            f"    for j in range({k + 3}):",
            f"        total += j * {variant + 1}",
            "    x = batch.cuda(non_blocking=True)" if (k + variant) % 3 == 0 else "    x = batch + total",
            f'    dev = torch.device("cuda:{(k + variant) % 8}")' if k % 4 == 1 else "    dev = rank",
            f"    # keep this comment ({MARK})",
            "    return x, dev, total",
            "",
            "",
        ]
    lines += [
        "def setup():",
        '    os.environ["CUDA_VISIBLE_DEVICES"] = "0,1"',
        '    dist.init_process_group(backend="nccl")',
        "",
        "",
        "if torch.cuda.is_available():",
        "    torch.cuda.synchronize()",
    ]
    return "\n".join(lines) + "\n"


def content(i: int, text: str) -> str:
    return text.replace(MARK, str(i))


@pytest.fixture(scope="module")
def templates():
    """Each variant before and after migration (computed with the Engine API)."""
    engine = Engine(load_rulebook())
    pairs = []
    for v in range(VARIANTS):
        before = template(v)
        result = engine.migrate(before)
        assert result.changed and not result.findings
        pairs.append((before, result.code))
    for i in (0, 7, 599):  # the file number goes where the migration does not look
        before, after = pairs[i % VARIANTS]
        assert engine.migrate(content(i, before)).code == content(i, after)
    return pairs


def make_tree(root: Path, pairs) -> dict[Path, tuple[bytes, bytes]]:
    files = {}
    for i in range(N_FILES):
        before, after = pairs[i % VARIANTS]
        path = root / f"pkg{i // 50:02d}" / f"mod{i:03d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        original = content(i, before).encode()
        path.write_bytes(original)
        files[path] = (original, content(i, after).encode())
    return files


def snapshot(files) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in files}


def session_processes(sid: int) -> list[tuple[int, str]]:
    """Live (not zombie) processes of a session: pid and state."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, session = fields[0], int(fields[3])
        if session == sid and state not in ("Z", "X"):
            found.append((int(entry), state))
    return found


def kill_session(sid: int) -> None:
    for pid, _ in session_processes(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.parametrize("signum, target", [
    pytest.param(signal.SIGINT, "group", id="SIGINT-to-group-ctrl-c"),
    pytest.param(signal.SIGINT, "process", id="SIGINT-to-main-process"),
    pytest.param(signal.SIGTERM, "process", id="SIGTERM-to-main-process"),
    pytest.param(signal.SIGTERM, "group", id="SIGTERM-to-group"),
])
def test_interrupted_run_leaves_whole_files(tmp_path, templates, signum, target):
    tree = tmp_path / "tree"
    files = make_tree(tree, templates)
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "cuda2npu", "migrate", "--jobs", "2", str(tree)],
                                cwd=ROOT, env=env, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    sid = proc.pid
    try:
        # Wait for the first rewritten file, with the run still going (the files are taken in
        # order: watching the first ones keeps each look short on a busy machine).
        deadline, first = time.monotonic() + 60, list(files.items())[:100]
        while not any(path.read_bytes() != original for path, (original, _) in first):
            assert proc.poll() is None, f"the run ended before any file changed:\n{err.read_text()}"
            assert time.monotonic() < deadline, "no file changed within 60 s"
            time.sleep(0.02)
        assert proc.poll() is None, "the run finished before it could be interrupted: make the tree bigger"
        if target == "group":
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)

        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"cuda2npu did not exit within 60 s of {signal.Signals(signum).name}")
        at_exit = snapshot(files)

        # Workers that outlive the command: give them a moment to exit, then let them go quiet.
        deadline = time.monotonic() + 1.5
        while session_processes(sid) and time.monotonic() < deadline:
            time.sleep(0.05)
        survivors = session_processes(sid)
        if survivors:
            last, quiet_since = snapshot(files), time.monotonic()
            while time.monotonic() - quiet_since < 1.0 and time.monotonic() < deadline + 30:
                time.sleep(0.1)
                now = snapshot(files)
                if now != last:
                    last, quiet_since = now, time.monotonic()
        kill_session(sid)
        written_after_exit = sorted(str(p.relative_to(tree)) for p, data in snapshot(files).items()
                                    if data != at_exit[p])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        kill_session(sid)

    # Every file whole: original or fully migrated; no temporary or other new file anywhere.
    broken = [str(p.relative_to(tree)) for p, (original, migrated) in files.items()
              if p.read_bytes() not in (original, migrated)]
    assert broken == []
    present = {Path(d, name) for d, _, names in os.walk(tree) for name in names}
    assert sorted(str(p.relative_to(tree)) for p in present - set(files)) == []
    migrated = sum(p.read_bytes() == m for p, (_, m) in files.items())
    assert 0 < migrated < N_FILES

    # The command is over when it exits: no worker lives on, no file changes afterwards.
    assert (survivors, written_after_exit[:5], len(written_after_exit)) == ([], [], 0), (
        f"{len(survivors)} worker process(es) outlived the command; "
        f"{len(written_after_exit)} file(s) were written after it exited")

    assert code != 0
    stderr_text = err.read_text(errors="replace")
    assert "Traceback" not in stderr_text, stderr_text[-2000:]
    extra = [line for line in stderr_text.splitlines()
             if line.strip() and not line.startswith(("cuda2npu: ", "migrated "))]  # the files it finished
    assert len(extra) <= 1 and all(len(line) <= 120 for line in extra), stderr_text[-2000:]


def test_a_crashed_worker_fails_only_its_file(tmp_path, monkeypatch):
    """A worker that dies (say, a crash in native code) must not hang or sink the run."""
    import os

    from cuda2npu import runner
    from cuda2npu.files import collect
    from cuda2npu.rulebook import load_rulebook

    for i in range(40):
        (tmp_path / f"m{i:02}.py").write_text("import torch\nx = t.cuda()\n")
    (tmp_path / "m17.py").write_text("import torch\ny = t.cuda()  # crashes the worker\n")
    real = runner.process

    def crashing(source, engines, options):
        if source.path.name == "m17.py":
            os._exit(3)
        return real(source, engines, options)

    monkeypatch.setattr(runner, "process", crashing)  # inherited by the forked workers
    sources = collect([str(tmp_path)])
    results = list(runner.run(sources, load_rulebook(), runner.Options(write=False), jobs=2))
    assert [r.path for r in results] == [s.display for s in sources]
    failed = [r for r in results if r.error]
    assert [r.path for r in failed] == [str(tmp_path / "m17.py")]
    assert "crashed" in failed[0].error
    assert all(r.changed for r in results if not r.error)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see the run at work")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_during_a_huge_file_ends_the_run_at_once(tmp_path, signum):
    """Synchronised on the work done (CPU time of the run), not on the clock: the signal comes while
    the file is being parsed, and the run must not wait for the parse to end."""
    filler = "".join(f"def helper_{i}(a, b):\n    return a + b * {i}\n\n\n" for i in range(250_000))
    path = tmp_path / "huge.py"
    path.write_text("import torch\n\n\n" + filler + "x = t.cuda()\n")
    original = path.read_bytes()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "cuda2npu", "migrate", str(path)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while _cpu_seconds(proc.pid) < 2.5:  # imports, reading and the prefilter take about one: it parses now
            assert proc.poll() is None, "the run ended before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signum)
        signalled = time.monotonic()
        proc.wait(timeout=120)
        waited = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert path.read_bytes() == original  # whole, and not migrated
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.py"]
    # The parse it interrupted takes several seconds more on any machine (it scales with the
    # machine, and so would a run that waited for it); one that stops at once takes a few ms.
    assert waited < 2.0, f"the run took {waited:.1f} s to stop"


def test_workers_end_when_the_main_process_is_killed(tmp_path, templates):
    tree = tmp_path / "tree"
    files = make_tree(tree, templates)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "cuda2npu", "migrate", "--check", "--jobs", "2", str(tree)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(session_processes(proc.pid)) < 3:  # the main process and its two workers
            assert proc.poll() is None, "the run ended before its pool started"
            assert time.monotonic() < deadline, "no worker pool within 60 s"
            time.sleep(0.02)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 30
        while session_processes(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert session_processes(proc.pid) == []
    finally:
        kill_session(proc.pid)
    assert len(files) == N_FILES
