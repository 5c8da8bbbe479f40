"""The CI templates (docs/ci/) and the pre-commit hooks (.pre-commit-hooks.yaml) run as written:
they parse, every cuda2npu command in them is a valid command line, and the commands do what the
templates say on a team repository."""

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cuda2npu.rulebook import load_rulebook

from cuda2npu.cli import main

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted((ROOT / "docs" / "ci").glob("*.yml"))


def commands(path: Path) -> list[list[str]]:
    """The cuda2npu command lines of a template, redirections left out."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    lines = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("run", "script") or isinstance(value, (dict, list)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str) and node.lstrip().startswith("cuda2npu "):
            lines.append(shlex.split(node.split(">")[0]))

    walk(data)
    return lines


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_every_cuda2npu_command_of_a_template_is_valid(path):
    found = commands(path)
    assert found, f"{path.name} runs no cuda2npu command"
    for argv in found:
        assert argv[0] == "cuda2npu"
        main.make_context("cuda2npu", argv[1:], resilient_parsing=False)  # raises on a bad option


def test_the_github_template_uses_current_actions_and_may_upload_sarif():
    data = yaml.safe_load((ROOT / "docs" / "ci" / "github-actions.yml").read_text(encoding="utf-8"))
    assert data["permissions"] == {"contents": "read", "actions": "read", "security-events": "write"}
    uses = [step["uses"] for job in data["jobs"].values() for step in job["steps"] if "uses" in step]
    assert "github/codeql-action/upload-sarif@v4" in uses and "actions/checkout@v5" in uses
    assert set(data[True]) == {"push", "pull_request"} and data[True]["push"] == {"branches": ["main"]}


def test_the_gitlab_template_reports_code_quality():
    job = yaml.safe_load((ROOT / "docs" / "ci" / "gitlab-ci.yml").read_text(encoding="utf-8"))["cuda2npu"]
    assert job["artifacts"]["reports"] == {"codequality": "gl-code-quality-report.json"}


def test_the_hooks_match_the_files_cuda2npu_migrates():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [h["id"] for h in hooks] == ["cuda2npu", "cuda2npu-check", "cuda2npu-portable"]
    portable = hooks.pop()  # the accelerator target has no text rules: Python files and notebooks only
    main.make_context("cuda2npu", shlex.split(portable["entry"])[1:] + ["x.py"])
    assert portable["types_or"] == ["python", "pyi", "jupyter"] and "files" not in portable
    assert not load_rulebook(target="accelerator").of_kind("text")
    for hook in hooks:
        main.make_context("cuda2npu", shlex.split(hook["entry"])[1:] + ["x.py"])
        files = re.compile(hook["files"])
        for name in ("train.py", "pkg/mod.pyi", "nb.ipynb", "scripts/run.sh", "requirements-dev.txt",
                     "requirements.txt", ".env", "pyproject.toml", "environment.yml"):
            assert files.search(name), name
        for name in ("README.md", "setup.py.orig", "data/train.csv"):
            assert not files.search(name), name
        for pattern in {p for rule in load_rulebook().of_kind("text") for p in rule.get("files")}:
            name = "sub/" + pattern.replace("*", "x")  # a file each text rule reads, in a folder
            assert files.search(name), f"{hook['id']} never passes {name} (text rule files {pattern})"


def test_the_templates_commands_on_a_team_repository(tmp_path):
    (tmp_path / "train.py").write_text("import torch\nmodel = Net().cuda()\nnet = torch.nn.DataParallel(model)\n")
    (tmp_path / "run.sh").write_text("CUDA_VISIBLE_DEVICES=0 python train.py\n")

    def run(argv):
        return subprocess.run([sys.executable, "-m", "cuda2npu", *argv[1:], "--no-cache"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)

    github = {" ".join(a): a for a in commands(ROOT / "docs" / "ci" / "github-actions.yml")}
    gitlab = {" ".join(a): a for a in commands(ROOT / "docs" / "ci" / "gitlab-ci.yml")}
    annotate = run(github["cuda2npu migrate --check --output-format github --fail-on warning ."])
    assert annotate.returncode == 1
    assert "::warning file=train.py,line=3,col=7,title=cuda2npu NPU721::" in annotate.stdout
    assert run(github["cuda2npu migrate --check --report cuda2npu.sarif --exit-zero ."]).returncode == 0
    assert json.loads((tmp_path / "cuda2npu.sarif").read_text())["version"] == "2.1.0"
    quality = run(gitlab["cuda2npu migrate --check --report gl-code-quality-report.json --report-format gitlab "
                         "--exit-zero ."])
    assert quality.returncode == 0
    issues = json.loads((tmp_path / "gl-code-quality-report.json").read_text())
    assert {i["check_name"] for i in issues} == {"migrate", "NPU721"} and all(len(i["fingerprint"]) == 64 for i in issues)
    patch = run(gitlab["cuda2npu migrate --diff --report cuda2npu.md --fail-on warning ."])
    assert patch.returncode == 1 and patch.stdout.startswith("--- a/run.sh\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "cuda2npu.patch").write_text(patch.stdout)
    subprocess.run(["git", "apply", "cuda2npu.patch"], cwd=tmp_path, check=True)
    assert (tmp_path / "run.sh").read_text() == "ASCEND_RT_VISIBLE_DEVICES=0 python train.py\n"
