"""The result of the judgement phase for one file: vetoes and notes, and :func:`judge`."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

from ..results import Finding
from .facts import FileFacts, Span

if TYPE_CHECKING:  # pragma: no cover
    from ..rulebook import Rule
    from ..ruleindex import RuleIndex


@dataclass(frozen=True)
class Veto:
    """Edits not to make: those of ``rules`` (None: every edit) inside ``span`` (None: the whole
    file). The finding goes at ``at`` (None: at each vetoed edit, its message as ``{edit}``); an
    empty message vetoes without a finding."""

    rule: Rule
    message: str
    span: Span | None = None
    rules: frozenset[str] | None = None
    at: tuple[int, int] | None = None

    def covers(self, line: int, col: int, rule_id: str) -> bool:
        return ((self.rules is None or rule_id in self.rules)
                and (self.span is None or self.span.holds(line, col)))


@dataclass(frozen=True)
class Note:
    """A finding of an analysis; with ``requires``, only where one of those rules made an edit."""

    rule: Rule
    line: int
    col: int
    message: str
    requires: frozenset[str] = frozenset()


@dataclass
class Judgement:
    vetoes: list[Veto] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    origins: dict = field(default_factory=dict)  # for the rule kinds: cuda2npu.origins.origins

    def __bool__(self) -> bool:
        return bool(self.vetoes or self.notes)


Check = Callable[[FileFacts, "Rule"], Iterable["Veto | Note"]]


def _checks() -> dict[str, Check]:
    from . import dispatch, float64, guards, optimizers

    return {"optimizer-swap": optimizers.swap, "fused-traps": optimizers.traps, "fused-clip": optimizers.clip,
            "cuda-guard": guards.guard, "cuda-only-import": guards.imports,
            "dispatching-module": dispatch.dispatching, "device-agnostic": dispatch.agnostic,
            "float64-args": float64.args}


VETOING = frozenset({"optimizer-swap", "cuda-guard", "dispatching-module", "device-agnostic"})  # vetoes only


def judge(source: str, tree: ast.Module, index: RuleIndex, project=None, wanted: list[int] | None = None,
          imports: list | None = None, bindings=None, sites: bool = True) -> Judgement:
    """Run every context rule's check on one file (``wanted``: the 0-based lines that may hold a
    site, ``imports``: its import statements, ``bindings``: its :class:`Bindings`, when the caller
    has them already). Without ``sites`` (the file has none a rule could edit) the checks that
    only veto edits are not run."""
    judgement = Judgement()
    if not index.context:
        return judgement
    facts = FileFacts(source, tree, index, project, None if wanted is None else [n + 1 for n in wanted])
    if bindings is not None:
        facts.bindings = bindings
    if imports is not None:
        facts.imports = sorted(imports, key=lambda n: (n.lineno, n.col_offset))  # as the walk would list them
    checks = _checks()
    for check, rule in index.context.items():
        if not sites and check in VETOING:
            continue
        for result in checks[check](facts, rule):
            (judgement.vetoes if isinstance(result, Veto) else judgement.notes).append(result)
    return judgement


def rule_out(judgement: Judgement, sites, where, covered) -> tuple[frozenset, list, list]:
    """Apply ``judgement`` to the edit sites the rule kinds found. ``where(site)`` gives a site's
    (line, col); ``covered(line, rule_id)`` tells a user's suppression. Returns the (node id, rule
    id) pairs not to edit, the findings the vetoes make (one per veto that stopped an edit, or
    one per stopped edit for a veto without a place of its own), and where each would stand
    (line, rule id), suppressed or not."""
    vetoed, findings, seen, hits = set(), [], set(), []
    for site in sites:
        if site.severity is not None:
            continue
        line, col = where(site)
        if covered(line, site.rule.id):
            continue
        veto = next((v for v in judgement.vetoes if v.covers(line, col, site.rule.id)), None)
        if veto is None:
            continue
        vetoed.add((id(site.node), site.rule.id))
        at = veto.at or (line, col)
        key = (id(veto), at[0] if veto.at is None else 0)
        if veto.message and key not in seen:
            seen.add(key)
            hits.append((at[0], veto.rule.id))
            if not covered(at[0], veto.rule.id):
                findings.append(Finding(veto.rule.id, *at, veto.rule.severity,
                                        veto.message.replace("{edit}", site.message)))
    return frozenset(vetoed), findings, hits


def notes(judgement: Judgement, edited: set[str], covered) -> list:
    """The findings of the notes that stand: not suppressed, and with an edit they require."""
    return [Finding(n.rule.id, n.line, n.col, n.rule.severity, n.message) for n in judgement.notes
            if not covered(n.line, n.rule.id) and (not n.requires or n.requires & edited)]
