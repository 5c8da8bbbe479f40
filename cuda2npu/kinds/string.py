"""Kind ``string``: device and backend names in string literals and f-strings."""

from __future__ import annotations

import libcst as cst

from . import Kind, fill
from ..helpers import shown


class StringKind(Kind):
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
        text = rest.replace("{", "{{").replace("}", "}}")
        prefix = "f" + original.prefix.replace("f", "").replace("F", "")
        return cst.FormattedString(parts=[cst.FormattedStringExpression(expression=value), cst.FormattedStringText(text)],
                                   start=prefix + original.quote, end=original.quote,
                                   lpar=original.lpar, rpar=original.rpar)
