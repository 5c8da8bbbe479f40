"""Arguments of a call: literal values, signatures, and rewriting a call's argument list in place
(dropping, inserting and renaming keywords while keeping its commas and comments)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import libcst as cst

from ..rulebook import Rule

_EMPTY_CODE = cst.Module(body=())


def code_of(node: cst.CSTNode) -> str:
    """The source text of a node."""
    return _EMPTY_CODE.code_for_node(node)


@dataclass
class CallPlan:
    """What to change in one call: its callable, and keywords to drop, insert or rename."""

    func: cst.BaseExpression | None = None
    drop: set[int] = field(default_factory=set)
    inserts: list[tuple[str, cst.BaseExpression]] = field(default_factory=list)
    renames: dict[str, str] = field(default_factory=dict)
    positional: list[cst.BaseExpression] | None = None  # new positional arguments in place of the old

    def __bool__(self) -> bool:
        return self.func is not None or bool(self.drop or self.inserts or self.renames) or self.positional is not None


def same_value(node: cst.BaseExpression, default: str) -> bool:
    """Whether an argument is literally the given default (source text)."""
    code = code_of(node).strip()
    if code == default:
        return True
    try:
        mine, theirs = ast.literal_eval(code), ast.literal_eval(default)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return type(mine) is type(theirs) and mine == theirs


def passes(node: cst.Call, keywords: dict[str, str]) -> bool:
    """Whether a call passes every one of ``keywords`` with that literal value."""
    given = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
    return all(k in given and same_value(given[k], v) for k, v in keywords.items())


def accepted(node: cst.Call, rule: Rule) -> bool:
    """Whether a call fits the signature a rule expects (``max_positional``, ``accepts``)."""
    limit, accepts = rule.get("max_positional"), rule.get("accepts")
    if limit is not None and sum(1 for a in node.args if a.keyword is None) > limit:
        return False
    return accepts is None or all(a.keyword is None or a.keyword.value in accepts for a in node.args)


def unsupported(node: cst.Call, lacking: dict[str, str]) -> tuple[set[int], list[str]]:
    """Keywords the target lacks: indices passed at their default (safe to drop), names passed otherwise."""
    safe, kept = set(), []
    for i, arg in enumerate(node.args):
        if arg.keyword is not None and arg.keyword.value in lacking:
            if same_value(arg.value, lacking[arg.keyword.value]):
                safe.add(i)
            else:
                kept.append(arg.keyword.value)
    return safe, kept


def _comment(comma) -> bool:
    """Whether a comma is followed by a comment before its line break."""
    return (isinstance(comma, cst.Comma) and isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace)
            and comma.whitespace_after.first_line.comment is not None)


def _with_comment(own, dropped):
    """``own`` comma carrying the end-of-line comment of a dropped argument's comma."""
    if isinstance(own, cst.Comma) and isinstance(own.whitespace_after, cst.ParenthesizedWhitespace):
        return own.with_changes(whitespace_after=own.whitespace_after.with_changes(
            first_line=dropped.whitespace_after.first_line))
    return own


def _last_comma(own, last):
    """The comma of an argument that becomes last: the dropped last one's, keeping own comments."""
    if (isinstance(own, cst.Comma) and isinstance(last, cst.Comma)
            and isinstance(own.whitespace_after, cst.ParenthesizedWhitespace)
            and isinstance(last.whitespace_after, cst.ParenthesizedWhitespace)):
        first = own.whitespace_after.first_line if _comment(own) else last.whitespace_after.first_line
        return own.with_changes(whitespace_after=own.whitespace_after.with_changes(
            first_line=first, last_line=last.whitespace_after.last_line, indent=last.whitespace_after.indent))
    return last


def rewrite_args(args: list[cst.Arg], plan: CallPlan) -> list[cst.Arg]:
    """Drop, insert and rename keyword arguments, keeping the call's comma layout."""
    kept: list[cst.Arg] = []
    for i, arg in enumerate(args):
        if i not in plan.drop:
            kept.append(arg)
        elif kept and _comment(arg.comma) and not _comment(kept[-1].comma):  # keep the comment
            kept[-1] = kept[-1].with_changes(comma=_with_comment(kept[-1].comma, arg.comma))
    if kept and args and kept[-1] is not args[-1]:
        kept[-1] = kept[-1].with_changes(comma=_last_comma(kept[-1].comma, args[-1].comma))
    for name, value in plan.inserts:
        last = max((i for i, a in enumerate(kept) if a.keyword is None and not a.star), default=-1)
        new = cst.Arg(value=value, keyword=cst.Name(name),
                      equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                            whitespace_after=cst.SimpleWhitespace("")))
        space = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        if last < 0:
            new = new.with_changes(comma=space if kept else cst.MaybeSentinel.DEFAULT)
        else:
            new = new.with_changes(comma=kept[last].comma)
            if last == len(kept) - 1:
                kept[last] = kept[last].with_changes(comma=space)
        kept.insert(last + 1, new)
    if plan.renames:
        kept = [a.with_changes(keyword=cst.Name(plan.renames[a.keyword.value]))
                if a.keyword is not None and a.keyword.value in plan.renames else a for a in kept]
    if plan.positional is not None:
        rest = [a for a in kept if a.keyword is not None or a.star]
        space = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        new_args = [cst.Arg(value=v, comma=space) for v in plan.positional]
        if not rest and new_args:
            new_args[-1] = new_args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        kept = new_args + rest
    return kept
