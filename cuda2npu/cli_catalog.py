"""The catalog's commands: ``cuda2npu rules`` (every rule, the Markdown catalog, the API coverage)
and ``cuda2npu explain ID``."""

from __future__ import annotations

import click

from .cli_options import catalog_book, fail, rules_option, table, target_option, version_option


@click.command("rules")
@rules_option
@click.option("--format", "fmt", type=click.Choice(["table", "md"]), default="table",
              help="A table, or the Markdown catalog page (docs/rules.md).")
@click.option("--coverage", is_flag=True, help="How the rules cover the torch.cuda API of the snapshot.")
@target_option
@version_option
def list_rules(rule_paths, fmt, coverage, target, torch_npu_version) -> None:
    """List the rules: id, kind and what each does; with --torch-npu-version, what that release
    changes against the newest."""
    book = catalog_book(rule_paths, torch_npu_version, target)
    if torch_npu_version and not coverage and fmt == "table" and book.target != "accelerator":
        from .catalog import gated_lines
        from .versions import newest

        lines = gated_lines(book)
        click.echo(f"torch_npu {torch_npu_version} against {newest()}: {len(lines)} rewrite(s) reported instead")
        for line in lines:
            click.echo(f"  {line}")
        return
    if coverage:
        _print_coverage(book)
    elif fmt == "md":
        from .catalog import markdown

        click.echo(markdown(book), nl=False)
    else:
        table(f"cuda2npu rules (target {book.target})", ("id", "kind", "summary"),
              [(r.id, r.kind, r.summary) for r in sorted(book, key=lambda r: r.id)])


def _print_coverage(book) -> None:
    from .catalog import coverage, load_snapshot

    snapshot = load_snapshot()
    rows = []
    for cov in coverage(book, snapshot):
        rows.append((cov.module, str(cov.total), str(len(cov.renamed)), str(len(cov.reported)),
                     str(len(cov.containers)), str(len(cov.uncovered))))
    versions = ", ".join(f"{k} {v}" for k, v in snapshot["wheels"].items())
    table(f"API coverage ({versions})", ("module", "names", "renamed", "reported", "submodules", "uncovered"), rows)
    for cov in coverage(book, snapshot):
        if cov.uncovered:
            click.echo(f"{cov.module}: not covered by a specific rule: {', '.join(cov.uncovered)}")


@click.command()
@click.argument("rule_id")
@rules_option
@target_option
@version_option
def explain(rule_id, rule_paths, target, torch_npu_version) -> None:
    """Explain one rule: what it does, why, and its examples."""
    from .suppress import UNUSED, UNUSED_WHY

    if rule_id.upper() == UNUSED:
        click.echo(f"{UNUSED} (suppressions, warning): a suppression comment that suppresses nothing\n\n{UNUSED_WHY}")
        return
    from .rulebook import targets

    rule = None
    for name in [target] if target else [None, *targets()]:  # without --target: whichever target has it
        book = catalog_book(rule_paths, target=name)
        rule = book.by_id(rule_id) or next((r for r in book if r.id.lower() == rule_id.lower()), None)
        if rule is not None:
            break
    if rule is None:
        fail(f"no rule '{rule_id}'; `cuda2npu rules` lists them")
    from .catalog import explanation, gated_lines

    gated = (gated_lines(catalog_book(rule_paths, torch_npu_version), rule.id)
             if torch_npu_version and book.target != "accelerator" else None)
    click.echo(explanation(rule, torch_npu_version, gated), nl=False)
