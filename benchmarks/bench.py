"""Time and memory of ``cuda2npu migrate --check`` on real packages, next to reference floors.

For each package: the CLI with the default jobs and with ``--jobs 1`` (first runs: ``--no-cache``),
and a second run on the unchanged tree answered from the results cache; then floors measured in
the same run: reading every file and searching it for "cuda", ``libcst.parse_module`` on every
file, and ``ruff check --select ALL``. Also the start-up cost on one small file, uncached and
cached (what a pre-commit run on unchanged files pays). Prints Markdown.

    python benchmarks/bench.py --runs 3
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.dont_write_bytecode = True  # keep the repo free of __pycache__
import _corpus

DEFAULT_PACKAGES = ("transformers", "timm")
SAMPLE_EVERY = 0.05  # seconds between RSS samples of the process tree
# GNU time measures the command's own max RSS. Without it, wait4's ru_maxrss is used, which on Linux
# also counts this (vforking) parent's RSS at exec time, so small commands read too high.
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None

GREP_FLOOR = """
import os, sys
files = hits = 0
for top, dirs, names in os.walk(sys.argv[1]):
    for name in names:
        if name.endswith(".py"):
            files += 1
            with open(os.path.join(top, name), encoding="utf-8", errors="replace") as f:
                hits += "cuda" in f.read()
print(f"files={files} with_cuda={hits}")
"""

PARSE_FLOOR = """
import os, sys, libcst
files = failed = 0
for top, dirs, names in os.walk(sys.argv[1]):
    for name in names:
        if name.endswith(".py"):
            files += 1
            with open(os.path.join(top, name), "rb") as f:
                data = f.read()
            try:
                libcst.parse_module(data)
            except Exception:
                failed += 1
print(f"files={files} parse_failed={failed}")
"""

STARTUP_FILE = '''"""A tiny training script: the start-up benchmark's input."""

import argparse

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        return self.fc(x).relu()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    model = Net().cuda()
    data = torch.randn(8, 16)
    for _ in range(args.steps):
        loss = model(data).sum()
        loss.backward()
    print("done", loss.item())


if __name__ == "__main__":
    main()
'''


@dataclass
class Sample:
    """One run of a command."""

    seconds: float
    peak_mb: float  # ru_maxrss of the child (its largest single process)
    tree_mb: float  # sampled peak of the summed RSS of the child and its descendants
    cpu: float  # user + system seconds of the child and its descendants: robust to other load
    code: int
    stdout: str
    stderr: str


@dataclass
class Row:
    command: str
    package: str
    files: int
    lines: int
    samples: list[Sample] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):  # it has ended meanwhile
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
    return out


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _sample_tree(pid: int, done: threading.Event, peak: list[int]) -> None:
    while not done.is_set():
        pids = _descendants(pid)[1 if GNU_TIME else 0:]  # not the GNU time wrapper itself
        peak[0] = max(peak[0], sum(_rss_kb(p) for p in pids))
        done.wait(SAMPLE_EVERY)


def _tail(handle, limit: int = 8000) -> str:
    """The end of a captured stream: ruff's output can be many megabytes."""
    handle.seek(0, os.SEEK_END)
    handle.seek(max(0, handle.tell() - limit))
    return handle.read().decode("utf-8", "replace")


def _child_maxrss_kb(cmd: list[str], usage, record: Path) -> int:
    """ru_maxrss of the command: from GNU time when it wraps the command, else from wait4."""
    if cmd[0] == GNU_TIME:
        text = record.read_text().strip().splitlines()
        return int(text[-1]) if text and text[-1].isdigit() else 0
    return usage.ru_maxrss


def measure(cmd: list[str], env: dict[str, str], cwd: Path) -> Sample:
    """Wall time and memory of one run of ``cmd``."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as record:
        if GNU_TIME:
            cmd = [GNU_TIME, "-f", "%M", "-o", record.name, *cmd]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd)
        done, peak = threading.Event(), [0]
        sampler = threading.Thread(target=_sample_tree, args=(proc.pid, done, peak), daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        maxrss = _child_maxrss_kb(cmd, usage, Path(record.name))
        cpu = usage.ru_utime + usage.ru_stime
        tree = max(peak[0], maxrss)  # a run shorter than one sample still has its largest process
        return Sample(seconds, maxrss / 1024, tree / 1024, cpu, proc.returncode, _tail(out), _tail(err))


def failure(cmd_kind: str, sample: Sample) -> str | None:
    """Why a run counts as failed: exit 1 of ``migrate --check`` only means files would change."""
    allowed = (0, 1) if cmd_kind in ("migrate", "cached") else (0,)
    if sample.code not in allowed or "Traceback (most recent call last)" in sample.stderr:
        return f"exit {sample.code}: {sample.stderr.strip()[-2000:]}"
    return None


def summarize(sample: Sample) -> str:
    """What a run reported: the CLI's counts line, a floor's counts, ruff's diagnostics count."""
    match = (re.search(r"cuda2npu: (\d+ files? scanned: .*)", sample.stderr)
             or re.search(r"^(files=.*)$", sample.stdout, re.MULTILINE)
             or re.search(r"^(Found \d+ errors?)", sample.stdout, re.MULTILINE))
    return match.group(1) if match else ""


def ruff_command() -> list[str] | None:
    exe = shutil.which("ruff")
    if exe:
        return [exe]
    probe = subprocess.run([sys.executable, "-m", "ruff", "--version"], check=False, capture_output=True)
    return [sys.executable, "-m", "ruff"] if probe.returncode == 0 else None


def commands(target: Path, ruff: list[str] | None) -> list[tuple[str, str, list[str]]]:
    """(label, kind, argv) for one package."""
    py, t = sys.executable, str(target)
    out = [
        ("(a) migrate --check (default jobs)", "migrate",
         [py, "-m", "cuda2npu", "migrate", "--check", "-q", "--no-cache", t]),
        ("(b) migrate --check --jobs 1", "migrate",
         [py, "-m", "cuda2npu", "migrate", "--check", "-q", "--no-cache", "--jobs", "1", t]),
        ("(e) migrate --check, second run (cached)", "cached", [py, "-m", "cuda2npu", "migrate", "--check", "-q", t]),
        ("(d1) floor: read + search 'cuda'", "floor", [py, "-c", GREP_FLOOR, t]),
        ("(d2) floor: libcst.parse_module", "floor", [py, "-c", PARSE_FLOOR, t]),
    ]
    if ruff:
        out.append(("(d3) floor: ruff check --select ALL", "floor",
                    [*ruff, "check", "--select", "ALL", "--no-cache", "--exit-zero", t]))
    return out


def run_row(row: Row, kind: str, cmd: list[str], runs: int, env: dict[str, str], cwd: Path) -> list[str]:
    """Run ``cmd`` ``runs`` times into ``row``; return the failures."""
    problems = []
    if kind == "cached":  # the first run fills the cache; the timed ones answer from it
        measure(cmd, env, cwd)
    for _ in range(runs):
        sample = measure(cmd, env, cwd)
        row.samples.append(sample)
        why = failure(kind, sample)
        if why:
            problems.append(f"{row.command} on {row.package}: {why}")
    row.note = summarize(row.samples[-1])
    return problems


def size(root: Path) -> tuple[int, int]:
    files = _corpus.python_files(root)
    return len(files), sum(_corpus.count_lines(p.read_bytes()) for p in files)


def machine() -> list[str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
            f"CPU: {cpu}", f"cores available: {cores} (os.cpu_count() {os.cpu_count()})",
            f"Python: {sys.version.split()[0]} ({sys.executable})",
            "load average (1, 5, 15 min) at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())]


def table(rows: list[Row]) -> str:
    head = ("| command | package | files | lines | median s | min–max s | CPU s | peak MB | tree MB |\n"
            "|---|---|--:|--:|--:|--:|--:|--:|--:|")
    body = [f"| {r.command} | {r.package} | {r.files} | {r.lines} | {r.median:.2f} | "
            f"{min(s.seconds for s in r.samples):.2f}–{max(s.seconds for s in r.samples):.2f} | "
            f"{statistics.median(s.cpu for s in r.samples):.2f} | "
            f"{max(s.peak_mb for s in r.samples):.0f} | {max(s.tree_mb for s in r.samples):.0f} |" for r in rows]
    return "\n".join([head, *body])


def ratios(rows: list[Row]) -> list[str]:
    """(a), (b) and (e) against each floor, per package; the cached start-up against the uncached."""
    out = []
    for package in dict.fromkeys(r.package for r in rows):
        mine = {r.command.split()[0]: r for r in rows if r.package == package}  # "(a)", "(d1)", ...
        if "(c)" in mine and "(c2)" in mine:
            out.append(f"- start-up, second run (cached): {mine['(c2)'].median / mine['(c)'].median:.2f}× the uncached run")
        for ours in ("(a)", "(b)", "(e)"):
            if ours not in mine:
                continue
            parts = [f"{mine[ours].median / mine[f].median:.2f}× {mine[f].command.split(': ', 1)[1]}"
                     for f in ("(d1)", "(d2)", "(d3)") if f in mine]
            out.append(f"- {package} {ours}: " + ", ".join(parts))
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=3, help="runs per command; the median is reported (default 3)")
    p.add_argument("--cache", type=Path, default=_corpus.DEFAULT_CACHE,
                   help="download/unpack cache (default %(default)s)")
    p.add_argument("--packages", default=",".join(DEFAULT_PACKAGES),
                   help=f"comma-separated, from {', '.join(_corpus.PINS)} (default %(default)s)")
    p.add_argument("--skip-ruff", action="store_true", help="leave out the ruff floor")
    p.add_argument("--code", type=Path, help="a cuda2npu checkout to measure (default: a copy of this repo)")
    args = p.parse_args(argv)
    args.packages = [n.strip() for n in args.packages.split(",") if n.strip()]
    unknown = [n for n in args.packages if n not in _corpus.PINS]
    if unknown or args.runs < 1:
        p.error(f"unknown package(s): {', '.join(unknown)}" if unknown else "--runs must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cache = args.cache.expanduser().resolve()
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cuda2npu-bench-") as code:
        state = _corpus.snapshot(Path(code), args.code)
        state += "\nload average (1, 5, 15 min) at the start: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
        return measure_all(args, cache, _corpus.child_env(cache, Path(code)), state)


def measure_all(args: argparse.Namespace, cache: Path, env: dict[str, str], state: str) -> int:
    """Every row of the table, then the report; 1 if any command failed."""
    ruff = None if args.skip_ruff else ruff_command()
    if not args.skip_ruff and ruff is None:
        print("ruff not found (pip install ruff); its floor is skipped", file=sys.stderr)
    rows: list[Row] = []
    problems: list[str] = []
    versions = []
    small = cache / "startup" / "small_train.py"
    small.parent.mkdir(parents=True, exist_ok=True)
    small.write_text(STARTUP_FILE)
    startup = [sys.executable, "-m", "cuda2npu", "migrate", "--check", "-q", str(small)]
    env = {**env, "CUDA2NPU_CACHE_DIR": str(cache / "results-cache")}
    for name in args.packages:
        version, root = _corpus.fetch(name, cache)
        versions.append(f"{name}=={version}")
        files, lines = size(root)
        print(f"measuring {name} {version}: {files} files, {lines} lines", file=sys.stderr)
        measure([sys.executable, "-c", GREP_FLOOR, str(root)], env, cache)  # warm the page cache
        measure([*startup, "--no-cache"], env, cache)  # and the bytecode cache
        for label, kind, cmd in commands(root, ruff):
            rows.append(Row(label, name, files, lines))
            problems += run_row(rows[-1], kind, cmd, args.runs, env, cache)
    rows.append(Row("(c) migrate --check, one file (start-up)", small.name, 1, STARTUP_FILE.count("\n")))
    problems += run_row(rows[-1], "migrate", [*startup, "--no-cache"], args.runs, env, cache)
    rows.append(Row("(c2) migrate --check, one file, second run (cached)", small.name, 1, STARTUP_FILE.count("\n")))
    problems += run_row(rows[-1], "cached", startup, args.runs, env, cache)
    report(args, rows, problems, versions, ruff, env, state)
    return 1 if problems else 0


def report(args, rows: list[Row], problems: list[str], versions: list[str], ruff, env, state: str) -> None:
    print("\n".join(machine()))
    print(state)
    print(f"packages: {', '.join(versions)}; runs per command: {args.runs}")
    if ruff:
        version = subprocess.run([*ruff, "--version"], check=False, capture_output=True, text=True, env=env)
        print(f"ruff: {version.stdout.strip()}")
    print()
    print(table(rows))
    print("\nRatios of median wall time, cuda2npu / floor:")
    print("\n".join(ratios(rows)))
    print("\nWhat each command reported (last run):")
    for r in rows:
        if r.note:
            print(f"- {r.command}, {r.package}: {r.note}")
    source = "GNU time's %M" if GNU_TIME else "os.wait4 (includes this parent's RSS at exec)"
    print("\nCPU s: median user+system time of the command and its processes (wait4), which other load "
          "on the machine inflates far less than wall time.")
    print(f"peak MB: max RSS of the command's largest single process ({source}); "
          f"tree MB: summed RSS of the command's process tree, sampled every {SAMPLE_EVERY}s.")
    if problems:
        print("\nFAILURES:")
        print("\n".join(f"- {p}" for p in problems))


if __name__ == "__main__":
    sys.exit(main())
