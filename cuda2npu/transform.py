"""The rule kinds as one LibCST pass: each kind's matching and rewriting is written once here."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import libcst as cst

from .prefilter import trigger_pattern
from .rulebook import Rule, RuleBook
from .symbols import Bindings, PrefixIndex, build_dotted, dotted, import_roots

# Index forms a device string may carry after "<device>:": a number, a %-placeholder, a {field}.
_DEVICE_SUFFIX = r"(?::(?:\d+|%[dis]|\{[^{}]*\})?)?"
_EMPTY_CODE = cst.Module(body=())
_ATTRIBUTE_FUNCTIONS = ("getattr", "hasattr", "setattr", "delattr")


@dataclass
class Site:
    """A place a rule acted on: an edit (``severity`` None) or a finding."""

    node: cst.CSTNode
    rule: Rule
    message: str
    severity: str | None = None


class RuleIndex:
    """The rulebook arranged for fast lookup by each kind; built once per run."""

    def __init__(self, book: RuleBook):
        self.book = book
        self.symbols = symbol_index(book)
        self.calls: dict[str, Rule] = {}
        self.arguments: dict[str, list[Rule]] = {}
        self.attributes: dict[str, Rule] = {}
        self.strings: dict[str, Rule] = {}
        self.string_patterns: list[tuple[Rule, str, re.Pattern[str]]] = []
        self.imports = book.of_kind("import")
        self.anchor_root = self.imports[0].get("after") if self.imports else None
        for rule in book:
            if rule.kind == "call":
                self.calls.setdefault(rule.get("match"), rule)
            elif rule.kind == "argument":
                for old, _ in rule.pairs():
                    self.arguments.setdefault(old, []).append(rule)
            elif rule.kind == "attribute":
                self.attributes.setdefault(rule.get("match"), rule)
            elif rule.kind == "string":
                for word in rule.matches():
                    if rule.get("device"):
                        pattern = re.compile(re.escape(word) + _DEVICE_SUFFIX)
                    elif rule.get("prefix"):
                        pattern = re.compile(re.escape(word) + r"(?: .*)?", re.S)
                    else:
                        self.strings.setdefault(word, rule)
                        continue
                    self.string_patterns.append((rule, word, pattern))
        self.trigger = trigger_pattern(book)  # does a file need parsing at all
        self.site_trigger = trigger_pattern(book, dependent=True)  # may a statement hold a site
        # Code that mentions the target, or a value a string rule writes ("npu", "hccl", ...),
        # already handles the target.
        words = {book.target} | {r.get("replace") for r in book.of_kind("string") if r.get("replace")}
        self.aware = re.compile(r"(?<![A-Za-z0-9])(?:%s)(?![A-Za-z0-9])" % "|".join(map(re.escape, sorted(words))),
                                re.I)

    def triggered(self, source: str) -> bool:
        """Whether any rule could act on ``source``: a file without a trigger word is never parsed."""
        return self.trigger is not None and self.trigger.search(source) is not None

    def string(self, text: str) -> tuple[Rule, str, str | None] | None:
        """For a string literal's content: the rule, the word it matched and the new text (None: report)."""
        rule = self.strings.get(text)
        if rule is not None:
            return rule, text, rule.get("replace")
        for rule, word, pattern in self.string_patterns:
            if pattern.fullmatch(text):
                replace = rule.get("replace")
                return rule, word, None if replace is None else replace + text[len(word):]
        return None


def symbol_index(book: RuleBook) -> PrefixIndex[tuple[Rule, str | None]]:
    """Rename and report rules by the dotted names they match, with their new names (None: report)."""
    index: PrefixIndex[tuple[Rule, str | None]] = PrefixIndex()
    for rule in book:
        if rule.kind in ("rename", "report"):
            for old, new in rule.pairs():
                index.add(old, (rule, new), exact=bool(rule.get("exact")))
    return index


@dataclass
class Anchor:
    """The first statement importing the anchor module: as read, and as written."""

    original: cst.SimpleStatementLine
    new: cst.SimpleStatementLine
    nested: bool


@dataclass
class _CallPlan:
    func: cst.BaseExpression | None = None
    drop: set[int] = field(default_factory=set)
    inserts: list[tuple[str, str]] = field(default_factory=list)
    renames: dict[str, str] = field(default_factory=dict)


def _same_value(node: cst.BaseExpression, default: str) -> bool:
    """Whether an argument is literally the given default (source text)."""
    code = _EMPTY_CODE.code_for_node(node).strip()
    if code == default:
        return True
    try:
        mine, theirs = ast.literal_eval(code), ast.literal_eval(default)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return type(mine) is type(theirs) and mine == theirs


def _passes(node: cst.Call, keywords: dict[str, str]) -> bool:
    """Whether a call passes every one of ``keywords`` with that literal value."""
    given = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
    return all(k in given and _same_value(given[k], v) for k, v in keywords.items())


def _is_enum(node: cst.ClassDef) -> bool:
    return any((dotted(base.value) or [""])[-1].endswith("Enum") for base in node.bases)


def _accepted(node: cst.Call, rule: Rule) -> bool:
    """Whether a call fits the signature a rule expects (``max_positional``, ``accepts``)."""
    limit, accepts = rule.get("max_positional"), rule.get("accepts")
    if limit is not None and sum(1 for a in node.args if a.keyword is None) > limit:
        return False
    return accepts is None or all(a.keyword is None or a.keyword.value in accepts for a in node.args)


def _unsupported(node: cst.Call, unsupported: dict[str, str]) -> tuple[set[int], list[str]]:
    """Keywords the target lacks: indices passed at their default (safe to drop), names passed otherwise."""
    safe, kept = set(), []
    for i, arg in enumerate(node.args):
        if arg.keyword is not None and arg.keyword.value in unsupported:
            if _same_value(arg.value, unsupported[arg.keyword.value]):
                safe.add(i)
            else:
                kept.append(arg.keyword.value)
    return safe, kept


def _format(template: str, **values: str) -> str:
    return template.format_map(values) if template else ""


class Migrator(cst.CSTTransformer):
    """Applies every rule in one pass and records the sites it acted on."""

    def __init__(self, index: RuleIndex, bindings: Bindings, text: str, suppressed: frozenset = frozenset()):
        super().__init__()
        self.suppressed = suppressed  # (id of node, rule id) pairs not to edit
        self.index = index
        self.bindings = bindings
        self.sites: list[Site] = []
        self.needed: list[str] = []  # modules to import for names written in full
        self._skip: set[int] = set()
        self._attr_renames: dict[int, str] = {}
        self._chains: dict[int, cst.BaseExpression] = {}
        self._calls: dict[int, _CallPlan] = {}
        self._splits: dict[int, list[cst.ImportFrom]] = {}
        self._defs = 0
        self._depth = 0
        self.anchor: Anchor | None = None  # where new imports go
        self._aware_possible = index.aware.search(text) is not None  # the source mentions the target
        self._enums: list[bool] = []  # per enclosing class: is it an Enum
        self._stores: set[int] = set()  # attribute nodes assigned to
        self._string_skip: set[int] = set()  # strings used as attribute names

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._defs += 1

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        self._defs -= 1
        return updated

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._defs += 1
        self._enums.append(_is_enum(node))  # Enum members name values, not devices

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        self._defs -= 1
        self._enums.pop()
        return updated

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._depth += 1

    def leave_IndentedBlock(self, original: cst.IndentedBlock, updated: cst.IndentedBlock) -> cst.IndentedBlock:
        self._depth -= 1
        return updated

    # -- recording -------------------------------------------------------------------------
    def _edit(self, node: cst.CSTNode, rule: Rule, message: str) -> bool:
        """Record an edit; False when it is suppressed and must not be made."""
        if (id(node), rule.id) in self.suppressed:
            return False
        self.sites.append(Site(node, rule, message))
        note = rule.get("message") if rule.kind == "rename" else None
        if note:
            self.sites.append(Site(node, rule, note, rule.severity))
        return True

    def _finding(self, node: cst.CSTNode, rule: Rule, message: str) -> None:
        self.sites.append(Site(node, rule, message, rule.severity))

    def _write(self, full: str) -> cst.BaseExpression:
        text, missing = self.bindings.spell(full)
        if missing and missing not in self.needed:
            self.needed.append(missing)
        return build_dotted(text)

    # -- code that already dispatches to the target is left alone --------------------------
    def _aware(self, *nodes: cst.CSTNode) -> bool:
        return self._aware_possible and any(self.index.aware.search(_EMPTY_CODE.code_for_node(n)) for n in nodes)

    def visit_If(self, node: cst.If) -> bool:
        tests, branch = [], node
        while isinstance(branch, cst.If):
            tests.append(branch.test)
            branch = branch.orelse
        return not self._aware(*tests)

    def visit_IfExp(self, node: cst.IfExp) -> bool:
        return not self._aware(node)

    def visit_Dict(self, node: cst.Dict) -> bool:
        keys = [e.key for e in node.elements if isinstance(e, cst.DictElement)]
        return not self._aware(*[k for k in keys if isinstance(k, cst.BaseString)])

    def _collection(self, node: cst.List | cst.Tuple | cst.Set) -> bool:
        return not self._aware(*[e.value for e in node.elements if isinstance(e.value, cst.BaseString)])

    visit_List = visit_Tuple = visit_Set = _collection

    def visit_Match(self, node: cst.Match) -> bool:
        return not self._aware(*[case.pattern for case in node.cases])

    def _note_attribute_names(self, node: cst.Call) -> None:
        """The attribute name given to getattr/hasattr/setattr/delattr is a name, not a value."""
        if (isinstance(node.func, cst.Name) and node.func.value in _ATTRIBUTE_FUNCTIONS
                and len(node.args) > 1 and isinstance(node.args[1].value, cst.SimpleString)):
            self._string_skip.add(id(node.args[1].value))

    def visit_Expr(self, node: cst.Expr) -> bool:
        return not isinstance(node.value, cst.BaseString)  # docstrings and bare strings

    # -- symbols: rename and report through imports and aliases ----------------------------
    def visit_Name(self, node: cst.Name) -> bool:
        return id(node) not in self._skip

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        if id(node) in self._skip:
            return False
        parts = dotted(node)
        if parts is not None and self._symbol(node, parts):
            return False
        rule = self.index.attributes.get(node.attr.value)
        if (rule is not None and not rule.get("call") and id(node) not in self._stores
                and self._receiver_ok(node, rule)):
            self._attribute(node, rule, called=False)
        return parts is None

    def _receiver_ok(self, node: cst.Attribute, rule: Rule) -> bool:
        """Not an attribute of an imported module, nor of a receiver the rule excludes (``self``)."""
        receiver = dotted(node.value)
        own = receiver is not None and len(receiver) == 1 and receiver[0] in rule.get("not_on", ())
        return not own and not self._is_module(node.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._stores.add(id(node.target))  # `x.is_cuda = ...` defines an attribute: never renamed

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._stores.add(id(node.target))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._stores.add(id(node.target))

    def _attribute(self, node: cst.Attribute, rule: Rule, *, called: bool) -> None:
        old, new, parens = node.attr.value, rule.get("replace"), "()" if called else ""
        if new is None:
            self._finding(node.attr, rule, _format(rule.get("message"), name=f".{old}{parens}"))
        else:
            if self._edit(node.attr, rule, f".{old}{parens} -> .{new}{parens}"):
                self._attr_renames[id(node)] = new

    def _is_module(self, node: cst.BaseExpression) -> bool:
        parts = dotted(node)
        return parts is not None and self.bindings.qualify(parts) is not None

    def _symbol(self, node: cst.Attribute, parts: list[str]) -> bool:
        qualified = self.bindings.qualify(parts)
        if qualified is None:
            return False
        full, bound = qualified
        hit = self.index.symbols.longest(full, exact=True)
        if hit is None or hit.size <= bound:
            return False  # no rule, or the import that binds the base carries the rewrite
        rule, new = hit.value
        name = ".".join(full)
        if new is None:
            self._finding(node, rule, _format(rule.get("message"), name=name))
            return True
        target = new.split(".") + full[hit.size:]
        if self._edit(node, rule, f"{name} -> {'.'.join(target)}"):
            if target[:bound] == full[:bound]:
                replacement = build_dotted(".".join([parts[0]] + target[bound:]))
            else:
                replacement = self._write(".".join(target))
            self._chains[id(node)] = replacement.with_changes(lpar=node.lpar, rpar=node.rpar)
        return True

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        if id(original) in self._chains:
            return self._chains[id(original)]
        if id(original) in self._attr_renames:
            return updated.with_changes(attr=cst.Name(self._attr_renames[id(original)]))
        return updated

    # -- imports ---------------------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> bool:
        return False  # handled whole in leave_Import

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False  # handled whole in leave_ImportFrom

    def _import_target(self, node: cst.CSTNode, full: list[str]) -> list[str] | None:
        """The new dotted parts for an imported name, recording the edit or finding."""
        hit = self.index.symbols.longest(full)
        if hit is None:
            return None
        rule, new = hit.value
        name = ".".join(full)
        if new is None:
            if not self.index.symbols.has_children(name):  # a container: its references decide
                self._finding(node, rule, _format(rule.get("message"), name=name))
            return None
        target = new.split(".") + full[hit.size:]
        if rule.get("importable") is False:
            self._finding(node, rule, f"{name} cannot be imported from its twin {'.'.join(target)}: "
                          "import the module and use the attribute")
            return None
        if not self._edit(node, rule, f"{name} -> {'.'.join(target)}"):
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
                hit = self.index.symbols.longest(full)
                if hit is not None and hit.value[1] is None:
                    self._import_target(alias, full)
                continue
            target = self._import_target(alias, full)
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
            target = self._import_target(alias, module.split(".") + [old])
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
        if not self._defs and (self.anchor is None or (self.anchor.nested and not self._depth)):
            root = self.index.anchor_root
            if any(root is None or m == root or m.startswith(root + ".")
                   for stmt in original.body for m in import_roots(stmt)):
                last = result.nodes[-1] if isinstance(result, cst.FlattenSentinel) else result
                self.anchor = Anchor(original, last, nested=bool(self._depth))
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

    # -- calls: swap a call, rewrite arguments, rename a called method ---------------------
    def visit_Call(self, node: cst.Call) -> bool:
        self._note_attribute_names(node)
        plan = _CallPlan()
        parts = dotted(node.func)
        qualified = self.bindings.qualify(parts) if parts else None
        if qualified is not None:
            name = ".".join(qualified[0])
            rule = self.index.calls.get(name)
            if rule is not None:
                self._swap(node, rule, name, plan)
            for rule in self.index.arguments.get(name, ()):
                self._keywords(node, rule, name, plan)
        if isinstance(node.func, cst.Attribute):
            rule = self.index.attributes.get(node.func.attr.value)
            if (rule is not None and rule.get("call") and self._receiver_ok(node.func, rule)
                    and _passes(node, rule.get("keywords", {})) and _accepted(node, rule)):
                self._attribute(node.func, rule, called=True)
        if plan.func is not None or plan.drop or plan.inserts or plan.renames:
            self._calls[id(node)] = plan
        return True

    def _swap(self, node: cst.Call, rule: Rule, name: str, plan: _CallPlan) -> None:
        replace = rule.get("replace")
        safe, kept = _unsupported(node, rule.get("unsupported", {}))
        limit = rule.get("max_positional")
        positional = sum(1 for a in node.args if a.keyword is None and not a.star)
        reason = ""
        if any(a.star == "**" for a in node.args):
            reason = "it passes **kwargs"
        elif kept:
            reason = f"{replace} does not accept {', '.join(f'{k}=' for k in kept)}"
        elif limit is not None and positional > limit:
            reason = f"{replace} orders its arguments differently after the first {limit}"
        if reason:
            message = rule.get("message") or "{name} left as is: {reason}; swap it for {replace} by hand"
            self._finding(node, rule, _format(message, name=name, replace=replace, reason=reason))
            return
        if not self._edit(node, rule, f"{name}(...) -> {replace}(...)"):
            return
        dropped = set(rule.get("drop", []))
        plan.drop = safe | {i for i, a in enumerate(node.args) if a.keyword is not None and a.keyword.value in dropped}
        keywords = {a.keyword.value for a in node.args if a.keyword is not None}
        starred = any(a.star == "*" for a in node.args)
        for default in rule.get("defaults", []):
            if not starred and default["name"] not in keywords and positional <= default["position"]:
                plan.inserts.append((default["name"], default["value"]))
        self._skip.add(id(node.func))
        plan.func = self._write(replace).with_changes(lpar=node.func.lpar, rpar=node.func.rpar)

    def _keywords(self, node: cst.Call, rule: Rule, name: str, plan: _CallPlan) -> None:
        renames = rule.get("rename", {})
        safe, kept = _unsupported(node, rule.get("unsupported", {}))
        for i, arg in enumerate(node.args):
            keyword = arg.keyword.value if arg.keyword is not None else None
            if keyword in renames:
                if self._edit(arg.keyword, rule, f"{keyword}= -> {renames[keyword]}="):
                    plan.renames[keyword] = renames[keyword]
            elif i in safe:
                if self._edit(arg.keyword, rule, f"{keyword}= dropped (its default; the twin lacks it)"):
                    plan.drop.add(i)
            elif keyword in kept:
                message = rule.get("message") or "{name}() on the target does not accept {keyword}="
                self._finding(arg.keyword, rule, _format(message, name=name, keyword=keyword))

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        plan = self._calls.get(id(original))
        if plan is None:
            return updated
        args = _rewrite_args(list(updated.args), plan)
        return updated.with_changes(func=plan.func or updated.func, args=args)

    # -- strings ---------------------------------------------------------------------------
    def leave_SimpleString(self, original: cst.SimpleString, updated: cst.SimpleString) -> cst.SimpleString:
        if "b" in original.prefix.lower() or any(self._enums) or id(original) in self._string_skip:
            return updated
        found = self.index.string(original.raw_value)
        if found is None:
            return updated
        rule, word, text = found
        if text is None:
            self._finding(original, rule, _format(rule.get("message"), name=word))
            return updated
        value = f"{original.prefix}{original.quote}{text}{original.quote}"
        if not self._edit(original, rule, f"{original.value} -> {value}"):
            return updated
        return updated.with_changes(value=value)

    def leave_FormattedString(self, original: cst.FormattedString,
                              updated: cst.FormattedString) -> cst.FormattedString:
        parts = original.parts
        if not parts or not isinstance(parts[0], cst.FormattedStringText) or any(self._enums):
            return updated
        shape = "".join(p.value if isinstance(p, cst.FormattedStringText) else "{}" for p in parts)
        found = self.index.string(shape)
        head = parts[0].value
        if found is None or not head.startswith(found[1]):
            return updated
        rule, word, text = found
        if text is None:
            self._finding(original, rule, _format(rule.get("message"), name=word))
            return updated
        new = rule.get("replace")
        if not self._edit(original, rule, f"f-string {word!r} -> {new!r}"):
            return updated
        first = parts[0].with_changes(value=new + head[len(word):])
        return updated.with_changes(parts=[first, *updated.parts[1:]])


def _fix_commas(aliases: list[cst.ImportAlias], parenthesized: bool) -> list[cst.ImportAlias]:
    """Aliases regrouped into a statement of their own: no comma after the last, unless the
    statement is parenthesized and the comma ends a line (it may carry a comment)."""
    last = aliases[-1]
    keep = parenthesized and isinstance(last.comma, cst.Comma) and isinstance(
        last.comma.whitespace_after, cst.ParenthesizedWhitespace)
    return aliases if keep else [*aliases[:-1], last.with_changes(comma=cst.MaybeSentinel.DEFAULT)]


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


def _rewrite_args(args: list[cst.Arg], plan: _CallPlan) -> list[cst.Arg]:
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
        new = cst.Arg(value=cst.parse_expression(value), keyword=cst.Name(name),
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
    return kept
