"""``cuda2npu analyze``: the effort a port needs, per file and in total, before making it; with
the unsupported ops and CPU fallbacks of Ascend's op-support facts, by API."""

from __future__ import annotations

import re
from collections import Counter

EFFORTS = ("none", "low", "medium", "high")
KEYS = ("automatic", "manual", "advice", "unsupported", "cpu_fallback")
HEADER = ("file", "automatic", "needs a human", "advice", "unsupported ops", "CPU fallbacks", "effort")
_API = re.compile(r"`([\w.]+)`")


def estimate(groups, jobs: int | None, torch_npu: list[str]) -> dict:
    """The analysis of the files of ``groups`` ((session, sources) pairs): the JSON document."""
    from .runner import Options, default_jobs, run

    files, count, apis = [], 0, {"unsupported": Counter(), "cpu_fallback": Counter()}
    results = ((session, result) for session, group in groups
               for result in run([s for s in group if s.kind != "other"], session.book,
                                 Options(write=False, positions=False), jobs or default_jobs(), session.cache))
    for session, result in results:
        count += 1
        if result.edits or result.findings or result.error:
            manual = sum(f.severity != "info" for f in result.findings)
            effort, reason = effort_of(manual, result.error)
            ops = op_findings(session.book(), result.findings)
            for status, names in ops.items():
                apis[status].update(names)
            files.append({"path": result.path, "automatic": len(result.edits), "manual": manual,
                          "advice": len(result.findings) - manual, "effort": effort, "reason": reason,
                          "unsupported": len(ops["unsupported"]), "cpu_fallback": len(ops["cpu_fallback"]),
                          "error": result.error, "rules": dict(sorted(Counter(
                              [e.rule for e in result.edits] + [f.rule for f in result.findings]).items()))})
    total = {key: sum(f[key] for f in files) for key in KEYS}
    total.update(files=count, to_port=len(files), effort=max((f["effort"] for f in files), key=EFFORTS.index,
                                                             default="none"),
                 torch_npu=torch_npu, apis={status: dict(sorted(names.items())) for status, names in apis.items()})
    return {"version": 1, "tool": "cuda2npu", "files": files, "total": total}


def rows(report: dict) -> list[tuple[str, ...]]:
    """The table of :data:`HEADER`: a row per file, then the total."""
    total = report["total"]
    out = [(f["path"], *(str(f[k]) for k in KEYS), f["effort"]) for f in report["files"]]
    out.append((f"total ({total['files']} files, {total['to_port']} to port)", *(str(total[k]) for k in KEYS),
                total["effort"]))
    return out


def op_findings(book, findings) -> dict[str, list[str]]:
    """The APIs of a file's op-support findings (the first name a message quotes), by status."""
    status = {r.id: r.get("status") for r in book if r.kind == "report" and r.get("status")}
    out: dict[str, list[str]] = {"unsupported": [], "cpu_fallback": []}
    for finding in findings:
        kind, name = status.get(finding.rule), _API.search(finding.message)
        if kind in out and name:
            out[kind].append(name.group(1))
    return out


def effort_of(manual: int, error: str | None) -> tuple[str, str]:
    """The effort a file needs, and why."""
    if error is not None:
        return "high", f"cannot be migrated as it is: {error}"
    need = f"{manual} finding{'s' * (manual != 1)} need{'s' * (manual == 1)} a human"
    if manual > 10:
        return "high", f"{need} (more than 10)"
    if manual > 2:
        return "medium", f"{need} (3 to 10)"
    return "low", "automatic only" if not manual else f"{need} (1 or 2)"
