"""Correctness of cuda2npu on real packages: crashes, output that does not compile, idempotency.

Every Python file of the pinned packages goes through the Python API in this process (with a
per-file time limit); then the CLI migrates a copy of the corpus in place with ``--jobs 2`` and
must change the same files to the same text. Prints Markdown; exits 1 if a must-be-0 count is not 0.

    python benchmarks/corpus_check.py
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.dont_write_bytecode = True  # keep the repo free of __pycache__
import _corpus

WORDS = ("cuda", "nccl")  # any case; a changed file without them needs a rule that explains it
NPU_WORD = re.compile(r"(?<![A-Za-z0-9])npu(?![A-Za-z0-9])", re.IGNORECASE)
MUST_BE_ZERO = ("crashes", "internal errors", "timeouts", "outputs not compiling", "not idempotent",
                "changed without cuda word, unexplained", "splice differences",
                "CLI/API differences")


class FileTimeout(Exception):
    """A file took longer than the per-file limit."""


@dataclass
class Stats:
    """Counts and examples for one package."""

    files: int = 0
    lines: int = 0
    triggered: int = 0
    changed: list[str] = field(default_factory=list)
    source_errors: list[str] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in MUST_BE_ZERO})
    input_not_compiling: int = 0
    changed_without_word: list[str] = field(default_factory=list)
    npu_aware_changed: list[str] = field(default_factory=list)  # the input already mentions npu
    new_duplicates: list[str] = field(default_factory=list)  # e.g. ["cuda", "npu"] -> ["npu", "npu"]
    edits: Counter = field(default_factory=Counter)
    findings: Counter = field(default_factory=Counter)
    seconds: float = 0.0


def _alarm(signum, frame):
    raise FileTimeout()


def duplicate_literals(code: str) -> Counter:
    """Strings repeated among one dict's keys, one list/tuple/set, one class body's values or match cases."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return Counter()
    out: Counter = Counter()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            values = node.keys
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            values = node.elts
        elif isinstance(node, ast.ClassDef):
            values = [s.value for s in node.body if isinstance(s, ast.Assign)]
        elif isinstance(node, ast.Match):
            values = [c.pattern.value for c in node.cases if isinstance(c.pattern, ast.MatchValue)]
        else:
            continue
        strings = Counter(v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str))
        out.update({f"{type(node).__name__} {s!r}": n - 1 for s, n in strings.items() if n > 1})
    return out


def compiles(code: str, name: str) -> str | None:
    """None if ``code`` compiles, else the error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(code, name, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


class Checker:
    """Runs the API over files and records what it finds."""

    def __init__(self, api, timeout: float):
        self.api = api
        self.engine = api.Engine(api.load_rulebook())
        self.timeout = timeout
        book = self.engine.book
        self.triggers = ("cuda", "nccl", "CUDA_VISIBLE_DEVICES",
                         *[r.get("match").split(".")[-1] for r in book.of_kind("call")])
        self.wordless = {r.id for r in book if not any(w in json.dumps(r.spec).lower() for w in WORDS)}
        # Engines that parse only the regions rules may touch promise the output of a whole-file parse.
        splices = "splice" in inspect.signature(api.Engine).parameters
        self.plain = api.Engine(book, splice=False) if splices else None

    def migrate(self, text: str, engine=None):
        signal.setitimer(signal.ITIMER_REAL, self.timeout)
        try:
            return (engine or self.engine).migrate(text)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def check(self, path: Path, rel: str, stats: Stats) -> str | None:
        """Check one file; return the migrated text if it changed."""
        data = path.read_bytes()
        stats.files += 1
        stats.lines += _corpus.count_lines(data)
        try:
            decoded = self.api.decode(data)
            text = decoded.text
            stats.triggered += any(t in text for t in self.triggers)
            start = time.perf_counter()
            try:
                result = self.migrate(text)
            finally:
                stats.seconds += time.perf_counter() - start
        except FileTimeout:
            stats.problems["timeouts"].append(f"{rel}: over {self.timeout:g}s")
            return None
        except self.api.InternalError as exc:
            stats.problems["internal errors"].append(f"{rel}:{exc.line}: {exc.message}")
            return None
        except self.api.SourceError as exc:
            stats.source_errors.append(f"{rel}:{exc.line}: {exc.message}")
            return None
        except Exception:  # noqa: BLE001 - every other exception is a crash to report
            stats.problems["crashes"].append(f"{rel}:\n{traceback.format_exc()}")
            return None
        stats.edits.update(e.rule for e in result.edits)
        stats.findings.update(f.rule for f in result.findings)
        self._compare_plain(rel, text, result.code, stats)
        if not result.changed:
            return None
        stats.changed.append(rel)
        self._check_output(rel, text, result, stats)
        return result.code

    def _compare_plain(self, rel: str, text: str, code: str, stats: Stats) -> None:
        if self.plain is None:
            return
        try:
            other = self.migrate(text, self.plain).code
        except Exception as exc:  # noqa: BLE001
            other = f"<{type(exc).__name__}: {exc}>"
        if other != code:
            stats.problems["splice differences"].append(f"{rel}: splice=False gives other output")

    def _check_output(self, rel: str, text: str, result, stats: Stats) -> None:
        error = compiles(result.code, rel)
        if error and compiles(text, rel) is None:
            stats.problems["outputs not compiling"].append(f"{rel}: {error}")
        elif error:
            stats.input_not_compiling += 1
        try:
            again = self.migrate(result.code)
            if again.changed:
                rules = sorted({e.rule for e in again.edits})
                stats.problems["not idempotent"].append(f"{rel}: second run edits {', '.join(rules)}")
        except Exception as exc:  # noqa: BLE001
            stats.problems["not idempotent"].append(f"{rel}: second run raised {type(exc).__name__}: {exc}")
        if NPU_WORD.search(text):
            stats.npu_aware_changed.append(rel)
        duplicates = duplicate_literals(result.code) - duplicate_literals(text)
        if duplicates:
            stats.new_duplicates.append(f"{rel}: {', '.join(sorted(duplicates))}")
        if not any(w in text.lower() for w in WORDS):
            rules = sorted({e.rule for e in result.edits})
            stats.changed_without_word.append(f"{rel}: {', '.join(rules)}")
            if set(rules) - self.wordless:
                stats.problems["changed without cuda word, unexplained"].append(f"{rel}: {', '.join(rules)}")


def load_api(code: Path):
    """The cuda2npu API from the snapshot in ``code``."""
    sys.path.insert(0, str(code))
    from cuda2npu import engine, rulebook, sourcefile

    return argparse.Namespace(Engine=engine.Engine, SourceError=engine.SourceError,
                              InternalError=engine.InternalError, load_rulebook=rulebook.load_rulebook,
                              decode=sourcefile.decode)


def check_package(checker: Checker, root: Path, outputs: dict[str, str]) -> Stats:
    stats = Stats()
    for path in _corpus.python_files(root):
        code = checker.check(path, str(path.relative_to(root.parent)), stats)
        if code is not None:
            outputs[str(path)] = code
    return stats


def run_cli(work: Path, env: dict[str, str], jobs: int) -> tuple[dict, float, str | None]:
    """Migrate ``work`` in place with the CLI: (JSON report, seconds, failure or None)."""
    report = work.parent / "cli-report.json"
    cmd = [sys.executable, "-m", "cuda2npu", "migrate", "-q", "--jobs", str(jobs), "--report", str(report), str(work)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, check=False, capture_output=True, text=True, cwd=work.parent)
    seconds = time.perf_counter() - start
    failed = None
    if proc.returncode not in (0, 1) or "Traceback (most recent call last)" in proc.stderr or not report.exists():
        failed = f"exit {proc.returncode}: {proc.stderr[-3000:]}"
    data = json.loads(report.read_text()) if report.exists() else {"files": []}
    return data, seconds, failed


def compare_cli(report: dict, outputs: dict[str, str], originals: dict[str, bytes], api) -> tuple[list[str], list[str]]:
    """Differences between the CLI's in-place result and the API's; files the CLI skipped by design."""
    scanned = {e["path"] for e in report["files"]}
    skipped = sorted(set(originals) - scanned)  # in folders the CLI excludes (build, dist, ...)
    cli_changed = {e["path"] for e in report["files"] if e["changed"] and not e["error"]}
    api_changed = set(outputs) & scanned
    out = [f"changed by the CLI only: {p}" for p in sorted(cli_changed - api_changed)]
    out += [f"changed by the API only: {p}" for p in sorted(api_changed - cli_changed)]
    for path, data in originals.items():
        if path not in scanned:
            continue
        now = Path(path).read_bytes()
        expected = api.decode(data).encode(outputs[path]) if path in outputs else data
        if now != expected:
            out.append(f"written text differs from the API's: {path}")
    return out, skipped


def markdown(stats: dict[str, Stats], versions: dict[str, str]) -> tuple[str, Stats]:
    """The summary table: one column per package and a total."""
    total = Stats()
    for s in stats.values():
        for name in ("files", "lines", "triggered", "input_not_compiling", "seconds"):
            setattr(total, name, getattr(total, name) + getattr(s, name))
        total.changed += s.changed
        total.source_errors += s.source_errors
        total.changed_without_word += s.changed_without_word
        total.npu_aware_changed += s.npu_aware_changed
        total.new_duplicates += s.new_duplicates
        total.edits += s.edits
        total.findings += s.findings
        for k in MUST_BE_ZERO:
            total.problems[k] += s.problems[k]
    cols = {f"{n} {versions[n]}": s for n, s in stats.items()} | {"total": total}
    rows = [("files", lambda s: s.files), ("lines", lambda s: s.lines),
            ("files with a CUDA trigger", lambda s: s.triggered), ("files changed", lambda s: len(s.changed)),
            ("edits", lambda s: sum(s.edits.values())), ("findings", lambda s: sum(s.findings.values())),
            ("source errors (LibCST cannot parse)", lambda s: len(s.source_errors)),
            ("changed, input itself does not compile on this Python", lambda s: s.input_not_compiling),
            ("changed without cuda/nccl/CUDA (any case; all)", lambda s: len(s.changed_without_word)),
            ("changed, input already mentions npu (review)", lambda s: len(s.npu_aware_changed)),
            ("changed, output has new duplicate literals (review)", lambda s: len(s.new_duplicates))]
    rows += [(f"**{k}** (must be 0)", lambda s, k=k: len(s.problems[k])) for k in MUST_BE_ZERO[:-1]]
    rows += [("API time in Engine.migrate (first pass), s", lambda s: f"{s.seconds:.1f}")]
    lines = ["| | " + " | ".join(cols) + " |", "|---|" + "--:|" * len(cols)]
    lines += [f"| {label} | " + " | ".join(str(get(s)) for s in cols.values()) + " |" for label, get in rows]
    return "\n".join(lines), total


def rule_table(total: Stats) -> str:
    rules = sorted(set(total.edits) | set(total.findings))
    lines = ["| rule | edits | findings |", "|---|--:|--:|"]
    lines += [f"| {r} | {total.edits[r]} | {total.findings[r]} |" for r in rules]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--packages", default=",".join(_corpus.PINS),
                   help="comma-separated subset of %(default)s")
    p.add_argument("--cache", type=Path, default=_corpus.DEFAULT_CACHE,
                   help="download/unpack cache (default %(default)s)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds allowed per file (default %(default)s)")
    p.add_argument("--jobs", type=int, default=2, help="--jobs for the CLI run (default %(default)s)")
    p.add_argument("--sample", type=int, default=10, help="changed files to list at random for review (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed for that sample (default %(default)s)")
    p.add_argument("--code", type=Path, help="a cuda2npu checkout to check (default: a copy of this repo)")
    p.add_argument("--json", type=Path, help="also write every list found (changed files etc.) to this JSON file")
    args = p.parse_args(argv)
    args.packages = [n.strip() for n in args.packages.split(",") if n.strip()]
    unknown = [n for n in args.packages if n not in _corpus.PINS]
    if unknown:
        p.error(f"unknown package(s): {', '.join(unknown)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cache = args.cache.expanduser().resolve()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cuda2npu-corpus-") as tmpdir:
        tmp = Path(tmpdir)
        state = _corpus.snapshot(tmp / "code", args.code)
        api = load_api(tmp / "code")
        checker = Checker(api, args.timeout)
        signal.signal(signal.SIGALRM, _alarm)
        versions, stats, outputs, originals = {}, {}, {}, {}
        for name in args.packages:
            versions[name], src = _corpus.fetch(name, cache)
            root = tmp / "corpus" / f"{name}-{versions[name]}"
            shutil.copytree(src, root, ignore=shutil.ignore_patterns(".complete"))
            originals |= {str(p): p.read_bytes() for p in _corpus.python_files(root)}
            print(f"checking {name} {versions[name]} ...", file=sys.stderr)
            stats[name] = check_package(checker, root, outputs)
        report, cli_seconds, cli_failed = run_cli(tmp / "corpus", _corpus.child_env(cache, tmp / "code"), args.jobs)
        differences, skipped = compare_cli(report, outputs, originals, api)
        differences += [f"CLI failed: {cli_failed}"] if cli_failed else []
        table, total = markdown(stats, versions)
        total.problems["CLI/API differences"] = differences
        state += "; splice=False comparison " + ("on" if checker.plain else "n/a (engine has no splice option)")
        print_report(args, state, versions, table, total, cli_seconds, report, skipped)
        changed = [str(Path(p).relative_to(tmp / "corpus")) for p in outputs]
        print_sample(changed, cache, versions, args)
        if args.json:
            write_json(args.json, stats, total, changed)
    print(f"\nTotal wall time of this check: {time.perf_counter() - began:.0f}s")
    return 1 if any(total.problems[k] for k in MUST_BE_ZERO) else 0


def print_report(args, state, versions, table, total: Stats, cli_seconds: float, report: dict,
                 skipped: list[str]) -> None:
    print(f"Pinned packages: {', '.join(f'{n}=={v}' for n, v in _corpus.PINS.items())}")
    print(f"Checked: {', '.join(f'{n}=={v}' for n, v in versions.items())}")
    print(f"{state}; Python {sys.version.split()[0]}; per-file limit {args.timeout:g}s\n")
    print(table)
    cli = report.get("summary", {})
    print(f"\nCLI in place, --jobs {args.jobs}: {cli_seconds:.1f}s; {cli.get('files')} files, "
          f"{cli.get('changed')} changed, {cli.get('failed')} failed; "
          f"CLI/API differences: {len(total.problems['CLI/API differences'])} (must be 0)\n")
    print(rule_table(total))
    sections = [("Source errors", total.source_errors), ("Not scanned by the CLI (excluded folders)", skipped),
                ("Changed without cuda/nccl/CUDA (rules that edited)", total.changed_without_word),
                ("New duplicate string literals in the output (a sign of edited NPU-aware code)",
                 total.new_duplicates)]
    sections += [(k[0].upper() + k[1:], total.problems[k]) for k in MUST_BE_ZERO]
    for title, items in sections:
        if items:
            print(f"\n### {title} ({len(items)})\n")
            print("\n".join(f"- {i}" for i in items))


def print_sample(changed: list[str], cache: Path, versions: dict[str, str], args) -> None:
    """Random changed files, as paths into the cache, for reading their diffs."""
    if not changed or args.sample <= 0:
        return
    picked = random.Random(args.seed).sample(sorted(changed), min(args.sample, len(changed)))
    print(f"\n### {len(picked)} random changed files (seed {args.seed}); review with "
          "`python -m cuda2npu migrate --diff FILE`\n")
    print("\n".join(f"- {cache / 'src' / p}" for p in picked))


def write_json(path: Path, stats: dict[str, Stats], total: Stats, changed: list[str]) -> None:
    doc = {"changed": sorted(changed), "source_errors": total.source_errors,
           "changed_without_word": total.changed_without_word, "problems": total.problems,
           "npu_aware_changed": total.npu_aware_changed, "new_duplicates": total.new_duplicates,
           "edits": dict(total.edits), "findings": dict(total.findings)}
    path.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
