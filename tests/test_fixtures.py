"""The realistic scripts in fixtures/gpu migrate to exactly fixtures/npu, through the CLI, with
exactly the findings listed in fixtures/findings.txt."""

import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cuda2npu.cli import main
from cuda2npu.engine import migrate_source
from cuda2npu.rulebook import load_rulebook

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


NAMES = _files(FIXTURES / "gpu")


def test_enough_fixtures():
    assert len(NAMES) >= 8
    assert NAMES == _files(FIXTURES / "npu")


def _findings(stderr: str, tree: Path) -> list[str]:
    prefix = str(tree) + "/"
    return [line[len(prefix):] for line in stderr.splitlines() if line.startswith(prefix)]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One in-place CLI run over a copy of every fixture: the tree and the findings it printed."""
    tree = tmp_path_factory.mktemp("port") / "gpu"
    shutil.copytree(FIXTURES / "gpu", tree)
    result = CliRunner().invoke(main, ["migrate", "--jobs", "1", "--no-config", str(tree)])
    assert result.exit_code == 0, result.output
    return tree, _findings(result.stderr, tree)


@pytest.fixture(scope="module")
def migrated(run):
    return run[0]


def test_findings_are_exactly_the_expected_ones(run):
    expected = (FIXTURES / "findings.txt").read_text(encoding="utf-8").splitlines()
    assert run[1] == expected


@pytest.mark.parametrize("name", NAMES)
def test_fixture_migrates_exactly(migrated, name):
    assert (migrated / name).read_bytes() == (FIXTURES / "npu" / name).read_bytes()


def test_expected_output_is_stable(tmp_path):
    """A second run over the expected output changes nothing, and each fused-optimizer trap and
    kept guard is still reported (a CI gate over a ported tree keeps seeing them)."""
    tree = tmp_path / "npu"
    shutil.copytree(FIXTURES / "npu", tree)
    result = CliRunner().invoke(main, ["migrate", "--check", "--no-config", str(tree)])
    assert result.exit_code == 0, result.output
    assert {name: (tree / name).read_bytes() for name in NAMES} == {
        name: (FIXTURES / "npu" / name).read_bytes() for name in NAMES}
    again = {f.split(" ", 1)[0].split(":")[0] + " " + f.split(" ")[1] for f in _findings(result.stderr, tree)}
    for kept in ("ported_fused_traps.py NPU321", "triton_layernorm.py NPU340", "rotary_pkg/model.py NPU340",
                 "flash_attn_wrapper.py NPU340", "rotary_pkg/model.py NPU343"):
        assert kept in again


def test_file_without_cuda_is_untouched(tmp_path):
    source = FIXTURES / "gpu" / "no_cuda_utils.py"
    target = tmp_path / source.name
    shutil.copy2(source, target)
    before = target.stat()
    result = CliRunner().invoke(main, ["migrate", str(target)])
    assert result.exit_code == 0
    assert target.read_bytes() == source.read_bytes()
    assert target.stat().st_mtime_ns == before.st_mtime_ns
    assert target.stat().st_ino == before.st_ino


def test_out_dir_mirrors_the_tree_and_leaves_inputs(tmp_path):
    out = tmp_path / "ported"
    result = CliRunner().invoke(main, ["migrate", "--out-dir", str(out), str(FIXTURES / "gpu")])
    assert result.exit_code == 0, result.output
    for name in NAMES:
        assert (out / name).read_bytes() == (FIXTURES / "npu" / name).read_bytes()


def test_jobs_one_and_two_give_the_same_bytes(tmp_path):
    """The fixtures and every rule example (with all rules on), enough files for the process pool to
    start: identical results either way, and the same as the fixtures and the API give."""
    expected = {}
    for copy in range(3):
        for name in NAMES:
            expected[Path(f"copy{copy}", name)] = (FIXTURES / "npu" / name).read_bytes()
    for rule in load_rulebook():
        for n, example in enumerate(rule.examples if rule.kind != "text" else (), 1):
            expected[Path("examples", f"{rule.id}_{n}.py")] = migrate_source(example.before).code.encode()
    outputs = {}
    for jobs in ("1", "2"):
        tree = tmp_path / f"jobs{jobs}"
        for copy in range(3):
            shutil.copytree(FIXTURES / "gpu", tree / f"copy{copy}")
        (tree / "examples").mkdir()
        for rule in load_rulebook():
            for n, example in enumerate(rule.examples if rule.kind != "text" else (), 1):
                (tree / "examples" / f"{rule.id}_{n}.py").write_text(example.before)
        result = CliRunner().invoke(main, ["migrate", "--no-config", "--jobs", jobs, str(tree)])
        assert result.exit_code == 0, result.output
        outputs[jobs] = {p.relative_to(tree): p.read_bytes() for p in sorted(tree.rglob("*")) if p.is_file()}
    assert outputs["1"] == outputs["2"] == expected


@pytest.mark.skipif(shutil.which("git") is None or shutil.which("patch") is None, reason="needs git and patch")
def test_the_diff_of_a_mixed_tree_applies_with_git_apply_and_patch(migrated, tmp_path):
    """--diff over .py, .ipynb and .sh files is one patch that git apply and patch -p1 both take,
    giving byte for byte the in-place result."""
    import subprocess

    for tool in ("git", "patch"):
        tree = tmp_path / tool
        shutil.copytree(FIXTURES / "gpu", tree)
        result = subprocess.run([sys.executable, "-m", "cuda2npu", "migrate", "--diff", "--no-cache", "--no-config",
                                 "--jobs", "1", "."], cwd=tree, capture_output=True, timeout=300)
        assert result.returncode == 1 and b"+++ b/finetune_notebook.ipynb" in result.stdout
        assert b"+++ b/launch_ddp.sh" in result.stdout
        command = ["git", "apply", "-"] if tool == "git" else ["patch", "-p1", "--quiet"]
        subprocess.run(command, cwd=tree, input=result.stdout, check=True, capture_output=True)
        assert {n: (tree / n).read_bytes() for n in NAMES} == {n: (migrated / n).read_bytes() for n in NAMES}


# -- the accelerator target: the same inputs, device-agnostic outputs in fixtures/accelerator --------

@pytest.fixture(scope="module")
def portable(tmp_path_factory):
    """One in-place run with --target accelerator over a copy of every fixture (newest torch)."""
    tree = tmp_path_factory.mktemp("portable") / "gpu"
    shutil.copytree(FIXTURES / "gpu", tree)
    result = CliRunner().invoke(main, ["migrate", "--jobs", "1", "--no-config", "--target", "accelerator", str(tree)])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1].endswith("target accelerator")
    return tree, _findings(result.stderr, tree)


def test_accelerator_target_gives_exactly_the_expected_files_and_findings(portable):
    tree, findings = portable
    assert NAMES == _files(FIXTURES / "accelerator")
    assert {n: (tree / n).read_bytes() for n in NAMES} == {n: (FIXTURES / "accelerator" / n).read_bytes() for n in NAMES}
    assert findings == (FIXTURES / "findings-accelerator.txt").read_text(encoding="utf-8").splitlines()


def test_accelerator_output_is_portable_and_stable(portable, tmp_path):
    """No hard-coded device type is written and no torch_npu imported; a second run changes nothing."""
    tree, _ = portable
    for name in NAMES:
        before, after = (FIXTURES / "gpu" / name).read_text(), (tree / name).read_text()
        assert after.count("torch_npu") == before.count("torch_npu"), name
        assert after.count('"npu"') == before.count('"npu"') and after.count("torch.npu.") == before.count("torch.npu."), name
    again = tmp_path / "again"
    shutil.copytree(FIXTURES / "accelerator", again)
    result = CliRunner().invoke(main, ["migrate", "--check", "--no-config", "--target", "accelerator", str(again)])
    assert result.exit_code == 0, result.output


def test_accelerator_target_at_an_older_torch_writes_the_fallbacks(tmp_path):
    """torch_npu 2.7.1 (torch 2.7): torch.accelerator has no memory functions yet, so
    torch.get_device_module() writes them."""
    shutil.copy(FIXTURES / "gpu" / "amp_memory_stats.py", tmp_path)
    result = CliRunner().invoke(main, ["migrate", "--no-config", "--target", "accelerator", "--torch-npu-version",
                                       "2.7.1.post11", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == "cuda2npu: for torch 2.7 (--torch-npu-version), target accelerator"
    expected = FIXTURES / "versions" / "accelerator-2.7" / "amp_memory_stats.py"
    assert (tmp_path / "amp_memory_stats.py").read_bytes() == expected.read_bytes()
