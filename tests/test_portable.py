"""The accelerator target: the torch release it writes for, its helpers, its version facts."""

import importlib.util
import json
from pathlib import Path

import pytest

from cuda2npu import portable
from cuda2npu.engine import Engine
from cuda2npu.opsupport import DEFAULT_SOC
from cuda2npu.rulebook import load_rulebook

ROOT = Path(__file__).resolve().parent.parent
BOOK = load_rulebook(target="accelerator")


def engine(torch: str = portable.releases()[-1]) -> Engine:
    return Engine(portable.for_torch(BOOK, torch, DEFAULT_SOC))


HELPER = 'torch.accelerator.current_accelerator() or torch.device("cuda")'


def test_the_helper_is_bound_once_after_the_imports():
    once = engine().migrate("import torch as th\n\ndef f(x):\n    return x.cuda()\n").code
    assert once == ('import torch as th\n\naccelerator = th.accelerator.current_accelerator() or th.device("cuda")\n\n'
                    "def f(x):\n    return x.to(accelerator)\n")
    twice = engine().migrate('"""Doc."""\nimport os\nimport torch\n\n\ndef f(x):\n    return x.cuda(), "cuda"\n').code
    assert twice == (f'"""Doc."""\nimport os\nimport torch\n\n\naccelerator = {HELPER}\n\n\n'
                     'def f(x):\n    return x.to(accelerator), accelerator.type\n')
    assert engine().migrate(twice).code == twice  # the helper names the accelerator: left alone


def test_the_binding_takes_a_name_the_file_does_not_use_and_needs_a_top_level_torch_import():
    code = engine().migrate("import torch\naccelerator = 1\n\ndef f(x):\n    return x.cuda(), x.cuda()\n").code
    assert f"_accelerator = {HELPER}\n" in code and "x.to(_accelerator)" in code
    nested = 'def f(x):\n    import torch\n    return x.cuda(), "cuda"\n'  # no module-level torch: in place
    assert engine().migrate(nested).code == f"def f(x):\n    import torch\n    return x.to({HELPER}), ({HELPER}).type\n"


def test_names_torch_or_ascend_lack_at_the_release_take_the_fallback():
    source = "import torch\nwith torch.cuda.device(d):\n    torch.cuda.empty_cache()\n    torch.cuda.synchronize(device=d)\n"
    fallback = ("import torch\nwith torch.get_device_module().device(d):\n    torch.get_device_module().empty_cache()\n"
                "    torch.accelerator.synchronize(d)\n")  # device_index() takes no torch.device: never written
    assert engine("2.7").migrate(source).code == fallback
    assert engine("2.10").migrate(source).code == fallback  # memory in torch 2.9, but Ascend documents it from 2.13
    assert engine("2.13").migrate(source).code == fallback.replace("get_device_module().empty_cache", "accelerator.empty_cache")


def test_a_device_keyword_becomes_positional_where_the_call_moves_to_torch_accelerator():
    source = "import torch\nused = torch.cuda.memory_allocated(device=rank)\n"
    assert engine("2.14").migrate(source).code == "import torch\nused = torch.accelerator.memory_allocated(rank)\n"
    assert engine("2.7").migrate(source).code == "import torch\nused = torch.get_device_module().memory_allocated(device=rank)\n"


@pytest.mark.parametrize(("pin", "torch"), [("torch>=2.8,<3", "2.8"), ("torch==2.13.0", "2.13"), (None, "2.14")])
def test_the_torch_release_comes_from_the_project_pin(cli, tmp_path, pin, torch):
    if pin:
        (tmp_path / "requirements.txt").write_text(f"numpy\n{pin}\n")
    (tmp_path / "a.py").write_text("import torch\ntorch.cuda.synchronize()\n")
    result = cli("migrate", "--target", "accelerator", "--check", tmp_path / "a.py")
    assert result.exit_code == 1
    why = f"{pin.removeprefix('torch')} in {tmp_path / 'requirements.txt'}:2" if pin else "the newest known; no torch pin found"
    assert result.stderr.splitlines()[-1] == f"cuda2npu: for torch {torch} (torch{why if pin else ''}), target accelerator" \
        if pin else result.stderr.splitlines()[-1] == f"cuda2npu: for torch {torch} ({why}), target accelerator"


def test_a_torch_older_than_the_minimum_is_a_usage_error(cli, tmp_path):
    (tmp_path / "requirements.txt").write_text("torch>=2.4\n")
    (tmp_path / "a.py").write_text("import torch\ntorch.cuda.synchronize()\n")
    result = cli("migrate", "--target", "accelerator", tmp_path / "a.py")
    assert result.exit_code == 2
    assert "needs torch >= 2.6" in result.stderr and "torch 2.4" in result.stderr
    assert (tmp_path / "a.py").read_text() == "import torch\ntorch.cuda.synchronize()\n"


def test_the_target_from_the_configuration_and_an_unknown_one(cli, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.cuda2npu]\ntarget = "accelerator"\n')
    (tmp_path / "a.py").write_text("import torch\ntorch.cuda.synchronize()\n")
    assert cli("migrate", tmp_path / "a.py").exit_code == 0
    assert (tmp_path / "a.py").read_text() == "import torch\ntorch.accelerator.synchronize()\n"
    result = cli("migrate", "--target", "tpu", tmp_path / "a.py")
    assert result.exit_code == 2 and "unknown target 'tpu'" in result.stderr


def test_module_level_code_of_a_library_is_rewritten_and_imports_without_an_accelerator(cli, tmp_path):
    package = tmp_path / "lib"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "dev.py").write_text('import torch\nDEVICE = "cuda"\n\ndef f(x):\n    return x.to("cuda")\n')
    result = cli("migrate", "--no-config", "--target", "accelerator", tmp_path)
    assert result.exit_code == 0 and "findings: 0" in result.stderr
    assert (package / "dev.py").read_text() == (f"import torch\naccelerator = {HELPER}\n"
                                                "DEVICE = accelerator.type\n\ndef f(x):\n    return x.to(accelerator.type)\n")
    helper = compile(f"x = {HELPER}", "<helper>", "exec")  # None on a CPU-only torch: "cuda", as before
    namespace = {"torch": _NoAccelerator()}
    exec(helper, namespace)
    assert namespace["x"].type == "cuda"


class _NoAccelerator:
    """torch as a build without any accelerator shows it: current_accelerator() is None."""

    class accelerator:
        @staticmethod
        def current_accelerator():
            return None

    class device:
        def __init__(self, type):
            self.type = type


def test_explain_finds_a_rule_of_either_target(cli):
    result = cli("explain", "ACC101")
    assert result.exit_code == 0 and result.stdout.startswith("ACC101 (string, info):")


def test_the_torch_facts_cover_every_name_the_rules_write():
    spec = importlib.util.spec_from_file_location("sync_accelerator", ROOT / "scripts" / "sync_accelerator.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    data = json.loads(portable.DATA.read_text())
    assert data["checked"] == script.written_names(), "run scripts/sync_accelerator.py"
    assert portable.releases()[0] == "2.6"
    for name in data["checked"]:  # what no fallback covers is in torch from the minimum on
        if not name.startswith("torch.accelerator.") or name in ("torch.accelerator.current_accelerator",
                                                                 "torch.accelerator.is_available"):
            assert name in data["torch"]["2.6"]["names"], name
