"""Kind ``string``: device and backend names in string literals and f-strings."""

from __future__ import annotations

import re

import libcst as cst

from . import Kind, fill
from .args import code_of
from ..helpers import shown

_FIELD_REST = re.compile(r"(:)\{(\w*)\}")  # "cuda:{}" / "cuda:{gpu}", formatted by .format()
_PERCENT_REST = re.compile(r"(:)%[dis]")  # "cuda:%d", formatted by %


class StringKind(Kind):
    def __init__(self, migrator):
        super().__init__(migrator)
        self._written: dict[int, tuple[cst.BaseExpression, str]] = {}  # literal -> (its expression, the rest)
    def leave_SimpleString(self, original: cst.SimpleString, updated: cst.SimpleString) -> cst.BaseExpression:
        m = self.m
        if "b" in original.prefix.lower() or any(m.enums) or id(original) in m.string_skip:
            return updated
        found = m.index.string(original.raw_value)
        if found is None:
            return updated
        rule, word, text, twin = found
        if rule.get("code") is not None:
            return self._code(original, updated, rule, word)
        if text is None:
            if not (rule.get("alone") and id(original) in m.alternatives):
                m.finding(original, rule, fill(rule.get("message"), name=word, replace=twin))
            return updated
        value = f"{original.prefix}{original.quote}{text}{original.quote}"
        if not m.edit(original, rule, f"{original.value} -> {value}"):
            return updated
        return updated.with_changes(value=value)

    def leave_FormattedString(self, original: cst.FormattedString,
                              updated: cst.FormattedString) -> cst.FormattedString:
        m, parts = self.m, original.parts
        if not parts or not isinstance(parts[0], cst.FormattedStringText) or any(m.enums):
            return updated
        shape = "".join(p.value if isinstance(p, cst.FormattedStringText) else "{}" for p in parts)
        found = m.index.string(shape)
        head = parts[0].value
        if found is None or not head.startswith(found[1]):
            return updated
        rule, word, text, twin = found
        if rule.get("code") is not None:
            if not m.edit(original, rule, f"f-string {word!r} -> {shown(rule.get('code'))}"):
                return updated
            value = cst.FormattedStringExpression(expression=m.writer.write(rule.get("code")))
            rest = head[len(word):]
            return updated.with_changes(parts=[value, *([cst.FormattedStringText(rest)] if rest else []),
                                               *updated.parts[1:]])
        if text is None:
            if not (rule.get("alone") and id(original) in m.alternatives):
                m.finding(original, rule, fill(rule.get("message"), name=word, replace=twin))
            return updated
        new = text[:len(rule.get("replace"))]  # the new name, in the case the rule writes it in
        if not m.edit(original, rule, f"f-string {word!r} -> {new!r}"):
            return updated
        first = parts[0].with_changes(value=new + head[len(word):])
        return updated.with_changes(parts=[first, *updated.parts[1:]])

    def _code(self, original: cst.SimpleString, updated: cst.SimpleString, rule, word: str) -> cst.BaseExpression:
        """The literal as the rule's expression: ``"cuda"`` -> ``accelerator.type``; what follows the
        device name stays text (``"cuda:0"`` -> ``f"{accelerator.type}:0"``)."""
        m = self.m
        if id(original) in m.concatenated or "u" in original.prefix.lower():
            return updated
        if not m.edit(original, rule, f"{original.value} -> {shown(rule.get('code'))}"):
            return updated
        value = m.writer.write(rule.get("code"))
        rest = original.raw_value[len(word):]
        if not rest:
            return value.with_changes(lpar=original.lpar, rpar=original.rpar)
        self._written[id(original)] = (value, rest)
        text = rest.replace("{", "{{").replace("}", "}}")
        prefix = "f" + original.prefix.replace("f", "").replace("F", "")
        return cst.FormattedString(parts=[cst.FormattedStringExpression(expression=value), cst.FormattedStringText(text)],
                                   start=prefix + original.quote, end=original.quote,
                                   lpar=original.lpar, rpar=original.rpar)

    def formatted(self, original: cst.BaseExpression, literal: cst.BaseExpression, values: list[cst.Arg],
                  pattern: re.Pattern[str]) -> cst.BaseExpression | None:
        """``"cuda:{}".format(i)`` or ``"cuda:%d" % i`` whose literal a ``code`` rule rewrote, as one
        f-string: ``f"{accelerator.type}:{i}"`` (None: leave it as the literal's rewrite made it)."""
        written = self._written.get(id(literal))
        found = pattern.fullmatch(written[1]) if written else None
        if found is None or len(values) != 1 or values[0].star:
            return None
        value = values[0]
        name = found.group(2) if pattern is _FIELD_REST else ""
        wanted = None if name in ("", "0") else name  # positional for {} and {0}, else that keyword
        if name.isdigit() and name != "0" or (value.keyword.value if value.keyword is not None else None) != wanted:
            return None
        text = code_of(value.value)
        if any(c in text for c in ("'", '"', "\\", "\n", "{", "}", "#")):
            return None  # not safely inside an f-string before Python 3.12
        quote = literal.quote
        return cst.FormattedString(parts=[cst.FormattedStringExpression(expression=written[0]),
                                          cst.FormattedStringText(found.group(1)),
                                          cst.FormattedStringExpression(expression=value.value)],
                                   start="f" + quote, end=quote, lpar=original.lpar, rpar=original.rpar)

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        func = original.func
        if self._written and isinstance(func, cst.Attribute) and func.attr.value == "format":
            return self.formatted(original, func.value, list(original.args), _FIELD_REST) or updated
        return updated

    def leave_BinaryOperation(self, original: cst.BinaryOperation, updated: cst.BinaryOperation) -> cst.BaseExpression:
        if self._written and isinstance(original.operator, cst.Modulo) and not isinstance(original.right, cst.Tuple):
            return self.formatted(original, original.left, [cst.Arg(original.right)], _PERCENT_REST) or updated
        return updated
