"""What the commands of the command line share: their common options, the usage-error exit, the
rulebook as the catalog shows it, and tables."""

from __future__ import annotations

import sys

import click

from .config import SOCS


def fail(message: str) -> None:
    click.echo(f"cuda2npu: error: {message}", err=True)
    sys.exit(2)


def catalog_book(rule_paths: tuple[str, ...], torch_npu_version: str | None = None, target: str | None = None):
    """The rules of ``target`` as written; with ``--torch-npu-version``, for that release (see
    versions.for_release, portable.for_torch)."""
    from .portable import TorchError
    from .sessions import SettingsError, rulebook
    from .versions import VersionError, for_release, release

    try:
        book = rulebook(rule_paths, every=True, target=target)
        if torch_npu_version and target == "accelerator":
            from .opsupport import DEFAULT_SOC
            from .portable import choose, for_torch

            return for_torch(book, choose(torch_npu_version, "--torch-npu-version", None).version, DEFAULT_SOC)
        return for_release(book, release(torch_npu_version)) if torch_npu_version else book
    except (SettingsError, VersionError, TorchError) as exc:
        fail(str(exc))


version_option = click.option("--torch-npu-version", metavar="VERSION",
                              help="Port for this torch_npu release (default: the project's pin, else the newest).")
target_option = click.option("--target", metavar="NAME",
                             help="npu (default: code for Ascend, torch.npu and torch_npu), or accelerator "
                                  "(device-agnostic code on torch.accelerator, for CUDA and Ascend alike).")
soc_option = click.option("--soc", type=click.Choice(SOCS, case_sensitive=False),
                          help="The Ascend chip family whose op support is reported (default: A2).")


def cache_options(command):
    command = click.option("--cache-dir", type=click.Path(file_okay=False),
                           help="Keep the results cache here (default: ~/.cache/cuda2npu).")(command)
    return click.option("--no-cache", is_flag=True, help="Neither read nor write the results cache.")(command)


rules_option = click.option("--rules", "rule_paths", multiple=True, metavar="PATH",
                            help="Extra rule file or folder of *.yaml files (repeatable).")


def table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """A rich table on a terminal, tab-separated lines otherwise."""
    if sys.stdout.isatty():
        from rich.console import Console as RichConsole
        from rich.table import Table

        grid = Table(*header, title=title)
        for row in rows:
            grid.add_row(*row)
        RichConsole().print(grid)
    else:
        for row in rows:
            click.echo("\t".join(row))
