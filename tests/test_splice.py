"""Parsing only the statements that matter gives byte-identical results to a whole-file parse."""

import ast
import sys
import textwrap
from pathlib import Path

import pytest
from samples import outcome

from cuda2npu import splice
from cuda2npu.engine import Engine
from cuda2npu.rulebook import load_rulebook

BOOK = load_rulebook()
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
EXTRA = {
    "header-comments-no-torch-import": "#!/usr/bin/env python\n# licence\n\n\ndef f(x):\n    return x.cuda()\n",
    "docstring-future": '"""Doc."""\nfrom __future__ import annotations\n\nX = 1\n\n\ndef f(x):\n    return x.cuda()\n',
    "nested-anchor": "try:\n    import torch\nexcept ImportError:\n    torch = None\n\nY = 2\n\ndef f(x):\n    return x.cuda()\n",
    "semicolons-and-trailing-comments": ("import torch; import os  # both\nA = 1\n\n"
                                         "def g():\n    pass\n    # footer comment\n\nB = t.cuda()  # move\n"),
    "crlf": "import torch\r\n\r\nA = 1\r\n\r\ndef f(x):\r\n    return x.cuda()\r\n",
    "no-final-newline": "import torch\nA = 1\nB = t.cuda()",
    "decorated": "import torch\n\n@decorator\n# note\n@torch.cuda.amp.custom_fwd\ndef f(x):\n    return x\n",
    "import-in-function-used-elsewhere": ("def setup():\n    import torch as th\n\nZ = 0\n\n"
                                          "def run():\n    th.cuda.synchronize()\n"),
    "split-import": "import torch\nfrom torch.cuda import Stream, cudart\nW = 1\n",
    "alias-without-trigger-word": ("from torch import cuda as C\n\nX = 1\n\n\ndef sync():\n    C.synchronize()\n\n\n"
                                   "class Trainer:\n    def a(self):\n        pass\n\n    def b(self):\n"
                                   "        return C.current_device()\n"),
    "holed-last-line-without-newline": "import torch\nB = t.cuda()\nA = 1\nC = 2",
    "tabs-and-form-feed": "import torch\nclass A:\n\tx = 1\n\f\tdef f(self):\n\t\treturn t.cuda()\n\ty = 2\n",
    "clauses": ("import torch\ntry:\n    a = 1\nexcept ImportError:\n    b = t.cuda()\nelse:\n    c = 1\n"
                "finally:\n    d = 1\nwhile x:\n    e = 1\nelse:\n    f = torch.cuda.device_count()\n"
                "match x:\n    case 1:\n        g = 1\n    case _:\n        h = t.cuda()\n"),
    "async-and-nested": ("import torch\nasync def run():\n    async with lock:\n        x = 1\n"
                         "    async for b in loader:\n        def inner():\n            return 1\n"
                         "        yield b.cuda()\n"),
    "comment-at-odd-indent": ("import torch\nclass A:\n    def f(self):\n        x = t.cuda()\n"
                              "    def g(self):\n        pass\n# col 0 comment\n        # deep comment\n"
                              "    def h(self):\n        pass\ny = 1\n"),
    "docstrings-with-trigger-words": ('"""Runs on cuda."""\nimport torch\n\ndef f():\n    """Uses cuda."""\n'
                                      '    return 1\n\ndef g(x):\n    """Also cuda."""\n    return x.cuda()\n'),
    "defs-in-npu-aware-branch": ("import torch\nif is_torch_npu_available():\n    def f():\n        return 'cuda'\n"
                                 "else:\n    def g():\n        pass\n\n\ndef h(x):\n    return x.cuda()\n"),
    "compile-of-re-and-of-torch": ("import re\nimport torch\nP = re.compile('x')\nQ = f().compile\n"
                                   "R = x[0].compile\nS = torch.compile(m)\n"),
    "compile-bound-by-from-import": "import re\nfrom torch import compile\nP = re.compile('x')\nm = compile(m)\n",
    "compile-through-an-alias": "import torch as re\nP = re.compile(m)\n",
    "compile-chain-across-lines": "import torch\nm = (torch.\n     compile(m))\nn = (torch\n     .compile(n))\n",
    "compile-after-a-comment-ending-in-a-dot": "from torch import compile\n# see the docs.\ncompile(m)\n",
}
SOURCES = ([pytest.param(p.read_text(encoding="utf-8"), id=p.name) for p in sorted(FIXTURES.glob("*/*.py"))]
           + [pytest.param(e.before, id=f"{r.id}-{n}") for r in BOOK if r.kind != "text" for n, e in enumerate(r.examples, 1)]
           + [pytest.param(text, id=name) for name, text in EXTRA.items()])


@pytest.mark.parametrize("source", SOURCES)
def test_splice_equals_whole_file(source):
    assert outcome(Engine(BOOK), source) == outcome(Engine(BOOK, splice=False), source)


def test_code_libcst_cannot_reproduce_is_refused_with_its_line():
    """LibCST drops a line here (indented comments after a blank line at the end of a module)."""
    source = "import torch\nx = t.cuda()\n\n    # a\n    # b\n"
    assert outcome(Engine(BOOK, splice=False), source) == (
        "refused", "SourceError", "LibCST cannot reproduce this line exactly (a LibCST bug): file left unchanged", 3)


def test_a_spliced_text_libcst_cannot_reproduce_falls_back_to_the_whole_file():
    """Holing the class leaves its trailing comments after a module-level placeholder, which LibCST
    would not reproduce; the whole file it does."""
    source = ("import torch\nx = t.cuda()\nclass A:\n    def f(self):\n        pass\n\n"
              "    # trailing comment one\n    # trailing comment two\n")
    plan = splice.plan(source, ast.parse(source), splice.wanted_lines(source, ast.parse(source), [Engine(BOOK).index.site_trigger]))
    assert plan.text.endswith("...  # cuda2npu-hole 0\n\n    # trailing comment one\n    # trailing comment two\n")
    result = Engine(BOOK).migrate(source)
    assert result.code == source.replace("import torch\nx = t.cuda()", "import torch\nimport torch_npu\nx = t.npu()")


def test_large_file_is_spliced_and_positions_map_back():
    filler = "".join(f"def helper_{i}(x):\n    return x + {i}\n\n\n" for i in range(150))
    source = "import torch\n\n\n" + filler + "def main():\n    model = Net().cuda()\n"
    plan = splice.plan(source, ast.parse(source), splice.wanted_lines(source, ast.parse(source), [Engine(BOOK).index.site_trigger]))
    assert plan.text == "import torch\n\n\n...  # cuda2npu-hole 0\n\n\ndef main():\n    model = Net().cuda()\n"
    result = Engine(BOOK).migrate(source)
    assert result.code == Engine(BOOK, splice=False).migrate(source).code
    assert [(e.rule, e.line) for e in result.edits] == [("NPU001", 2), ("NPU102", 605)]
    assert result.code.endswith("def main():\n    model = Net().npu()\n")


def test_only_statements_that_may_hold_a_site_are_parsed():
    source = textwrap.dedent('''\
        """Module docstring mentioning cuda."""
        import os
        from .utils import helper

        class Model:
            """Runs on cuda when it can."""

            @staticmethod
            def build(x):
                # cuda in a comment is not a site
                return helper(x)

            def forward(self, x):
                if x is None:
                    return x
                y = x.cuda()
                return y
        ''')
    plan = splice.plan(source, ast.parse(source), splice.wanted_lines(source, ast.parse(source), [Engine(BOOK).index.site_trigger]))
    assert plan.text == textwrap.dedent('''\
        """Module docstring mentioning cuda."""
        import os
        ...  # cuda2npu-hole 0

        class Model:
            ...  # cuda2npu-hole 1

            def forward(self, x):
                ...  # cuda2npu-hole 2
                y = x.cuda()
                ...  # cuda2npu-hole 3
        ''')
    assert Engine(BOOK).migrate(source).code == Engine(BOOK, splice=False).migrate(source).code


@pytest.mark.parametrize("source, text", [
    ("import torch\nx = 1; y = t.cuda()\nz = 2\n", "import torch\nx = 1; y = t.cuda()\n...  # cuda2npu-hole 0\n"),
    ("import torch\nif a: b = 1\nelif c: d = t.cuda()\nz = 2\n",
     "import torch\nif a: b = 1\nelif c: d = t.cuda()\n...  # cuda2npu-hole 0\n"),
    ("import torch\nx = [1,\n  2]; \\\ny = 3\nz = t.cuda()\n", None),
    ("import torch\ndef f(): return 1\nz = t.cuda()\n", "import torch\n...  # cuda2npu-hole 0\nz = t.cuda()\n"),
])
def test_statements_sharing_lines_are_kept_whole(source, text):
    plan = splice.plan(source, ast.parse(source), splice.wanted_lines(source, ast.parse(source), [Engine(BOOK).index.site_trigger]))
    assert (plan and plan.text) == text
    assert Engine(BOOK).migrate(source).code == Engine(BOOK, splice=False).migrate(source).code


def test_a_file_mentioning_the_placeholder_is_parsed_whole():
    source = "import torch\n# cuda2npu-hole 0\nA = 1\nx = t.cuda()\n"
    assert splice.plan(source, ast.parse(source), splice.wanted_lines(source, ast.parse(source), [Engine(BOOK).index.site_trigger])) is None
    assert Engine(BOOK).migrate(source).code.endswith("x = t.npu()\n")


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="`type X = ...` is this Python's own syntax")
def test_syntax_newer_than_this_python_falls_back_to_whole_file():
    source = textwrap.dedent("""\
        import torch
        type Alias = list[int]
        x = t.cuda()
        """)
    with pytest.raises(SyntaxError):
        ast.parse(source)  # so the engine parses the whole file with LibCST
    assert Engine(BOOK).migrate(source).code.endswith("x = t.npu()\n")


@pytest.mark.parametrize("text, chain", [
    ("torch.cuda", ["torch", "cuda"]), ("x = re . compile", ["re", "compile"]),
    ("    compile(m)", ["compile"]), ("f().compile", []), ("x[0].compile", []), ("'s'.compile", []),
    ("(torch.\n  compile)", None), ("(torch\n  .compile)", None), ("# end.\ncompile", None),
    ("(torch \\\n .compile)", None), ("x = 1\ncompile", ["compile"]),
])
def test_the_chain_a_name_ends_is_read_from_the_text(text, chain):
    from cuda2npu.symbols import chain_ending

    word = chain[-1] if chain else "compile"
    assert chain_ending(text, text.rindex(word), text.rindex(word) + len(word)) == chain


def test_words_of_rules_on_dotted_names_are_sites_only_where_the_imports_bind_them(monkeypatch):
    """``compile`` is the word of ``torch.compile`` (NPU722) alone: in ``re.compile`` it is no site,
    and a file holding no other word is not handed to LibCST at all."""
    engine = Engine(BOOK)
    assert engine.index.dotted_words["compile"] == frozenset({"torch.compile"})
    assert "cuda" not in engine.index.dotted_words  # string rules act on "cuda" too
    parsed = []
    monkeypatch.setattr(Engine, "_transform", lambda self, *a: parsed.append(1) or _transform(self, *a))
    source = "import re\nimport torch\n\n\nclass A:\n    P = re.compile('x')\n\n    def f(self):\n        return 1\n"
    assert engine.migrate(source).code == source and not parsed
    aliased = "import torch as re\n\n\nclass A:\n    P = re.compile(m)\n\n    def f(self):\n        return 1\n"
    assert [f.rule for f in engine.migrate(aliased).findings] == ["NPU722"] and parsed



def test_a_file_without_a_possible_site_runs_only_the_checks_that_report(monkeypatch):
    """The checks that only veto edits (a CUDA guard, a swap unsafe in its file) have nothing to
    veto where no rule can act (``cuda`` in a comment); those whose findings stand alone (float64
    arguments) still run."""
    from cuda2npu.context import judgement
    from cuda2npu.versions import for_release

    ran = []
    checks = judgement._checks
    monkeypatch.setattr(judgement, "_checks", lambda: {k: (lambda f, r, k=k, c=c: ran.append(k) or c(f, r))
                                                        for k, c in checks().items()})
    engine = Engine(for_release(BOOK))
    quiet = "import torch\n\n# on cuda, use torch.compile\n\n\ndef f(x):\n    return x + 1\n"
    assert engine.migrate(quiet).code == quiet
    assert set(ran) == set(checks()) - judgement.VETOING
    ran.clear()
    engine.migrate(quiet + "    return x.cuda()\n")
    assert set(ran) == set(checks())


_transform = Engine._transform
