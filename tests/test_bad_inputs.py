"""Hostile and unusual inputs through the real command line (a subprocess: a crash must not take pytest down).

A huge file, expressions nested far beyond what LibCST or CPython handle, empty and comment-only files,
and a legacy encoding: each is migrated exactly, or reported as one clean ``path[:line]: error:`` line
with exit status 1 while the run goes on to the next file; never a traceback, a hang or a crash.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

MIGRATED_GOOD = b"import torch\nimport torch_npu\nx = t.npu()\n"
GOOD = b"import torch\nx = t.cuda()\n"


def _error_lines(stderr: str, path) -> list[str]:
    pattern = re.compile(rf"^{re.escape(str(path))}(:\d+)?: error: \S")
    return [line for line in stderr.splitlines() if pattern.match(line)]


# --- a 5 MB file with its CUDA sites at the end ----------------------------------------------------

def test_five_megabyte_file_is_migrated_exactly(tmp_path, proc):
    """Correctness only: its speed is measured by benchmarks/large_files.py, not by a timed test."""
    filler = "".join(f"def helper_{i}(a, b):\n    return a + b * {i}\n\n\n" for i in range(97_500))
    head = "import torch\n\n\n"
    tail = ("def main():\n    model = Net().cuda()\n    torch.cuda.synchronize()\n"
            '    device = torch.device("cuda:1")\n    return model, device\n')
    path = tmp_path / "big.py"
    path.write_text(head + filler + tail, encoding="utf-8")
    assert path.stat().st_size >= 4_900_000

    done = proc("migrate", path, timeout=300)  # a bound against a hang, not a speed claim

    assert done.returncode == 0, done.stderr.decode()[-2000:]
    expected = ("import torch\nimport torch_npu\n\n\n" + filler + "def main():\n    model = Net().npu()\n"
                "    torch.npu.synchronize()\n" '    device = torch.device("npu:1")\n    return model, device\n')
    data, want = path.read_bytes(), expected.encode()
    assert data[-200:] == want[-200:]
    assert data[:40] == want[:40]
    same = data == want  # not compared in the assert: pytest would diff 5 MB
    assert same, f"differs from byte {next((i for i, (a, b) in enumerate(zip(data, want)) if a != b), len(want))}"


# --- deep nesting: migrated, or one clean error; the next file is still migrated -------------------

DEEP = {
    "parens-2000": ("x = " + "(" * 2000 + "t.cuda()" + ")" * 2000, "x = " + "(" * 2000 + "t.npu()" + ")" * 2000),
    "list-1000": ("y = " + "[" * 1000 + "t.cuda()" + "]" * 1000, "y = " + "[" * 1000 + "t.npu()" + "]" * 1000),
    "calls-150": ("z = " + "f(" * 150 + "t.cuda()" + ")" * 150, "z = " + "f(" * 150 + "t.npu()" + ")" * 150),
    "attribute-chain-500": ("w = t" + ".a" * 500 + ".cuda()", "w = t" + ".a" * 500 + ".npu()"),  # valid Python
    "binary-op-chain-1000": ("v = t.cuda()" + " + a" * 1000, "v = t.npu()" + " + a" * 1000),  # valid Python
}


@pytest.mark.parametrize("name", list(DEEP))
def test_deeply_nested_expression_is_migrated_or_reported_cleanly(tmp_path, proc, name):
    statement, migrated_statement = DEEP[name]
    tree = tmp_path / "src"
    tree.mkdir()
    deep = tree / "a_deep.py"
    original = f"import torch\n{statement}\n".encode()
    deep.write_bytes(original)
    good = tree / "z_good.py"
    good.write_bytes(GOOD)

    done = proc("migrate", "--jobs", "1", tree, timeout=120)
    stderr = done.stderr.decode(errors="replace")

    assert done.returncode in (0, 1), f"exit status {done.returncode} (a crash?); stderr:\n{stderr[-1500:]}"
    traceback = stderr.find("Traceback")
    assert traceback < 0, stderr[traceback:traceback + 600] + " ... " + stderr[-300:]
    assert good.read_bytes() == MIGRATED_GOOD, "the run did not go on to the next file"
    migrated = f"import torch\nimport torch_npu\n{migrated_statement}\n".encode()
    result = deep.read_bytes()
    if result == migrated:
        assert done.returncode == 0 and _error_lines(stderr, deep) == []
    else:
        assert result == original, "neither the original nor the migrated text"
        assert done.returncode == 1
        assert len(_error_lines(stderr, deep)) == 1, stderr[-1500:]


# --- nothing to do -----------------------------------------------------------------------------------

COMMENTS_ONLY = (
    b"# This module used to call torch.cuda.synchronize() and x.cuda().\n"
    b"# CUDA_VISIBLE_DEVICES=0 and the \"nccl\" backend, fused=True AdamW on cuda:0\n"
    b"\n"
    b"#   import torch.cuda\n"
)


@pytest.mark.parametrize("mode", [(), ("--check",)], ids=["write", "check"])
def test_empty_and_comment_only_files_are_left_alone(tmp_path, proc, mode):
    empty, comments = tmp_path / "empty.py", tmp_path / "comments.py"
    empty.write_bytes(b"")
    comments.write_bytes(COMMENTS_ONLY)
    stamps = {p: p.stat().st_mtime_ns for p in (empty, comments)}

    done = proc("migrate", *mode, empty, comments)

    assert done.returncode == 0, done.stderr.decode()
    assert b"error" not in done.stderr and b"Traceback" not in done.stderr
    assert empty.read_bytes() == b"" and comments.read_bytes() == COMMENTS_ONLY
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert done.stdout == b""


# --- a PEP 263 latin-1 file --------------------------------------------------------------------------

LATIN1 = (
    "# -*- coding: latin-1 -*-\n"
    "# Modèle entraîné à Zürich ; température 25°C, ½ précision\n"
    "import torch\n"
    "\n"
    "name = \"données d'été: ñ ¿ µ ß ÿ\"\n"
    "device = torch.device(\"cuda:0\")  # périphérique\n"
    "model = Net().cuda()  # déplacé\n"
    "if torch.cuda.is_available():\n"
    "    print(\"prêt à démarrer\")\n"
)
LATIN1_MIGRATED = (
    "# -*- coding: latin-1 -*-\n"
    "# Modèle entraîné à Zürich ; température 25°C, ½ précision\n"
    "import torch\n"
    "import torch_npu\n"
    "\n"
    "name = \"données d'été: ñ ¿ µ ß ÿ\"\n"
    "device = torch.device(\"npu:0\")  # périphérique\n"
    "model = Net().npu()  # déplacé\n"
    "if torch.npu.is_available():\n"
    "    print(\"prêt à démarrer\")\n"
)


def test_latin1_file_is_migrated_and_written_back_in_latin1(tmp_path, proc):
    path = tmp_path / "legacy.py"
    data = LATIN1.encode("latin-1")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # really not UTF-8
    path.write_bytes(data)

    done = proc("migrate", path)

    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert path.read_bytes() == LATIN1_MIGRATED.encode("latin-1")


def test_latin1_file_diff_is_in_latin1(tmp_path, proc):
    path = tmp_path / "legacy.py"
    path.write_bytes(LATIN1.encode("latin-1"))

    done = proc("migrate", "--diff", path)

    assert done.returncode == 1
    assert path.read_bytes() == LATIN1.encode("latin-1")
    assert "+model = Net().npu()  # déplacé\n".encode("latin-1") in done.stdout
    assert "-model = Net().cuda()  # déplacé\n".encode("latin-1") in done.stdout


# --- user text rules: a pattern that backtracks without end, and templates that cannot work -------

def test_a_pattern_that_backtracks_without_end_fails_its_file_in_bounded_time(cli, tmp_path, monkeypatch):
    import cuda2npu.textfiles as textfiles

    monkeypatch.setattr(textfiles, "TIME_BOUND", 0.2)
    rules = tmp_path / "slow.yaml"
    rules.write_text("rules:\n  - id: SLOW1\n    kind: text\n    summary: s\n    files: ['*.sh']\n"
                     "    match: '(\\w+\\s?)+\\d$'\n    message: found\n")
    (tmp_path / "run.sh").write_text("echo " + "ab " * 30000 + "!\n")
    (tmp_path / "a.py").write_text("import torch\nx = t.cuda()\n")
    result = cli("migrate", "--jobs", "1", "--rules", rules, tmp_path)
    assert result.exit_code == 1
    assert "run.sh:1: error: rule SLOW1: its pattern took over 0.2 s on this line" in result.stderr
    assert (tmp_path / "a.py").read_text() == "import torch\nimport torch_npu\nx = t.npu()\n"


@pytest.mark.parametrize(("fields", "error"), [
    ("match: '(x)'\n    replace: '\\2'", "field 'replace': refers to group 2, which the pattern does not have"),
    ("match: '(?P<a>x)'\n    replace: '\\g<b>'", "field 'replace': refers to group b"),
    ("match: '(x)'\n    message: 'got {nme}'", "field 'message': cannot be filled (KeyError: 'nme')"),
    ("match: '(x)'\n    message: 'got {3}'", "field 'message': cannot be filled (IndexError"),
])
def test_text_rule_templates_are_checked_at_load(cli, tmp_path, fields, error):
    rules = tmp_path / "bad.yaml"
    rules.write_text(f"rules:\n  - id: BAD1\n    kind: text\n    summary: s\n    files: ['*.sh']\n    {fields}\n")
    (tmp_path / "run.sh").write_text("x\n")
    result = cli("migrate", "--rules", rules, tmp_path / "run.sh")
    assert result.exit_code == 2
    assert f"rule BAD1: {error}" in result.stderr
    assert (tmp_path / "run.sh").read_text() == "x\n"  # refused before any file is touched


def test_a_method_chain_too_long_to_parse_in_bounded_time_is_refused(cli, tmp_path):
    """LibCST's parse time grows with the square of a chain: 20,000 calls would take minutes."""
    long = tmp_path / "long.py"
    long.write_text("import torch\nx = t.cuda()\ny = z" + "".join(f".m{i}()" for i in range(2_500)) + "\n")
    fine = tmp_path / "fine.py"
    fine.write_text("import torch\nx = t.cuda()\ny = z" + "".join(f".m{i}()" for i in range(300)) + "\n")
    result = cli("migrate", "--jobs", "1", tmp_path)
    assert result.exit_code == 1
    assert f"{long}:3: error: a chain of 2,500 calls or subscripts is longer than cuda2npu parses" in result.stderr
    assert fine.read_text().startswith("import torch\nimport torch_npu\nx = t.npu()\n")


def test_a_statement_of_megabytes_with_a_site_is_refused_and_one_without_is_left_out(cli, tmp_path):
    data = "TABLE = [" + ", ".join(f"'{i:07d}'" for i in range(120_000)) + "]\n"  # about 1.3 MB, one line
    huge = tmp_path / "huge.py"
    huge.write_text("import torch\nx = t.cuda()\n" + data.replace("[", "['cuda', ", 1))
    data_only = tmp_path / "data_only.py"
    data_only.write_text("import torch\nx = t.cuda()\n" + data)
    result = cli("migrate", "--jobs", "1", tmp_path)
    assert f"{huge}:3: error: a single statement of 1.3 MiB holds a CUDA site" in result.stderr
    assert data_only.read_text() == "import torch\nimport torch_npu\nx = t.npu()\n" + data


@pytest.mark.parametrize(("kind", "fields", "error"), [
    ("report", "match: a.b\n    message: 'see {nme}'", "unknown placeholder {nme}; this kind fills {name}"),
    ("call", "match: a.b\n    replace: c.d\n    message: '{3}'", "unknown placeholder {3}"),
    ("argument", "match: a.b\n    rename: {x: y}\n    message: '{name} {reason}'", "unknown placeholder {reason}"),
    ("string", "match: cuda\n    message: 'bad {'", "is not a valid template"),
    ("call", "match: a.b\n    replace: c.d\n    uncalled: '{name} as {reason}'", "unknown placeholder {reason}"),
    ("string", "match: gloo\n    replace: hccl\n    alone: true", "limits where a string rule reports"),
    ("support", "status: float64\n    message: '{name} {reason}'", "unknown placeholder {reason}"),
    ("rename", "match: a.b\n    code: c()\n    idempotent: true", "drops a call the rename makes the same"),
])
def test_message_placeholders_are_checked_at_load(cli, tmp_path, kind, fields, error):
    rules = tmp_path / "bad.yaml"
    rules.write_text(f"rules:\n  - id: BAD2\n    kind: {kind}\n    summary: s\n    {fields}\n")
    target = tmp_path / "a.py"
    target.write_text("import torch\nx = t.cuda()\n")
    result = cli("migrate", "--rules", rules, target)
    assert result.exit_code == 2
    field = next(f for f in ("uncalled", "alone", "idempotent", "message") if f"{f}:" in fields)
    assert f"rule BAD2: field '{field}': {error}" in result.stderr
    assert target.read_text() == "import torch\nx = t.cuda()\n"


def test_an_unknown_coding_cookie_fails_its_file_only(cli, tmp_path):
    (tmp_path / "odd.py").write_bytes(b"# -*- coding: no-such-codec -*-\nimport torch\nx = t.cuda()\n")
    (tmp_path / "ok.py").write_text("import torch\nx = t.cuda()\n")
    result = cli("migrate", "--jobs", "1", tmp_path)
    assert result.exit_code == 1 and result.traceback == ""
    assert "odd.py:1: error: cannot decode: unknown encoding: no-such-codec" in result.stderr
    assert (tmp_path / "ok.py").read_text() == "import torch\nimport torch_npu\nx = t.npu()\n"


@pytest.mark.skipif(sys.platform != "linux", reason="address-space limits as on Linux")
def test_a_memory_limit_smaller_than_the_parse_stack_still_migrates(tmp_path):
    import resource

    path = tmp_path / "a.py"
    path.write_text("import torch\nx = t.cuda()\n")

    def limit() -> None:  # 450 MB of address space: the 512 MB parse stack cannot be reserved
        resource.setrlimit(resource.RLIMIT_AS, (450 * 2**20, 450 * 2**20))

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-m", "cuda2npu", "migrate", str(path)], env=env, preexec_fn=limit,
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-1000:]
    assert path.read_text() == "import torch\nimport torch_npu\nx = t.npu()\n"


@pytest.mark.parametrize("flag", ["ignore_case", "device", "prefix"])
def test_string_rule_flags_must_be_booleans(cli, tmp_path, flag):
    rules = tmp_path / "bad.yaml"
    rules.write_text(f"rules:\n  - id: BAD3\n    kind: string\n    summary: s\n    match: nccl\n"
                     f"    replace: hccl\n    {flag}: 'yes'\n")
    target = tmp_path / "a.py"
    target.write_text("import torch\nx = t.cuda()\n")
    result = cli("migrate", "--rules", rules, target)
    assert result.exit_code == 2 and f"rule BAD3: field '{flag}': must be true or false" in result.stderr
    assert target.read_text() == "import torch\nx = t.cuda()\n"
