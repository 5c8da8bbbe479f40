"""The ``cuda2npu`` command line. Exit codes: 0 ok, 1 files would change or failed, 2 usage error,
3 a bug in cuda2npu (reported as an internal error), 130 interrupted."""

from __future__ import annotations

import os
import signal
import sys
from contextlib import closing
from dataclasses import replace

import click

from . import __version__
from .cli_catalog import explain, list_rules
from .cli_options import cache_options, fail, rules_option, soc_option, table, target_option, version_option


INTERNAL_ERROR = 3  # exit status of a bug in cuda2npu (a file's internal error included)


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("cuda2npu: interrupted; every file is either unchanged or fully migrated", err=True)
            sys.stdout.flush()
            sys.stderr.flush()
            # Every pool is stopped and every file whole by now. Exit without Python's exit handlers:
            # concurrent.futures' would wake a stopped pool's thread through a closed pipe (a
            # traceback on 3.11, under load).
            os._exit(130)
        except BrokenPipeError:  # `cuda2npu migrate --diff | head`: the reader left; say nothing more
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.stderr.flush()
            # As for an interrupt: no exit handlers, whose wake-up of a stopped pool's thread through a
            # closed pipe prints a traceback under load (writes are atomic: every file is whole).
            os._exit(1)
        except (click.exceptions.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise  # click's own usage errors and exits
        except Exception as exc:  # a bug of ours outside any one file  # noqa: BLE001
            import traceback

            where = traceback.extract_tb(exc.__traceback__)[-1]
            click.echo(f"cuda2npu: internal error ({type(exc).__name__}: {exc}) at {os.path.basename(where.filename)}:"
                       f"{where.lineno}; please report it", err=True)
            sys.exit(INTERNAL_ERROR)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cuda2npu")
def main() -> None:
    """Migrate PyTorch code from CUDA to Ascend NPU (torch_npu), source to source."""


main.add_command(list_rules)  # the catalog's commands
main.add_command(explain)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--diff", is_flag=True, help="Print a unified diff on stdout; write nothing.")
@click.option("--notebook-cells", is_flag=True,
              help="With --diff: show notebooks cell by cell, for reading (not a patch git apply takes).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file would change.")
@click.option("--out-dir", type=click.Path(file_okay=False), help="Write migrated copies here; inputs untouched.")
@rules_option
@click.option("--select", multiple=True, metavar="IDS", help="Only these rule ids or id prefixes (comma-separated).")
@click.option("--ignore", multiple=True, metavar="IDS", help="Skip these rule ids or id prefixes (comma-separated).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write a report here ('-': stdout).")
@click.option("--report-format", type=click.Choice(["json", "sarif", "csv", "markdown", "github", "gitlab"]),
              help="Report format (default: from the extension .json/.sarif/.csv/.md, else json).")
@click.option("--output-format", type=click.Choice(["text", "json", "sarif", "github", "gitlab"]), default="text",
              help="text: messages on stderr only (default); else also the findings on stdout in this "
                   "format (github: workflow annotations, gitlab: code quality).")
@click.option("--fail-on", type=click.Choice(["info", "warning", "error"]),
              help="Exit 1 when a finding of this severity or higher remains.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True),
              help="Read [tool.cuda2npu] from this pyproject.toml (default: the nearest one).")
@click.option("--no-config", is_flag=True, help="Ignore any pyproject.toml.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Worker processes (default: the cores available).")
@click.option("-q", "--quiet", is_flag=True, help="Print errors and the summary only, not each finding.")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto",
              help="Colour the output: on a terminal (auto; NO_COLOR and FORCE_COLOR are honoured), always, never.")
@click.option("--show-settings", is_flag=True, help="Print the settings the first path is migrated with, and exit.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when files would change, fail or reach --fail-on.")
@click.option("--statistics", is_flag=True, help="After the summary, count the edits and findings per rule.")
@click.option("--stdin-filename", metavar="PATH",
              help="With PATHS '-': the file standard input stands for (its configuration, kind and messages).")
@target_option
@version_option
@soc_option
@cache_options
def migrate(paths, diff, notebook_cells, check, out_dir, rule_paths, select, ignore, report_path, report_format,
            output_format, fail_on, config_path, no_config, jobs, quiet, color, show_settings, exit_zero, statistics,
            stdin_filename, target, torch_npu_version, soc, no_cache, cache_dir) -> None:
    """Migrate PATHS (files or folders) in place, or show what would change. PATHS '-' reads
    standard input and prints the migrated text (with --diff the diff, with --check nothing).

    Exit status: 0 when done (or nothing to change), 1 when --check/--diff found files that would
    change, any file could not be parsed, decoded or written, or a finding reached --fail-on
    (0 with --exit-zero); 2 for usage, configuration and rule-file errors; 3 for an internal error.
    """
    from .console import Console, color_diff, fancy
    from .report import Summary, file_entry, format_for, render
    from .runner import Options, default_jobs, run
    from .sessions import Flags

    if notebook_cells and not diff:
        fail("--notebook-cells changes how --diff shows notebooks: use it with --diff")
    if out_dir and (diff or check):
        fail("--out-dir writes files; it cannot be combined with --diff or --check")
    if output_format != "text":
        if report_path or diff:
            fail(f"--output-format {output_format} writes on stdout: use --report FILE --report-format "
                 f"{output_format} beside --diff or another report")
        report_path, report_format = "-", output_format
    if report_path == "-" and diff:
        fail("--report - writes the report on stdout, where --diff writes the diff; write one to a file")
    if report_path and report_path != "-" and not os.path.isdir(os.path.dirname(os.path.abspath(report_path))):
        fail(f"--report {report_path}: the folder does not exist")
    flags = Flags(rule_paths, select, ignore, fail_on, positions=bool(report_path), no_cache=no_cache,
                  cache_dir=cache_dir, torch_npu_version=torch_npu_version, soc=soc, target=target)
    if show_settings:
        _show_settings(stdin_filename or "." if paths == ("-",) else paths[0], flags, config_path, no_config)
        return
    mode = "check" if check else "diff" if diff else "write"
    console = Console(quiet=quiet, color=color)
    summary, entries = Summary(), []
    if "-" in paths:
        if paths != ("-",) or out_dir or report_path == "-":
            fail("'-' (standard input) is the only path, without --out-dir or --report -")
        session, result = _stdin(stdin_filename, flags, config_path, no_config, mode, bool(report_path))
        groups = [(session, [])]
        summary.add(result, fail_on=session.fail_on)
        console.file(result, check=mode != "write", fail_on=session.fail_on)
        entries.append(file_entry(result))
    else:
        groups = _groups(paths, out_dir, flags, config_path, no_config)
    options = Options(write=mode == "write", diff=diff, notebook_cells=notebook_cells, positions=bool(report_path))
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        colored = fancy(sys.stdout, color)
        with console.progress(sum(len(group) for _, group in groups)) as advance:
            for session, group in groups:
                # closed on an interrupt too: the pool stops and the cache is saved before Python exits
                with closing(run(group, session.book, options, jobs or default_jobs(), session.cache)) as results:
                    for source, result in zip(group, results, strict=True):
                        advance()
                        if result.diff:
                            sys.stdout.buffer.write(color_diff(result.diff) if colored else result.diff)
                            sys.stdout.buffer.flush()
                        if source.kind != "other" or result.error:  # copied-only files count when they fail
                            summary.add(result, fail_on=session.fail_on)
                            console.file(result, check=mode != "write", fail_on=session.fail_on)
                            if report_path:
                                entries.append(file_entry(result))
    finally:
        signal.signal(signal.SIGTERM, previous)
    if report_path:
        try:
            text = render(format_for(report_path, report_format), entries, summary, mode,
                          _merged([session.book() for session, _ in groups]))
            if report_path == "-":
                sys.stdout.write(text)
                sys.stdout.flush()
            else:
                with open(report_path, "w", encoding="utf-8", newline="") as handle:
                    handle.write(text)
        except OSError as exc:
            fail(f"--report {report_path}: {exc.strerror or exc}")
    console.summary(summary, mode=mode, releases=_targets(groups))
    if statistics:
        from .suppress import UNUSED

        books = [session.book() for session, _ in groups]
        names = {r.id: r.summary for r in _merged(books)} if books else {}
        console.statistics(summary, {UNUSED: "a suppression comment that suppresses nothing", **names})
    if summary.failing:
        from .config import SEVERITY_LEVELS

        console.failing(summary, "/".join(sorted({s.fail_on for s, _ in groups if s.fail_on},
                                                 key=SEVERITY_LEVELS.index)))
    would_change = mode != "write" and summary.changed
    if summary.internal and not exit_zero:
        sys.exit(INTERNAL_ERROR)
    sys.exit(1 if (summary.failed or would_change or summary.failing) and not exit_zero else 0)


def _stdin(filename, flags, config_path, no_config, mode, positions):
    """``migrate -``: standard input migrated and printed (see stdin.py)."""
    from .sessions import Sessions, SettingsError
    from .stdin import migrate_stdin

    try:
        sessions = Sessions(flags, config_path, no_config, _project([filename or "."]))
        session, result, out = migrate_stdin(filename, sessions, mode, positions)
    except SettingsError as exc:
        fail(str(exc))
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()
    return session, result


def _targets(groups) -> list[str]:
    """The releases the sessions port for, each with why (said once in the summary): torch_npu's,
    or torch's for the accelerator target."""
    seen = {}
    for session, _ in groups:
        choice = session.torch_npu
        if session.torch is not None:
            seen.setdefault(f"torch {session.torch.version} ({session.torch.why}), target accelerator", None)
        else:
            seen.setdefault(f"torch_npu {choice.release.version} ({choice.why})", None)
    return list(seen)


def _interrupt(signum, frame) -> None:
    """SIGTERM stops a run like Ctrl-C: every file is left either whole-old or whole-new."""
    raise KeyboardInterrupt


def _groups(paths, out_dir, flags, config_path=None, no_config=False):
    """The files to process, grouped by their session (the nearest configuration, or the one
    given), in the order of first appearance; excludes and per-file ignores applied. Every
    configuration and rule file is checked here, before any file is touched."""
    from pathlib import Path

    from .files import UsageError, collect
    from .sessions import Sessions, SettingsError

    try:
        sessions = Sessions(flags, config_path, no_config, _project(paths))
        for path in paths:  # the configuration of every path given is checked, files or not
            sessions.of(Path(path))
        sources = collect(paths, out_dir, sessions.excluded, kind=sessions.kind)
        groups: dict[int, tuple] = {}
        for source in sources:
            session = sessions.of_folder(source.path.parent)
            groups.setdefault(id(session), (session, []))[1].append(replace(source, ignore=session.ignores(source.path)))
    except (UsageError, SettingsError) as exc:
        fail(str(exc))
    return list(groups.values())


def _project(paths):
    """The folder whose dependency files declare the torch-npu pin of paths without a configuration:
    their common folder."""
    from pathlib import Path

    folders = [os.path.abspath(p if os.path.isdir(p) else os.path.dirname(p) or ".") for p in paths]
    return Path(os.path.commonpath(folders)) if folders else None


def _show_settings(path, flags, config_path, no_config) -> None:
    """``--show-settings``: the configuration, rules and cache a path is migrated with (stdout)."""
    from pathlib import Path

    from .sessions import Sessions, SettingsError

    try:
        session = Sessions(flags, config_path, no_config, _project([path])).of(Path(path))
    except SettingsError as exc:
        fail(str(exc))
    click.echo(f"settings for {path}:")
    for key, value in session.settings():
        click.echo(f"  {key}: {value}")


def _merged(books):
    """One rulebook with the rules of several (for a report over several configurations)."""
    from .rulebook import RuleBook

    if len(books) == 1:
        return books[0]
    rules = {}
    for book in books:
        for rule in book:
            rules.setdefault(rule.id, rule)
    return RuleBook(tuple(rules.values()))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@rules_option
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True),
              help="Read [tool.cuda2npu] from this pyproject.toml (default: the nearest one).")
@click.option("--no-config", is_flag=True, help="Ignore any pyproject.toml.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Worker processes (default: the cores available).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              help="A table, or JSON on stdout (per file and in total, each effort with its reason).")
@target_option
@version_option
@soc_option
@cache_options
def analyze(paths, rule_paths, config_path, no_config, jobs, fmt, target, torch_npu_version, soc, no_cache,
            cache_dir) -> None:
    """Estimate a port before making it: per file, what migrates automatically and what needs a human.

    Writes nothing. Effort: none (nothing to do), low (automatic only, or one or two findings),
    medium (up to ten findings), high (more, or files that cannot be parsed).
    """
    import json

    from .console import fancy
    from .estimate import HEADER, estimate, rows
    from .sessions import Flags

    flags = Flags(rule_paths, no_cache=no_cache, cache_dir=cache_dir, torch_npu_version=torch_npu_version, soc=soc,
                  target=target, ops_everywhere=True)
    groups = _groups(paths, None, flags, config_path, no_config)
    report = estimate(groups, jobs, [t.removeprefix("torch_npu ") for t in _targets(groups)])
    if fmt == "json":
        click.echo(json.dumps(report, indent=2))
    elif fancy(sys.stdout):
        table("cuda2npu analyze", HEADER, rows(report))
    else:
        click.echo("\t".join(HEADER))
        for row in rows(report):
            click.echo("\t".join(row))
