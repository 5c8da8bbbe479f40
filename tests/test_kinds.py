"""Each rule kind on the cases that matter, with exact expected output."""

import textwrap

import pytest

from cuda2npu.engine import Engine
from cuda2npu.rulebook import load_rulebook

ENGINE = Engine(load_rulebook())


def migrate(source: str):
    return ENGINE.migrate(textwrap.dedent(source))


def check(before: str, after: str) -> None:
    result = migrate(before)
    assert result.code == textwrap.dedent(after)
    assert ENGINE.migrate(result.code).code == result.code


# -- import torch_npu -----------------------------------------------------------------------

def test_import_goes_after_first_torch_import_once():
    check('''\
        """Train."""
        from __future__ import annotations
        import os
        import torch.nn as nn  # first torch import
        import torch

        x = torch.ones(1).cuda()
        y = torch.ones(1).cuda()
        ''', '''\
        """Train."""
        from __future__ import annotations
        import os
        import torch.nn as nn  # first torch import
        import torch_npu
        import torch

        x = torch.ones(1).npu()
        y = torch.ones(1).npu()
        ''')


def test_import_not_duplicated_when_present():
    check('''\
        import torch
        import torch_npu  # already there
        x = torch.ones(1).cuda()
        ''', '''\
        import torch
        import torch_npu  # already there
        x = torch.ones(1).npu()
        ''')


def test_import_inside_try_block_when_torch_only_imported_there():
    check('''\
        try:
            import torch
        except ImportError:
            torch = None

        def f(x):
            return x.cuda()
        ''', '''\
        try:
            import torch
            import torch_npu
        except ImportError:
            torch = None

        def f(x):
            return x.npu()
        ''')


def test_import_without_torch_import_goes_after_docstring():
    check('''\
        """Helpers."""

        def f(x):
            return x.cuda()
        ''', '''\
        """Helpers."""
        import torch_npu

        def f(x):
            return x.npu()
        ''')


def test_no_edit_no_import():
    source = "import torch\nprint(torch.version.cuda)  # cuda\n"
    result = migrate(source)
    assert result.code == source and not result.edits and not result.findings


# -- strings --------------------------------------------------------------------------------

@pytest.mark.parametrize(("before", "after"), [
    ('d = "cuda"', 'd = "npu"'),
    ("d = 'cuda:1'", "d = 'npu:1'"),
    ('d = r"cuda"', 'd = r"npu"'),
    ('d = f"cuda:{rank}"', 'd = f"npu:{rank}"'),
    ('d = f"cuda:{rank}" if x else "cpu"', 'd = f"npu:{rank}" if x else "cpu"'),
    ('d = "cuda:%d" % i', 'd = "npu:%d" % i'),
    ('d = "cuda:{}".format(i)', 'd = "npu:{}".format(i)'),
    ('d = "cuda:" + str(i)', 'd = "npu:" + str(i)'),
    ('ok = device.type == "cuda"', 'ok = device.type == "npu"'),
    ('choices = ["cuda", "cpu"]', 'choices = ["npu", "cpu"]'),
    ('m = {"cuda": 1, "cpu": 2}', 'm = {"npu": 1, "cpu": 2}'),
    ('b = "nccl"', 'b = "hccl"'),
])
def test_device_and_backend_strings(before, after):
    result = migrate(before + "\n")
    assert result.code.splitlines()[-1] == after


@pytest.mark.parametrize("source", [
    'msg = "CUDA is not available"',
    'msg = "cuda is not available"',
    'msg = f"running on cuda {x}"',
    'key = "cuda_rng_state"',
    'b = b"cuda"',
    'x = "cudas"',
    'def f():\n    """Runs on cuda."""\n',
    'parser.add_argument("--no-cuda", action="store_true")',
])
def test_other_strings_unchanged(source):
    assert migrate(source + "\n").code == source + "\n"


# -- attributes -----------------------------------------------------------------------------

def test_cuda_method_and_is_cuda():
    check('''\
        import torch
        import numba.cuda
        import cupy as cp
        fn = lambda storage, loc: storage.cuda(args.gpu)
        model = Net().cuda()
        if t.is_cuda and args.cuda and use_cuda:
            dev = cp.cuda.Device(0)
            ok = numba.cuda.is_available()
        ''', '''\
        import torch
        import torch_npu
        import numba.cuda
        import cupy as cp
        fn = lambda storage, loc: storage.npu(args.gpu)
        model = Net().npu()
        if t.is_cuda and args.cuda and use_cuda:
            dev = cp.cuda.Device(0)
            ok = numba.cuda.is_available()
        ''')


def test_to_device_never_wrapped():
    source = "import torch\nx = x.to(device)\ny = y.to(0)\n"
    assert migrate(source).code == source


# -- rename through imports and aliases -----------------------------------------------------

def test_alias_spelling_kept_everywhere():
    check('''\
        import torch as th

        @th.cuda.amp.custom_fwd
        def f(s: th.cuda.Stream) -> th.cuda.Event:
            with th.cuda.stream(s):
                print(f"{th.cuda.device_count()}")
            return getattr(th.cuda.amp, "autocast")
        ''', '''\
        import torch as th
        import torch_npu

        @th.npu.amp.custom_fwd
        def f(s: th.npu.Stream) -> th.npu.Event:
            with th.npu.stream(s):
                print(f"{th.npu.device_count()}")
            return getattr(th.npu.amp, "autocast")
        ''')


def test_from_imports_are_redirected_and_names_kept():
    check('''\
        from torch.cuda.amp import autocast, GradScaler
        from torch.cuda import amp
        import torch.cuda.amp as cuda_amp
        with autocast():
            s = GradScaler()
            t = amp.GradScaler()
            u = cuda_amp.autocast()
        ''', '''\
        from torch_npu.npu.amp import autocast, GradScaler
        import torch_npu
        from torch_npu.npu import amp
        import torch_npu.npu.amp as cuda_amp
        with autocast():
            s = GradScaler()
            t = amp.GradScaler()
            u = cuda_amp.autocast()
        ''')


def test_mixed_from_import_is_split():
    result = migrate('''\
        import torch
        from torch.cuda import Stream, cudart, CUDAGraph  # streams
        ''')
    assert result.code == textwrap.dedent('''\
        import torch
        import torch_npu
        from torch_npu.npu import Stream, NPUGraph as CUDAGraph  # streams
        from torch.cuda import cudart
        ''')
    assert [f.rule for f in result.findings] == ["NPU291"]


def test_module_imported_under_another_name():
    check('''\
        from torch import cuda
        cuda.synchronize()
        ''', '''\
        from torch import cuda
        import torch
        import torch_npu
        torch.npu.synchronize()
        ''')


def test_no_twin_is_reported_not_renamed():
    result = migrate('''\
        import torch
        torch.cuda.cudart().cudaProfilerStart()
        archs = torch.cuda.get_arch_list()
        t = torch.cuda.future_api()
        ''')
    assert "torch.cuda.cudart()" in result.code and "torch.cuda.get_arch_list()" in result.code
    assert [(f.rule, f.line) for f in result.findings] == [("NPU291", 2), ("NPU291", 3), ("NPU299", 4)]
    assert not result.changed


def test_nvtx_to_mstx_and_keyword_rename():
    check('''\
        import torch
        torch.cuda.nvtx.range_push(msg="fwd")
        torch.cuda.nvtx.range_pop()
        ''', '''\
        import torch
        import torch_npu
        torch.npu.mstx.range_push(message="fwd")
        torch.npu.mstx.range_pop()
        ''')


def test_device_name_keyword():
    check('''\
        import torch
        n = torch.cuda.get_device_name(device=0)
        m = torch.cuda.get_device_name(0)
        ''', '''\
        import torch
        import torch_npu
        n = torch.npu.get_device_name(device_name=0)
        m = torch.npu.get_device_name(0)
        ''')


def test_distributed():
    check('''\
        import torch.distributed as dist
        backend = "nccl" if dist.is_nccl_available() else "gloo"
        dist.init_process_group(backend=backend)
        ''', '''\
        import torch.distributed as dist
        import torch_npu
        backend = "hccl" if dist.is_hccl_available() else "gloo"
        dist.init_process_group(backend=backend)
        ''')


def test_environment():
    check('''\
        import os
        os.environ["CUDA_VISIBLE_DEVICES"] = "0"
        v = os.environ.get("CUDA_VISIBLE_DEVICES")
        ''', '''\
        import os
        os.environ["ASCEND_RT_VISIBLE_DEVICES"] = "0"
        v = os.environ.get("ASCEND_RT_VISIBLE_DEVICES")
        ''')  # environment variable names alone need no import torch_npu


def test_environment_families():
    result = migrate('''\
        import os
        import torch
        os.environ["TORCH_NCCL_DUMP_ON_TIMEOUT"] = "1"
        os.environ["TORCH_NCCL_AVOID_RECORD_STREAMS"] = "1"
        os.environ["NCCL_IB_HCA"] = "mlx5"
        os.environ["NCCL_BLOCKING_WAIT"] = "1"
        os.environ["TORCH_FR_DUMP_TEMP_FILE"] = "/tmp/fr_"
        x = torch.zeros(2).cuda()
        ''')
    assert result.code == textwrap.dedent('''\
        import os
        import torch
        import torch_npu
        os.environ["TORCH_HCCL_DUMP_ON_TIMEOUT"] = "1"
        os.environ["TORCH_NCCL_AVOID_RECORD_STREAMS"] = "1"
        os.environ["NCCL_IB_HCA"] = "mlx5"
        os.environ["HCCL_BLOCKING_WAIT"] = "1"
        os.environ["TORCH_HCCL_DEBUG_INFO_TEMP_FILE"] = "/tmp/fr_"
        x = torch.zeros(2).npu()
        ''')
    assert [(f.rule, f.line) for f in result.findings] == [("NPU412", 4), ("NPU419", 5)]
    assert "torch_npu reads no TORCH_HCCL_AVOID_RECORD_STREAMS" in result.findings[0].message


def test_device_properties_fields_read_from_the_result():
    result = migrate('''\
        import torch
        props = torch.cuda.get_device_properties(0)
        major = props.major
        name = props.name
        count = torch.cuda.get_device_properties(1).multi_processor_count

        def other(p):
            return p.major  # a parameter: not known to be device properties
        ''')
    assert [(f.rule, f.line, f.col) for f in result.findings if f.rule == "NPU219"] == [
        ("NPU219", 3, 15), ("NPU219", 5, 45)]


def test_diffusers_xformers_switch_by_receiver():
    result = migrate('''\
        from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
        unet = UNet2DConditionModel.from_pretrained(path, subfolder="unet")
        vae = AutoencoderKL.from_pretrained(path, subfolder="vae")
        pipe = StableDiffusionPipeline.from_pretrained(path)
        unet.enable_xformers_memory_efficient_attention()
        vae.enable_xformers_memory_efficient_attention()
        pipe.enable_xformers_memory_efficient_attention()
        ''')
    assert result.code.splitlines()[5:] == ["unet.enable_npu_flash_attention()", "vae.enable_npu_flash_attention()",
                                            "pipe.enable_xformers_memory_efficient_attention()"]
    assert [(f.rule, f.line) for f in result.findings] == [("NPU618", 5), ("NPU618", 6), ("NPU619", 7)]


# -- optimizers -----------------------------------------------------------------------------

def test_optimizer_spellings():
    check('''\
        import torch
        from torch import optim
        from torch.optim import AdamW
        model = Net().cuda()
        a = torch.optim.AdamW(params, lr=1e-3, foreach=True, weight_decay=0.1)
        b = optim.AdamW(params, fused=True)
        c = AdamW(params)
        d = optim.SGD(params, 0.1)
        ''', '''\
        import torch
        import torch_npu
        from torch import optim
        from torch.optim import AdamW
        model = Net().npu()
        a = torch_npu.optim.NpuFusedAdamW(params, lr=1e-3, weight_decay=0.1)
        b = torch_npu.optim.NpuFusedAdamW(params)
        c = torch_npu.optim.NpuFusedAdamW(params)
        d = torch_npu.optim.NpuFusedSGD(params, 0.1)
        ''')


def test_optimizer_multiline_call_keeps_layout():
    check('''\
        import torch
        model.cuda()
        opt = torch.optim.SGD(
            model.parameters(),
            momentum=0.9,  # heavy ball
            fused=True,
        )
        ''', '''\
        import torch
        import torch_npu
        model.npu()
        opt = torch_npu.optim.NpuFusedSGD(
            model.parameters(),
            lr=0.001,
            momentum=0.9,  # heavy ball
        )
        ''')


@pytest.mark.parametrize("call", [
    "torch.optim.AdamW(params, **kwargs)",
    "torch.optim.AdamW(params, maximize=True)",
    "torch.optim.Adam(params, capturable=flag)",
    "torch.optim.SGD(params, lr=0.1, differentiable=True)",
])
def test_optimizer_kept_and_reported(call):
    source = f"import torch\nopt = {call}\n"
    result = migrate(source)
    assert result.code == source
    assert len(result.findings) == 1 and result.findings[0].rule.startswith("NPU30")


def test_optimizer_reference_is_not_a_call():
    source = "import torch\nok = isinstance(o, torch.optim.AdamW)\ncls = torch.optim.AdamW\n"
    assert migrate(source).code == source


# -- code that already dispatches to NPU ----------------------------------------------------

def test_npu_aware_constructs_left_alone():
    """A module that dispatches between NPU and CUDA gets no edits at all: the CUDA code outside
    its dispatch constructs is reported instead (NPU341)."""
    source = textwrap.dedent('''\
        import torch
        if is_torch_npu_available():
            torch.npu.synchronize()
        elif torch.cuda.is_available():
            torch.cuda.synchronize()
        else:
            x = "cuda"
        dev = "npu" if is_torch_npu_available() else "cuda"
        table = {"npu": torch.npu.synchronize, "cuda": torch.cuda.synchronize}
        if torch.cuda.is_available():
            y = "cuda"
        ''')
    result = migrate(source)
    assert result.code == source
    assert [(f.rule, f.line) for f in result.findings] == [("NPU341", 10), ("NPU341", 11)]
    assert result.findings[0].message == (
        "not made (torch.cuda.is_available -> torch.npu.is_available): this module already dispatches "
        "to NPU (line 2), and this CUDA code is outside any dispatch; give it an NPU branch like the others")


def test_code_that_names_npu_without_dispatching_is_migrated():
    """A script ported by hand halfway (NPU calls, no choice between devices) is finished."""
    check('''\
        import torch
        import torch_npu
        torch.npu.set_device(0)
        dev = "npu" if args.npu else "cpu"
        table = {"npu": torch.npu.synchronize, "cpu": None}
        torch.cuda.synchronize()
        ''', '''\
        import torch
        import torch_npu
        torch.npu.set_device(0)
        dev = "npu" if args.npu else "cpu"
        table = {"npu": torch.npu.synchronize, "cpu": None}
        torch.npu.synchronize()
        ''')


def test_word_npu_inside_other_words_does_not_count():
    check('''\
        import torch
        if input is not None:
            torch.cuda.synchronize()
        ''', '''\
        import torch
        import torch_npu
        if input is not None:
            torch.npu.synchronize()
        ''')


# -- formatting kept ------------------------------------------------------------------------

def test_comments_blank_lines_and_crlf_kept():
    source = "import torch\r\n\r\n# use the GPU\r\nx = t.cuda()  # move\r\n"
    result = ENGINE.migrate(source)
    assert result.code == "import torch\r\nimport torch_npu\r\n\r\n# use the GPU\r\nx = t.npu()  # move\r\n"


def test_positions_are_one_based():
    result = migrate("import torch\nx = torch.cuda.synchronize()\n")
    assert [(e.rule, e.line, e.col) for e in result.edits] == [("NPU001", 2, 1), ("NPU201", 2, 5)]


def test_backend_names_in_any_case_keep_their_case():
    check('''\
        import torch.distributed as dist
        dist.init_process_group(f"NCCL")
        if args.backend.upper() == "NCCL":
            dist.init_process_group(backend="Nccl")
        label = "NCCL backend"
        ''', '''\
        import torch.distributed as dist
        import torch_npu
        dist.init_process_group(f"HCCL")
        if args.backend.upper() == "HCCL":
            dist.init_process_group(backend="Hccl")
        label = "NCCL backend"
        ''')


def test_opt_in_rule_runs_only_when_selected_by_id():
    from cuda2npu.sessions import rulebook
    from cuda2npu.versions import for_release

    source = "from flash_attn import flash_attn_func\n"
    default = Engine(for_release(rulebook(()))).migrate(source)
    assert default.code == source and [f.rule for f in default.findings] == ["NPU604"]
    assert "NPU611" not in {r.id for r in rulebook((), ["NPU"])}  # a prefix does not select it
    chosen = Engine(for_release(rulebook((), ["NPU", "NPU611"]))).migrate(source)
    assert chosen.code == "import torch_npu\nfrom flash_attn_npu import flash_attn_func\n"


# -- the dispatcher the kinds run in -----------------------------------------------------------

def test_dispatcher_calls_each_node_types_methods_and_refuses_attribute_hooks():
    import libcst as cst

    from cuda2npu.migrator import Dispatcher

    class Renamer(Dispatcher):
        def __init__(self):
            super().__init__()
            self.seen = []

        def visit_Call(self, node):
            self.seen.append("call")

        def visit_Lambda(self, node):
            return False  # its children are not visited

        def leave_Name(self, original, updated):
            return updated.with_changes(value=updated.value.upper())

    renamer = Renamer()
    code = cst.parse_module("f(x, lambda y: g(y))\n").visit(renamer).code
    assert (code, renamer.seen) == ("F(X, lambda y: g(y))\n", ["call"])
    with pytest.raises(TypeError, match="visit_Call_func"):
        class Hooked(Dispatcher):
            def visit_Call_func(self, node):
                pass
