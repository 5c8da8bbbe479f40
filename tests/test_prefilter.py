"""The text prefilter never skips a file that a rule would change or flag."""

from pathlib import Path

import pytest

from cuda2npu.engine import Engine
from cuda2npu.rulebook import load_rulebook

BOOK = load_rulebook()
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SOURCES = ([pytest.param(e.before, id=f"{r.id}-{n}") for r in BOOK if r.kind != "text" for n, e in enumerate(r.examples, 1)]
           + [pytest.param(p.read_text(encoding="utf-8"), id=p.name) for p in sorted(FIXTURES.glob("*/*.py"))])


@pytest.fixture(scope="module")
def engines():
    unfiltered = Engine(BOOK)
    unfiltered.index.triggered = lambda source: True  # parse everything
    return Engine(BOOK), unfiltered


@pytest.mark.parametrize("source", SOURCES)
def test_prefilter_is_sound(engines, source):
    filtered, unfiltered = engines
    full = unfiltered.migrate(source)
    if full.edits or full.findings:
        assert filtered.index.triggered(source)
    assert filtered.migrate(source).code == full.code


def test_prefilter_skips_unrelated_words():
    index = Engine(BOOK).index
    assert not index.triggered("import re\nexample = sample(clamp)\n# graphs of events\n")
    assert index.triggered("x = t.cuda()\n")
