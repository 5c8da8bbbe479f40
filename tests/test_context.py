"""The judgement phase: rewrites decided from their context (rules/context.yaml), exact outcomes."""

from __future__ import annotations

import textwrap

import pytest

from cuda2npu.engine import Engine
from cuda2npu.rulebook import RuleError, load_rulebook

ENGINE = Engine(load_rulebook())
PLACED = "import torch\nmodel = Net().cuda()\n"


def run(source: str):
    return ENGINE.migrate(textwrap.dedent(source))


def rules(result) -> list[str]:
    return [f.rule for f in result.findings]


def swapped(body: str) -> tuple[bool, list[str]]:
    """Whether the AdamW in ``body`` (a training script that places its model) is swapped."""
    result = run(PLACED + textwrap.dedent(body))
    return "NpuFusedAdamW" in result.code, [f.message for f in result.findings if f.rule == "NPU330"]


# -- optimizer-swap ---------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    "opt = torch.optim.AdamW(model.parameters())\nopt.zero_grad()\n",
    "opt = torch.optim.AdamW(model.parameters())\nopt.zero_grad(set_to_none=False)\nmodel.zero_grad(set_to_none=False)\n",
    "opt = torch.optim.AdamW(model.parameters())\nwith torch.autocast('cuda', dtype=torch.bfloat16):\n    y = model(x)\n",
    "opt = torch.optim.AdamW(model.parameters())\nsched = torch.optim.lr_scheduler.StepLR(opt, 1)\nscaler.step(opt)\n",
    # handed to a function of this file under another name: its zero_grad is the optimizer's own
    "def train(m, o):\n    o.zero_grad()\n    m(x).sum().backward()\n    o.step()\n"
    "opt = torch.optim.AdamW(model.parameters())\ntrain(model, opt)\n",
    # other optimizers' zero_grad is theirs too
    "opt = torch.optim.AdamW(model.parameters())\nother = torch.optim.Adagrad(head.parameters())\nother.zero_grad()\n",
])
def test_a_safe_swap_is_made(body):
    assert swapped(body) == (True, [])


@pytest.mark.parametrize(("body", "reason"), [
    ("opt = torch.optim.AdamW(model.parameters())\nmodel.zero_grad()\n",
     "line 4 calls model.zero_grad(), which sets the gradients to None"),
    ("opt = torch.optim.AdamW(model.parameters())\nopt.zero_grad(set_to_none=True)\n",
     "line 4 calls opt.zero_grad(set_to_none=True), and torch_npu.optim.NpuFusedAdamW raises ValueError"),
    ("opt = torch.optim.AdamW(model.parameters())\nopt.zero_grad(flag)\n", "line 4 calls opt.zero_grad(flag)"),
    ("opt = torch.optim.AdamW(model.parameters())\nmodel, opt = accelerator.prepare(model, opt)\n",
     "line 4 hands opt to accelerator.prepare(), which drives it"),
    ("import deepspeed\nopt = torch.optim.AdamW(model.parameters())\nengine, *_ = deepspeed.initialize(model=model, optimizer=opt)\n",
     "line 5 hands opt to deepspeed.initialize()"),
    ("from transformers import Trainer\nopt = torch.optim.AdamW(model.parameters())\nt = Trainer(model, optimizers=(opt, None))\n",
     "line 5 hands opt to Trainer()"),
    ("model = model.bfloat16()\nopt = torch.optim.AdamW(model.parameters())\n",
     "line 3 converts to bfloat16 (model.bfloat16())"),
    ("model.to(torch.bfloat16)\nopt = torch.optim.AdamW(model.parameters())\n", "line 3 converts to bfloat16"),
    ("m = Auto.from_pretrained('x', torch_dtype=torch.bfloat16)\nopt = torch.optim.AdamW(m.parameters())\n",
     "line 3 converts to bfloat16"),
    ("layer = torch.nn.Linear(4, 4, dtype=torch.bfloat16)\nopt = torch.optim.AdamW(layer.parameters())\n",
     "line 3 converts to bfloat16"),
    ("self.opt = torch.optim.AdamW(model.parameters())\n", "line 3 stores it in self.opt"),
    ("opt = torch.optim.AdamW(model.parameters())\nself.optimizer = opt\n", "line 4 stores it in self.optimizer"),
    ("wrapped = Wrapper(torch.optim.AdamW(model.parameters()))\n", "line 3 passes it straight to other code"),
    ("def build(model):\n    return torch.optim.AdamW(model.parameters())\n", "line 4 returns it from build()"),
    ("class Lit:\n    def configure_optimizers(self):\n        return torch.optim.AdamW(self.parameters())\n",
     "line 5 hands the optimizer to configure_optimizers() (the framework calls it"),
])
def test_an_unsafe_swap_is_kept_with_its_reason(body, reason):
    made, messages = swapped(body)
    assert not made
    assert len(messages) == 1 and messages[0].startswith("torch.optim.AdamW(...) kept: " + reason), messages


def test_a_model_never_placed_on_the_device_keeps_the_stock_optimizer():
    result = run("import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\nopt.zero_grad()\n")
    assert result.code == "import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\nopt.zero_grad()\n"
    assert result.findings[0].message.startswith(
        "torch.optim.SGD(...) kept: nothing in this file places the model on the device")


def test_a_returned_optimizer_is_followed_in_a_script():
    source = PLACED + textwrap.dedent('''\
        def build(model):
            return torch.optim.AdamW(model.parameters())
        if __name__ == "__main__":
            opt = build(model)
            opt.zero_grad()
        ''')
    assert "NpuFusedAdamW" in run(source).code
    with_module_zero_grad = source + "    model.zero_grad()\n"
    assert "NpuFusedAdamW" not in run(with_module_zero_grad).code


def test_the_finding_counts_the_other_reasons_and_a_suppression_hides_it():
    source = PLACED + "opt = torch.optim.AdamW(p)  # cuda2npu: ignore[NPU330]\nmodel.zero_grad()\nopt.zero_grad(True)\n"
    result = run(source)
    assert "torch.optim.AdamW(p)" in result.code and rules(result) == []  # kept, not reported there
    result = run(PLACED + "opt = torch.optim.AdamW(p)\nmodel.zero_grad()\nopt.zero_grad(True)\n")
    assert result.findings[0].message.endswith("(and 1 more)")


def test_fused_optimizers_off_turns_the_judgement_off_too():
    book = load_rulebook()
    book = book.select(ignore=book.tagged("fused-optimizer"))
    source = PLACED + "opt = torch.optim.AdamW(p)\nmodel.zero_grad()\n"
    assert "NPU330" not in rules(Engine(book).migrate(source))


# -- fused-traps and fused-clip ---------------------------------------------------------------

def test_the_traps_of_a_fused_optimizer_in_the_code_are_reported_where_they_are():
    result = run('''\
        import torch, torch_npu
        opt = torch_npu.optim.NpuFusedSGD(model.parameters(), lr=0.1)
        model, opt = accelerator.prepare(model, opt)
        opt.zero_grad()
        model.half()
        net.bfloat16()
        ''')
    assert [(f.rule, f.line) for f in result.findings] == [("NPU321", 3), ("NPU321", 6)]
    assert result.findings[0].message == (
        "torch_npu.optim.NpuFusedSGD: accelerator.prepare() drives opt and zeroes it with set_to_none=True, "
        "which raises on the fused optimizer: use the stock torch.optim optimizer with it")


def test_clip_advice_only_where_a_fused_optimizer_is_swapped_in():
    clip = "opt = torch.optim.AdamW(model.parameters())\ntorch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
    assert rules(run(PLACED + clip)) == ["NPU322"]
    assert rules(run(PLACED + clip + "model.zero_grad()\n")) == ["NPU330"]


# -- cuda-guard -------------------------------------------------------------------------------

KERNEL = '''\
    import torch
    import triton

    @triton.jit
    def _kernel(x_ptr):
        pass

    def launch(x):
        _kernel[(1,)](x)
    '''


@pytest.mark.parametrize("code", [
    "def f(x):\n    if x.is_cuda:\n        launch(x)\n    return x\n",
    "def f(x):\n    return launch(x) if x.device.type == 'cuda' else x\n",
    "def f(x):\n    return x.is_cuda and launch(x)\n",
    "def f(x):\n    if not x.is_cuda:\n        return x\n    launch(x)\n",
    "def f(x):\n    assert x.is_cuda\n    launch(x)\n",
    "def f(x):\n    if torch.cuda.is_available():\n        import flash_attn\n        flash_attn.flash_attn_func(x, x, x)\n",
])
def test_a_cuda_test_that_selects_cuda_only_code_is_kept(code):
    source = textwrap.dedent(KERNEL) + "\n" + code
    result = ENGINE.migrate(source)
    assert result.code == source
    assert "NPU340" in rules(result)


def test_a_guard_around_ordinary_code_is_renamed_and_mentioning_is_not_calling():
    result = run('''\
        import torch
        def unwrap(m, x):
            if x.is_cuda:
                x = x.relu()
            if isinstance(m, torch.nn.DataParallel):
                m = m.module
            return m, x
        ''')
    assert "if x.is_npu:" in result.code and "NPU340" not in rules(result)


@pytest.mark.parametrize(("code", "kept"), [
    # a test that chooses the value of a CUDA-only keyword, or selects a call passing one
    ("U, S, Vh = torch.linalg.svd(A, driver='gesvd' if A.is_cuda else None)\n", True),
    ("if h.is_cuda:\n    y = torch.mm(h, w, out_dtype=torch.float32)\nelse:\n    y = torch.mm(h.float(), w.float())\n", True),
    ("def fast(h, w):\n    return torch.bmm(h, w, out_dtype=torch.float32)\nif h.is_cuda:\n    y = fast(h, w)\n", True),
    # the keyword at its default, or a test that chooses another argument of such a call
    ("if h.is_cuda:\n    y = torch.mm(h, w, out_dtype=None)\n", False),
    ("y = torch.linalg.svd(A if A.is_cuda else B, driver='gesvd')\n", False),
    ("y = torch.linalg.qr(A, mode='r' if A.is_cuda else 'complete')\n", False),
])
def test_a_cuda_test_in_front_of_a_cuda_only_keyword_is_kept(code, kept):
    source = "import torch\n" + code
    result = ENGINE.migrate(source)
    assert (result.code == source) is kept
    assert ("NPU340" in rules(result)) is kept
    assert ("is_npu" in result.code) is not kept


# -- dispatching-module and device-agnostic ---------------------------------------------------

@pytest.mark.parametrize(("dispatch", "reported"), [
    ("if is_torch_npu_available():\n    torch.npu.synchronize()\n", 2),
    ("DEVICE = 'npu' if HAS_NPU else 'cuda'\n", 2),
    ("SEED = {'cuda': torch.cuda.manual_seed}\nSEED['npu'] = torch.npu.manual_seed\n", 3),
    ("def sync(device):\n    if device.type == 'npu':\n        return\n", 2),
])
def test_a_module_that_dispatches_to_npu_gets_no_edits(dispatch, reported):
    source = "import torch\n" + dispatch + "x = t.cuda()\ntorch.cuda.synchronize()\n"
    result = ENGINE.migrate(source)
    assert result.code == source
    assert rules(result) == ["NPU341"] * reported


def test_device_agnostic_code_stays_as_it_is():
    source = textwrap.dedent('''\
        import torch
        device = torch.accelerator.current_accelerator()
        SEED = {"cuda": torch.cuda.manual_seed, "cpu": torch.manual_seed}
        opt = torch.optim.AdamW(model.to(device).parameters())
        ''')
    result = ENGINE.migrate(source)
    assert result.code == source  # no "cuda" key paired with torch.npu, no fused optimizer
    assert [(f.rule, f.line) for f in result.findings] == [("NPU342", 3)]  # one finding a line


# -- the project index ------------------------------------------------------------------------

def test_cuda_only_sibling_modules_decide_guards_whatever_the_command_line(cli, tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "ops.py").write_text("import torch\nimport triton\n\n@triton.jit\ndef _k(x):\n    pass\n\n"
                                "def fused(x):\n    _k[(1,)](x)\n    return x\n\ndef plain(x):\n    return x\n")
    model = ("import torch\nfrom .ops import fused, plain\n\ndef f(x):\n    if x.is_cuda:\n        return fused(x)\n"
             "    return x\n\ndef g(x):\n    if x.is_cuda:\n        return plain(x)\n    return x\n")
    (pkg / "model.py").write_text(model)
    expected = model.replace("import torch\n", "import torch\nimport torch_npu\n", 1).replace(
        "    if x.is_cuda:\n        return plain", "    if x.is_npu:\n        return plain")
    for args in ((pkg / "model.py",), (tmp_path,), (pkg / "model.py", pkg / "ops.py")):
        (pkg / "model.py").write_text(model)
        result = cli("migrate", "--no-config", "--jobs", "1", *args)
        assert (pkg / "model.py").read_text() == expected, args
        assert "model.py:2:1 NPU343 fused from ops.py is CUDA-only: fused() (uses triton.jit) at ops.py:8" in result.stderr
        assert "model.py:5:8 NPU340" in result.stderr


@pytest.mark.parametrize(("source", "may"), [
    ("import transformers\nmodel = transformers.AutoModel.from_pretrained(name)\n", False),
    ("from transformers import AutoModel\n", False),
    ("import transformers\nconfig = transformers.BitsAndBytesConfig(load_in_4bit=True)\n", True),
    ("from transformers import BitsAndBytesConfig\n", True),
    ("import triton\n", True),
    ('"""Uses triton kernels."""\n', False),  # a word in a docstring is no import
    ("from numba import cuda\n", True),
    ("import numba\n", False),
])
def test_a_module_is_read_for_cuda_only_names_when_it_imports_one(source, may):
    """The project index parses a module only when it may bind a CUDA-only name: its package
    imported and the name's last part spelled (transformers' own modules import transformers)."""
    index = ENGINE.index
    assert index.may_use_cuda_only(source) is may
    assert index.may_use_cuda_only(source.encode()) is may


# -- the rule format --------------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "error"), [
    ("check: no-such-check\n    message: x", "field 'check': unknown check 'no-such-check'"),
    ("check: cuda-guard\n    message: '{tset} kept'", "field 'message': unknown placeholder {tset}"),
    ("check: cuda-guard\n    message: x\n    drivers: [a.b]", "field 'drivers': not a field of check 'cuda-guard'"),
    ("check: optimizer-swap\n    message: x\n    reasons: {device: '{nope}'}",
     "field 'reasons.device': unknown placeholder {nope}"),
    ("check: optimizer-swap\n    message: x\n    drivers: accelerate", "field 'drivers': must be a list of dotted names"),
])
def test_a_context_rule_that_cannot_work_is_refused_at_load(tmp_path, fields, error):
    path = tmp_path / "bad.yaml"
    path.write_text(f"rules:\n  - id: ACME1\n    kind: context\n    summary: s\n    {fields}\n")
    with pytest.raises(RuleError) as info:
        load_rulebook([path])
    assert f"rule ACME1: {error}" in str(info.value)
