#!/usr/bin/env python3
"""Build ``cuda2npu/data/versions.json``: what each torch_npu release has, against the newest.

Every wheel is read statically by ``sync_api.build_snapshot`` (nothing is imported), beside one
torch wheel (the newest pin's: torch only supplies what torch_npu's modules import from it, so
the names torch_npu defines do not depend on it). Per release the file keeps only what differs
from the newest snapshot (``cuda2npu/data/api_snapshot.json``), so it stays small:

- ``missing`` / ``extra``: names per module absent from / only in that release;
- ``params_missing``: parameters a function of the newest lacks there;
- ``ops_missing``: public custom ops (``torch_npu.npu_*``) absent there;
- ``torch``: the torch release the wheel pins; ``built``: the date of its METADATA;
- ``autoload``: whether ``import torch`` loads it (a ``torch.backends`` entry point);
- ``compile_backends``: its ``torch_dynamo_backends`` entry points.

It also rewrites the per-release table of ``docs/api-snapshot.md``.

Run ``python scripts/sync_versions.py --help`` for options.
"""

from __future__ import annotations

import argparse
import configparser
import json
import re
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sync_api  # (the sibling script: wheels, static module model, snapshot)

# The newest build of every release line on PyPI (a .postN is a new build with its own API).
RELEASES = [
    "2.1.0.post17", "2.3.1.post6", "2.4.0.post4", "2.5.1.post1", "2.6.0.post5", "2.7.1.post11",
    "2.8.0.post5", "2.9.0.post9", "2.9.1", "2.10.0.post7", "2.11.0.post3", "2.12.0.post3",
    "2.13.0", "2.14.0",
]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]
DEFAULT_OUTPUT = sync_api.REPO_ROOT / "cuda2npu" / "data" / "versions.json"
DOC = sync_api.REPO_ROOT / "docs" / "api-snapshot.md"
MARKERS = ("<!-- per-release table: scripts/sync_versions.py -->", "<!-- end of the per-release table -->")
GATED = ("torch.npu", "torch.npu.amp", "torch.npu.mstx", "torch_npu.optim")  # what rules rewrite to


def table(data: dict) -> str:
    """The Markdown table of docs/api-snapshot.md: per release, its build and what it lacks."""
    from packaging.version import Version

    rows = ["| torch_npu | torch | built | autoload | `torch.compile` backends | lacks (of torch.npu, its amp and mstx, torch_npu.optim) | keywords it lacks |",
            "|---|---|---|---|---|---|---|"]
    for version in sorted(data["versions"], key=Version):
        facts = data["versions"][version]
        lacks = [f"`{m}.{n}`" for m in GATED for n in facts.get("missing", {}).get(m, [])]
        params = [f"`{q}({p}=)`" for q, ps in sorted(facts.get("params_missing", {}).items()) for p in ps]
        rows.append(f"| {version} | {facts['torch']} | {facts['built']} | {'yes' if facts['autoload'] else 'no'} | "
                    f"{', '.join(facts['compile_backends']) or '-'} | {', '.join(lacks) or '-'} | "
                    f"{', '.join(params) or '-'} |")
    return "\n".join(rows) + "\n"


def write_table(data: dict) -> None:
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(MARKERS[0]) + len(MARKERS[0]), text.index(MARKERS[1])
    DOC.write_text(text[:start] + "\n" + table(data) + text[end:], encoding="utf-8")


def download(version: str, cache: Path) -> Path:
    """The torch_npu wheel of ``version`` from the cache, else from PyPI (any manylinux tag)."""
    found = sync_api.find_wheel(cache, "torch_npu", version)
    if found:
        return found
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--python-version", sync_api.PYTHON_VERSION, "-d", str(cache)]
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    sync_api.subprocess.run(cmd + [f"torch-npu=={version}"], check=True, stdout=sys.stderr)
    found = sync_api.find_wheel(cache, "torch_npu", version)
    if found is None:
        sys.exit(f"error: pip did not produce a torch_npu-{version} wheel in {cache}")
    return found


def wheel_facts(wheel: zipfile.ZipFile) -> dict:
    """The torch pin, build date and entry points of a torch_npu wheel."""
    meta = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    pin = None
    for line in wheel.read(meta).decode("utf-8").splitlines():
        match = re.match(r"Requires-Dist:\s*torch\s*\(?\s*==\s*([\w.*]+?)(?:\+\w+)?\s*\)?\s*$", line)
        if match:
            pin = match.group(1).removesuffix(".*")
    points = configparser.ConfigParser()
    entry = meta.replace("METADATA", "entry_points.txt")
    if entry in wheel.namelist():
        points.read_string(wheel.read(entry).decode("utf-8"))
    year, month, day = wheel.getinfo(meta).date_time[:3]
    return {
        "torch": pin,
        "built": f"{year:04d}-{month:02d}-{day:02d}",
        "autoload": points.has_section("torch.backends"),
        "compile_backends": sorted(points["torch_dynamo_backends"]) if points.has_section("torch_dynamo_backends") else [],
    }


def difference(snapshot: dict, newest: dict) -> dict:
    """What ``snapshot`` lacks or adds against ``newest``."""
    out: dict = {"missing": {}, "extra": {}, "params_missing": {}}
    for module, names in newest["modules"].items():
        have = set(snapshot["modules"].get(module, []))
        if missing := sorted(set(names) - have):
            out["missing"][module] = missing
        if extra := sorted(have - set(names)):
            out["extra"][module] = extra
    for qualname, params in newest["signatures"].items():
        old = snapshot["signatures"].get(qualname)
        if old is not None:
            names = {p["name"] for p in old}
            if lacking := [p["name"] for p in params if p["name"] not in names]:
                out["params_missing"][qualname] = lacking
    out["ops_missing"] = sorted(set(newest["custom_ops"]["public"]) - set(snapshot["custom_ops"]["public"]))
    return {key: value for key, value in out.items() if value}


def build(releases: list[str], torch_wheel: Path, cache: Path) -> dict:
    """The versions file for ``releases`` (the last is the newest, the snapshot's own)."""
    versions = {}
    with zipfile.ZipFile(torch_wheel) as torch_whl:
        snapshots = {}
        for version in releases:
            path = download(version, cache)
            print(f"reading {path.name}", file=sys.stderr)
            with zipfile.ZipFile(path) as npu_whl:
                snapshots[version] = sync_api.build_snapshot(torch_whl, npu_whl)
                versions[version] = wheel_facts(npu_whl)
    newest = snapshots[releases[-1]]
    for version in releases:
        versions[version].update(difference(snapshots[version], newest))
    return {"generated_by": "scripts/sync_versions.py", "newest": releases[-1],
            "torch_read": sync_api.wheel_version(zipfile.ZipFile(torch_wheel)), "versions": versions}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", nargs="+", default=RELEASES,
                        help="torch_npu releases, oldest first; the last must be the snapshot's")
    parser.add_argument("--torch-version", default=sync_api.TORCH_VERSION)
    parser.add_argument("--torch-wheel", type=Path)
    parser.add_argument("--cache-dir", type=Path, default=sync_api.DEFAULT_CACHE)
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    cache = args.cache_dir.expanduser().resolve()
    torch_wheel = sync_api.obtain_wheel("torch", args.torch_version, args.torch_wheel, None, cache)
    data = build(args.releases, torch_wheel, cache)
    snapshot = json.loads(sync_api.DEFAULT_OUTPUT.read_text(encoding="utf-8"))
    if data["newest"] != snapshot["wheels"]["torch_npu"]:
        sys.exit(f"error: the newest release {data['newest']} is not the snapshot's "
                 f"{snapshot['wheels']['torch_npu']}: run scripts/sync_api.py first")
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    args.output.write_text(text, encoding="utf-8")
    write_table(data)
    print(f"wrote {args.output} ({len(text.encode()) // 1024} KiB) and the table of {DOC.name}")
    for version, facts in data["versions"].items():
        missing = sum(len(v) for v in facts.get("missing", {}).values())
        print(f"  {version:14s} torch {facts['torch']:8s} built {facts['built']}  "
              f"{missing:3d} names missing, {len(facts.get('ops_missing', [])):3d} ops missing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
