"""``.gitignore`` is honoured without running git: a repository's config can never run a command."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cuda2npu.gitignore import GitIgnore

CUDA = "import torch\nx = t.cuda()\n"
NPU = "import torch\nimport torch_npu\nx = t.npu()\n"
GIT = shutil.which("git")


def tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


@pytest.mark.skipif(GIT is None, reason="needs git to write the hostile config")
def test_a_repositorys_git_config_never_runs(proc, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    tree(repo, {"train.py": CUDA, ".gitignore": "gen/\n", "gen/g.py": CUDA})
    marker = tmp_path / "PWNED"
    subprocess.run([GIT, "init", "-q", str(repo)], check=True)
    for key in ("core.fsmonitor", "core.pager", "core.sshCommand", "diff.external"):
        subprocess.run([GIT, "-C", str(repo), "config", key, f"touch {marker}; true"], check=True)
    hooks = repo / ".git" / "hooks"
    for hook in ("post-checkout", "pre-commit", "fsmonitor-watchman"):
        (hooks / hook).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (hooks / hook).chmod(0o755)
    for args in (("--check",), ("--diff",), ()):
        done = proc("migrate", *args, repo, cwd=tmp_path)
        assert done.returncode in (0, 1), done.stderr
        assert not marker.exists(), args
    assert (repo / "train.py").read_text() == NPU
    assert (repo / "gen" / "g.py").read_text() == CUDA  # still ignored


def test_gitignore_is_honoured_without_git_on_path(proc, tmp_path):
    tree(tmp_path, {"train.py": CUDA, "gen/g.py": CUDA, ".gitignore": "gen/\n"})
    (tmp_path / ".git").mkdir()
    done = proc("migrate", tmp_path, env={"PATH": ""})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "train.py").read_text() == NPU
    assert (tmp_path / "gen" / "g.py").read_text() == CUDA


def test_git_precedence_nested_files_negation_and_info_exclude(tmp_path):
    tree(tmp_path, {
        ".gitignore": "*.gen.py\nlogs/\n/top_only.py\n",
        "pkg/.gitignore": "!keep.gen.py\nlocal.py\n",
        ".git/info/exclude": "secret.py\n",
    })
    ignored = GitIgnore(tmp_path)
    cases = {
        "a.gen.py": True, "pkg/a.gen.py": True, "pkg/keep.gen.py": False,  # negated below
        "keep.gen.py": True,  # the negation holds only in pkg/
        "pkg/local.py": True, "local.py": False, "top_only.py": True, "pkg/top_only.py": False,
        "secret.py": True, "pkg/secret.py": True, "train.py": False,
    }
    for name, expected in cases.items():
        assert ignored(tmp_path / name, False) is expected, name
    assert ignored(tmp_path / "logs", True) is True
    assert ignored(tmp_path / "logs", False) is False  # a file named like an ignored folder


def test_outside_a_work_tree_gitignore_is_not_used(cli, tmp_path):
    tree(tmp_path, {"train.py": CUDA, "gen/g.py": CUDA, ".gitignore": "gen/\n"})
    assert cli("migrate", tmp_path).exit_code == 0
    assert (tmp_path / "gen" / "g.py").read_text() == NPU  # no .git: git would not ignore it either


def test_walk_from_a_subfolder_uses_the_ignore_files_above_it(cli, tmp_path):
    tree(tmp_path, {".gitignore": "src/gen/\n", "src/train.py": CUDA, "src/gen/g.py": CUDA})
    (tmp_path / ".git").mkdir()
    assert cli("migrate", tmp_path / "src").exit_code == 0
    assert (tmp_path / "src" / "train.py").read_text() == NPU
    assert (tmp_path / "src" / "gen" / "g.py").read_text() == CUDA


@pytest.mark.parametrize("folder", ["build", "dist", "venv"])
def test_a_project_below_a_folder_named_like_an_exclude_is_migrated(cli, tmp_path, monkeypatch, folder):
    project = tmp_path / folder / "proj"
    tree(project, {"train.py": CUDA, "build/x.py": CUDA})
    monkeypatch.chdir(tmp_path)
    result = cli("migrate", "--no-config", project)
    assert result.exit_code == 0, result.stderr
    assert (project / "train.py").read_text() == NPU
    assert (project / "build" / "x.py").read_text() == CUDA  # excludes still apply below it


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_a_tree_or_on_the_command_line_never_blocks(proc, tmp_path):
    tree(tmp_path, {"train.py": CUDA})
    os.mkfifo(tmp_path / "pipe.py")
    walked = proc("migrate", "--check", tmp_path)
    assert walked.returncode == 1, walked.stderr  # train.py would change; the FIFO is not listed
    named = proc("migrate", "--check", tmp_path / "pipe.py")
    assert named.returncode == 1
    assert b"pipe.py: error: not a regular file: skipped" in named.stderr


def test_a_file_over_the_size_limit_is_refused(cli, tmp_path, monkeypatch):
    import cuda2npu.runner as runner

    monkeypatch.setattr(runner, "MAX_FILE_BYTES", 64)
    (tmp_path / "big.py").write_text(CUDA + "# " + "x" * 100 + "\n")
    (tmp_path / "small.py").write_text(CUDA)
    result = cli("migrate", "--jobs", "1", tmp_path)
    assert result.exit_code == 1
    assert "big.py: error: larger than 0 MiB" in result.stderr
    assert (tmp_path / "small.py").read_text() == NPU


# -- what is written, and through what -----------------------------------------------------------

def test_out_dir_never_writes_through_a_link_it_did_not_make(cli, tmp_path):
    src, out, elsewhere = tmp_path / "src", tmp_path / "out", tmp_path / "elsewhere"
    tree(src, {"sub/train.py": CUDA, "top.py": CUDA})
    elsewhere.mkdir()
    out.mkdir()
    (out / "sub").symlink_to(elsewhere, target_is_directory=True)
    result = cli("migrate", "--out-dir", out, src)
    assert result.exit_code == 1
    assert f"{out / 'sub'} is a symlink in the output folder" in result.stderr
    assert list(elsewhere.iterdir()) == []
    assert (out / "top.py").read_text() == NPU
    assert (src / "sub" / "train.py").read_text() == CUDA


def test_a_file_with_hard_links_is_refused_not_split(cli, tmp_path):
    tree(tmp_path, {"a.py": CUDA})
    os.link(tmp_path / "a.py", tmp_path / "b.py")
    result = cli("migrate", "--jobs", "1", tmp_path / "a.py")
    assert result.exit_code == 1
    assert "has 2 hard links: not written" in result.stderr
    assert (tmp_path / "b.py").read_text() == CUDA == (tmp_path / "a.py").read_text()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to own files as another user")
def test_root_keeps_the_owner_and_group_of_a_migrated_file(cli, tmp_path):
    tree(tmp_path, {"a.py": CUDA})
    os.chown(tmp_path / "a.py", 12345, 23456)
    assert cli("migrate", tmp_path / "a.py").exit_code == 0
    info = (tmp_path / "a.py").stat()
    assert (info.st_uid, info.st_gid) == (12345, 23456)
    assert (tmp_path / "a.py").read_text() == NPU


def test_a_diff_into_a_closed_pipe_ends_quietly(tmp_path):
    tree(tmp_path, {f"f{i}.py": CUDA for i in range(30)})
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    import sys
    run = subprocess.run(f"{sys.executable} -m cuda2npu migrate --diff {tmp_path} | head -1", shell=True,
                         capture_output=True, env=env, timeout=60)
    assert run.stdout.startswith(b"--- a/")
    assert b"Traceback" not in run.stderr


def test_yaml_aliases_and_duplicate_keys_in_rule_files_are_refused_quickly(tmp_path):
    from cuda2npu.rulebook import RuleError, load_rulebook

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
        + "rules: []\n")
    with pytest.raises(RuleError, match="YAML aliases"):
        load_rulebook([bomb], builtin=False)
    many = tmp_path / "many.yaml"
    many.write_text("rules:\n  - id: X1\n    kind: report\n    summary: s\n    match: a.b\n    message: m\n"
                    + "".join(f"    k{i}: v\n" for i in range(40000)) + "    k7: again\n")
    with pytest.raises(RuleError, match="duplicate key 'k7'"):
        load_rulebook([many], builtin=False)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to apply the patch")
@pytest.mark.parametrize("name", ["tab\there.py", "new\nline.py", 'quo"te.py', "back\\slash.py"])
def test_a_diff_of_an_odd_file_name_applies_with_git(proc, tmp_path, name):
    work = tmp_path / "work"
    work.mkdir()
    (work / name).write_text(CUDA)
    done = proc("migrate", "--diff", name, cwd=work)
    assert done.returncode == 1, done.stderr
    patch = tmp_path / "p.diff"
    patch.write_bytes(done.stdout)
    subprocess.run([GIT, "init", "-q", str(work)], check=True)
    applied = subprocess.run([GIT, "-C", str(work), "apply", str(patch)], capture_output=True)
    assert applied.returncode == 0, applied.stderr
    assert (work / name).read_text() == NPU
