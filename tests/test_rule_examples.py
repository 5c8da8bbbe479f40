"""Every inline example of every built-in rule, run with that rule alone."""

import ast

import pytest

from cuda2npu.engine import Engine
from cuda2npu.opsupport import DEFAULT_SOC
from cuda2npu.portable import for_torch, releases
from cuda2npu.rulebook import RuleBook, load_rulebook, targets
from cuda2npu.versions import for_release

BOOK = load_rulebook()
BOOKS = {target: load_rulebook(target=target) for target in targets()}
CASES = [pytest.param(rule, n, example, target, id=f"{rule.id}-{n}" + ("" if target == "npu" else f"-{target}"))
         for target, book in BOOKS.items() for rule in book for n, example in enumerate(rule.examples, 1)]


def prepared(book):
    """The rules as a run uses them: for the newest torch_npu release, or the newest torch."""
    return for_torch(book, releases()[-1], DEFAULT_SOC) if book.target == "accelerator" else for_release(book)


def test_every_rule_has_an_example():
    assert [r.id for book in BOOKS.values() for r in book if not r.examples] == []


def run_text(rule, source):
    """A text rule's example, as a file named after its first pattern."""
    from cuda2npu.textfiles import TextRules

    return TextRules(RuleBook((rule,), BOOK.target)).migrate(source, rule.get("files")[0].replace("*", "run"))


@pytest.mark.parametrize(("rule", "n", "example", "target"), CASES)
def test_example(rule, n, example, target):
    if rule.kind == "text":
        result = run_text(rule, example.before)
        assert result.code == example.after
        assert len(result.findings) == example.findings
        assert run_text(rule, result.code).code == result.code
        return
    # Import and context rules (also a support rule that becomes one) act only alongside rules that
    # edit: their examples run with the whole book; a rule that requires others runs with them.
    book = BOOKS[target]
    required = [r for r in book if any(r.id.startswith(p) for p in rule.get("requires", []))]
    alone = RuleBook((rule, *required), target, helpers=book.helpers, aware=book.aware)
    alone = for_release(alone, everywhere=True) if target == "npu" else prepared(alone)
    alongside = any(r.id == rule.id and r.kind in ("import", "context") for r in alone)
    engine = Engine(prepared(book) if alongside else alone)
    result = engine.migrate(example.before)
    assert result.code == example.after
    assert len([f for f in result.findings if f.rule == rule.id]) == example.findings
    ast.parse(result.code)
    assert engine.migrate(result.code).code == result.code, "a second run must change nothing"


@pytest.mark.parametrize(("rule", "n", "example", "target"), [c for c in CASES if c.values[0].kind != "text"])
def test_example_with_all_rules_is_idempotent(rule, n, example, target):
    engine = Engine(prepared(BOOKS[target]))
    once = engine.migrate(example.before).code
    ast.parse(once)
    assert engine.migrate(once).code == once
