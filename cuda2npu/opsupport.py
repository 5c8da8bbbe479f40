"""Ascend's op-support facts (``data/op_support.json``, made by ``scripts/sync_ops.py`` from the
support pages in Ascend/pytorch): :func:`expand` turns each ``support`` rule into reports of the
APIs with its status, for the pages of the torch a torch_npu release pins and one chip family.
"""

from __future__ import annotations

import dataclasses
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .rulebook import Rule, RuleBook
    from .versions import Release

DATA = Path(__file__).resolve().parent / "data" / "op_support.json"
DEFAULT_SOC = "A2"


@lru_cache(maxsize=1)
def _data() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))


def socs() -> dict[str, str]:
    """Chip family -> the product name Ascend's pages use."""
    return _data()["socs"]


def pages_for(torch: str | None) -> str:
    """The page set for a torch release: its own minor version, else the nearest older one, else
    the oldest (Ascend publishes pages from torch 2.7 on)."""
    from packaging.version import Version

    sets = sorted(_data()["sets"], key=Version)
    if torch is None:
        return sets[-1]
    wanted = Version(torch)
    older = [s for s in sets if Version(s) <= Version(f"{wanted.major}.{wanted.minor}")]
    return older[-1] if older else sets[0]


def names(status: str, pages: str, soc: str) -> list[tuple[str, str]]:
    """``(api, page path)`` of every API with ``status`` in ``pages`` (on ``soc`` if unsupported)."""
    data = _data()
    found = data["sets"][pages]
    indices = found["unsupported"][soc] if status == "unsupported" else found[status]
    return [(data["names"][i], f"{found['folder']}/{data['pages'][data['page_of'][i]]}") for i in indices]


def expand(book: RuleBook, release: Release, soc: str = DEFAULT_SOC, everywhere: bool = False) -> RuleBook:
    """``book`` with each ``support`` rule replaced by reports (one per page) of its APIs; an API a
    rule of the book already matches stays that rule's. The reports act in the files other rules
    have parsed, or in every file that names one of the APIs if ``everywhere`` (``analyze``: it
    parses far more files)."""
    if not any(rule.kind == "support" for rule in book):
        return book
    from .ruleindex import symbol_index

    taken = symbol_index(book)
    for rule in book.of_kind("call"):  # an optimizer swap's own findings say more
        taken.add(rule.get("match"), None)
    pages = pages_for(release.facts.get("torch"))
    out: list[Rule] = []
    for rule in book:
        if rule.kind != "support":
            out.append(rule)
            continue
        if rule.get("status") == "float64":  # a check of the calls' arguments, not a report of names
            message = rule.get("message").format(name="{name}", soc=socs()[soc], torch=pages, page="{page}",
                                                 value="{value}")
            apis = {name: f"Ascend/pytorch {page}" for name, page in names("float64", pages, soc)}
            out.append(dataclasses.replace(rule, kind="context", examples=(),
                                           spec={"check": "float64-args", "apis": apis, "message": message}))
            continue
        by_page: dict[str, list[str]] = {}
        for name, page in names(rule.get("status"), pages, soc):
            if taken.longest(name.split(".")) is None:
                by_page.setdefault(page, []).append(name)
        for page, apis in sorted(by_page.items()):
            message = rule.get("message").format(name="{name}", soc=socs()[soc], torch=pages,
                                                 page=f"Ascend/pytorch {page}")
            out.append(dataclasses.replace(rule, kind="report", examples=(),
                                           spec={"match": apis, "message": message, "once": True, "status": rule.get("status"),
                                                 "spelled": True, "parsed_only": not everywhere}))
    return dataclasses.replace(book, rules=tuple(out))
