"""Property tests: modules assembled from CUDA idioms and random ordinary Python.

Every generated program is valid Python (checked with ``compile``). The properties are promises of
the README: (i) valid input is migrated and the output parses and compiles, (ii) a second run changes
nothing, (iii) code without a trigger word comes back byte for byte, (iv) comments are kept, (v)
splicing gives what a whole-file parse gives, (vi) CRLF files migrate like LF files, (vii) a changed
file imports torch_npu once, (viii) a ``# cuda2npu: ignore`` line is left alone. Runs are
derandomized; inputs that exposed bugs are pinned as explicit examples.
"""

from __future__ import annotations

import ast
import builtins
import io
import keyword
import string
import sys
import tokenize
from collections import Counter

from hypothesis import HealthCheck, Phase, assume, example, given, settings
from hypothesis import strategies as st
from samples import outcome

from cuda2npu.engine import Engine, SourceError
from cuda2npu.rulebook import load_rulebook

BOOK = load_rulebook()
ENGINE = Engine(BOOK)
WHOLE = Engine(BOOK, splice=False)

# Reproducible (derandomized, no example database); no "explain" phase, which re-runs failing
# examples under coverage and multiplies the time a failure takes.
PROPERTY = settings(max_examples=100, deadline=None, derandomize=True, database=None, print_blob=False,
                    phases=[Phase.explicit, Phase.generate, Phase.shrink], report_multiple_bugs=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------

# Names the CUDA idioms use (import bindings) and the builtins the templates call: never generated,
# so that ordinary code does not rebind them.
RESERVED = {"torch", "th", "dist", "os", "optim", "autocast", "GradScaler", "is_torch_npu_available", "tc",
            "Stream", "synchronize", "cudart", "AdamW", "SGD", "nn", "F", "sync",
            "torch_npu", "np", "math", "Any", "annotations", "self", "cls"} | set(dir(builtins))


def _name_ok(name: str) -> bool:
    return (name.isidentifier() and not keyword.iskeyword(name) and name not in RESERVED
            and not ENGINE.index.triggered(name))


names = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(string.ascii_lowercase + "_é"),
    st.text(string.ascii_lowercase + string.digits + "_", max_size=7),
).filter(_name_ok)
class_names = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(string.ascii_uppercase),
    st.text(string.ascii_letters + string.digits, max_size=7),
).filter(_name_ok)
ints = st.integers(0, 7)
small = st.integers(0, 99)

# Free text for strings, comments and docstrings: no quotes, backslashes or line breaks.
# Form feed, NEL and LINE SEPARATOR are not line breaks in Python source (but are for str.splitlines).
_TEXT_ALPHABET = string.ascii_letters + string.digits + " .,:;!?-()+=*/<>[]éü中\x0c\x85\u2028"
plain_text = st.text(_TEXT_ALPHABET, max_size=30).filter(lambda s: not ENGINE.index.triggered(s))
# Text mentioning CUDA, for comments and docstrings only (both are never migrated).
cuda_text = st.builds(
    lambda a, word, b: f"{a} {word} {b}".strip(),
    plain_text,
    st.sampled_from(["cuda", "CUDA", "move to cuda", "cuda:0", "x.cuda()", "torch.cuda.synchronize()",
                     "nccl backend", "AdamW(fused=True)", "CUDA_VISIBLE_DEVICES", "is_cuda", "'cuda'"]),
    plain_text,
)


def comment(text: st.SearchStrategy[str] = plain_text) -> st.SearchStrategy[list[str]]:
    return text.map(lambda t: [f"# {t}".rstrip()])


def indent(lines: list[str]) -> list[str]:
    return ["    " + line if line.strip() else line for line in lines]


def flatten(blocks: list[list[str]]) -> list[str]:
    return [line for block in blocks for line in block]


blank = st.sampled_from([[""], ["", ""], ["    "]])
trailing_comment = st.one_of(st.just(""), plain_text.map(lambda t: f"  # {t}"),
                             cuda_text.map(lambda t: f"  # {t}"))


# ---------------------------------------------------------------------------------------------
# (b) ordinary Python: no trigger word anywhere
# ---------------------------------------------------------------------------------------------

def _expr(n: str, m: str, k: int, text: str, kind: int) -> str:
    return [
        str(k), f"{n} + {k}", f"{n} * {m} - {k}", f"({n} // {k + 1}) % 7", f'"{text}"', f"'{text}'",
        f'f"{{{n}}} {text}"', f"[{n}, {m}, {k}]", f'{{"{text}": {k}}}', f"{n}({m}, key={k})",
        f"lambda {m}: {m} + {k}", f"{n} if {m} else {k}", f"not {n}", f"{n}[{k}]", f"{n}.{m}",
        f"{{{n} for {m} in range({k})}}", f"b'{k}'", f"{k}.5e-3", f"-{n} ** 2", f"({n}, {m})",
    ][kind]


exprs = st.builds(_expr, names, names, small, plain_text, st.integers(0, 19))


def ordinary_simple() -> st.SearchStrategy[list[str]]:
    return st.one_of(
        st.builds(lambda n, e, c: [f"{n} = {e}{c}"], names, exprs,
                  st.one_of(st.just(""), plain_text.map(lambda t: f"  # {t}"))),
        st.builds(lambda n, e: [f"{n} += {e}"], names, exprs),
        st.builds(lambda n, m, k: [f"{n}.{m}({k})"], names, names, small),
        st.builds(lambda n, m, e: [f"{n}: {m} = {e}"], names, names, exprs),
        st.builds(lambda n, m: [f"{n}, {m} = {m}, {n}"], names, names),
        st.builds(lambda n, e: [f"{n} = (", f"    {e},", f"    {e},", ")"], names, exprs),
        st.builds(lambda n, k: [f"assert {n} >= {k}"], names, small),
        st.builds(lambda n, m: [f"{n} = 1; {m} = 2"], names, names),
        st.builds(lambda n, t: [f"{n} = 3 + \\", f"    4  # {t}"], names, plain_text),
        st.just(["pass"]),
        comment(),
    )


def ordinary_block(depth: int) -> st.SearchStrategy[list[str]]:
    """A non-empty list of statement lines (a block body) of ordinary Python."""
    stmt = ordinary_simple() if depth <= 0 else st.one_of(
        ordinary_simple(), ordinary_simple(), ordinary_compound(depth - 1), blank)
    return st.lists(stmt, min_size=1, max_size=3).map(flatten).map(
        lambda lines: lines if any(line.strip() and not line.lstrip().startswith("#") for line in lines)
        else lines + ["pass"])


def docstring(text: st.SearchStrategy[str] = plain_text) -> st.SearchStrategy[list[str]]:
    return st.one_of(
        text.map(lambda t: [f'"""{t}"""']),
        st.builds(lambda a, b: [f'"""{a}', "", f"{b}", '"""'], text, text),
    )


def ordinary_compound(depth: int) -> st.SearchStrategy[list[str]]:
    body = ordinary_block(depth)
    return st.one_of(
        st.builds(lambda n, k, b: [f"for {n} in range({k}):", *indent(b)], names, small, body),
        st.builds(lambda n, k, b: [f"while {n} < {k}:", *indent(b), f"    {n} += 1"], names, small, body),
        st.builds(lambda n, k, b, e: [f"if {n} > {k}:", *indent(b), "else:", *indent(e)], names, small, body, body),
        st.builds(lambda b, e: ["try:", *indent(b), "except (ValueError, KeyError) as exc:", *indent(e)], body, body),
        st.builds(lambda f, a, k, d, b, r: [f"def {f}({a}, opt={k}):", *indent(d), *indent(b), f"    return {r}"],
                  names, names, small, st.one_of(st.just([]), docstring()), body, exprs),
        st.builds(lambda dec, f, b: [f"@{dec}", f"def {f}(*args, **kwargs):", *indent(b)], names, names, body),
        st.builds(lambda c, d, b: [f"class {c}:", *indent(d), *indent(b)],
                  class_names, st.one_of(st.just([]), docstring()), body),
        st.builds(lambda n, m, b: [f"with {n}({m}) as {m}:", *indent(b)], names, names, body),
    )


def ordinary_stmt(depth: int = 2) -> st.SearchStrategy[list[str]]:
    return st.one_of(ordinary_simple(), ordinary_compound(depth), blank)


ORDINARY_IMPORTS = ["import os", "import math", "import numpy as np", "from typing import Any",
                    "import torch", "from torch import nn", "import torch.nn.functional as F"]
CUDA_IMPORTS = ["import torch", "import torch as th", "import torch.distributed as dist", "from torch import optim",
                "from torch.cuda.amp import autocast, GradScaler", "import os", "import math",
                "import numpy as np", "from torch import nn", "from torch import cuda", "import torch.cuda as tc",
                "from torch.optim import AdamW, SGD", "import torch.cuda",
                "from torch.cuda import synchronize as sync"]


def _module(docstring_lines: list[str], future: bool, imports: list[str], body: list[list[str]],
            ending: str) -> str:
    lines = list(docstring_lines)
    if future:
        lines.append("from __future__ import annotations")
    lines += imports
    lines += flatten(body)
    text = "\n".join(lines)
    return {"newline": text + "\n", "none": text, "blank": text + "\n\n\n", "comment": text + "\n# end"}[ending]


def _insert(items: list, item, at: int) -> list:
    return [*items[:at], item, *items[at:]]


def modules(statement: st.SearchStrategy[list[str]], import_pool: list[str],
            doc: st.SearchStrategy[list[str]], required: st.SearchStrategy[list[str]] | None = None,
            ) -> st.SearchStrategy[str]:
    """A module: docstring?, __future__?, imports in any order, statements (one of them ``required``)."""
    body = st.lists(statement, min_size=1, max_size=10)
    if required is not None:
        body = st.builds(_insert, body, required, st.integers(0, 10))
    return st.builds(
        _module,
        st.one_of(st.just([]), doc),
        st.booleans(),
        st.lists(st.sampled_from(import_pool), unique=True, max_size=len(import_pool)),
        body,
        st.sampled_from(["newline", "newline", "none", "blank", "comment"]),
    )


ordinary_modules = modules(ordinary_stmt(), ORDINARY_IMPORTS, docstring())

# ---------------------------------------------------------------------------------------------
# (a) CUDA idioms with random identifiers and numbers
# ---------------------------------------------------------------------------------------------


def _line(template: str, *args: st.SearchStrategy) -> st.SearchStrategy[str]:
    """One line of CUDA code: ``template`` formatted with values of ``args``."""
    return st.builds(lambda *values: template.format(*values), *args)


# Single-line CUDA statements ({{ }} are braces of f-strings in the generated code).
CUDA_LINES = [
    _line("{} = {}.cuda()", names, names),
    _line("{} = {}.cuda({})", names, names, ints),
    _line("{} = {}.cuda(non_blocking=True)", names, names),
    _line('{} = torch.device("cuda:{}")', names, ints),
    _line('{} = torch.device("cuda")', names),
    _line('{} = th.device(f"cuda:{{{}}}")', names, names),
    _line('{} = f"cuda:{{{}}}"', names, names),
    _line('{} = "cuda:%d" % {}', names, names),
    _line('{} = "cuda:{{}}".format({})', names, names),
    _line('{} = {}.to("cuda:{}")', names, names, ints),
    _line('{} = "cuda" if torch.cuda.is_available() else "cpu"', names),
    _line("torch.cuda.synchronize()"),
    _line("th.cuda.set_device({})", ints),
    _line("cuda.synchronize()"),
    _line("tc.set_device({})", ints),
    _line("sync()"),
    _line("{} = torch.cuda.device_count()", names),
    _line("{} = torch.cuda.get_device_name(device={})", names, ints),
    _line("{} = torch.cuda.memory_allocated()", names),
    _line("{} = torch.optim.AdamW({}.parameters(), lr=0.{}, fused=True)", names, names, small),
    _line("{} = optim.SGD({}.parameters(), lr=0.{}, momentum=0.9)", names, names, small),
    _line("{} = optim.Adam({}.parameters(), foreach=True)", names, names),
    _line("{} = AdamW({}.parameters(), **{})", names, names, names),
    _line('dist.init_process_group(backend="nccl")'),
    _line('dist.init_process_group("nccl", rank={})', names),
    _line("{} = dist.is_nccl_available()", names),
    _line('os.environ["CUDA_VISIBLE_DEVICES"] = "{}"', ints),
    _line('os.environ["CUDA_VISIBLE_DEVICES"] = "{},{}"', ints, ints),
    _line("{} = GradScaler()", names),
    _line('{} = torch.autocast("cuda")', names),
    _line("{} = {}.is_cuda", names, names),
    _line("{} = torch.cuda.get_arch_list()", names),
    _line("{} = torch.cuda.CUDAGraph()", names),
    _line('torch.cuda.nvtx.range_push("{}")', names),
    _line("{} = [{}.cuda() for {} in {}]", names, names, names, names),
    _line("{} = lambda {}: {}.cuda()", names, names, names),
    _line("{} = 1; {} = {}.cuda()", names, names, names),
    _line('{} = "cuda:" + str({})', names, names),
    _line('{} = f"cuda:{{{}!r:>3}}"', names, names),
    _line("if ({} := {}.cuda()) is not None: pass", names, names),
    _line('{} = {{"cuda": {}, "cpu": 0}}', names, ints),
    _line('{} = "npu" if {} else "cuda"', names, names),
    _line("import torch; {} = {}.cuda()", names, names),
    _line("{}(*{}, device=torch.device(\"cuda\"), **{})", names, names, names),
    # CUDA words that stay: flags, cudnn, versions
    _line("{} = {}.cuda", names, names),
    _line("torch.backends.cudnn.benchmark = True"),
    _line("{} = torch.version.cuda", names),
]
cuda_line = st.one_of(*CUDA_LINES)
SUPPRESS = "  # cuda2npu: ignore"


def cuda_simple() -> st.SearchStrategy[list[str]]:
    return st.one_of(
        st.builds(lambda line, c: [line + c], cuda_line, trailing_comment),
        st.builds(lambda line, c: [line + c], cuda_line, trailing_comment),
        cuda_line.map(lambda line: [line + SUPPRESS]),
        st.builds(lambda x, y, n, c1, c2: [f"{x} = torch.optim.AdamW(",
                                           f"    {y}.parameters(),{c1}",
                                           f"    lr=0.{n},",
                                           f"    fused=True,{c2}",
                                           ")"],
                  names, names, small, trailing_comment, trailing_comment),
        st.builds(lambda c: ["dist.init_process_group(", f'    backend="nccl",{c}', '    init_method="env://",', ")"],
                  trailing_comment),
        st.builds(lambda x, y: [f"{x} = {y} \\", "    .cuda()"], names, names),
        st.builds(lambda c1, c2: ["from torch.cuda import (", f"    Stream,{c1}", f"    cudart,{c2}",
                                  "    synchronize,", ")"], trailing_comment, trailing_comment),
        comment(cuda_text),
    )


def cuda_block(depth: int) -> st.SearchStrategy[list[str]]:
    stmt = st.one_of(cuda_simple(), ordinary_simple()) if depth <= 0 else st.one_of(
        cuda_simple(), cuda_simple(), ordinary_simple(), cuda_compound(depth - 1), blank)
    return st.lists(stmt, min_size=1, max_size=4).map(flatten).map(
        lambda lines: lines if any(line.strip() and not line.lstrip().startswith("#") for line in lines)
        else lines + ["pass"])


def cuda_compound(depth: int) -> st.SearchStrategy[list[str]]:
    body = cuda_block(depth)
    return st.one_of(
        st.builds(lambda b: ["if torch.cuda.is_available():", *indent(b)], body),
        st.builds(lambda b, e: ["if torch.cuda.is_available():", *indent(b), "else:", *indent(e)], body, body),
        st.builds(lambda b: ["with autocast():", *indent(b)], body),
        st.builds(lambda x, y, z, b: ["if is_torch_npu_available():", f'    {x} = "npu:0"',
                                      "elif torch.cuda.is_available():", f'    {x} = "cuda:0"',
                                      f"    {y} = {z}.cuda()", *indent(b), "else:", f'    {x} = "cpu"'],
                  names, names, names, body),
        st.builds(lambda f, a, d, b: [f"def {f}({a}):", *indent(d), *indent(b), f"    return {a}"],
                  names, names, st.one_of(st.just([]), docstring(cuda_text)), body),
        st.builds(lambda c, d, f, b: [f"class {c}:", *indent(d), f"    def {f}(self):", *indent(indent(b))],
                  class_names, st.one_of(st.just([]), docstring(cuda_text)), names, body),
        st.builds(lambda n, k, b: [f"for {n} in range({k}):", *indent(b)], names, small, body),
        st.builds(lambda b: ["try:", "    import torch", *indent(b), "except ImportError:", "    torch = None"], body),
        st.builds(lambda b, e: ["try:", *indent(b), "except torch.cuda.OutOfMemoryError:", *indent(e)], body, body),
        st.builds(lambda n, b: [f"with torch.cuda.device({n}):", *indent(b)], ints, body),
        st.builds(lambda f, b: ["@torch.cuda.amp.custom_fwd", f"def {f}(ctx, x):", *indent(b), "    return x"],
                  names, body),
        st.builds(lambda f, a, b: [f"def {f}({a}: torch.cuda.Stream) -> None:", *indent(b)], names, names, body),
        st.builds(lambda b: ['if __name__ == "__main__":', *indent(b)], body),
        st.builds(lambda f, x, b: [f"async def {f}({x}):", f"    await {x}.cuda()", *indent(b)], names, names, body),
        st.builds(lambda b: ["from typing import TYPE_CHECKING", "if TYPE_CHECKING:", "    import torch.cuda",
                             *indent(b)], body),
        st.builds(lambda d, n, f, b: [f"@{d}(device=\"cuda:{n}\")", f"def {f}():", *indent(b)],
                  names, ints, names, body),
        *([st.builds(lambda x, b, e: [f"match {x}:", '    case "cuda":', *indent(indent(b)), "    case _:",
                                      *indent(indent(e))], names, body, body)] if sys.version_info >= (3, 10) else []),
    )


cuda_stmt = st.one_of(cuda_simple(), cuda_simple(), cuda_compound(2), ordinary_stmt(1), blank)
cuda_modules = modules(cuda_stmt, CUDA_IMPORTS, docstring(st.one_of(plain_text, cuda_text)))
suppressed_modules = modules(cuda_stmt, CUDA_IMPORTS, docstring(st.one_of(plain_text, cuda_text)),
                             required=cuda_line.map(lambda line: [line + SUPPRESS]))


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

def comments(source: str) -> list[str]:
    return [tok.string for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type == tokenize.COMMENT]


def lines_of(source: str) -> list[str]:
    """Source lines as Python counts them (not str.splitlines, which also breaks at form feeds)."""
    return source.replace("\r\n", "\n").split("\n")


def comment_lines(source: str) -> list[str]:
    """Full-line comments as written (indentation included)."""
    return [line for line in lines_of(source) if line.lstrip().startswith("#")]


def _valid(source: str) -> None:
    compile(source, "<generated>", "exec")  # the generator itself must produce valid Python


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------


def migrated(source: str, engine: Engine = ENGINE):
    """The migration, or None when the engine refuses the source (test (i) reports that)."""
    try:
        return engine.migrate(source)
    except SourceError:
        return None


# Inputs that exposed bugs: explicit examples, tried first on every run whatever else is generated.
SPLIT_IMPORT = "from torch.cuda import (\n    Stream,\n    cudart,\n    synchronize,\n)\n"
DROPPED_KEYWORD_COMMENT = ("import torch\nopt = torch.optim.AdamW(\n    model.parameters(),\n"
                           "    lr=0.1,\n    fused=True,  # fast path\n)\n")
REFUSED_AFTER_SKIPPED_LINE = ("import torch\nx = 1\nfrom torch.cuda import (\n    Stream,\n    cudart,\n"
                              "    synchronize,\n)\n")
ALIAS_USE_WITHOUT_TRIGGER = "import torch\nimport torch.cuda as tc\nx = 1\ntc.set_device(0)\n"
SUPPRESSED_EDIT_ADDS_IMPORT = ("import torch.cuda as tc\nwith torch.cuda.device(0):\n    a = a.cuda()\n"
                               "tc.set_device(0)  # cuda2npu: ignore\n")
SUPPRESSED_AFTER_FORM_FEED = 's = "a\x0cb"\nx = t.cuda()  # cuda2npu: ignore\ny = u.cuda()\n'


@PROPERTY
@example(SPLIT_IMPORT)
@given(cuda_modules)
def test_output_parses_and_compiles(source):
    """(i) Valid input is migrated (not refused) and the output parses and compiles."""
    _valid(source)
    out = ENGINE.migrate(source).code
    ast.parse(out)
    compile(out, "<migrated>", "exec")


@PROPERTY
@example(SUPPRESSED_EDIT_ADDS_IMPORT)
@given(cuda_modules)
def test_second_run_changes_nothing(source):
    """(ii) Migration is idempotent."""
    _valid(source)
    first = migrated(source)
    assume(first is not None)
    second = ENGINE.migrate(first.code)
    assert second.code == first.code
    assert second.edits == []


@PROPERTY
@given(ordinary_modules)
def test_ordinary_code_is_returned_byte_identical(source):
    """(iii) Code without a trigger word comes back byte for byte, without edits or findings."""
    _valid(source)
    assert not ENGINE.index.triggered(source)
    result = ENGINE.migrate(source)
    assert result.code == source and not result.changed
    assert result.edits == [] and result.findings == []


@PROPERTY
@given(ordinary_modules, cuda_text)
def test_ordinary_code_that_is_parsed_is_returned_byte_identical(source, text):
    """(iii) The same with a comment mentioning CUDA, so that the file is parsed and transformed."""
    source = f"# {text}\n{source}"
    _valid(source)
    result = ENGINE.migrate(source)
    assert result.code == source
    assert result.edits == [] and result.findings == []


@PROPERTY
@example(DROPPED_KEYWORD_COMMENT)
@given(cuda_modules)
def test_every_comment_is_kept(source):
    """(iv) Every comment line is still there, and so is every comment token."""
    _valid(source)
    result = migrated(source)
    assume(result is not None)
    out_lines = set(lines_of(result.code))
    assert [line for line in comment_lines(source) if line not in out_lines] == []
    assert Counter(comments(result.code)) == Counter(comments(source))  # a split import may reorder them


@PROPERTY
@example(ALIAS_USE_WITHOUT_TRIGGER)
@example(REFUSED_AFTER_SKIPPED_LINE)
@given(cuda_modules)
def test_splice_equals_whole_file(source):
    """(v) Parsing only the statements with a trigger gives what a whole-file parse gives."""
    _valid(source)
    assert outcome(ENGINE, source) == outcome(WHOLE, source)


@PROPERTY
@given(cuda_modules)
def test_crlf_migrates_like_lf(source):
    """(vi) CRLF input gives the LF result with CRLF line endings."""
    _valid(source)
    assume("\n" in source)  # a file without a line break has no line ending to keep
    crlf = source.replace("\n", "\r\n")
    lf, cr = outcome(ENGINE, source), outcome(ENGINE, crlf)
    if lf[0] == "refused":
        assert cr == lf
    else:
        assert cr == (lf[0], lf[1].replace("\n", "\r\n"), *lf[2:])


@PROPERTY
@given(cuda_modules)
def test_a_changed_file_imports_torch_npu_once(source):
    """(vii) Any edit brings exactly one ``import torch_npu`` (NPU001)."""
    _valid(source)
    result = migrated(source)
    assume(result is not None)
    added = [e for e in result.edits if e.rule == "NPU001"]
    if result.changed:
        assert len(added) == 1
        assert [line.strip() for line in lines_of(result.code)].count("import torch_npu") == 1
    else:
        assert result.edits == []


@PROPERTY
@example(SUPPRESSED_AFTER_FORM_FEED)
@given(suppressed_modules)
def test_suppressed_lines_are_kept(source):
    """(viii) A line ending in ``# cuda2npu: ignore`` is left as it is."""
    _valid(source)
    suppressed = [line for line in lines_of(source) if line.endswith(SUPPRESS)]
    assume(suppressed)
    result = migrated(source)
    assume(result is not None)
    out_lines = set(lines_of(result.code))
    assert [line for line in suppressed if line not in out_lines] == []
