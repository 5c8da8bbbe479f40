"""The pure core: source text + rulebook -> new text + edits + findings. No I/O here."""

from __future__ import annotations

import ast
import bisect
import collections
import contextlib
import gc
import re
import signal
import sys
import threading

import libcst as cst

from . import splice, suppress
from .results import Edit, Finding, InternalError, Migration, SourceError
from .rulebook import Rule, RuleBook, load_rulebook
from .symbols import Bindings, build_dotted, import_nodes, import_roots
from .context.judgement import Judgement, judge, notes, rule_out
from .migrator import Migrator, Site
from .origins import origins
from .positions import spans
from .ruleindex import RuleIndex


_NEWLINE = re.compile(r"\r\n|\r|\n")


class Engine:
    """Migrates source texts with one rulebook; build it once, use it for every file.

    With ``splice`` (the default) large files are parsed only where a rule may act (see
    :mod:`cuda2npu.splice`); the output is the same as with ``splice=False``.
    """

    def __init__(self, book: RuleBook, *, splice: bool = True, edit_positions: bool = True):
        self.book = book
        self.index = RuleIndex(book)
        self.splice = splice
        # Positions cost a pass over the tree: without edit_positions, edits carry line 0 unless the
        # file also has findings or suppressions (whose positions are always exact).
        self.edit_positions = edit_positions

    def migrate(self, source: str, project=None, prefiltered: bool = False) -> Migration:
        """Migrate one source text; raises :class:`SourceError` for a source that cannot be migrated.

        ``project`` (a :class:`cuda2npu.project.ModuleResolver`) gives the facts of the modules the
        file imports from its own package; without it, only the file itself is judged.
        ``prefiltered``: the caller found a trigger word of this engine's rulebook already."""
        if not prefiltered and not self.index.triggered(source):
            return Migration(source, source)
        if len(source) < LARGE_SOURCE:
            return _with_deep_stack(self._migrate, source, project)
        with _stop_at_once():
            return _with_deep_stack(self._migrate, source, project)

    def _migrate(self, source: str, project) -> Migration:
        suppressions = suppress.scan(source)
        if suppressions.skip_file:
            return Migration(source, source)
        tree = _python_ast(source)
        judgement, plan = Judgement(), None
        if tree is not None:  # else syntax newer than this Python: LibCST alone, without the analyses
            _refuse_long_chains(source, tree)
            imports = import_nodes(tree)
            hits: list = []  # the lines of the words that may be sites
            bindings = Bindings.of_ast(tree, imports)
            wanted = splice.wanted_lines(source, tree, self.index.site_patterns(source), imports,
                                         self.index.possible_site(source, bindings), hits)
            _refuse_huge_statements(source, tree, wanted)
            plan = splice.plan(source, tree, wanted) if self.splice else None
            sites = plan is None or plan.visits(hits)  # else no rule can act on what LibCST would parse
            judgement = judge(source, tree, self.index, project, wanted, imports, bindings, sites)
            if not sites and not judgement and not suppressions.lines:
                return Migration(source, source)
            if self.index.origins and self.index.origins.search(source):  # for rules with results_of
                judgement.origins = origins(tree, bindings)
        if plan is not None:
            try:
                return self._run(source, suppressions, plan, judgement)
            except (SourceError, splice.Lost):
                pass  # report the error as a whole-file parse sees it
        return self._run(source, suppressions, None, judgement)

    def _run(self, source: str, suppressions: suppress.Suppressions, plan: splice.Plan | None,
             judgement: Judgement) -> Migration:
        text = source if plan is None else plan.text
        module, migrator, new = self._transform(source, text, judgement.origins)
        if not migrator.sites and not suppressions.lines and not judgement.notes:
            return Migration(source, source)
        anchor_node = migrator.anchor.original if migrator.anchor else None
        if (self.edit_positions or suppressions.lines or judgement.vetoes
                or any(s.severity for s in migrator.sites)):
            lines = _positions(module, [s.node for s in migrator.sites] + [anchor_node] * bool(anchor_node), plan)
        else:
            lines = collections.defaultdict(lambda: (0, 0, -1))
        vetoed, judged, judged_hits = rule_out(judgement, migrator.sites, lambda s: lines[id(s.node)][:2],
                                               suppressions.covers)
        suppressed = vetoed | frozenset((id(s.node), s.rule.id) for s in migrator.sites
                                        if s.severity is None and suppressions.covers(lines[id(s.node)][0], s.rule.id))
        hits = [(lines[id(s.node)][0], s.rule.id) for s in migrator.sites]
        hits += [(n.line, n.rule.id) for n in judgement.notes] + judged_hits
        if suppressed:  # run again without the suppressed and vetoed edits
            migrator = Migrator(self.index, migrator.bindings, text, suppressed, migrator.origins, source)
            new = module.visit(migrator)
            unseen = [s.node for s in migrator.sites if id(s.node) not in lines]
            if unseen and not isinstance(lines, collections.defaultdict):  # a report an edit had hidden
                lines.update(_positions(module, unseen, plan))
        sites = _required(s for s in migrator.sites if not suppressions.covers(lines[id(s.node)][0], s.rule.id))
        added, code = [], source  # findings alone leave the source as it is
        if any(s.severity is None for s in sites):
            # edits of environment variable names alone need no import (a launcher, a config module)
            imports = any(s.severity is None and "environment" not in s.rule.tags for s in sites)
            new, added = self._ensure_imports(new, migrator, imports)
            new = migrator.writer.finish(new)  # the helpers the templates used: in place, or bound once
            code = new.code + _lost_tail(text, module)  # spliced text: an error here means parse it all
            _check_parses(code, text, sites)
            if plan is not None:  # put the placeholders back
                code = plan.assemble(code)
        edited = {s.rule.id for s in sites if s.severity is None}
        findings = self._unused(suppressions, hits) + judged + notes(judgement, edited, suppressions.covers)
        import_line = lines[id(anchor_node)][2] + 1 if anchor_node is not None else 1
        edits = [Edit(rule.id, import_line, 1, f"import {name}") for rule, name in added]
        return self._result(source, code, sites, lines, edits, findings)

    def _transform(self, source: str, text: str, origins: dict):
        """Parse ``text`` (``source`` or its plan's text) and run every rule over it once."""
        newline = _NEWLINE.search(source)
        config = cst.PartialParserConfig(default_newline=newline.group() if newline else "\n")
        try:
            module = cst.parse_module(text, config)
            migrator = Migrator(self.index, Bindings.of_module(module), text, origins=origins, source=source)
            return module, migrator, module.visit(migrator)
        except cst.ParserSyntaxError as exc:
            raise _syntax_error(source, exc) from None
        except RecursionError:
            raise SourceError("too deeply nested to parse") from None

    def _unused(self, suppressions: suppress.Suppressions, hits: list[tuple[int, str]]) -> list[Finding]:
        return _unused(suppressions, hits, self.book)

    def _ensure_imports(self, new: cst.Module, migrator: Migrator, rule_imports: bool = True):
        """Add the imports that edits need: names written in full, then (``rule_imports``) each
        import rule's module."""
        modules = list(migrator.needed)
        rules: list[Rule | None] = [None] * len(modules)
        for rule in self.index.imports if rule_imports else ():
            module = rule.get("module")
            if module in modules:
                rules[modules.index(module)] = rule
            elif not migrator.bindings.imports_module(module):
                modules.append(module)
                rules.append(rule)
        if not modules:
            return new, []
        lines = [cst.SimpleStatementLine([cst.Import([cst.ImportAlias(build_dotted(m))])]) for m in modules]
        anchor = migrator.anchor
        if anchor is None:
            at = _top_of_imports(new)
        elif not anchor.nested:
            at = next(i for i, stmt in enumerate(new.body) if stmt is anchor.new) + 1
        else:
            new = new.deep_replace(anchor.new, cst.FlattenSentinel([anchor.new, *lines]))
        if anchor is None or not anchor.nested:
            new = new.with_changes(body=[*new.body[:at], *lines, *new.body[at:]])
        return new, [(r, m) for r, m in zip(rules, modules) if r is not None]

    def _result(self, source: str, code: str, sites: list[Site], lines: dict, edits: list[Edit],
                findings: list[Finding]) -> Migration:
        for site in sites:
            line, col, _ = lines[id(site.node)]
            if site.severity is None:
                edits.append(Edit(site.rule.id, line, col, site.message))
            else:
                findings.append(Finding(site.rule.id, line, col, site.severity, site.message))
        key = lambda item: (item.line, item.col)  # noqa: E731
        return Migration(source, code, sorted(edits, key=key), sorted(findings, key=key))


def _required(sites) -> list[Site]:
    """Drop the findings of rules that ``require`` others when none of those made an edit here."""
    sites = list(sites)
    edited = {s.rule.id for s in sites if s.severity is None}
    return [s for s in sites if not s.rule.get("requires")
            or any(e.startswith(r) for r in s.rule.get("requires") for e in edited)]


def _positions(module: cst.Module, nodes: list[cst.CSTNode],
               plan: splice.Plan | None) -> dict[int, tuple[int, int, int]]:
    """Source (line, column, end line), 1-based, of each node, by the node's id."""
    if not nodes:
        return {}
    to_source = plan.original_line if plan is not None else (lambda line: line)
    return {key: (to_source(line), column + 1, to_source(end)) for key, (line, column, end, _) in spans(module, nodes).items()}


def _unused(suppressions: suppress.Suppressions, hits: list[tuple[int, str]], book: RuleBook) -> list[Finding]:
    """A finding for each suppression comment that suppresses nothing (C2N100, unless the book
    leaves it out). With rules left out, only suppressions naming a rule of the book can be judged."""
    if not book.unused_check:
        return []
    known = {r.id for r in book}
    out = []
    for line, ids in suppressions.lines.items():
        if not book.complete and (ids is None or not ids & known):
            continue  # it may be meant for a rule this run leaves out
        if not any(hit_line == line and (ids is None or rule in ids) for hit_line, rule in hits):
            what = "all rules" if ids is None else ", ".join(sorted(ids))
            out.append(Finding(suppress.UNUSED, line, suppressions.columns[line], "warning",
                               f"unused suppression ({what}): nothing to suppress on this line"))
    return out


LARGE_SOURCE = 256 * 1024  # parsing takes long enough that an interrupt must not wait for it


@contextlib.contextmanager
def _stop_at_once():
    """Ctrl-C and SIGTERM end the process at once while a large file is parsed: Python's own
    handlers would wait for ``ast.parse`` or LibCST's parser (they hold the interpreter for
    seconds). Nothing is being written meanwhile, so every file stays whole. Only in a main
    thread, and only for signals that are handled (a worker ignores Ctrl-C, and still does)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig, handler in saved.items():
        if handler not in (signal.SIG_IGN, None):
            signal.signal(sig, signal.SIG_DFL)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if handler is not None:
                signal.signal(sig, handler)


STACK_SIZE = 512 * 1024 * 1024  # reserved, not used: deep trees need it in LibCST's parser and visitors
RECURSION_LIMIT = 30_000


def _with_deep_stack(function, *args):
    """Run ``function`` on a thread with a large stack and a high recursion limit, so that deeply
    nested code gives a clean error (or a result) instead of a crash; the cyclic garbage collector
    is paused meanwhile (as mypy does: ``ast.parse`` alone runs about three times faster); the
    file's cyclic garbage is left to the collector's next run."""
    outcome: dict = {}

    def run() -> None:
        paused = gc.isenabled()
        gc.disable()  # parsing makes millions of objects: the cyclic collector would scan them again and again
        try:
            outcome["value"] = function(*args)
        except BaseException as exc:  # handed to the calling thread
            outcome["error"] = exc
        finally:
            if paused:
                gc.enable()

    limit, size = sys.getrecursionlimit(), threading.stack_size()
    try:
        for stack in (STACK_SIZE, STACK_SIZE // 8):  # under a memory limit (ulimit -v) a smaller stack
            threading.stack_size(stack)
            sys.setrecursionlimit(max(limit, RECURSION_LIMIT * stack // STACK_SIZE))
            # A daemon: Ctrl-C or SIGTERM ends the run at once, even in the middle of a huge file (it is
            # only ever written by the main thread, after this one is done, so nothing is half-written).
            thread = threading.Thread(target=run, name="cuda2npu-migrate", daemon=True)
            try:
                thread.start()
            except RuntimeError:  # "can't start new thread": the stack could not be reserved
                continue
            thread.join()
            break
        else:
            raise SourceError("cannot reserve a stack to parse this file (a memory limit?)", 1)
    finally:
        threading.stack_size(size)
        sys.setrecursionlimit(limit)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


CHAIN_LIMIT = 1000  # LibCST's parse time grows with the square of a chain's length: 1,000 links ~1 s


def _refuse_long_chains(source: str, tree: ast.Module) -> None:
    """Refuse, in bounded time, a file with a method chain (``x.a().b()...``) or subscript chain
    longer than :data:`CHAIN_LIMIT` links: LibCST would take minutes on it. Counted only in files
    whose text could hold one."""
    if source.count(").") + source.count("](") + source.count(")[") < CHAIN_LIMIT:
        return
    seen: set[int] = set()
    for node in ast.walk(tree):
        if id(node) in seen or not isinstance(node, (ast.Call, ast.Attribute, ast.Subscript)):
            continue
        links, inner = 0, node
        while isinstance(inner, (ast.Call, ast.Attribute, ast.Subscript)):
            seen.add(id(inner))
            links += 1
            inner = inner.func if isinstance(inner, ast.Call) else inner.value
        if links > 2 * CHAIN_LIMIT:  # a call is two links: its attribute and its call
            raise SourceError(f"a chain of {links // 2:,} calls or subscripts is longer than cuda2npu parses "
                              f"in bounded time ({CHAIN_LIMIT:,}): file not migrated", node.lineno)


STATEMENT_LIMIT = 1 << 20  # LibCST needs hundreds of bytes of memory per byte of one statement


def _refuse_huge_statements(source: str, tree: ast.Module, wanted: list[int]) -> None:
    """Refuse a file in which LibCST would have to parse a single statement larger than
    :data:`STATEMENT_LIMIT` (a generated one-line literal of megabytes takes minutes and gigabytes).
    Statements without a possible site are left out of LibCST's text and do not count."""
    if len(source) <= STATEMENT_LIMIT:
        return
    starts = [0] + [m.end() for m in _NEWLINE.finditer(source)]
    for stmt in tree.body:
        first, last = stmt.lineno - 1, (stmt.end_lineno or stmt.lineno) - 1
        size = (starts[last + 1] if last + 1 < len(starts) else len(source)) - starts[first]
        if size > STATEMENT_LIMIT and bisect.bisect_left(wanted, first) < bisect.bisect_right(wanted, last):
            raise SourceError(f"a single statement of {size / 2**20:.1f} MiB holds a CUDA site: more than "
                              f"cuda2npu parses in bounded memory ({STATEMENT_LIMIT // 2**20} MiB); not migrated",
                              stmt.lineno)


def _python_ast(source: str) -> ast.Module | None:
    """Python's own parse of ``source``: None when Python cannot parse it but LibCST may (newer
    syntax); an error for nesting deeper than Python accepts (LibCST could crash on it)."""
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        if "too many nested" in (exc.msg or "") or "too complex" in (exc.msg or ""):
            raise SourceError(f"syntax error: {exc.msg}", exc.lineno, exc.offset) from None
        return None
    except (RecursionError, MemoryError):
        raise SourceError("too deeply nested to parse", 1) from None
    except ValueError as exc:
        raise SourceError(f"cannot parse: {exc}", 1) from None


def _syntax_error(source: str, exc: cst.ParserSyntaxError) -> SourceError:
    """Python's own message and position where it has one (clearer than LibCST's), else LibCST's."""
    try:
        ast.parse(source)
    except SyntaxError as err:
        return SourceError(f"syntax error: {err.msg}", err.lineno, err.offset)
    except (ValueError, RecursionError, MemoryError):
        pass
    return SourceError(f"cannot parse: {exc.message}", exc.raw_line, exc.raw_column + 1)


def _lost_tail(text: str, module: cst.Module) -> str:
    """What LibCST's code for ``module`` (parsed from ``text``) lacks: a final lone CR (old Mac line
    endings), to put back. Any other difference refuses the file, whose code LibCST cannot reproduce
    exactly (an edit would lose or change lines)."""
    code = module.code
    if code == text:
        return ""
    lone_cr = text.count("\r") != text.count("\r\n")
    if lone_cr and text.endswith("\r") and code == text[:-1]:
        return "\r"
    if lone_cr:
        raise SourceError("line endings that cannot be kept exactly (lone CR): file left unchanged", 1)
    at = next((i for i, (a, b) in enumerate(zip(code, text)) if a != b), min(len(code), len(text)))
    line = text.count("\n", 0, at) + 1
    raise SourceError("LibCST cannot reproduce this line exactly (a LibCST bug): file left unchanged", line)


def _top_of_imports(module: cst.Module) -> int:
    """Where a new import goes without a torch import: after the docstring and __future__ imports."""
    at = 0
    for i, stmt in enumerate(module.body):
        small = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) and stmt.body else None
        docstring = i == 0 and isinstance(small, cst.Expr) and isinstance(small.value, cst.BaseString)
        future = isinstance(small, cst.ImportFrom) and import_roots(small) == ["__future__"]
        if not (docstring or future):
            break
        at = i + 1
    return at


def _check_parses(code: str, source: str, sites: list[Site]) -> None:
    """Refuse output that does not parse; fall back to LibCST for syntax newer than this Python."""
    try:
        ast.parse(code)
        return
    except SyntaxError as exc:
        error = exc
    except (ValueError, RecursionError):
        error = None
    try:
        ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        try:
            cst.parse_module(code)
            return
        except (cst.ParserSyntaxError, RecursionError):
            pass
    rules = ", ".join(sorted({s.rule.id for s in sites if s.severity is None}))
    detail = f" ({error.msg})" if error else ""
    raise InternalError(f"internal error: rules {rules} produced code that does not parse{detail}; "
                        "file left unchanged")


def migrate_source(source: str, book: RuleBook | None = None) -> Migration:
    """Migrate one source text with ``book`` (the built-in rules by default)."""
    from .versions import for_release

    return Engine(book or for_release(load_rulebook().select())).migrate(source)
