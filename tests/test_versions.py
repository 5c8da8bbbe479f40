"""Porting for a chosen torch_npu release: the version data, the project's pin, the gated rules,
and Ascend's op-support facts (cuda2npu/data/versions.json, op_support.json)."""

import json
import re
import shutil
from pathlib import Path

import pytest

from cuda2npu import opsupport, pins, versions
from cuda2npu.catalog import load_snapshot
from cuda2npu.engine import Engine
from cuda2npu.rulebook import load_rulebook
from cuda2npu.versions import Release, for_release

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "versions"
BOOK = load_rulebook()
KNOWN = versions.known()


# -- the data against itself ------------------------------------------------------------------

def test_every_release_line_is_known_oldest_first_and_the_newest_is_the_snapshot():
    assert KNOWN[0] == "2.1.0.post17" and KNOWN[-1] == "2.14.0" and len(KNOWN) == 14
    assert versions.newest() == load_snapshot()["wheels"]["torch_npu"]
    for version in KNOWN:
        facts = Release(version).facts
        assert re.fullmatch(r"2\.\d+\.\d+", facts["torch"]) and facts["torch"] == ".".join(version.split(".")[:3])
        assert re.fullmatch(r"20\d\d-\d\d-\d\d", facts["built"])
    assert "missing" not in Release("2.14.0").facts


def test_every_rewrite_target_is_gated():
    """Every torch_npu name a rename or swap writes lies in a module the version data covers (torch's
    own names, such as torch.OutOfMemoryError, come with the user's torch)."""
    modules = {m for v in KNOWN for m in Release(v).facts.get("missing", {})} | set(load_snapshot()["modules"])
    for rule in BOOK:
        targets = [new for _, new in rule.pairs()] if rule.kind == "rename" else \
            [rule.get("replace")] if rule.kind == "call" else []
        for new in (t for t in targets if t.startswith(("torch.npu", "torch_npu"))):
            assert new in modules or versions._split(new, dict.fromkeys(modules))[0] is not None, f"{rule.id}: {new}"


@pytest.mark.parametrize("version", KNOWN)
def test_a_port_uses_only_names_the_release_has(version):
    """Every torch.cuda name a rename rule covers, called once: the output names only what exists there."""
    calls = sorted({old for rule in BOOK.of_kind("rename") for old, new in rule.pairs() if old.startswith("torch.cuda.")})
    source = "import torch\n" + "".join(f"{old}()\n" for old in calls)
    at = Release(version)
    result = Engine(for_release(BOOK, at)).migrate(source)
    written = set(re.findall(r"\btorch\.npu(?:\.\w+)+", result.code))
    assert written and [name for name in sorted(written) if not at.has(name)] == []
    left = {f.message.split("`")[1] for f in result.findings if "is left" in f.message}
    assert all(not at.has(name.replace("torch.cuda", "torch.npu").replace(".nvtx.", ".mstx.")) for name in left)


def test_facts_checked_by_hand_against_the_wheels():
    old = Release("2.4.0.post4")
    assert not old.has("torch.npu.ipc_collect") and not old.has("torch.npu.StreamContext")
    assert old.has("torch.npu.synchronize") and old.has("torch_npu.optim.NpuFusedAdamW")
    assert Release("2.1.0.post17").has("torch.npu.ipc_collect") and Release("2.5.1.post1").has("torch.npu.StreamContext")
    assert not Release("2.8.0.post5").has("torch.npu.ExternalStream") and Release("2.9.0.post9").has("torch.npu.ExternalStream")
    assert old.present_in("torch.npu.ipc_collect") == "2.1.0.post17, 2.6.0.post5+"
    assert [Release(v).facts["autoload"] for v in ("2.4.0.post4", "2.5.1.post1")] == [False, True]
    assert Release("2.14.0").facts["compile_backends"] == ["npu", "npugraph_ex", "npugraphs"]
    assert not Release("2.9.1").has_param("torch.npu.is_bf16_supported", "including_emulation")


def test_op_support_facts_checked_by_hand_against_the_pages():
    assert opsupport.pages_for("2.4.0") == "2.7" and opsupport.pages_for("2.14.0") == "2.13"
    assert opsupport.pages_for("2.10.0") == "2.10"
    unsupported = dict(opsupport.names("unsupported", "2.13", "A2"))
    fallback = dict(opsupport.names("cpu_fallback", "2.13", "A2"))
    assert unsupported["torch.nn.RNN"].endswith("pytorch_2-13-0/torch-nn.md")
    assert "torch.func.vmap" in unsupported and "torch.nn.Linear" not in unsupported
    assert "torch.nn.TransformerEncoder" not in unsupported  # its own forward() is marked supported
    assert "torch.linalg.lstsq" in fallback and "torch.nn.functional.hardswish" in fallback
    assert len(dict(opsupport.names("unsupported", "2.13", "950"))) > 4 * len(unsupported)
    data = json.loads(opsupport.DATA.read_text(encoding="utf-8"))
    assert re.fullmatch(r"[0-9a-f]{40}", data["source"]["revision"]) and set(data["sets"]) >= {"2.7", "2.9", "2.13"}


# -- the project's pin ------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "text"), [
    ("requirements.txt", "torch==2.4.0\ntorch-npu==2.4.0.post4  # cluster image\n"),
    ("requirements/base.txt", "numpy\ntorch_npu==2.4.0.post4\n"),
    ("pyproject.toml", '[project]\nname = "x"\ndependencies = ["torch==2.4.0", "torch-npu==2.4.0.post4"]\n'),
    ("pyproject.toml", '[project]\nname = "x"\n# torch-npu==2.1.0.post17 was too old\ndependencies = []\n'
                       '[project.optional-dependencies]\nascend = [\n  "torch_npu[extra] == 2.4.0.post4; '
                       'platform_machine == \'aarch64\'",\n]\n'),
    ("pyproject.toml", '[project]\nname = "x"\n[dependency-groups]\nnpu = ["Torch-NPU==2.4.0.post4"]\n'),
    ("requirements.txt", "-r base.txt\n--extra-index-url https://x\ntorch-npu==2.4.0.post4 ; python_version >= '3.9'\n"),
    ("setup.cfg", "[options]\ninstall_requires =\n    torch-npu == 2.4.0.post4\n"),
    ("setup.py", "from setuptools import setup\nsetup(install_requires=['torch_npu==2.4.0.post4'])\n"),
    ("environment.yml", "dependencies:\n  - pip:\n    - torch-npu==2.4.0.post4\n"),
])
def test_the_pin_is_found_in_each_kind_of_dependency_file(tmp_path, name, text):
    (tmp_path / name).parent.mkdir(exist_ok=True)
    (tmp_path / name).write_text(text)
    (tmp_path / "src").mkdir()
    choice = pins.choose(None, None, tmp_path / "src")
    assert choice.release.version == "2.4.0.post4"
    assert re.fullmatch(rf"torch-npu==2\.4\.0\.post4 in .*{re.escape(name)}:\d", choice.why)


def test_a_requirement_means_the_oldest_release_it_admits():
    assert pins.matching(">=2.6,<2.8", "x").version == "2.6.0.post5"
    assert pins.matching("~=2.9.0", "x").version == "2.9.0.post9"
    assert pins.matching("==2.4.0", "x").version == "2.4.0.post4"  # the line's newest known build
    with pytest.raises(versions.VersionError, match="admits no known release"):
        pins.matching("==2.2.0", "requirements.txt:3")


def test_without_a_pin_the_newest_and_a_commented_pin_does_not_count(tmp_path):
    (tmp_path / "requirements.txt").write_text("# torch-npu==2.4.0.post4\ntorch-npu\n")
    (tmp_path / ".git").mkdir()
    choice = pins.choose(None, None, tmp_path)
    assert (choice.release.version, choice.why) == ("2.14.0", "the newest known release; no torch-npu pin found")


# -- end to end -------------------------------------------------------------------------------

def _port(tmp_path, cli, *args):
    tree = tmp_path / "project"
    shutil.copytree(FIXTURES / "gpu", tree)
    result = cli("migrate", "--jobs", "1", "--no-config", *args, str(tree))
    assert result.exit_code == 0, result.output
    findings = [line[len(str(tree)) + 1:] for line in result.stderr.splitlines() if line.startswith(str(tree))]
    return tree, findings, result.stderr.splitlines()


def test_the_fixture_ports_for_the_pinned_release(tmp_path, cli):
    tree, findings, lines = _port(tmp_path, cli)
    assert (tree / "streams.py").read_text() == (FIXTURES / "npu-2.4.0.post4" / "streams.py").read_text()
    assert findings == (FIXTURES / "findings-2.4.0.post4.txt").read_text(encoding="utf-8").splitlines()
    assert lines[-1] == f"cuda2npu: for torch_npu 2.4.0.post4 (torch-npu==2.4.0.post4 in {tree}/requirements.txt:3)"


def test_the_same_fixture_ports_differently_for_the_newest(tmp_path, cli):
    tree, findings, lines = _port(tmp_path, cli, "--torch-npu-version", "2.14.0")
    assert (tree / "streams.py").read_text() == (FIXTURES / "npu-2.14.0" / "streams.py").read_text()
    assert findings == [] and lines[-1] == "cuda2npu: for torch_npu 2.14.0 (--torch-npu-version)"


def test_an_unknown_version_is_a_usage_error_listing_the_known_ones(tmp_path, cli):
    (tmp_path / "t.py").write_text("import torch\ntorch.cuda.synchronize()\n")
    result = cli("migrate", "--check", "--torch-npu-version", "2.2.0", str(tmp_path))
    assert result.exit_code == 2 and "2.2.0 is not a known release (known: 2.1.0.post17, " in result.stderr
    (tmp_path / "pyproject.toml").write_text('[tool.cuda2npu]\ntorch-npu-version = "9"\n')
    result = cli("migrate", "--check", str(tmp_path / "t.py"))
    assert result.exit_code == 2 and "[tool.cuda2npu] torch-npu-version: torch_npu 9 is not a known" in result.stderr
    (tmp_path / "pyproject.toml").write_text('[tool.cuda2npu]\ntorch-npu-version = "2.4.0.post4"\n')
    result = cli("migrate", "--diff", str(tmp_path / "t.py"))
    assert result.exit_code == 1 and "+torch.npu.synchronize()" in result.stdout
    assert result.stderr.splitlines()[-1] == f"cuda2npu: for torch_npu 2.4.0.post4 ({tmp_path / 'pyproject.toml'})"


def test_rules_and_explain_show_what_a_release_changes(cli):
    result = cli("rules", "--torch-npu-version", "2.8.0.post5")
    lines = result.stdout.splitlines()
    assert result.exit_code == 0 and lines[0] == "torch_npu 2.8.0.post5 against 2.14.0: 7 rewrite(s) reported instead"
    assert lines[2].startswith("  NPU201\t`torch.cuda.MemPool(use_on_oom=)`: `torch.npu.MemPool` takes no `use_on_oom=` ")
    assert lines[1].startswith("  NPU201\t`torch.cuda.ExternalStream` is left: its twin `torch.npu.ExternalStream` "
                               "is not in torch_npu 2.8.0.post5 (present in 2.7.1.post11, 2.9.0.post9, 2.10.0.post7+)")
    assert cli("rules", "--torch-npu-version", "2.13.0").stdout.splitlines() == [
        "torch_npu 2.13.0 against 2.14.0: 0 rewrite(s) reported instead"]
    explained = cli("explain", "NPU204", "--torch-npu-version", "2.9.1").stdout
    assert "\nIn torch_npu 2.9.1: \n  `torch.cuda.nvtx.range_push` is left" in explained
    assert cli("explain", "NPU204", "--torch-npu-version", "2.14.0").stdout.endswith(
        "In torch_npu 2.14.0: as in the newest release\n")


def test_op_support_findings_follow_the_chip_and_analyze_counts_them(tmp_path, cli):
    (tmp_path / "tagger.py").write_text(
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"
        "rnn = nn.RNN(8, 8).cuda()\ny = F.hardswish(x) + F.hardswish(x)\nsol = torch.linalg.lstsq(a, b)\n")
    a2 = cli("migrate", "--check", "--no-config", str(tmp_path)).stderr
    assert re.findall(r"(NPU90\d) `([\w.]+)`", a2) == [
        ("NPU901", "torch.nn.RNN"), ("NPU902", "torch.nn.functional.hardswish"), ("NPU902", "torch.linalg.lstsq")]
    chip = cli("migrate", "--check", "--no-config", "--soc", "950", str(tmp_path)).stderr
    assert ("NPU901", "torch.linalg.lstsq") in re.findall(r"(NPU90\d) `([\w.]+)`", chip) and "Ascend 950DT" in chip
    report = json.loads(cli("analyze", "--no-config", "--format", "json", str(tmp_path)).stdout)
    assert report["total"]["apis"] == {"unsupported": {"torch.nn.RNN": 1},
                                       "cpu_fallback": {"torch.linalg.lstsq": 1, "torch.nn.functional.hardswish": 1}}
    (tmp_path / "model.py").write_text("import torch.nn as nn\nrnn = nn.RNN(8, 8)\n")  # no CUDA: analyze only
    assert "model.py" not in cli("migrate", "--check", "--no-config", str(tmp_path)).stderr
    report = json.loads(cli("analyze", "--no-config", "--format", "json", str(tmp_path)).stdout)
    assert report["total"]["apis"]["unsupported"] == {"torch.nn.RNN": 2}


def test_the_release_and_chip_are_part_of_the_cache_key(tmp_path, cli):
    (tmp_path / "t.py").write_text("import torch\ntorch.cuda.ipc_collect()\n")
    assert "is left" not in cli("migrate", "--check", "--no-config", str(tmp_path)).stderr
    again = cli("migrate", "--check", "--no-config", "--torch-npu-version", "2.4.0.post4", str(tmp_path))
    assert "`torch.cuda.ipc_collect` is left" in again.stderr


def test_the_per_release_table_of_the_docs_is_current():
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "scripts" / "sync_versions.py"
    spec = importlib.util.spec_from_file_location("sync_versions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data = json.loads(versions.DATA.read_text(encoding="utf-8"))
    assert module.table(data) in module.DOC.read_text(encoding="utf-8"), "run: python scripts/sync_versions.py"


def test_the_lists_the_command_line_holds_without_loading_data_agree_with_the_data():
    from cuda2npu.cli import migrate
    from cuda2npu.config import SOCS
    from cuda2npu.report import FORMATS

    assert set(SOCS) == set(opsupport.socs())
    choices = {p.name: p.type.choices for p in migrate.params if hasattr(p.type, "choices")}
    assert set(choices["report_format"]) == set(FORMATS)
    assert set(choices["output_format"]) - {"text"} <= set(FORMATS)
