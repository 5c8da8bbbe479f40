"""Import statements: kinds ``rename`` and ``report`` applied to what they import, and where the
``import`` kind's new imports go (the anchor)."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from . import Kind, fill
from ..symbols import build_dotted, import_roots


@dataclass
class Anchor:
    """The first statement importing the anchor module: as read, and as written."""

    original: cst.SimpleStatementLine
    new: cst.SimpleStatementLine
    nested: bool


class ImportKind(Kind):
    def __init__(self, migrator):
        super().__init__(migrator)
        self.anchor: Anchor | None = None
        self._splits: dict[int, list[cst.ImportFrom]] = {}

    def _target(self, node: cst.CSTNode, full: list[str]) -> list[str] | None:
        """The new dotted parts for an imported name, recording the edit or finding."""
        m = self.m
        hit = m.index.symbols.longest(full)
        if hit is None:
            return None
        rule, new = hit.value
        name = ".".join(full)
        if new is None:
            if not m.index.symbols.has_children(name):  # a container: its references decide
                m.finding(node, rule, fill(rule.get("message"), name=name))
            return None
        target = new.split(".") + full[hit.size:]
        if rule.get("importable") is False or rule.get("code") is not None:
            m.finding(node, rule, f"{name} cannot be imported from its twin {'.'.join(target)}: "
                      "import the module and use the attribute")
            return None
        if not m.edit(node, rule, f"{name} -> {'.'.join(target)}"):
            return None
        module, replace = rule.get("module"), rule.get("replace").split(".")
        if module and target[:len(replace)] == replace:
            target = module.split(".") + target[len(replace):]  # the importable spelling
        return target

    def leave_Import(self, original: cst.Import, updated: cst.Import) -> cst.Import:
        names = list(updated.names)
        for i, alias in enumerate(original.names):
            full = (cst.helpers.get_full_name_for_node(alias.name) or "").split(".")
            if alias.asname is None:
                # Binds only the root package: references carry renames; reports are made here.
                hit = self.m.index.symbols.longest(full)
                if hit is not None and hit.value[1] is None:
                    self._target(alias, full)
                continue
            target = self._target(alias, full)
            if target is not None:
                names[i] = names[i].with_changes(name=build_dotted(".".join(target)))
        return updated.with_changes(names=names)

    def leave_ImportFrom(self, original: cst.ImportFrom, updated: cst.ImportFrom) -> cst.ImportFrom:
        if original.relative or original.module is None or isinstance(original.names, cst.ImportStar):
            return updated
        module = cst.helpers.get_full_name_for_node(original.module) or ""
        groups: dict[str, list[cst.ImportAlias]] = {}
        for alias, new_alias in zip(original.names, updated.names):
            old = alias.name.value
            target = self._target(alias, module.split(".") + [old])
            if target is None:
                groups.setdefault(module, []).append(new_alias)
                continue
            if target[-1] != old:
                local = new_alias.asname or cst.AsName(name=cst.Name(old))
                new_alias = new_alias.with_changes(name=cst.Name(target[-1]), asname=local)
            groups.setdefault(".".join(target[:-1]), []).append(new_alias)
        if list(groups) == [module]:
            return updated.with_changes(names=groups[module])
        if len(groups) == 1:
            (mod, aliases), = groups.items()
            return updated.with_changes(module=build_dotted(mod), names=aliases)
        self._splits[id(original)] = [
            updated.with_changes(module=build_dotted(mod), names=_fix_commas(aliases, bool(updated.lpar)))
            for mod, aliases in groups.items()
        ]
        return updated

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine,
                                  updated: cst.SimpleStatementLine):
        result = self._split_line(original, updated)
        m = self.m
        if not m.defs and (self.anchor is None or (self.anchor.nested and not m.depth)):
            root = m.index.anchor_root
            if any(root is None or r == root or r.startswith(root + ".")
                   for stmt in original.body for r in import_roots(stmt)):
                last = result.nodes[-1] if isinstance(result, cst.FlattenSentinel) else result
                self.anchor = Anchor(original, last, nested=bool(m.depth))
        return result

    def _split_line(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        if not any(id(s) in self._splits for s in original.body):
            return updated
        body: list[cst.BaseSmallStatement] = []
        for old, new in zip(original.body, updated.body):
            body.extend(self._splits.get(id(old), [new]))
        if len(original.body) > 1:
            last = len(body) - 1
            return updated.with_changes(body=[
                s.with_changes(semicolon=cst.Semicolon(whitespace_after=cst.SimpleWhitespace(" ")))
                if i < last else s for i, s in enumerate(body)])
        first = updated.with_changes(body=[body[0].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)])
        rest = [cst.SimpleStatementLine(body=[s.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)])
                for s in body[1:]]
        return cst.FlattenSentinel([first, *rest])


def _fix_commas(aliases: list[cst.ImportAlias], parenthesized: bool) -> list[cst.ImportAlias]:
    """Aliases regrouped into a statement of their own: no comma after the last, unless the
    statement is parenthesized and the comma ends a line (it may carry a comment)."""
    last = aliases[-1]
    keep = parenthesized and isinstance(last.comma, cst.Comma) and isinstance(
        last.comma.whitespace_after, cst.ParenthesizedWhitespace)
    return aliases if keep else [*aliases[:-1], last.with_changes(comma=cst.MaybeSentinel.DEFAULT)]
