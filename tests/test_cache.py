"""The results cache: a hit answers exactly as a miss; anything a result depends on invalidates it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from cuda2npu import cache as cache_mod

CUDA = b"import torch\nx = torch.zeros(1).cuda()\ny = torch.cuda.get_device_capability()\n"
NPU = b"import torch\nimport torch_npu\nx = torch.zeros(1).npu()\ny = torch.npu.get_device_capability()\n"


def cache_dir() -> Path:
    return Path(os.environ["CUDA2NPU_CACHE_DIR"])


def cache_files() -> list[Path]:
    return sorted(p for p in cache_dir().glob("*.json"))


def entries() -> dict:
    (path,) = cache_files()
    return json.loads(path.read_bytes().partition(b"\n")[2])["entries"]


def outcome(result):
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "train.py").write_bytes(CUDA)
    (tmp_path / "plain.py").write_bytes(b"x = 1\n")
    (tmp_path / "bad.py").write_bytes(b"import torch\nx = t.cuda(\n")
    (tmp_path / "run.sh").write_bytes(b"CUDA_VISIBLE_DEVICES=0 python train.py\n")
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                     "source": ["import torch\n", "x = t.cuda()"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "nb.ipynb").write_text(json.dumps(nb, indent=1) + "\n")
    shutil.copytree(ROOT / "fixtures" / "gpu" / "rotary_pkg", tmp_path / "rotary_pkg")
    return tmp_path


@pytest.mark.parametrize("mode", [["--check"], ["--diff"], ["--check", "--fail-on", "info"], ["-q", "--check"]])
def test_a_hit_prints_and_exits_exactly_as_the_miss(cli, tree, mode):
    first = cli("migrate", "--no-config", *mode, tree)
    assert first.exit_code == 1 and "bad.py:2" in first.stderr
    assert len(entries()) == 8  # every file but the unreadable ones (none here)
    second = cli("migrate", "--no-config", *mode, tree)
    assert outcome(second) == outcome(first)
    assert outcome(cli("migrate", "--no-config", "--no-cache", *mode, tree)) == outcome(first)


def test_write_mode_from_a_cached_check_writes_the_same_bytes(cli, tree, tmp_path_factory):
    uncached = tmp_path_factory.mktemp("uncached")
    shutil.copytree(tree, uncached, dirs_exist_ok=True)
    assert cli("migrate", "--no-config", "--check", tree).exit_code == 1
    written = cli("migrate", "--no-config", tree)
    reference = cli("migrate", "--no-config", "--no-cache", uncached)
    assert written.exit_code == reference.exit_code == 1  # bad.py fails
    assert written.stderr.replace(str(tree), "T") == reference.stderr.replace(str(uncached), "T")
    for path in tree.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (uncached / path.relative_to(tree)).read_bytes(), path
    assert (tree / "train.py").read_bytes() == NPU
    assert str(tree / "train.py") not in entries()  # the old text's entry went with it
    assert cli("migrate", "--no-config", "--check", tree / "train.py").exit_code == 0


def test_a_hit_loads_neither_libcst_nor_the_rule_files_nor_pathspec(tree):
    script = ("import sys\nfrom cuda2npu.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
              "    print(e.code, *(m in sys.modules for m in ('libcst', 'yaml', 'pathspec')), file=sys.stderr)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run():
        return subprocess.run([sys.executable, "-c", script, "migrate", "--check", "--no-config", str(tree)],
                              capture_output=True, text=True, env=env, timeout=300).stderr.splitlines()[-1]

    assert run() == "1 True True True"
    assert run() == "1 False False False"  # the default excludes' translations are cached too


def test_excludes_changed_between_cached_runs_still_apply(cli, tree):
    train = tree / "train.py"
    assert "would migrate" in cli("migrate", "--check", train).stderr
    (tree / "pyproject.toml").write_text('[tool.cuda2npu]\nextend-exclude = ["tr*.py"]\n')
    assert "0 files scanned" in cli("migrate", "--check", train).stderr
    (tree / "pyproject.toml").write_text('[tool.cuda2npu]\nextend-exclude = ["tr*.py", "!train.py"]\n')
    assert "would migrate" in cli("migrate", "--check", train).stderr
    header = json.loads(cache_files()[0].read_bytes().partition(b"\n")[2])["header"]
    assert header["globs"]["tr*.py"][1] is True and header["globs"]["!train.py"][1] is False


def test_editing_a_file_or_touching_it(cli, tree):
    cli("migrate", "--no-config", "--check", tree)
    os.utime(tree / "train.py", ns=(1, 1))  # touched, same bytes: the hash decides, still a hit
    assert "train.py:3:5 NPU203" in cli("migrate", "--no-config", "--check", tree).stderr
    assert entries()[str(tree / "train.py")]["stat"][1] == 1
    (tree / "train.py").write_bytes(CUDA.replace(b"y = ", b"z = "))
    assert "would migrate" in cli("migrate", "--no-config", "--check", tree / "train.py").stderr
    (tree / "train.py").write_bytes(b"import torch\n")
    assert cli("migrate", "--no-config", "--check", tree / "train.py").exit_code == 0


def test_a_changed_dependency_module_invalidates_the_importer(cli, tree):
    model = tree / "rotary_pkg" / "model.py"
    first = cli("migrate", "--no-config", "--check", model)
    assert "NPU340" in first.stderr and "kernels.py" in first.stderr
    (tree / "rotary_pkg" / "kernels.py").write_text("import torch\n\ndef apply_rotary(x, cos, sin):\n    return x\n")
    second = cli("migrate", "--no-config", "--check", model)
    assert "NPU340" not in second.stderr and outcome(second) == outcome(
        cli("migrate", "--no-config", "--check", "--no-cache", model))


def test_rules_config_and_flags_each_have_their_own_results(cli, tree):
    train = tree / "train.py"
    cli("migrate", "--no-config", "--check", train)
    assert "NPU203" not in cli("migrate", "--no-config", "--check", "--ignore", "NPU203", train).stderr
    rules = tree / "acme.yaml"
    rules.write_text("rules:\n  - id: ACME001\n    kind: report\n    summary: s\n    match: torch.zeros\n"
                     "    message: zeros seen\n")
    assert "ACME001 zeros seen" in cli("migrate", "--no-config", "--check", "--rules", rules, train).stderr
    rules.write_text(rules.read_text().replace("zeros seen", "zeros again"))
    assert "ACME001 zeros again" in cli("migrate", "--no-config", "--check", "--rules", rules, train).stderr
    (tree / "pyproject.toml").write_text('[tool.cuda2npu]\nignore = ["NPU203"]\n')
    assert "NPU203" not in cli("migrate", "--check", train).stderr
    (tree / "pyproject.toml").write_text('[tool.cuda2npu]\nignore = ["NPU102"]\n')
    configured = cli("migrate", "--check", train).stderr
    assert "NPU203" in configured and "would migrate" in configured
    assert len(cache_files()) == 5  # the config's ignore = the flag's: the same results, one cache file


def test_a_per_file_ignore_is_part_of_the_entry(cli, tree):
    train = tree / "train.py"
    (tree / "pyproject.toml").write_text('[tool.cuda2npu.per-file-ignores]\n"train.py" = ["NPU203"]\n')
    assert "NPU203" not in cli("migrate", "--check", train).stderr
    assert "NPU203" not in cli("migrate", "--check", train).stderr


def test_a_truncated_or_planted_cache_file_is_ignored(cli, tree):
    train = tree / "train.py"
    first = cli("migrate", "--no-config", "--check", train)
    (path,) = cache_files()
    path.write_bytes(path.read_bytes()[:40])
    assert outcome(cli("migrate", "--no-config", "--check", train)) == outcome(first)
    assert str(train) in entries()
    body = path.read_bytes().partition(b"\n")[2].replace(b"would change", b"x")
    forged = json.loads(body)
    forged["entries"][str(train)]["findings"] = [["NPU999", 1, 1, "warning", "planted"]]
    path.write_bytes(b"0" * 128 + b"\n" + json.dumps(forged).encode())  # not signed with this user's key
    assert outcome(cli("migrate", "--no-config", "--check", train)) == outcome(first)


def test_no_cache_neither_reads_nor_writes(cli, tree):
    train = tree / "train.py"
    assert cli("migrate", "--no-config", "--check", "--no-cache", train).exit_code == 1
    assert not cache_files()
    cli("migrate", "--no-config", "--check", train)
    (path,) = cache_files()
    body = json.loads(path.read_bytes().partition(b"\n")[2])
    body["entries"][str(train)]["findings"] = [["NPU999", 1, 1, "warning", "from the cache", None]]
    body = json.dumps(body).encode()
    key = (cache_dir() / "key").read_bytes()
    path.write_bytes(cache_mod._sign(key, body) + b"\n" + body)  # a lying entry, signed: it is used
    assert "from the cache" in cli("migrate", "--no-config", "--check", train).stderr
    assert "from the cache" not in cli("migrate", "--no-config", "--check", "--no-cache", train).stderr
    before = path.read_bytes()
    (train).write_bytes(CUDA + b"# more\n")
    cli("migrate", "--no-config", "--check", "--no-cache", train)
    assert path.read_bytes() == before
    assert "from the cache" not in cli("migrate", "--no-config", "--check", train).stderr


def test_two_concurrent_runs_keep_a_sound_cache(tree):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    names = ["train.py", "nb.ipynb", "run.sh", "rotary_pkg"]
    runs = [subprocess.Popen([sys.executable, "-m", "cuda2npu", "migrate", "--check", "--no-config", str(tree / n)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for n in names * 2]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert all(run.returncode == 1 for run in runs)
    assert outputs[:4] == outputs[4:]
    assert set(entries()) <= {str(p) for p in tree.rglob("*") if p.is_file()}


def test_cache_dir_from_the_config_and_a_folder_that_is_not_a_cache(cli, tree, monkeypatch):
    monkeypatch.delenv("CUDA2NPU_CACHE_DIR")
    monkeypatch.setattr(cache_mod, "default_dir", lambda: tree / "user-cache")  # keys stay out of ~
    (tree / "pyproject.toml").write_text('[tool.cuda2npu]\ncache-dir = ".cuda2npu_cache"\n')
    assert cli("migrate", "--check", tree / "train.py").exit_code == 1
    assert (tree / ".cuda2npu_cache" / ".gitignore").read_text().endswith("*\n")
    assert len(list((tree / ".cuda2npu_cache").glob("*.json"))) == 1
    assert not (tree / ".cuda2npu_cache" / "key").exists()  # the key lives in the user's folder
    (tree / "pyproject.toml").write_text('[tool.cuda2npu]\ncache-dir = "rotary_pkg"\n')
    refused = cli("migrate", "--check", tree / "train.py")
    assert refused.exit_code == 2 and "is not a cuda2npu cache" in refused.stderr
    assert sorted(p.name for p in (tree / "rotary_pkg").iterdir()) == ["__init__.py", "kernels.py", "model.py"]
    (tree / "pyproject.toml").write_text("[tool.cuda2npu]\n")
    (tree / "user-cache" / "corpus").mkdir()  # the default folder is never refused, whatever it holds
    (tree / "user-cache" / "CACHEDIR.TAG").unlink()
    assert cli("migrate", "--check", tree / "train.py").exit_code == 1
    assert len(list((tree / "user-cache").glob("*.json"))) == 1


def test_jobs_two_fills_the_cache_like_jobs_one(cli, tree):
    for i in range(40):
        (tree / f"m{i}.py").write_bytes(CUDA)
    first = cli("migrate", "--no-config", "--check", "--jobs", "2", tree)
    assert len(entries()) == 48
    assert outcome(cli("migrate", "--no-config", "--check", "--jobs", "2", tree)) == outcome(first)


def test_cache_hits_between_pooled_files_keep_the_order(cli, tree):
    """The pool takes the files between cache hits several to a task; results stay in order."""
    for i in range(40):
        (tree / f"m{i:02}.py").write_bytes(CUDA)
    cli("migrate", "--no-config", "--check", "--jobs", "2", tree)
    for i in range(0, 40, 3):  # misses between hits
        (tree / f"m{i:02}.py").write_bytes(CUDA + f"z{i} = 'cuda'\n".encode())
    expected = cli("migrate", "--no-config", "--check", "--jobs", "1", "--no-cache", tree)
    assert outcome(cli("migrate", "--no-config", "--check", "--jobs", "2", tree)) == outcome(expected)
    assert "m39.py" in expected.stderr


def test_without_a_home_folder_the_run_works_uncached(cli, tree, monkeypatch):
    from pathlib import Path as PathClass

    monkeypatch.delenv("CUDA2NPU_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(PathClass, "home", staticmethod(no_home))
    result = cli("migrate", "--no-config", "--check", tree / "train.py")
    assert result.exit_code == 1 and result.traceback == "" and "would migrate" in result.stderr
