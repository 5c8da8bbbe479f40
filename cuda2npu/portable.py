"""The accelerator target (device-agnostic code on ``torch.accelerator``): the torch release a run
writes for, and the rules gated to it.

A name the rules write is written only where that torch release has it
(``data/accelerator.json``, made by ``scripts/sync_accelerator.py`` from torch's wheels) and, for a
``torch.accelerator`` function, where Ascend's support pages for that torch document it for NPU
(``data/op_support.json``); a rename falls back to its ``fallback`` (``torch.get_device_module()``
with the CUDA name) otherwise. A rename with ``twins`` covers the names its module has in the API
snapshot (``torch.cuda.X`` with a ``torch.npu.X``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .rulebook import Rule, RuleBook

DATA = Path(__file__).resolve().parent / "data" / "accelerator.json"
TARGET = "accelerator"


class TorchError(Exception):
    """A torch release this target cannot write for."""


@lru_cache(maxsize=1)
def _data() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".")[:2])


def releases() -> list[str]:
    """The torch minor versions the data knows, oldest first (the first is the minimum)."""
    return sorted(_data()["torch"], key=_key)


@dataclass(frozen=True)
class Torch:
    """The torch minor version a run writes for, and why it was chosen."""

    version: str
    why: str


def has(name: str, torch: str) -> bool:
    """Whether torch ``torch`` has ``name`` (a name outside the checked ones: yes)."""
    data = _data()
    known = min((v for v in releases() if _key(v) >= _key(torch)), key=_key, default=releases()[-1])
    return name not in data["checked"] or name in data["torch"][known]["names"]


def documented(name: str, torch: str, soc: str) -> bool:
    """Whether Ascend's pages for ``torch`` document the torch.accelerator function ``name`` for NPU."""
    if not name.startswith("torch.accelerator."):
        return True
    from .opsupport import _data as ops, pages_for

    data = ops()
    found = data["sets"][pages_for(torch)].get("accelerator", {}).get(soc, [])
    return name in {data["names"][i] for i in found}


def choose(torch_npu: str | None, why: str, folder: Path | None) -> Torch:
    """The torch of ``torch_npu`` (a release chosen explicitly or pinned), else the oldest torch the
    project's torch pin admits, else the newest known; refused below the minimum."""
    from . import pins, versions

    if torch_npu:
        found = Torch(".".join(versions.release(torch_npu).facts["torch"].split(".")[:2]), why)
    else:
        pin = pins.find_pin(folder, "torch") if folder is not None else None
        found = Torch(releases()[-1], "the newest known; no torch pin found") if pin is None else \
            Torch(_oldest(pin[1], pin[0]), f"torch{pin[1]} in {pin[0]}")
    if _key(found.version) < _key(releases()[0]):
        raise TorchError(f"--target {TARGET} writes torch.accelerator, which needs torch >= {releases()[0]}; "
                         f"{found.why} gives torch {found.version}: raise the pin, or pass --torch-npu-version")
    return found


def _oldest(spec: str, where: str) -> str:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    from . import versions

    try:
        specifiers = SpecifierSet(spec)
    except InvalidSpecifier:
        raise TorchError(f"{where}: cannot read the requirement torch{spec}") from None
    known = {".".join(versions.Release(v).facts["torch"].split(".")[:2]) for v in versions.known()} | set(releases())
    admitted = [v for v in sorted(known, key=_key) if specifiers.contains(f"{v}.0", prereleases=True)
                or any(specifiers.contains(f"{v}.{patch}", prereleases=True) for patch in range(1, 4))]
    if not admitted:
        raise TorchError(f"{where}: torch{spec} admits no known torch release (known: {', '.join(releases())})")
    return admitted[0]


def for_torch(book: RuleBook, torch: str, soc: str) -> RuleBook:
    """``book`` for one torch release: ``twins`` expanded, renames it lacks on their fallback (and
    the keyword renames of those calls dropped: the fallback keeps the CUDA signature)."""
    from .catalog import load_snapshot
    from .ruleindex import symbol_index

    taken = symbol_index(dataclasses.replace(book, rules=tuple(r for r in book if not r.get("twins"))))
    modules = load_snapshot()["modules"]
    gated = {rule.id: _gated(rule, torch, soc) for rule in book if rule.kind == "rename" and rule.get("replace")}
    lacking = {old for rules in gated.values() for r in rules if not r.get("replace") for old, _ in r.pairs()}
    out: list[Rule] = []
    for rule in book:
        if rule.kind == "rename" and rule.get("twins"):
            source = set(modules.get(rule.get("match"), ()))
            members = sorted(n for n in modules.get(rule.get("twins"), ()) if n in source
                             and f"{rule.get('match')}.{n}" not in modules  # a submodule: its own rules
                             and taken.longest(f"{rule.get('match')}.{n}".split(".")) is None)
            out.append(dataclasses.replace(rule, spec={**rule.spec, "members": members}))
        elif rule.id in gated:
            out += gated[rule.id]
        elif rule.kind == "argument" and rule.get("members"):  # keywords of the calls that move only
            members = [m for m in rule.get("members") if f"{rule.get('match')}.{m}" not in lacking]
            if members:
                out.append(dataclasses.replace(rule, spec={**rule.spec, "members": members}))
        else:
            out.append(rule)
    return dataclasses.replace(book, rules=tuple(out))


def _gated(rule: Rule, torch: str, soc: str) -> list[Rule]:
    """A rename split into the members torch (and NPU) has and the rest, written as the fallback."""
    match, replace = rule.get("match"), rule.get("replace")
    members = [next(iter(m.items())) if isinstance(m, dict) else (m, m) for m in rule.get("members") or []]
    keep = [(old, new) for old, new in members if has(f"{replace}.{new}", torch)
            and documented(f"{replace}.{new}", torch, soc)]
    lacking = [old for old, new in members if (old, new) not in keep]
    if not lacking:
        return [rule]
    out = []
    if keep:
        out.append(dataclasses.replace(rule, spec={**rule.spec, "members": [{o: n} for o, n in keep]}))
    fallback = {k: v for k, v in rule.spec.items() if k not in ("replace", "fallback", "members")}
    if rule.get("fallback"):
        out.append(dataclasses.replace(rule, spec={**fallback, "code": rule.get("fallback"), "members": lacking}))
    else:
        message = f"{{name}} has no twin in torch {torch}: keep it, or raise the torch pin"
        out.append(dataclasses.replace(rule, kind="report", spec={"match": match, "members": lacking,
                                                                  "message": message}))
    return out
