"""The one LibCST pass over a module: a thin dispatcher that hands each node to the rule kinds.

Each kind's matching and rewriting is written once, in its module of :mod:`cuda2npu.kinds`; this
class holds what they share (the rules, the file's import bindings, the sites found so far) and
leaves alone the constructs that already dispatch to the target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst

from .kinds.args import CallPlan, code_of
from .kinds.argument import ArgumentKind
from .kinds.attribute import AttributeKind
from .kinds.call import CallKind
from .kinds.imports import Anchor, ImportKind
from .kinds.string import StringKind
from .kinds.symbol import SymbolKind
from .helpers import Writer
from .ruleindex import RuleIndex
from .rulebook import Rule
from .symbols import Bindings, build_dotted, dotted

_ATTRIBUTE_FUNCTIONS = ("getattr", "hasattr", "setattr", "delattr")
_ATTRIBUTE_HOOK = re.compile(r"(visit|leave)_[A-Z][A-Za-z]*_[a-z_]+")


class Dispatcher(cst.CSTTransformer):
    """A transformer that finds its ``visit_<Node>`` and ``leave_<Node>`` methods once per node
    type, skips LibCST's empty ones, and calls no per-attribute hooks (a subclass may define
    none): LibCST's own lookup formats a name and calls ``getattr`` twice per node and twice per
    child attribute, a large part of a pass."""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__mro__[:cls.__mro__.index(Dispatcher)]  # the classes from here down to Dispatcher
        hooks = sorted(name for klass in own for name in vars(klass) if _ATTRIBUTE_HOOK.fullmatch(name))
        if hooks:
            raise TypeError(f"{cls.__name__}: a Dispatcher calls no attribute hooks ({', '.join(hooks)})")
        cls._methods = {}

    def _method(self, prefix: str, kind: type):
        """The subclass's ``visit_`` or ``leave_`` method of a node type; None for LibCST's stub."""
        key = (prefix, kind)
        if key not in self._methods:
            name = prefix + kind.__name__
            method = getattr(type(self), name, None)
            self._methods[key] = None if method is getattr(cst.CSTTransformer, name, None) else method
        return self._methods[key]

    def on_visit(self, node: cst.CSTNode) -> bool:
        visit = self._method("visit_", type(node))
        return visit is None or visit(self, node) is not False

    def on_leave(self, original: cst.CSTNode, updated: cst.CSTNode):
        leave = self._method("leave_", type(original))
        return updated if leave is None else leave(self, original, updated)

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        pass

    def on_leave_attribute(self, original: cst.CSTNode, attribute: str) -> None:
        pass


@dataclass
class Site:
    """A place a rule acted on: an edit (``severity`` None) or a finding."""

    node: cst.CSTNode
    rule: Rule
    message: str
    severity: str | None = None


class Migrator(Dispatcher):
    """Applies every rule in one pass and records the sites it acted on."""

    def __init__(self, index: RuleIndex, bindings: Bindings, text: str, suppressed: frozenset = frozenset(),
                 origins: dict | None = None, source: str | None = None):
        super().__init__()
        self.origins = origins or {}  # name -> the callables whose results it holds (cuda2npu.origins)
        self.suppressed = suppressed  # (id of node, rule id) pairs not to edit
        self.index = index
        self.bindings = bindings
        self.sites: list[Site] = []
        self.needed: list[str] = []  # modules to import for names written in full
        self.skip: set[int] = set()  # nodes a kind has taken over: not visited again
        self.stores: set[int] = set()  # attribute nodes assigned to
        self.string_skip: set[int] = set()  # strings used as attribute names
        self.enums: list[bool] = []  # per enclosing class: is it an Enum
        self.alternatives: set[int] = set()  # values that are one of several: branches, elements, operands
        self.calls: dict[int, CallPlan] = {}
        self.defs = 0  # enclosing defs and classes
        self.depth = 0  # enclosing indented blocks
        self._aware_possible = index.names_target(text)  # the source mentions the target
        self.writer = Writer(dict(index.book.helpers), bindings, source or text, self.needed)  # (names: whole file)
        self.concatenated: set[int] = set()  # strings that are parts of "a" "b": only strings may stand there
        self.symbol = SymbolKind(self)
        self.imports = ImportKind(self)
        self.attribute = AttributeKind(self)
        self.call = CallKind(self)
        self.argument = ArgumentKind(self)
        self.string = StringKind(self)
        self._once: set[tuple[str, str]] = set()  # the findings of rules with `once` made so far

    @property
    def anchor(self) -> Anchor | None:
        """Where new imports go."""
        return self.imports.anchor

    # -- recording, for every kind ---------------------------------------------------------
    def edit(self, node: cst.CSTNode, rule: Rule, message: str) -> bool:
        """Record an edit; False when it is suppressed and must not be made."""
        if (id(node), rule.id) in self.suppressed:
            return False
        self.sites.append(Site(node, rule, message))
        note = (rule.get("message") if rule.kind in ("rename", "attribute") and "positional" not in rule.spec
                else None)  # a note next to the edit (a positional rule's message is for calls it leaves)
        if note:
            self.sites.append(Site(node, rule, note, rule.severity))
        return True

    def finding(self, node: cst.CSTNode, rule: Rule, message: str) -> None:
        if rule.get("once"):  # the first use of each name in the file only
            if (rule.id, message) in self._once:
                return
            self._once.add((rule.id, message))
        self.sites.append(Site(node, rule, message, rule.severity))

    def write(self, full: str) -> cst.BaseExpression:
        """The expression for the dotted name ``full`` as this file spells it (imports noted)."""
        text, missing = self.bindings.spell(full)
        if missing and missing not in self.needed:
            self.needed.append(missing)
        return build_dotted(text)

    def is_module(self, node: cst.BaseExpression) -> bool:
        parts = dotted(node)
        return parts is not None and self.bindings.qualify(parts) is not None

    # -- scopes ----------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.defs += 1

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        self.defs -= 1
        return updated

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.defs += 1
        self.enums.append(any((dotted(b.value) or [""])[-1].endswith("Enum") for b in node.bases))

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        self.defs -= 1
        self.enums.pop()
        return updated

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.depth += 1

    def leave_IndentedBlock(self, original: cst.IndentedBlock, updated: cst.IndentedBlock) -> cst.IndentedBlock:
        self.depth -= 1
        body = self.symbol.leave_block(original.body, updated.body)
        return updated if body is None else updated.with_changes(body=body)

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        body = self.symbol.leave_block(original.body, updated.body)
        return updated if body is None else updated.with_changes(body=body)

    # -- code that already dispatches to the target is left alone --------------------------
    def _aware(self, *nodes: cst.CSTNode) -> bool:
        return self._aware_possible and any(self.index.aware.search(code_of(n)) for n in nodes)

    def visit_If(self, node: cst.If) -> bool:
        tests, branch = [], node
        while isinstance(branch, cst.If):
            tests.append(branch.test)
            branch = branch.orelse
        return not self._aware(*tests)

    def visit_IfExp(self, node: cst.IfExp) -> bool:
        self.alternatives.update((id(node.body), id(node.orelse)))
        return not self._aware(node)

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> bool:
        self.alternatives.update((id(node.left), id(node.right)))
        return not self._aware(node)  # current_accelerator() or torch.device("cuda")

    def visit_Comparison(self, node: cst.Comparison) -> None:
        self.alternatives.update([id(node.left), *(id(c.comparator) for c in node.comparisons)])

    def visit_Dict(self, node: cst.Dict) -> bool:
        keys = [e.key for e in node.elements if isinstance(e, cst.DictElement)]
        self.alternatives.update(id(e.value) for e in node.elements)
        return not self._aware(*[k for k in keys if isinstance(k, cst.BaseString)])

    def _collection(self, node: cst.List | cst.Tuple | cst.Set) -> bool:
        self.alternatives.update(id(e.value) for e in node.elements)
        return not self._aware(*[e.value for e in node.elements if isinstance(e.value, cst.BaseString)])

    visit_List = visit_Tuple = visit_Set = _collection

    def visit_Match(self, node: cst.Match) -> bool:
        return not self._aware(*[case.pattern for case in node.cases])

    def visit_Expr(self, node: cst.Expr) -> bool:
        return not isinstance(node.value, cst.BaseString)  # docstrings and bare strings

    # -- dispatch to the kinds -------------------------------------------------------------
    def visit_Name(self, node: cst.Name) -> bool:
        return id(node) not in self.skip

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        if id(node) in self.skip:
            return False
        parts = dotted(node)
        if parts is not None and self.symbol.visit_Attribute(node, parts):
            return False
        if id(node) not in self.stores:
            self.attribute.visit_Attribute(node)
        return parts is None

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        updated = self.symbol.leave_Attribute(original, updated)
        return self.attribute.leave_Attribute(original, updated)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self.stores.add(id(node.target))  # `x.is_cuda = ...` defines an attribute: never renamed

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.stores.add(id(node.target))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.stores.add(id(node.target))
        if node.value is not None:
            self.call.reference(node.value)

    # values passed on: a callable of a call rule that is not called here
    def visit_Assign(self, node: cst.Assign) -> None:
        self.call.reference(node.value)

    def visit_Arg(self, node: cst.Arg) -> None:
        self.call.reference(node.value)

    def visit_Element(self, node: cst.BaseElement) -> None:
        self.call.reference(node.value)

    def visit_DictElement(self, node: cst.DictElement) -> None:
        self.call.reference(node.value)

    def visit_Return(self, node: cst.Return) -> None:
        if node.value is not None:
            self.call.reference(node.value)

    def visit_Import(self, node: cst.Import) -> bool:
        return False  # handled whole in leave_Import

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False  # handled whole in leave_ImportFrom

    def leave_Import(self, original: cst.Import, updated: cst.Import) -> cst.Import:
        return self.imports.leave_Import(original, updated)

    def leave_ImportFrom(self, original: cst.ImportFrom, updated: cst.ImportFrom) -> cst.ImportFrom:
        return self.imports.leave_ImportFrom(original, updated)

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        return self.imports.leave_SimpleStatementLine(original, updated)

    def visit_Call(self, node: cst.Call) -> bool:
        if (isinstance(node.func, cst.Name) and node.func.value in _ATTRIBUTE_FUNCTIONS
                and len(node.args) > 1 and isinstance(node.args[1].value, cst.SimpleString)):
            self.string_skip.add(id(node.args[1].value))  # getattr(x, "cuda"): a name, not a value
        plan = CallPlan()
        parts = dotted(node.func)
        qualified = self.bindings.qualify(parts) if parts else None
        if qualified is not None:
            name = ".".join(qualified[0])
            self.call.visit_Call(node, name, plan)
            self.argument.visit_Call(node, name, plan)
        self.attribute.visit_Call(node, plan)
        if plan:
            self.calls[id(node)] = plan
        return True

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        updated = self.call.leave_Call(original, updated)
        return self.string.leave_Call(original, updated) if isinstance(updated, cst.Call) else updated

    def leave_BinaryOperation(self, original: cst.BinaryOperation, updated: cst.BinaryOperation) -> cst.BaseExpression:
        return self.string.leave_BinaryOperation(original, updated)

    def visit_ConcatenatedString(self, node: cst.ConcatenatedString) -> None:
        self.concatenated.update((id(node.left), id(node.right)))

    def leave_SimpleString(self, original: cst.SimpleString, updated: cst.SimpleString) -> cst.BaseExpression:
        return self.string.leave_SimpleString(original, updated)

    def leave_FormattedString(self, original: cst.FormattedString,
                              updated: cst.FormattedString) -> cst.FormattedString:
        return self.string.leave_FormattedString(original, updated)
