"""The `cuda2npu` command line: modes, exit codes, streams, diff, report, user rules, rule errors."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from samples import SNIPPET, SNIPPET_NPU

from cuda2npu.rulebook import load_rulebook

SNIPPET_DIFF = (
    "--- a/train.py\n"
    "+++ b/train.py\n"
    "@@ -1,4 +1,5 @@\n"
    " import torch\n"
    "+import torch_npu\n"
    " \n"
    '-device = torch.device("cuda" if torch.cuda.is_available() else "cpu")\n'
    "-model = Net().cuda()\n"
    '+device = torch.device("npu" if torch.npu.is_available() else "cpu")\n'
    "+model = Net().npu()\n"
)
CUDA = b"import torch\nx = torch.zeros(1).cuda()\n"
NPU = b"import torch\nimport torch_npu\nx = torch.zeros(1).npu()\n"
NOCUDA = b"import torch\nx = torch.ones(1)\n"

# The 5-line user rule of the spec.
APEX_RULES = """\
target: npu
rules:
  - {id: APEX001, kind: rename, summary: apex FusedLayerNorm is torch LayerNorm,
     match: apex.normalization.FusedLayerNorm,
     replace: torch.nn.LayerNorm}
"""
REPORT_RULES = """\
target: npu
rules:
  - {id: USR900, kind: report, summary: GPU-only helper, match: mylib.gpu_only,
     message: "{name} runs on GPUs only"}
"""


def mtime(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


def assert_clean_usage_error(result) -> None:
    assert result.traceback == "", result.traceback
    assert "Traceback" not in result.stderr
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stdout == ""


def summary_line(stderr: str) -> str:
    return next(line for line in stderr.splitlines() if "scanned:" in line)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """The realistic snippet as ``train.py`` plus an untouched file, cwd set to their folder."""
    monkeypatch.chdir(tmp_path)
    Path("train.py").write_text(SNIPPET)
    Path("util.py").write_bytes(NOCUDA)
    return tmp_path


# -- modes ---------------------------------------------------------------------------------------

def test_diff_prints_exact_unified_diff_and_writes_nothing(cli, project):
    before = mtime(Path("train.py"))
    result = cli("migrate", "--diff", "train.py", "util.py")
    assert result.exit_code == 1
    assert result.stdout == SNIPPET_DIFF
    assert Path("train.py").read_text() == SNIPPET and mtime(Path("train.py")) == before
    assert "would migrate train.py" in result.stderr.splitlines()
    assert summary_line(result.stderr) == "cuda2npu: 2 files scanned: 1 would change, 1 unchanged, 0 failed"


def test_diff_without_changes_is_empty_and_exits_0(cli, project):
    result = cli("migrate", "--diff", "util.py")
    assert (result.exit_code, result.stdout) == (0, "")


def test_check_writes_nothing_and_exits_1_when_a_file_would_change(cli, project):
    before = mtime(Path("train.py"))
    result = cli("migrate", "--check", ".")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "would migrate train.py" in result.stderr.splitlines()
    assert Path("train.py").read_text() == SNIPPET and mtime(Path("train.py")) == before
    assert cli("migrate", "--check", "util.py").exit_code == 0


def test_in_place_exits_0_and_prints_nothing_on_stdout(cli, project):
    result = cli("migrate", ".")
    assert (result.exit_code, result.stdout) == (0, "")
    assert Path("train.py").read_text() == SNIPPET_NPU
    assert Path("util.py").read_bytes() == NOCUDA
    assert result.stderr.splitlines() == [
        "migrated train.py",  # as Black says "reformatted"
        "cuda2npu: 2 files scanned: 1 changed, 1 unchanged, 0 failed",
        "cuda2npu: edits: 4 (NPU001 1, NPU101 1, NPU102 1, NPU201 1)",
        "cuda2npu: findings: 0",
        "cuda2npu: for torch_npu 2.14.0 (the newest known release; no torch-npu pin found)",
    ]


def test_quiet_prints_errors_the_summary_and_what_fails_the_run(cli, project):
    Path("train.py").write_text(SNIPPET + "torch.cuda.cudart()\n")
    result = cli("migrate", "-q", "--check", ".")
    assert [line for line in result.stderr.splitlines() if not line.startswith("cuda2npu: ")] == []
    result = cli("migrate", "-q", "--check", "--fail-on", "warning", ".")
    lines = result.stderr.splitlines()
    assert result.exit_code == 1
    assert [line.split(" ")[1] for line in lines if not line.startswith("cuda2npu: ")] == ["NPU291"]
    assert lines[-1] == "cuda2npu: failing: 1 finding of severity warning or higher (--fail-on warning)"


def test_streams_are_separate_in_a_real_process(proc, project):
    diff = proc("migrate", "--diff", "train.py", cwd=project)
    assert diff.returncode == 1
    assert diff.stdout == SNIPPET_DIFF.encode()
    assert b"would migrate train.py" in diff.stderr and b"1 would change" in diff.stderr
    write = proc("migrate", "train.py", cwd=project)
    assert (write.returncode, write.stdout) == (0, b"")
    assert b"1 changed" in write.stderr
    assert Path("train.py").read_text() == SNIPPET_NPU


def test_stderr_is_captured_on_every_in_process_run(tmp_path):
    """Without the conftest work-around: Console must write to the sys.stderr of *this* call."""
    from click.testing import CliRunner

    from cuda2npu.cli import main

    (tmp_path / "m.py").write_bytes(CUDA)
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(main, ["migrate", "--check", str(tmp_path / "m.py")])
        assert result.exit_code == 1
        assert "1 file scanned: 1 would change" in result.stderr


# -- usage errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["migrate"],
    ["migrate", "missing.py", "train.py"],
    ["migrate", "--out-dir", "out", "--diff", "train.py"],
    ["migrate", "--out-dir", "out", "--check", "train.py"],
    ["migrate", "-j", "0", "train.py"],
    ["migrate", "--select", "NPU999", "train.py"],
    ["migrate", "--ignore", "NPU101,NOPE", "train.py"],
    ["migrate", "--rules", "no-such-rules.yaml", "train.py"],
    ["explain", "NPU999"],
    ["frobnicate"],
], ids=["no-paths", "missing-path", "out-dir-diff", "out-dir-check", "jobs-0", "select-unknown",
        "ignore-unknown", "rules-missing", "explain-unknown", "unknown-command"])
def test_usage_errors_exit_2_and_touch_nothing(cli, project, args):
    result = cli(*args)
    assert_clean_usage_error(result)
    assert Path("train.py").read_text() == SNIPPET
    assert not Path("out").exists()


def test_unknown_select_names_the_id(cli, project):
    result = cli("migrate", "--select", "NPU101,XYZ9", "train.py")
    assert_clean_usage_error(result)
    assert "XYZ9" in result.stderr


def test_report_to_an_unwritable_place_is_an_error_not_a_crash(cli, project):
    result = cli("migrate", "--check", "--report", project / "no" / "such" / "dir" / "r.json", "train.py")
    assert result.traceback == "", result.traceback
    assert result.exit_code in (1, 2)
    assert "r.json" in result.stderr


# -- --select / --ignore ---------------------------------------------------------------------------

@pytest.mark.parametrize(("options", "expected"), [
    (["--select", "NPU101"],  # the import that makes "npu" exist comes with the rewrite
     'import torch\nimport torch_npu\n\ndevice = torch.device("npu" if torch.cuda.is_available() else "cpu")\n'
     "model = Net().cuda()\n"),
    (["--select", "NPU101,NPU001"],
     'import torch\nimport torch_npu\n\ndevice = torch.device("npu" if torch.cuda.is_available() else "cpu")\n'
     "model = Net().cuda()\n"),
    (["--select", "NPU1", "--select", "NPU001"],
     'import torch\nimport torch_npu\n\ndevice = torch.device("npu" if torch.cuda.is_available() else "cpu")\n'
     "model = Net().npu()\n"),
    (["--ignore", "NPU102"],
     'import torch\nimport torch_npu\n\ndevice = torch.device("npu" if torch.npu.is_available() else "cpu")\n'
     "model = Net().cuda()\n"),
    (["--select", "NPU101", "--ignore", "NPU001"],  # ignored by name: left out (torch_npu loaded otherwise)
     'import torch\n\ndevice = torch.device("npu" if torch.cuda.is_available() else "cpu")\nmodel = Net().cuda()\n'),
    (["--ignore", "NPU0,NPU2"],
     'import torch\n\ndevice = torch.device("npu" if torch.cuda.is_available() else "cpu")\nmodel = Net().npu()\n'),
], ids=["one-id", "comma-list", "prefix-repeated", "ignore-id", "import-ignored", "ignore-prefixes"])
def test_select_and_ignore(cli, project, options, expected):
    result = cli("migrate", *options, "train.py")
    assert result.exit_code == 0, result.stderr
    assert Path("train.py").read_text() == expected


# -- findings and the JSON report ------------------------------------------------------------------

FINDINGS_SOURCE = "import torch\nimport mylib\nx = t.cuda()\ny = mylib.gpu_only(3)\n"


def test_findings_are_printed_as_path_line_col_rule_message(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("rules.yaml").write_text(REPORT_RULES)
    Path("m.py").write_text(FINDINGS_SOURCE)
    result = cli("migrate", "--check", "--rules", "rules.yaml", "m.py")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "m.py:4:5 USR900 mylib.gpu_only runs on GPUs only" in result.stderr.splitlines()
    assert "cuda2npu: findings: 1 (USR900 1)" in result.stderr.splitlines()
    quiet = cli("migrate", "--check", "-q", "--rules", "rules.yaml", "m.py")
    assert "USR900 mylib" not in quiet.stderr
    assert "cuda2npu: findings: 1 (USR900 1)" in quiet.stderr.splitlines()


def test_json_report(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("rules.yaml").write_text(REPORT_RULES)
    Path("m.py").write_text(FINDINGS_SOURCE)
    Path("same.py").write_bytes(NOCUDA)
    Path("bad.py").write_bytes(b"import torch\nx = t.cuda(\n")
    result = cli("migrate", "--report", "report.json", "--rules", "rules.yaml", "m.py", "same.py", "bad.py")
    assert result.exit_code == 1
    report = json.loads(Path("report.json").read_text())
    assert report["version"] == 1
    m, same, bad = report["files"]
    assert m == {
        "path": "m.py",
        "changed": True,
        "edits": [
            {"rule": "NPU001", "line": 2, "col": 1, "message": "import torch_npu"},
            {"rule": "NPU102", "line": 3, "col": 7, "message": ".cuda() -> .npu()"},
        ],
        "findings": [{"rule": "USR900", "line": 4, "col": 5, "severity": "warning",
                      "message": "mylib.gpu_only runs on GPUs only"}],
        "error": None,
    }
    assert same == {"path": "same.py", "changed": False, "edits": [], "findings": [], "error": None}
    assert (bad["path"], bad["changed"], bad["edits"], bad["findings"]) == ("bad.py", False, [], [])
    assert bad["error"] is not None and "syntax error" in json.dumps(bad["error"])
    assert report["summary"] == {"files": 3, "changed": 1, "unchanged": 1, "failed": 1,
                                 "edits": {"NPU001": 1, "NPU102": 1}, "findings": {"USR900": 1}}
    assert Path("m.py").read_text() == FINDINGS_SOURCE.replace(
        "import torch\n", "import torch\nimport torch_npu\n").replace(".cuda()", ".npu()")


# -- --diff applies with git apply and equals in-place migration ---------------------------------

GIT_CASES = {
    "train.py": SNIPPET.encode(),
    "no_newline.py": b"import torch\nx = torch.zeros(1).cuda()",
    "crlf.py": b"import torch\r\n\r\ndevice = 'cuda:0'\r\nx = t.cuda()\r\n",
    "mixed.py": b"import torch\nx = t.cuda()\r\ny = 'cuda'\r\n",
    "pkg/deep.py": b"import os\nimport torch\n\n\ndef f(t):\n    return t.cuda()\n",
    "unchanged.py": NOCUDA,
    "nb.ipynb": json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                       "source": ["import torch\n", "x = t.cuda()"]}],
                            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1).encode() + b"\n",
}


def git_apply_vs_in_place(cli, tmp_path, monkeypatch, files: dict[str, bytes], paths: list[str]):
    """Migrate ``files`` once through ``--diff`` + ``git apply`` and once in place; both trees."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    patched, in_place = tmp_path / "patched", tmp_path / "in_place"
    for root in (patched, in_place):
        for name, data in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
    subprocess.run(["git", "init", "-q"], cwd=patched, check=True)
    monkeypatch.chdir(patched)
    diff = cli("migrate", "--diff", *paths)
    assert diff.exit_code == 1, diff.stderr
    (tmp_path / "port.patch").write_bytes(diff.stdout_bytes)
    applied = subprocess.run(["git", "apply", str(tmp_path / "port.patch")], cwd=patched,
                             capture_output=True, text=True)
    assert applied.returncode == 0, applied.stderr
    monkeypatch.chdir(in_place)
    assert cli("migrate", *paths).exit_code == 0
    return patched, in_place


def test_diff_applies_with_git_apply_and_matches_in_place(cli, tmp_path, monkeypatch):
    patched, in_place = git_apply_vs_in_place(cli, tmp_path, monkeypatch, GIT_CASES, ["."])
    for name in GIT_CASES:
        assert (patched / name).read_bytes() == (in_place / name).read_bytes(), name
    assert (in_place / "no_newline.py").read_bytes() == b"import torch\nimport torch_npu\nx = torch.zeros(1).npu()"
    assert (in_place / "crlf.py").read_bytes() == \
        b"import torch\r\nimport torch_npu\r\n\r\ndevice = 'npu:0'\r\nx = t.npu()\r\n"
    assert (in_place / "unchanged.py").read_bytes() == NOCUDA


@pytest.mark.parametrize("data", [
    b"\xef\xbb\xbfimport torch\nx = t.cuda()\n",
    b"# -*- coding: latin-1 -*-\nimport torch\n# caf\xe9\nx = t.cuda()  # \xe9t\xe9\n",
], ids=["utf8-bom", "latin-1"])
def test_diff_of_a_non_plain_utf8_file_applies_with_git_apply(cli, tmp_path, monkeypatch, data):
    patched, in_place = git_apply_vs_in_place(cli, tmp_path, monkeypatch, {"m.py": data}, ["m.py"])
    assert (patched / "m.py").read_bytes() == (in_place / "m.py").read_bytes()


def test_diff_of_a_dot_slash_path_applies_with_git_apply(cli, tmp_path, monkeypatch):
    files = {"sub/x.py": CUDA}
    patched, in_place = git_apply_vs_in_place(cli, tmp_path, monkeypatch, files, ["./sub/x.py"])
    assert (patched / "sub/x.py").read_bytes() == (in_place / "sub/x.py").read_bytes() == NPU


# -- user rules from the command line --------------------------------------------------------------

@pytest.mark.parametrize(("source", "expected"), [
    # NPU001 anchors `import torch_npu` on the first import of torch *in the input*; the rewritten
    # from-import did not import torch before, so the new import goes on top. Both placements are
    # valid Python and fit docs/rule-format.md; the previous engine put it after the rewritten line.
    ("from apex.normalization import FusedLayerNorm\n\nnorm = FusedLayerNorm(8)\n",
     ("import torch_npu\nfrom torch.nn import LayerNorm as FusedLayerNorm\n\nnorm = FusedLayerNorm(8)\n",
      "from torch.nn import LayerNorm as FusedLayerNorm\nimport torch_npu\n\nnorm = FusedLayerNorm(8)\n")),
    ("import apex\n\nnorm = apex.normalization.FusedLayerNorm(8)\n",
     ("import torch\nimport torch_npu\nimport apex\n\nnorm = torch.nn.LayerNorm(8)\n",)),
    ("import torch\nimport apex\n\nnorm = apex.normalization.FusedLayerNorm(8)\n",
     ("import torch\nimport torch_npu\nimport apex\n\nnorm = torch.nn.LayerNorm(8)\n",)),
    ("import apex.normalization as an\nln = an.FusedLayerNorm(8)\n",
     ("import torch\nimport torch_npu\nimport apex.normalization as an\nln = torch.nn.LayerNorm(8)\n",)),
], ids=["from-import", "attribute", "attribute-torch-imported", "module-alias"])
def test_user_rule_from_the_command_line(cli, tmp_path, monkeypatch, source, expected):
    monkeypatch.chdir(tmp_path)
    Path("apex.yaml").write_text(APEX_RULES)
    assert len(APEX_RULES.splitlines()) == 5
    Path("model.py").write_text(source)
    result = cli("migrate", "--rules", "apex.yaml", "model.py")
    assert result.traceback == "" and result.exit_code == 0, result.stderr
    migrated = Path("model.py").read_text()
    assert migrated in expected
    ast.parse(migrated)
    assert "APEX001" in result.stderr
    again = cli("migrate", "--check", "--rules", "apex.yaml", "model.py")
    assert again.exit_code == 0  # a second run changes nothing


def test_user_rules_folder_and_repeated_option(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("rules").mkdir()
    Path("rules/apex.yaml").write_text(APEX_RULES)
    Path("rules/README.md").write_text("not a rule file")
    Path("more.yaml").write_text(REPORT_RULES)
    Path("m.py").write_text("import apex, mylib\nn = apex.normalization.FusedLayerNorm(8)\nmylib.gpu_only()\n")
    result = cli("migrate", "--rules", "rules", "--rules", "more.yaml", "m.py")
    assert result.exit_code == 0, result.stderr
    assert "torch.nn.LayerNorm(8)" in Path("m.py").read_text()
    assert "m.py:3:1 USR900 mylib.gpu_only runs on GPUs only" in result.stderr.splitlines()
    listed = cli("rules", "--rules", "rules", "--rules", "more.yaml")
    lines = listed.stdout.splitlines()
    assert "APEX001\trename\tapex FusedLayerNorm is torch LayerNorm" in lines
    assert "USR900\treport\tGPU-only helper" in lines


# -- invalid rule files ----------------------------------------------------------------------------

RULE = "  - id: {id}\n    kind: rename\n    summary: s\n    match: a.b\n    replace: c.d\n"
BAD_RULES = {
    # name: (file text, expected line (None: not required), rule id or None, field or None)
    "invalid-yaml": ("target: npu\nrules:\n  - id: X1\n    kind: rename\n   summary: oops\n", 5, None, None),
    "unknown-kind": ("target: npu\nrules:\n" + RULE.format(id="X2").replace("rename", "renamer"),
                     3, "X2", "kind"),
    "kind-not-text": ("target: npu\nrules:\n" + RULE.format(id="X3").replace("rename", "[rename]"),
                      3, "X3", "kind"),
    "missing-field": ("target: npu\nrules:\n" + RULE.format(id="X4").replace("    replace: c.d\n", ""),
                      3, "X4", "replace"),
    "unknown-field": ("target: npu\nrules:\n" + RULE.format(id="X5") + "    colour: red\n", 3, "X5", "colour"),
    "duplicate-id": ("target: npu\nrules:\n" + RULE.format(id="X6") + RULE.format(id="X6"), 8, "X6", "id"),
    "duplicate-builtin-id": ("target: npu\nrules:\n" + RULE.format(id="NPU101"), 3, "NPU101", "id"),
    "match-not-dotted": ("target: npu\nrules:\n" + RULE.format(id="X7").replace("a.b", "'a.b()'"),
                         3, "X7", "match"),
    "example-after-does-not-parse": (
        "target: npu\nrules:\n" + RULE.format(id="X8")
        + "    examples:\n      - before: \"import a\\na.b()\\n\"\n        after: \"import c\\nc.d(\\n\"\n",
        3, "X8", "examples"),
    "not-a-rule-file": ("- just\n- a list\n", None, None, None),
}


@pytest.mark.parametrize(("text", "line", "rule", "field"), BAD_RULES.values(), ids=BAD_RULES.keys())
@pytest.mark.parametrize("command", ["migrate", "rules"])
def test_invalid_rule_file_is_a_clean_usage_error(cli, tmp_path, monkeypatch, command, text, line, rule, field):
    monkeypatch.chdir(tmp_path)
    Path("bad.yaml").write_text(text)
    Path("m.py").write_bytes(CUDA)
    args = ["migrate", "--rules", "bad.yaml", "m.py"] if command == "migrate" else ["rules", "--rules", "bad.yaml"]
    result = cli(*args)
    assert_clean_usage_error(result)
    message = result.stderr.strip()
    assert message.startswith("cuda2npu: error: bad.yaml"), message
    if line is not None:
        assert re.search(rf"bad\.yaml:{line}\b", message), message
    if rule:
        assert f"rule {rule}" in message
    if field:
        assert f"'{field}'" in message
    assert Path("m.py").read_bytes() == CUDA


# -- rules and explain -----------------------------------------------------------------------------

def test_rules_lists_every_rule(cli):
    result = cli("rules")
    assert result.exit_code == 0
    rules = sorted(load_rulebook(), key=lambda r: r.id)
    assert result.stdout.splitlines() == [f"{r.id}\t{r.kind}\t{r.summary}" for r in rules]
    assert any(line.startswith("NPU101\tstring\t") for line in result.stdout.splitlines())


def test_explain_shows_the_rule(cli):
    rule = load_rulebook().by_id("NPU101")
    result = cli("explain", "NPU101")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"NPU101 (string, {rule.severity}): {rule.summary}"
    assert "  match: cuda" in lines and "  replace: npu" in lines
    assert "Example 1, before:" in lines


def test_explain_unknown_rule(cli):
    result = cli("explain", "NPU999")
    assert_clean_usage_error(result)
    assert "NPU999" in result.stderr


def test_explain_a_user_rule(cli, tmp_path):
    (tmp_path / "apex.yaml").write_text(APEX_RULES)
    result = cli("explain", "APEX001", "--rules", tmp_path / "apex.yaml")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:4] == [
        "APEX001 (rename, info): apex FusedLayerNorm is torch LayerNorm", "",
        "  match: apex.normalization.FusedLayerNorm", "  replace: torch.nn.LayerNorm"]
