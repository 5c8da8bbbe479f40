#!/usr/bin/env python3
"""Build ``cuda2npu/data/op_support.json`` from Ascend's per-API support pages.

The pages are ``docs/zh/api/native_api/pytorch_<version>/*.md`` in the Ascend/pytorch repository
(BSD-3-Clause), read from a git directory (the tool library's ``fetch github:Ascend/pytorch``, or
any clone) at a revision; a folder deleted by then is read at the parent of the commit that
deleted it. Each entry names a torch API (its ``原生文档`` link), its status per product, in one of
two layouts (a table of products with ✔/✘, or ``是否支持：是/否[，暂不支持 Ascend 950DT]``), and its
limits: "may fall back to the CPU" (``回退至CPU``), "CPU only" (``仅CPU支持``) and dtype lists.

Kept per page set: the APIs unsupported on each chip family (but a class whose own methods the
page marks supported), those that may fall back to the CPU
or run only there, those whose dtype lists all leave out float64, and how many lists do; and the
``torch.accelerator`` APIs documented to run on each chip family (for the accelerator target). Only APIs code names by a dotted
path are kept (a function, class or module; not a method such as ``Tensor.abs``, whose receiver
a static tool cannot know), in one table of names with their pages that each set indexes.
Run ``python scripts/sync_ops.py --repo PATH [--revision REV]``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = "docs/zh/api/native_api"
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "cuda2npu" / "data" / "op_support.json"
# Chip family -> (the product as the pages name it, as findings name it).
SOCS = {"A2": ("Atlas A2 训练系列产品", "Atlas A2 training products"),
        "A3": ("Atlas A3 训练系列产品", "Atlas A3 training products"), "950": ("Ascend 950DT", "Ascend 950DT")}
_ENTRY = re.compile(r"\*\*原生文档\*\*[：:]\s*\[([^\]]+)\]")
_ROW = re.compile(r"^\|\s*<term>([^<]+)</term>\s*\|\s*([✔✘])\s*\|", re.M)
_YES_NO = re.compile(r"\*\*是否支持\*\*[：:]\s*(是|否)?(.*)")
_LIMITS = re.compile(r"\*\*限制与说明\*\*[：:](.*)", re.S)
LISTS = ("cpu_fallback", "cpu_only", "float64")  # the lists of names per set, beside "unsupported"
_DTYPES = re.compile(r"支持((?:\s*[，,、]?\s*(?:bf16|fp16|fp32|fp64|hif8|fp8\w*|u?int\d+|bool|complex\d+))+)")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(repo), *args], check=True, capture_output=True,
                          text=True, encoding="utf-8").stdout


def page_sets(repo: Path, revision: str) -> dict[str, str]:
    """Every ``pytorch_<v>`` folder ever added -> the commit to read it at."""
    added = git(repo, "log", "--format=", "--name-only", "--diff-filter=A", revision, "--", ROOT)
    folders = sorted({m.group(1) for m in re.finditer(rf"{ROOT}/(pytorch_[\w-]+)/", added)})
    out = {}
    for folder in folders:
        path = f"{ROOT}/{folder}"
        if git(repo, "ls-tree", revision, path).strip():
            out[folder] = git(repo, "rev-parse", revision).strip()
        else:
            deleted = git(repo, "log", "-1", "--format=%H", "--diff-filter=D", revision, "--", path).strip()
            out[folder] = git(repo, "rev-parse", f"{deleted}^").strip()
    return out


def entries(text: str):
    """``(api, {soc: supported}, limits)`` for each entry of one page."""
    starts = [m for m in _ENTRY.finditer(text)]
    for i, match in enumerate(starts):
        block = text[match.end():starts[i + 1].start() if i + 1 < len(starts) else len(text)]
        block = block.split("</div>", 1)[0]
        name = match.group(1).replace("\\", "").strip()
        if name.startswith("Tensor."):
            name = "torch." + name
        status = {}
        rows = {term.strip(): mark == "✔" for term, mark in _ROW.findall(block)}
        for soc, (term, _) in SOCS.items():
            if term in rows:
                status[soc] = rows[term]
        yes_no = _YES_NO.search(block)
        if not status and yes_no and yes_no.group(1):
            supported = yes_no.group(1) == "是"
            status = {soc: supported for soc in SOCS}
            if "暂不支持" in yes_no.group(2) and SOCS["950"][0] in yes_no.group(2):
                status["950"] = False
        limits = _LIMITS.search(block)
        yield name, status, limits.group(1) if limits else ""


def read_set(repo: Path, commit: str, folder: str) -> dict:
    pages = [p for p in git(repo, "ls-tree", "--name-only", f"{commit}:{ROOT}/{folder}").split("\n")
             if p.endswith(".md")]
    out = {"revision": commit, "folder": f"{ROOT}/{folder}", "entries": 0, "dtype_lists": 0, "no_fp64": 0,
           "unsupported": {soc: [] for soc in SOCS}, "cpu_fallback": [], "cpu_only": [], "float64": [],
           "accelerator": {soc: [] for soc in SOCS}, "page": {}}
    seen, supported = set(), {}
    for page in sorted(pages):
        text = git(repo, "show", f"{commit}:{ROOT}/{folder}/{page}")
        for name, status, limits in entries(text):
            if name in seen or not re.fullmatch(r"torch(\.\w+)+", name):
                continue
            findable = not any(part[:1].isupper() for part in name.split(".")[:-1])
            seen.add(name)
            supported[name] = status
            out["entries"] += 1
            for soc, ok in status.items():
                if not ok and findable:
                    out["unsupported"][soc].append(name)
                if ok and name.startswith("torch.accelerator."):  # documented to run: the portable target
                    out["accelerator"][soc].append(name.replace(".memory.", "."))
                    out["page"].setdefault(name.replace(".memory.", "."), page)
            for key, mark in (("cpu_fallback", "回退至CPU"), ("cpu_only", "仅CPU支持")):
                if mark in limits and findable:
                    out[key].append(name)
            out["page"][name] = page
            lists = _DTYPES.findall(limits)
            if lists:
                out["dtype_lists"] += 1
                out["no_fp64"] += not any("fp64" in found for found in lists)
                if findable and not any("fp64" in found for found in lists):
                    out["float64"].append(name)
    for soc in SOCS:  # a class marked unsupported whose own methods are marked supported: the
        # page contradicts itself (torch.nn.TransformerEncoder ✘, its forward() ✔), so it is not kept
        runs = {name.rpartition(".")[0] for name, status in supported.items() if status.get(soc)}
        out["unsupported"][soc] = sorted(n for n in out["unsupported"][soc] if n not in runs)
    for key in ("cpu_fallback", "cpu_only", "float64"):
        out[key].sort()
    out["accelerator"] = {soc: sorted(set(v)) for soc, v in out["accelerator"].items()}
    return out


def torch_version(folder: str) -> str:
    """``pytorch_2-13-0`` -> ``2.13``."""
    major, minor = re.fullmatch(r"pytorch_(\d+)-(\d+)-\d+", folder).groups()
    return f"{major}.{minor}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, required=True, help="a git directory of Ascend/pytorch")
    parser.add_argument("--revision", default="HEAD")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    revision = git(args.repo, "rev-parse", args.revision).strip()
    sets = {torch_version(folder): read_set(args.repo, commit, folder)
            for folder, commit in page_sets(args.repo, revision).items()}
    names = sorted({n for found in sets.values() for key in LISTS for n in found[key]}
                   | {n for found in sets.values() for key in ("unsupported", "accelerator")
                      for v in found[key].values() for n in v})
    index = {name: i for i, name in enumerate(names)}
    pages = sorted({page for found in sets.values() for page in found["page"].values()})
    where = [next(found["page"][n] for found in reversed(list(sets.values())) if n in found["page"]) for n in names]
    for found in sets.values():
        del found["page"]
        for key in ("unsupported", "accelerator"):
            found[key] = {soc: [index[n] for n in v] for soc, v in found[key].items()}
        for key in LISTS:
            found[key] = [index[n] for n in found[key]]
    data = {"generated_by": "scripts/sync_ops.py",
            "source": {"repository": "https://gitcode.com/Ascend/pytorch (mirrored as github.com/Ascend/pytorch)",
                       "revision": revision, "license": "BSD-3-Clause"},
            "socs": {soc: name for soc, (_, name) in SOCS.items()}, "names": names, "pages": pages, "page_of": [pages.index(p) for p in where], "sets": sets}
    text = json.dumps(data, indent=0, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(text.encode()) // 1024} KiB) from {revision[:10]}")
    for version, found in sets.items():
        print(f"  torch {version:5s} {found['entries']:5d} APIs; unsupported "
              + ", ".join(f"{soc} {len(v)}" for soc, v in found["unsupported"].items())
              + f"; CPU fallback {len(found['cpu_fallback'])}, CPU only {len(found['cpu_only'])}; "
              f"no fp64 in {found['no_fp64']} of {found['dtype_lists']} dtype lists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
