"""End to end through pre-commit: `pre-commit try-repo` against this checkout in a temporary git repo.

pre-commit builds the hook's environment from this checkout (pip installs it and its
dependencies from the package index), so the first run takes a while.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CUDA = "import torch\n\nmodel = Net().cuda()\n"
PORTED = "import torch\nimport torch_npu\n\nmodel = Net().npu()\n"

pytestmark = pytest.mark.skipif(shutil.which("pre-commit") is None or shutil.which("git") is None,
                                reason="needs pre-commit and git")


def git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env)


def try_repo(repo: Path, hook: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(cache)}
    return subprocess.run(["pre-commit", "try-repo", str(ROOT), hook, "--all-files"], cwd=repo,
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def repo(tmp_path):
    git(tmp_path, "init", "-q")
    return tmp_path


def test_migrating_hook_fails_the_commit_and_fixes_the_file(repo, cache):
    (repo / "train.py").write_text(CUDA)
    git(repo, "add", "train.py")
    run = try_repo(repo, "cuda2npu", cache)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "files were modified by this hook" in run.stdout
    assert (repo / "train.py").read_text() == PORTED
    git(repo, "add", "train.py")
    assert try_repo(repo, "cuda2npu", cache).returncode == 0


def test_portable_hook_passes_device_agnostic_code_and_fails_cuda_code(repo, cache):
    (repo / "portable.py").write_text("import torch\n\nmodel = Net().to(torch.accelerator.current_accelerator())\n")
    (repo / "new.py").write_text(CUDA)
    git(repo, "add", "portable.py", "new.py")
    run = try_repo(repo, "cuda2npu-portable", cache)
    assert run.returncode == 1 and "would migrate new.py" in run.stdout and "portable.py" not in run.stdout
    assert (repo / "new.py").read_text() == CUDA


def test_check_hook_passes_a_migrated_file_and_fails_cuda_code(repo, cache):
    (repo / "ported.py").write_text(PORTED)
    git(repo, "add", "ported.py")
    assert try_repo(repo, "cuda2npu-check", cache).returncode == 0
    (repo / "new.py").write_text(CUDA)
    git(repo, "add", "new.py")
    run = try_repo(repo, "cuda2npu-check", cache)
    assert run.returncode == 1 and "would migrate new.py" in run.stdout
    assert (repo / "new.py").read_text() == CUDA


def test_the_hooks_take_launch_scripts_and_requirements_of_a_team_repository(repo, cache):
    (repo / "pyproject.toml").write_text('[project]\nname = "team"\n\n[tool.cuda2npu]\nignore = ["NPU722"]\n')
    (repo / "scripts").mkdir()
    (repo / "scripts" / "launch.sh").write_text("export CUDA_VISIBLE_DEVICES=0,1\ntorchrun train.py\n")
    (repo / "requirements.txt").write_text("torch==2.6.0\nflash-attn==2.7.4\n")
    (repo / "train.py").write_text(CUDA)
    (repo / "README.md").write_text("Runs on CUDA_VISIBLE_DEVICES=0.\n")
    git(repo, "add", ".")
    run = try_repo(repo, "cuda2npu-check", cache)
    assert run.returncode == 1
    assert "would migrate scripts/launch.sh" in run.stdout and "would migrate train.py" in run.stdout
    assert "requirements.txt:2:1 NPU812 flash-attn is CUDA-only" in run.stdout and "README.md" not in run.stdout
    assert try_repo(repo, "cuda2npu", cache).returncode == 1
    assert (repo / "scripts" / "launch.sh").read_text() == "export ASCEND_RT_VISIBLE_DEVICES=0,1\ntorchrun train.py\n"
    assert (repo / "README.md").read_text() == "Runs on CUDA_VISIBLE_DEVICES=0.\n"
