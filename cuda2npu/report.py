"""Run summaries and the reports: JSON, SARIF 2.1.0, CSV and Markdown."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .config import SEVERITY_LEVELS
from .runner import FileResult

if TYPE_CHECKING:
    from .rulebook import Rule, RuleBook

REPORT_VERSION = 1


def reaches(severity: str, level: str | None) -> bool:
    """Whether a finding of ``severity`` reaches the --fail-on ``level`` (None: never)."""
    return level is not None and SEVERITY_LEVELS.index(severity) >= SEVERITY_LEVELS.index(level)


@dataclass
class Summary:
    """Counts over a run, accumulated as results stream in."""

    scanned: int = 0
    changed: int = 0
    failed: int = 0
    edits: Counter = field(default_factory=Counter)
    findings: Counter = field(default_factory=Counter)
    severities: Counter = field(default_factory=Counter)
    failing: int = 0  # findings that reach their file's --fail-on level
    internal: int = 0  # files that met a bug of cuda2npu's

    @property
    def unchanged(self) -> int:
        return self.scanned - self.changed - self.failed

    def add(self, result: FileResult, fail_on: str | None = None) -> None:
        self.scanned += 1
        self.failing += sum(reaches(f.severity, fail_on) for f in result.findings)
        self.internal += result.internal
        self.failed += result.error is not None
        self.changed += result.changed and result.error is None
        self.edits.update(e.rule for e in result.edits)
        self.findings.update(f.rule for f in result.findings)
        self.severities.update(f.severity for f in result.findings)

    def as_dict(self) -> dict:
        return {"files": self.scanned, "changed": self.changed, "unchanged": self.unchanged,
                "failed": self.failed, "edits": dict(sorted(self.edits.items())),
                "findings": dict(sorted(self.findings.items()))}


def file_entry(result: FileResult) -> dict:
    """One file of the JSON report."""
    return {
        "path": result.path,
        "changed": result.changed,
        "edits": [_item(e) for e in result.edits],
        "findings": [_item(f) for f in result.findings],
        "error": None if result.error is None else {"message": result.error, "line": result.error_line},
    }


def _item(item) -> dict:
    """An edit or finding; ``cell`` only in a notebook."""
    out = asdict(item)
    if out["cell"] is None:
        del out["cell"]
    return out


FORMATS = ("json", "sarif", "csv", "markdown", "github", "gitlab")
_BY_SUFFIX = {".json": "json", ".sarif": "sarif", ".csv": "csv", ".md": "markdown", ".markdown": "markdown"}
_SARIF_LEVEL = {"info": "note", "warning": "warning", "error": "error"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def format_for(path: str, given: str | None) -> str:
    """The report format: as given, else from the file's extension, else JSON."""
    return given or _BY_SUFFIX.get(Path(path).suffix.lower(), "json")


def render(fmt: str, entries: list[dict], summary: Summary, mode: str, book: RuleBook) -> str:
    """A report in one of :data:`FORMATS`."""
    return {"json": _json, "sarif": _sarif, "csv": _csv, "markdown": _markdown, "github": _github,
            "gitlab": _gitlab}[fmt](entries, summary, mode, book)


def _json(entries: list[dict], summary: Summary, mode: str, book: RuleBook) -> str:
    """``{"version", "tool", "mode", "files": [...], "summary": {...}}``."""
    document = {"version": REPORT_VERSION, "tool": "cuda2npu", "mode": mode,
                "files": entries, "summary": summary.as_dict()}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


_ERROR_RULE = {"id": "error", "name": "error",
               "shortDescription": {"text": "a file that could not be migrated and was left unchanged"},
               "fullDescription": {"text": "The file could not be read, decoded, parsed or written; the "
                                           "message says why and where. Nothing in it was changed."},
               "defaultConfiguration": {"level": "error"}}


def _sarif(entries: list[dict], summary: Summary, mode: str, book: RuleBook) -> str:
    """SARIF 2.1.0 for code scanning: every finding and every edit (pending or made) is a result,
    at its rule's level; files that failed are results of the declared rule ``error``."""
    used = sorted({item["rule"] for e in entries for item in e["edits"] + e["findings"]})
    rules = [_sarif_rule(book.by_id(rule_id), rule_id) for rule_id in used]
    if any(e["error"] for e in entries):
        used.append("error")
        rules.append(_ERROR_RULE)
    index = {rule_id: i for i, rule_id in enumerate(used)}
    results = []
    for entry in entries:
        for f in entry["findings"]:
            results.append(_sarif_result(entry["path"], f, _SARIF_LEVEL[f["severity"]], f["message"], index))
        verb = "migrated" if mode == "write" else "would migrate"
        for e in entry["edits"]:
            rule = book.by_id(e["rule"])
            level = "note" if mode == "write" or rule is None else _SARIF_LEVEL[rule.severity]
            results.append(_sarif_result(entry["path"], e, level, f"{verb}: {e['message']}", index))
        if entry["error"]:
            error = entry["error"]
            results.append(_sarif_result(entry["path"], {"rule": "error", "line": error["line"] or 1, "col": 1},
                                         "error", error["message"], index))
    run = {"tool": {"driver": {"name": "cuda2npu", "version": __version__, "informationUri":
                               "https://pypi.org/project/cuda2npu/", "rules": rules}},
           "results": results, "columnKind": "unicodeCodePoints"}
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"


def _sarif_rule(rule: Rule | None, rule_id: str) -> dict:
    if rule is None:  # engine diagnostics such as unused suppressions
        return {"id": rule_id, "shortDescription": {"text": rule_id},
                "help": {"text": f"cuda2npu explain {rule_id}"}}
    why = rule.why or rule.summary
    return {"id": rule.id, "name": rule.kind, "shortDescription": {"text": rule.summary},
            "fullDescription": {"text": why},
            "help": {"text": f"{why}\n\nMore, with examples: cuda2npu explain {rule.id}"},
            "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]}}


def _location(path: str, line: int, col: int, cell: int | None = None) -> dict:
    """A result's place: a relative path percent-encoded as a URI reference, an absolute one as a
    ``file://`` URI. In a notebook, the code cell (a logical location, with the line in the cell as
    a property): a line of the cell is no line of the ``.ipynb`` file."""
    from urllib.parse import quote

    posix = Path(path)
    uri = posix.as_uri() if posix.is_absolute() else quote(posix.as_posix())
    if cell is not None:
        return {"physicalLocation": {"artifactLocation": {"uri": uri}},
                "logicalLocations": [{"name": f"cell {cell}", "kind": "notebookCell"}],
                "properties": {"cell": cell, "lineInCell": line, "columnInCell": col}}
    return {"physicalLocation": {"artifactLocation": {"uri": uri},
                                 "region": {"startLine": line, "startColumn": col}}}


def _sarif_result(path: str, item: dict, level: str, text: str, index: dict[str, int]) -> dict:
    return {"ruleId": item["rule"], "ruleIndex": index[item["rule"]], "level": level,
            "message": {"text": text}, "locations": [_location(path, item["line"], item["col"], item.get("cell"))]}


CSV_COLUMNS = ("File", "Start Line", "End Line", "Operation Type", "Message", "Rule", "Severity")


def _csv(entries: list[dict], summary: Summary, mode: str, book: RuleBook) -> str:
    """Rows like the official tool's change_list.csv and unsupported_api.csv, in one file."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        for e in entry["edits"]:
            writer.writerow([entry["path"], e["line"], e["line"], _operation(book.by_id(e["rule"])),
                             e["message"], e["rule"], ""])
        for f in entry["findings"]:
            writer.writerow([entry["path"], f["line"], f["line"], "unsupported" if f["severity"] != "info"
                             else "advice", f["message"], f["rule"], f["severity"]])
        if entry["error"]:
            line = entry["error"]["line"] or ""
            writer.writerow([entry["path"], line, line, "error", entry["error"]["message"], "", "error"])
    return out.getvalue()


def _operation(rule: Rule | None) -> str:
    return {"rename": "rename api", "call": "replace call", "argument": "modify args", "string": "modify string",
            "attribute": "rename attribute", "import": "insert import"}.get(rule.kind if rule else "", "edit")


def _markdown(entries: list[dict], summary: Summary, mode: str, book: RuleBook) -> str:
    """A pull-request comment: the counts, then each finding that needs a human."""
    counts = summary.as_dict()
    verb = "changed" if mode == "write" else "would change"
    lines = ["## cuda2npu", "",
             f"{counts['files']} files scanned: **{counts['changed']} {verb}**, {counts['unchanged']} unchanged, "
             f"{counts['failed']} failed; {sum(counts['edits'].values())} edits, "
             f"{sum(counts['findings'].values())} findings.", ""]
    if counts["edits"] or counts["findings"]:
        lines += ["| rule | edits | findings | what |", "|---|---:|---:|---|"]
        for rule_id in sorted(set(counts["edits"]) | set(counts["findings"])):
            rule = book.by_id(rule_id)
            lines.append(f"| `{rule_id}` | {counts['edits'].get(rule_id, 0)} | {counts['findings'].get(rule_id, 0)} "
                         f"| {(rule.summary if rule else '').replace('|', '/')} |")
        lines.append("")
    needs = [(e["path"], f) for e in entries for f in e["findings"]]
    errors = [(e["path"], e["error"]) for e in entries if e["error"]]
    if needs or errors:
        lines += ["### Needs a human", ""]
        lines += [f"- `{path}:{err['line'] or 1}` **error**: {err['message']}" for path, err in errors]
        lines += [f"- `{path}:{f['line']}:{f['col']}` {f['severity']} `{f['rule']}`: {f['message']}"
                  for path, f in needs]
    return "\n".join(lines).rstrip("\n") + "\n"


def _pending(entry: dict, mode: str) -> str | None:
    """What a dry run says of a file that would change."""
    if mode == "write" or not entry["changed"]:
        return None
    count = len(entry["edits"])
    return f"would be migrated: {count} edit{'s' * (count != 1)} (run cuda2npu migrate, or apply its --diff)"


def _github(entries: list[dict], summary: Summary, mode: str, book: RuleBook) -> str:
    """GitHub Actions workflow commands: an annotation per finding, failed file and file to migrate."""
    def escape(text: str, prop: bool = False) -> str:
        text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return text.replace(":", "%3A").replace(",", "%2C") if prop else text

    lines = []
    for entry in entries:
        path = escape(entry["path"], True)
        if entry["error"]:
            line = f",line={entry['error']['line']}" if entry["error"]["line"] else ""
            lines.append(f"::error file={path}{line},title=cuda2npu error::{escape(entry['error']['message'])}")
        if (pending := _pending(entry, mode)) is not None:
            lines.append(f"::warning file={path},title=cuda2npu::{escape(pending)}")
        for f in entry["findings"]:
            level = {"info": "notice"}.get(f["severity"], f["severity"])
            lines.append(f"::{level} file={path},line={f['line']},col={f['col']},title={escape('cuda2npu ' + f['rule'], True)}"
                         f"::{escape(f['message'])}")
    return "".join(line + "\n" for line in lines)


def _gitlab(entries: list[dict], summary: Summary, mode: str, book: RuleBook) -> str:
    """A GitLab code quality report (``artifacts: reports: codequality``)."""
    import hashlib

    issues = []

    def issue(path: str, line: int | None, check: str, severity: str, text: str) -> None:
        key = "\0".join([path, check, str(line), text]).encode("utf-8")
        issues.append({"description": text, "check_name": check, "severity": severity,
                       "fingerprint": hashlib.sha256(key).hexdigest(),
                       "location": {"path": path, "lines": {"begin": line or 1}}})

    for entry in entries:
        if entry["error"]:
            issue(entry["path"], entry["error"]["line"], "error", "critical", entry["error"]["message"])
        if (pending := _pending(entry, mode)) is not None:
            issue(entry["path"], entry["edits"][0]["line"] if entry["edits"] else 1, "migrate", "major", pending)
        for f in entry["findings"]:
            severity = {"info": "info", "warning": "major", "error": "critical"}[f["severity"]]
            issue(entry["path"], f["line"], f["rule"], severity, f"{f['rule']} {f['message']}")
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"
