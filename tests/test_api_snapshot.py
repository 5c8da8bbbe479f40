"""The rules against the real torch_npu 2.14 API (cuda2npu/data/api_snapshot.json)."""

from pathlib import Path

import pytest

from cuda2npu.catalog import coverage, load_snapshot, markdown, symbol_index
from cuda2npu.rulebook import load_rulebook

SNAPSHOT = load_snapshot()
MODULES = SNAPSHOT["modules"]
SIGNATURES = SNAPSHOT["signatures"]
REAL = {real: public for public, real in SNAPSHOT["aliases"].items()}  # torch_npu.npu -> torch.npu
# Names outside the snapshot's modules, each checked by hand in the torch 2.14 wheel:
OUTSIDE = {
    "torch.OutOfMemoryError": "torch/_C/__init__.pyi class, re-exported by `from torch._C import *`",
    "torch.AcceleratorError": "torch/_C/__init__.pyi class, re-exported by `from torch._C import *`",
    "torch_npu.profiler.ProfilerActivity.NPU": "enum member used by torch_npu/profiler/profiler_interface.py",
    "torch.distributed.Backend.HCCL": "set by Backend.register_backend('hccl', ...) in "
                                      "torch_npu/_init/registry/distributed.py (register_backend sets Backend.<NAME>)",
    "flash_attn_npu": "the flash-attn-npu package on PyPI (not part of torch_npu)",
}
BOOK = load_rulebook()


def public(name: str) -> str:
    for real, alias in REAL.items():
        if name == real or name.startswith(real + "."):
            return alias + name[len(real):]
    return name


def exists(name: str) -> bool:
    name = public(name)
    if name in OUTSIDE or name in MODULES:
        return True
    parent, _, last = name.rpartition(".")
    return parent in MODULES and last in MODULES[parent]


TWINS = symbol_index(BOOK)


def twin_of(name: str) -> str | None:
    hit = TWINS.longest(name.split("."))
    if hit is None or hit.value[1] is None:
        return None
    return hit.value[1] + name[len(hit.key):]


@pytest.mark.parametrize("rule", [r for r in BOOK if r.kind in ("rename", "call")], ids=lambda r: r.id)
def test_every_rewrite_target_exists(rule):
    for _, new in rule.pairs():
        assert exists(new), f"{rule.id}: {new} is not in torch_npu 2.14"
        module = rule.get("module")
        if module:
            spelled = module + new[len(rule.get("replace")):]
            parent = spelled.rpartition(".")[0]
            assert exists(spelled) and public(parent) in MODULES, f"{rule.id}: cannot import {spelled}"


# (argument rules tagged cuda-only report keywords that torch accepts but only CUDA honours)
@pytest.mark.parametrize("rule", [r for r in BOOK.of_kind("argument") if "cuda-only" not in r.tags], ids=lambda r: r.id)
def test_renamed_keywords_exist_on_the_twin(rule):
    for old, _ in rule.pairs():
        twin = twin_of(old)
        assert twin is not None, f"{rule.id}: {old} has no twin"
        old_params = {p["name"] for p in SIGNATURES[old]}
        new_params = {p["name"] for p in SIGNATURES[public(twin)]}
        for kw, new_kw in rule.get("rename", {}).items():
            if kw in old_params:
                assert new_kw in new_params, f"{rule.id}: {twin} has no {new_kw}="
        for kw, default in rule.get("unsupported", {}).items():
            if kw in old_params:
                assert kw not in new_params, f"{rule.id}: {twin} accepts {kw}="
                assert {p["name"]: p["default"] for p in SIGNATURES[old]}[kw] == default


def test_every_keyword_difference_of_twins_is_handled():
    handled = {(old, kw) for r in BOOK.of_kind("argument") for old, _ in r.pairs()
               for kw in [*r.get("rename", {}), *r.get("unsupported", {})]}
    missing = []
    for name in MODULES["torch.cuda"]:
        old = f"torch.cuda.{name}"
        twin = twin_of(old)
        if twin is None or old not in SIGNATURES or public(twin) not in SIGNATURES:
            continue
        new_params = {p["name"] for p in SIGNATURES[public(twin)]}
        for p in SIGNATURES[old]:
            if p["name"] not in new_params and p["kind"] != "var_keyword" and (old, p["name"]) not in handled:
                missing.append(f"{old}({p['name']}=)")
    assert missing == []


@pytest.mark.parametrize("cov", coverage(BOOK, SNAPSHOT), ids=lambda c: c.module)
def test_every_cuda_name_has_a_specific_rule(cov):
    """Renamed to a twin that exists, or reported with a specific message: never only by the catch-all."""
    assert cov.uncovered == []
    assert [f"{name} -> {twin}" for name, twin in cov.renamed.items() if not exists(twin)] == []


OPTIMIZERS = [r for r in BOOK.of_kind("call") if r.get("match").startswith("torch.optim.")]


@pytest.mark.parametrize("rule", OPTIMIZERS, ids=lambda r: r.id)
def test_optimizer_keywords_follow_the_signatures(rule):
    torch_sig = SIGNATURES[rule.get("match")]
    npu_sig = SIGNATURES[rule.get("replace")]
    npu_names = [p["name"] for p in npu_sig]
    lacking = {p["name"]: p["default"] for p in torch_sig if p["name"] not in npu_names}
    assert set(rule.get("drop", [])) | set(rule.get("unsupported", {})) == set(lacking)
    for kw, default in rule.get("unsupported", {}).items():
        assert default == lacking[kw]
    torch_positional = [p["name"] for p in torch_sig if p["kind"] == "positional"]
    assert torch_positional[:len(npu_names)] == npu_names, "positional order differs"
    if len(torch_positional) > len(npu_names):
        assert rule.get("max_positional") == len(npu_names)
    torch_defaults = {p["name"]: p["default"] for p in torch_sig}
    for p in npu_sig:  # NPU parameters without a usable default get torch's, explicitly
        if p["default"] in (None, "required") and torch_defaults.get(p["name"]) is not None:
            added = {d["name"]: d["value"] for d in rule.get("defaults", [])}
            assert added.get(p["name"]) == torch_defaults[p["name"]]


def test_catalog_page_is_current():
    page = Path(__file__).resolve().parent.parent / "docs" / "rules.md"
    assert page.read_text(encoding="utf-8") == markdown(BOOK), "run: cuda2npu rules --format md > docs/rules.md"
    page = page.with_name("rules-accelerator.md")
    assert page.read_text(encoding="utf-8") == markdown(load_rulebook(target="accelerator")), \
        "run: cuda2npu rules --target accelerator --format md > docs/rules-accelerator.md"
