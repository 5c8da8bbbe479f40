"""The ``cuda2npu`` command line. Exit codes: 0 ok, 1 files would change or failed, 2 usage error."""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import replace

import click

from . import __version__


def _codes(values: tuple[str, ...]) -> list[str]:
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


def _fail(message: str) -> None:
    click.echo(f"cuda2npu: error: {message}", err=True)
    sys.exit(2)


def _rulebook(rule_paths: tuple[str, ...], select: tuple[str, ...] = (), ignore: tuple[str, ...] = (),
              *, fused_optimizers: bool = True):
    from .rulebook import RuleError, load_rulebook

    try:
        book = load_rulebook(rule_paths)
        dropped = [] if fused_optimizers else book.tagged("fused-optimizer")
        return book.select(_codes(select), [*_codes(ignore), *dropped])
    except RuleError as exc:
        _fail(str(exc))


def _cache_options(command):
    command = click.option("--cache-dir", type=click.Path(file_okay=False),
                           help="Keep the results cache here (default: ~/.cache/cuda2npu).")(command)
    return click.option("--no-cache", is_flag=True, help="Neither read nor write the results cache.")(command)


_rules_option = click.option("--rules", "rule_paths", multiple=True, metavar="PATH",
                             help="Extra rule file or folder of *.yaml files (repeatable).")


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("cuda2npu: interrupted; every file is either unchanged or fully migrated", err=True)
            sys.exit(130)
        except BrokenPipeError:  # `cuda2npu migrate --diff | head`: the reader left; say nothing more
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cuda2npu")
def main() -> None:
    """Migrate PyTorch code from CUDA to Ascend NPU (torch_npu), source to source."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--diff", is_flag=True, help="Print a unified diff on stdout; write nothing.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file would change.")
@click.option("--out-dir", type=click.Path(file_okay=False), help="Write migrated copies here; inputs untouched.")
@_rules_option
@click.option("--select", multiple=True, metavar="IDS", help="Only these rule ids or id prefixes (comma-separated).")
@click.option("--ignore", multiple=True, metavar="IDS", help="Skip these rule ids or id prefixes (comma-separated).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write a report here.")
@click.option("--report-format", type=click.Choice(["json", "sarif", "csv", "markdown"]),
              help="Report format (default: from the extension .json/.sarif/.csv/.md, else json).")
@click.option("--fail-on", type=click.Choice(["info", "warning", "error"]),
              help="Exit 1 when a finding of this severity or higher remains.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True),
              help="Read [tool.cuda2npu] from this pyproject.toml (default: the nearest one).")
@click.option("--no-config", is_flag=True, help="Ignore any pyproject.toml.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Worker processes (default: the cores available).")
@click.option("-q", "--quiet", is_flag=True, help="Print errors and the summary only, not each finding.")
@_cache_options
def migrate(paths, diff, check, out_dir, rule_paths, select, ignore, report_path, report_format, fail_on,
            config_path, no_config, jobs, quiet, no_cache, cache_dir) -> None:
    """Migrate PATHS (files or folders) in place, or show what would change.

    Exit status: 0 when done (or nothing to change), 1 when --check/--diff found files that would
    change, any file could not be parsed, decoded or written, or a finding reached --fail-on;
    2 for usage, configuration and rule-file errors.
    """
    from .console import Console, color_diff, fancy
    from .report import Summary, file_entry, format_for, render
    from .runner import Options, default_jobs, run

    if out_dir and (diff or check):
        _fail("--out-dir writes files; it cannot be combined with --diff or --check")
    if report_path and not os.path.isdir(os.path.dirname(os.path.abspath(report_path))):
        _fail(f"--report {report_path}: the folder does not exist")
    config, book, patterns, cache = _session(paths, config_path, no_config, rule_paths, select, ignore,
                                             positions=bool(report_path), no_cache=no_cache, cache_dir=cache_dir)
    sources = _sources(paths, out_dir, config, patterns)
    fail_on = fail_on or config.fail_on
    mode = "check" if check else "diff" if diff else "write"
    console = Console(quiet=quiet)
    summary, entries = Summary(), []
    options = Options(write=mode == "write", diff=diff, positions=bool(report_path))
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        colored = fancy(sys.stdout)
        with console.progress(len(sources)) as advance:
            for source, result in zip(sources, run(sources, book, options, jobs or default_jobs(), cache), strict=True):
                advance()
                if result.diff:
                    sys.stdout.buffer.write(color_diff(result.diff) if colored else result.diff)
                    sys.stdout.buffer.flush()
                if source.kind != "other" or result.error:  # files only copied to --out-dir count when they fail
                    summary.add(result)
                    console.file(result, check=mode != "write", fail_on=fail_on)
                    if report_path:
                        entries.append(file_entry(result))
    finally:
        signal.signal(signal.SIGTERM, previous)
    if report_path:
        try:
            text = render(format_for(report_path, report_format), entries, summary, mode, book())
            with open(report_path, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        except OSError as exc:
            _fail(f"--report {report_path}: {exc.strerror or exc}")
    console.summary(summary, mode=mode)
    if summary.reaches(fail_on):
        console.failing(summary, fail_on)
    would_change = mode != "write" and summary.changed
    sys.exit(1 if summary.failed or would_change or summary.reaches(fail_on) else 0)


def _interrupt(signum, frame) -> None:
    """SIGTERM stops a run like Ctrl-C: every file is left either whole-old or whole-new."""
    raise KeyboardInterrupt


def _session(paths, config_path, no_config, rule_paths, select=(), ignore=(), *, positions=False,
             no_cache=False, cache_dir=None):
    """The configuration; a loader of the rulebook it and the flags select (--select replaces,
    ignores add up), called now unless the cache already knows these rules; the text rules' file
    patterns; the results cache (None when off)."""
    import functools

    config = _config(paths, config_path, no_config)
    rule_paths, select, ignore = (*config.rules, *rule_paths), select or tuple(config.select), (*config.ignore, *ignore)

    @functools.cache
    def book():
        loaded = _rulebook(rule_paths, select, ignore, fused_optimizers=config.fused_optimizers)
        _check_per_file_ignores(config, loaded)
        return loaded

    settings = {"select": _codes(select), "ignore": _codes(ignore), "fused": config.fused_optimizers,
                "per-file-ignores": config.per_file_ignores, "positions": positions}
    cache = None if no_cache else _cache(config, cache_dir, rule_paths, settings)
    patterns = cache.text_patterns if cache is not None else None
    if patterns is None:
        patterns = book().text_patterns()
        if cache is not None:
            cache.know(patterns)
    return config, book, patterns, cache


def _cache(config, cache_dir, rule_paths, settings):
    """The results cache of this run's rules and settings; None when turned off."""
    from pathlib import Path

    from .cache import Cache, default_dir, disabled_by_env, fingerprint, refusal
    from .files import default_rules_dir, rule_files

    if disabled_by_env():
        return None
    from_env = os.environ.get("CUDA2NPU_CACHE_DIR")
    folder = Path(cache_dir) if cache_dir else default_dir() if from_env else config.cache_dir or default_dir()
    why = refusal(folder)
    if why:
        _fail(f"cache folder {folder}: {why}; choose another with --cache-dir or cache-dir, or use --no-cache")
    files = [*rule_files(default_rules_dir())]
    for entry in rule_paths:
        found = rule_files(Path(entry))
        if found is None:
            return None  # the rulebook's load says why
        files += found
    key = fingerprint(files, settings)
    return Cache(folder, key) if key else None


def _check_per_file_ignores(config, book) -> None:
    from .rulebook import RuleError

    for ids in config.per_file_ignores.values():
        try:
            book.select(ignore=_codes(tuple(ids)))
        except RuleError as exc:
            _fail(f"{config.path}: [tool.cuda2npu] per-file-ignores: {exc}")


def _config(paths, config_path, no_config):
    from pathlib import Path

    from .config import Config, ConfigError, find, load

    if no_config:
        return Config()
    try:
        return load(Path(config_path) if config_path else find(paths))
    except ConfigError as exc:
        _fail(str(exc))


def _sources(paths, out_dir, config, text_patterns):
    """The files to process, with the configuration's excludes and per-file ignores applied."""
    from .files import DEFAULT_EXCLUDE, Excluder, UsageError, collect

    base = config.path.parent if config.path else None
    patterns = list(DEFAULT_EXCLUDE if config.exclude is None else config.exclude) + config.extend_exclude
    try:
        sources = collect(paths, out_dir, Excluder(patterns, base), text_patterns)
    except UsageError as exc:
        _fail(str(exc))
    if not config.per_file_ignores:
        return sources
    matchers = [(Excluder([pattern], base), tuple(_codes(tuple(ids))))
                for pattern, ids in config.per_file_ignores.items()]
    return [replace(s, ignore=tuple(sorted({i for match, ids in matchers if match(s.path) for i in ids})))
            for s in sources]


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@_rules_option
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True),
              help="Read [tool.cuda2npu] from this pyproject.toml (default: the nearest one).")
@click.option("--no-config", is_flag=True, help="Ignore any pyproject.toml.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Worker processes (default: the cores available).")
@_cache_options
def analyze(paths, rule_paths, config_path, no_config, jobs, no_cache, cache_dir) -> None:
    """Estimate a port before making it: per file, what migrates automatically and what needs a human.

    Writes nothing. Effort: none (nothing to do), low (automatic only, or one or two findings),
    medium (up to ten findings), high (more, or files that cannot be parsed).
    """
    from .console import fancy
    from .runner import Options, default_jobs, run

    config, book, patterns, cache = _session(paths, config_path, no_config, rule_paths, no_cache=no_cache,
                                             cache_dir=cache_dir)
    sources = [s for s in _sources(paths, None, config, patterns) if s.kind != "other"]
    rows, totals = [], [0, 0, 0]
    for result in run(sources, book, Options(write=False, positions=False), jobs or default_jobs(), cache):
        manual = sum(f.severity != "info" for f in result.findings)
        if result.edits or result.findings or result.error:
            rows.append((result.path, str(len(result.edits)), str(manual),
                         str(len(result.findings) - manual), _effort(manual, result.error)))
        totals = [totals[0] + len(result.edits), totals[1] + manual, totals[2] + len(result.findings) - manual]
    heavy = max((r[4] for r in rows), key=_EFFORTS.index, default="none")
    rows.append((f"total ({len(sources)} files, {len(rows)} to port)", *map(str, totals), heavy))
    header = ("file", "automatic", "needs a human", "advice", "effort")
    if fancy(sys.stdout):
        _table("cuda2npu analyze", header, rows)
    else:
        click.echo("\t".join(header))
        for row in rows:
            click.echo("\t".join(row))


_EFFORTS = ("none", "low", "medium", "high")


def _effort(manual: int, error: str | None) -> str:
    if error is not None or manual > 10:
        return "high"
    return "medium" if manual > 2 else "low"


@main.command("rules")
@_rules_option
@click.option("--format", "fmt", type=click.Choice(["table", "md"]), default="table",
              help="A table, or the Markdown catalog page (docs/rules.md).")
@click.option("--coverage", is_flag=True, help="How the rules cover the torch.cuda API of the snapshot.")
def list_rules(rule_paths, fmt, coverage) -> None:
    """List the rules: id, kind and what each does."""
    book = _rulebook(rule_paths)
    if coverage:
        _print_coverage(book)
    elif fmt == "md":
        from .catalog import markdown

        click.echo(markdown(book), nl=False)
    else:
        _table(f"cuda2npu rules (target {book.target})", ("id", "kind", "summary"),
               [(r.id, r.kind, r.summary) for r in sorted(book, key=lambda r: r.id)])


def _print_coverage(book) -> None:
    from .catalog import coverage, load_snapshot

    snapshot = load_snapshot()
    rows = []
    for cov in coverage(book, snapshot):
        rows.append((cov.module, str(cov.total), str(len(cov.renamed)), str(len(cov.reported)),
                     str(len(cov.containers)), str(len(cov.uncovered))))
    versions = ", ".join(f"{k} {v}" for k, v in snapshot["wheels"].items())
    _table(f"API coverage ({versions})", ("module", "names", "renamed", "reported", "submodules", "uncovered"), rows)
    for cov in coverage(book, snapshot):
        if cov.uncovered:
            click.echo(f"{cov.module}: not covered by a specific rule: {', '.join(cov.uncovered)}")


def _table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """A rich table on a terminal, tab-separated lines otherwise."""
    if sys.stdout.isatty():
        from rich.console import Console as RichConsole
        from rich.table import Table

        table = Table(*header, title=title)
        for row in rows:
            table.add_row(*row)
        RichConsole().print(table)
    else:
        for row in rows:
            click.echo("\t".join(row))


@main.command()
@click.argument("rule_id")
@_rules_option
def explain(rule_id, rule_paths) -> None:
    """Explain one rule: what it does, why, and its examples."""
    from .suppress import UNUSED, UNUSED_WHY

    book = _rulebook(rule_paths)
    if rule_id.upper() == UNUSED:
        click.echo(f"{UNUSED} (suppressions, warning): a suppression comment that suppresses nothing\n\n{UNUSED_WHY}")
        return
    rule = book.by_id(rule_id) or next((r for r in book if r.id.lower() == rule_id.lower()), None)
    if rule is None:
        _fail(f"no rule '{rule_id}'; `cuda2npu rules` lists them")
    click.echo(f"{rule.id} ({rule.kind}, {rule.severity}): {rule.summary}")
    if rule.why:
        click.echo(f"\n{rule.why}")
    fields = {k: v for k, v in rule.spec.items() if k != "members"}
    click.echo("\n" + "\n".join(f"  {k}: {v}" for k, v in fields.items()))
    if rule.get("members"):
        click.echo(f"  members: {len(rule.get('members'))} names")
    for n, example in enumerate(rule.examples, 1):
        click.echo(f"\nExample {n}, before:\n{_indent(example.before)}")
        if example.after != example.before:
            click.echo(f"after:\n{_indent(example.after)}")
        else:
            click.echo("after: unchanged" + (f", {example.findings} finding(s)" if example.findings else ""))


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip("\n").splitlines())
