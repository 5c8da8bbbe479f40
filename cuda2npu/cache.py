"""The results cache: a file's result, kept until the file, a project module its analysis read,
the rules, the configuration or cuda2npu itself change (as ruff's and Black's caches).

One JSON file per fingerprint of the run (tool, Python, rule files, settings) in the cache folder,
its entries keyed by absolute path. An entry is used for the same kind, per-file ignores and
dependencies, and the same size and modification time or else the same content hash. It holds
the edits, findings or error, and the migrated bytes of a file that would change, so a hit needs
neither LibCST nor the rule files. Files are JSON signed with a key of this user's (never pickle):
a cache folder planted in a repository is ignored, and so is a truncated or foreign one. Writes
are atomic, and a run merges its entries into what a concurrent run saved meanwhile.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sys
import time
import zlib
from pathlib import Path
from typing import Any, Iterable

from . import __version__
from .files import Source, stamp

FORMAT = 1
ENV_DIR, ENV_OFF = "CUDA2NPU_CACHE_DIR", "CUDA2NPU_NO_CACHE"
KEEP_DAYS = 30  # entries not used for this long are dropped
MAX_STORED = 64 * 1024 * 1024  # migrated bytes kept per cache file (compressed)
MAX_FOLDER = 256 * 1024 * 1024  # the folder's cache files beyond this go, oldest first
_KINDS = ("python", "notebook", "text")


def default_dir() -> Path | None:
    """``$CUDA2NPU_CACHE_DIR``, else ``$XDG_CACHE_HOME/cuda2npu`` or ``~/.cache/cuda2npu``; None
    without a home folder (then there is no cache)."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "cuda2npu"
    try:
        return Path.home() / ".cache" / "cuda2npu"
    except RuntimeError:  # no HOME and no password entry
        return None


def disabled_by_env() -> bool:
    return os.environ.get(ENV_OFF, "") not in ("", "0")


def fingerprint(rule_paths: Iterable[Path], settings: dict[str, Any]) -> str | None:
    """What every result of a run depends on besides its files; None when a rule file is unreadable
    (the rulebook's load then says why)."""
    digest = hashlib.blake2b(digest_size=20)
    package = Path(__file__).resolve().parent
    code = sorted((str(p.relative_to(package)), *(stamp(p) or ())) for p in package.rglob("*")
                  if p.suffix in (".py", ".json", ".yaml") and "__pycache__" not in p.parts)
    digest.update(json.dumps([FORMAT, __version__, sys.version_info[:2], code, settings], sort_keys=True,
                             default=str).encode())
    for path in rule_paths:
        try:
            digest.update(str(path).encode("utf-8", "surrogateescape") + b"\0" + path.read_bytes() + b"\0")
        except OSError:
            return None
    return digest.hexdigest()


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class Cache:
    """The entries of one fingerprint: looked up by the runner, saved once at the end of the run."""

    def __init__(self, folder: Path, key: str):
        self.folder = folder
        self.path = folder / f"{key}.json"
        self._secret = _secret()
        self.entries: dict[str, dict] = {}
        self.header: dict[str, Any] = {}
        self._changed: dict[str, dict | None] = {}  # this run's updates (None: drop the entry)
        self._patterns: list[str] | None = None
        self._globs_known = 0
        self._today = int(time.time() // 86400)
        if self._secret is not None:
            self.header, self.entries = self._load()

    @property
    def text_patterns(self) -> list[str] | None:
        """The text rules' file patterns, known when an earlier run loaded the same rules."""
        patterns = self.header.get("text_patterns")
        return patterns if isinstance(patterns, list) and all(isinstance(p, str) for p in patterns) else None

    def globs(self) -> dict[str, list]:
        """The exclude globs' translations an earlier run kept (with the same pathspec), to be
        used and added to by this run's :class:`~cuda2npu.files.Excluder`s and saved with it."""
        known = self.header.get("globs")
        if not isinstance(known, dict) or self.header.get("pathspec") != _pathspec_stamp():
            known = {}
        self.header["globs"] = known
        self._globs_known = len(known)
        return known

    def lookup(self, source: Source) -> tuple[dict | None, bool]:
        """The entry for ``source`` if its kind, ignores and dependencies still hold, and whether the
        file's size and modification time are unchanged (if not, the caller compares the hash)."""
        key = _key(source)
        entry = self.entries.get(key)
        if entry is None or source.kind not in _KINDS or entry.get("kind") != source.kind \
                or entry.get("ignore") != list(source.ignore):
            return None, False
        deps = entry.get("deps")
        if not isinstance(deps, dict) or not all(_still(dep, was) for dep, was in deps.items()):
            return None, False
        return entry, entry.get("stat") == list(stamp(key) or ())

    def forget(self, source: Source) -> None:
        """Drop the entry of a file (rewritten in place: its old text's entry has no more use)."""
        key = _key(source)
        if key in self.entries or key in self._changed:
            self.entries.pop(key, None)
            self._changed[key] = None

    def store(self, source: Source, result) -> None:
        """Keep a result that came from the rules alone (not a read or write failure)."""
        key = _key(source)
        if result.stamp is None or source.kind not in _KINDS:
            self.forget(source)
            return
        entry = {"kind": source.kind, "ignore": list(source.ignore), "stat": list(result.stamp[0]),
                 "hash": result.stamp[1], "deps": {k: list(v) if isinstance(v, tuple) else v
                                                   for k, v in result.deps.items()},
                 "changed": result.changed,
                 "edits": [[e.rule, e.line, e.col, e.message, e.cell] for e in result.edits],
                 "findings": [[f.rule, f.line, f.col, f.severity, f.message, f.cell] for f in result.findings],
                 "error": result.error, "error_line": result.error_line, "used": self._today,
                 "new": _pack(result.new) if result.changed and result.new is not None else None}
        self._changed[key] = self.entries[key] = entry

    def refresh(self, source: Source, entry: dict, new_stat: tuple[int, int]) -> None:
        """An entry found by its hash after a touch: remember the new modification time."""
        entry["stat"] = list(new_stat)
        self._changed[_key(source)] = entry

    def used(self, source: Source, entry: dict) -> None:
        if entry.get("used") != self._today:
            entry["used"] = self._today
            self._changed[_key(source)] = entry

    def know(self, text_patterns: Iterable[str]) -> None:
        """The text rules' file patterns of the rulebook this run loaded (kept for the next run)."""
        self._patterns = sorted(text_patterns)

    def save(self) -> None:
        """Merge this run's entries into the file as it is now, atomically; never fails the run."""
        patterns = self._patterns if self._patterns is not None else self.text_patterns
        globs = self.header.get("globs") or {}
        if self._secret is None or (not self._changed and patterns == self.text_patterns
                                    and len(globs) == self._globs_known):
            return
        try:
            _, entries = self._load()
            for key, entry in self._changed.items():
                if entry is None:
                    entries.pop(key, None)
                else:
                    entries[key] = entry
            _prepare(self.folder)
            header = {"text_patterns": patterns, "globs": globs, "pathspec": _pathspec_stamp()}
            self._write(header, _bounded(entries, self._today))
            _trim(self.folder, keep=self.path)
        except (OSError, ValueError, TypeError):
            pass  # a cache that cannot be written only costs time

    def _load(self) -> tuple[dict, dict]:
        try:
            raw = self.path.read_bytes()
            signature, _, body = raw.partition(b"\n")
            if not hmac.compare_digest(signature, _sign(self._secret, body)):
                return {}, {}
            data = json.loads(body)
            entries = data["entries"]
            if data.get("format") != FORMAT or not isinstance(entries, dict):
                return {}, {}
            return data.get("header") or {}, {k: v for k, v in entries.items() if isinstance(v, dict)}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}, {}

    def _write(self, header: dict, entries: dict) -> None:
        import tempfile  # only a run that changed the cache needs it

        body = json.dumps({"format": FORMAT, "header": header, "entries": entries},
                          separators=(",", ":")).encode()
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(_sign(self._secret, body) + b"\n" + body)
            os.replace(tmp, self.path)
        except BaseException:
            os.unlink(tmp)
            raise


def _key(source: Source) -> str:
    """An entry's key: the file's absolute path."""
    return os.path.abspath(source.path)


def result_parts(entry: dict) -> tuple[list, list, bytes | None]:
    """The edits, findings and migrated bytes an entry holds (raises on a malformed entry)."""
    from .results import Edit, Finding

    edits = [Edit(str(r), int(ln), int(c), str(m), None if n is None else int(n)) for r, ln, c, m, n in entry["edits"]]
    findings = [Finding(str(r), int(ln), int(c), str(s), str(m), None if n is None else int(n))
                for r, ln, c, s, m, n in entry["findings"]]
    new = zlib.decompress(base64.b64decode(entry["new"])) if entry.get("new") else None
    return edits, findings, new


def _pathspec_stamp() -> list | None:
    """The installed pathspec's stamp (found, not imported), which its translations hold for."""
    from importlib.machinery import PathFinder

    spec = PathFinder.find_spec("pathspec")
    found = stamp(spec.origin) if spec is not None and spec.origin else None
    return list(found) if found else None


def _still(path: str, was: Any) -> bool:
    """Whether a dependency is as the entry saw it: same stamp, still present, still absent."""
    now = stamp(path)
    if was is True:
        return now is not None
    if was is None:
        return now is None
    return now is not None and list(now) == was


def _pack(data: bytes) -> str:
    return base64.b64encode(zlib.compress(data, 6)).decode("ascii")


def _bounded(entries: dict, today: int) -> dict:
    """The entries used in the last KEEP_DAYS days, most recent first while the migrated bytes
    they hold stay under MAX_STORED."""
    recent = sorted(((k, e) for k, e in entries.items()
                     if isinstance(e.get("used"), int) and today - e["used"] < KEEP_DAYS), key=lambda i: -i[1]["used"])
    kept, stored = {}, 0
    for key, entry in recent:
        stored += len(entry.get("new") or "")
        if stored <= MAX_STORED or not entry.get("new"):
            kept[key] = entry
    return kept


def _trim(folder: Path, keep: Path) -> None:
    """Remove the oldest cache files while the folder holds more than MAX_FOLDER bytes."""
    files = sorted((p for p in folder.glob("*.json") if p != keep and _is_cache_file(p)), key=lambda p: p.stat().st_mtime)
    total = sum(p.stat().st_size for p in files) + keep.stat().st_size
    for path in files:
        if total <= MAX_FOLDER:
            break
        total -= path.stat().st_size
        path.unlink(missing_ok=True)


def _sign(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, body, hashlib.blake2b).hexdigest().encode()


def _is_cache_file(path: Path) -> bool:
    return len(path.stem) == 40 and all(c in "0123456789abcdef" for c in path.stem)


def refusal(folder: Path) -> str | None:
    """Why ``folder`` cannot be the cache folder: it must be new, empty, or one of ours (it gets a
    ``.gitignore`` of ``*``, and old cache files in it are deleted)."""
    if not folder.exists():
        return None
    if not folder.is_dir():
        return "not a folder"
    if (folder / "CACHEDIR.TAG").is_file() or not any(folder.iterdir()):
        return None
    return "the folder exists and is not a cuda2npu cache (it has files and no CACHEDIR.TAG)"


def _prepare(folder: Path) -> None:
    """Create the cache folder with a ``.gitignore`` and a ``CACHEDIR.TAG`` (never committed,
    never backed up)."""
    folder.mkdir(parents=True, exist_ok=True)
    # The tag first: a concurrent run that looks at the folder in between sees it empty or tagged,
    # never holding files without the tag (which refusal() takes for a folder of the user's).
    for name, text in (("CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n# cuda2npu's results cache\n"),
                       (".gitignore", "# created by cuda2npu\n*\n")):
        try:
            with open(folder / name, "x", encoding="utf-8") as handle:
                handle.write(text)
        except FileExistsError:
            pass


def _secret() -> bytes | None:
    """This user's signing key, in the user's own cache folder (never in a project's, which a
    repository could ship with a key of its own); created on first use. None if not writable."""
    home = default_dir()
    if home is None:
        return None
    key = home / "key"
    try:
        return key.read_bytes()
    except FileNotFoundError:
        pass
    except OSError:
        return None
    import tempfile

    try:
        _prepare(key.parent)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=key.parent)  # mode 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(32).hex().encode())
        try:
            os.link(tmp, key)  # whole or not at all; a concurrent run's key wins if it came first
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    except OSError:
        return None
    try:
        return key.read_bytes()
    except OSError:
        return None
