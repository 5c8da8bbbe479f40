"""The settings of each file: the nearest ``[tool.cuda2npu]`` above it (as in ruff and Black), or
the one given; the rulebook that configuration and the command line select; its excludes,
per-file ignores and results cache. No LibCST here, and no rule file is read when the cache
already knows the rules.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Config, ConfigError, load, nearest
from .files import DEFAULT_EXCLUDE, Excluder, file_kind, rule_sources

if TYPE_CHECKING:
    from .cache import Cache
    from .rulebook import RuleBook


class SettingsError(Exception):
    """A configuration, rule file or cache folder that cannot be used (exit 2)."""


def codes(values) -> list[str]:
    """Rule ids from repeated, comma-separated options."""
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


@dataclass(frozen=True)
class Flags:
    """What the command line says; applied on top of every configuration."""

    rule_paths: tuple[str, ...] = ()
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fail_on: str | None = None
    positions: bool = False  # exact positions for every edit (a report needs them)
    no_cache: bool = False
    cache_dir: str | None = None
    torch_npu_version: str | None = None
    soc: str | None = None
    target: str | None = None
    ops_everywhere: bool = False  # op support in every file naming an API, not only those parsed anyway


def rulebook(rule_paths, select=(), ignore=(), *, fused_optimizers: bool = True, every: bool = False,
             target: str | None = None) -> "RuleBook":
    """The built-in rules of ``target`` (npu by default) plus ``rule_paths``, selected
    (``fused-optimizers = false`` drops the rules tagged ``fused-optimizer``; rules tagged
    ``opt-in`` run only when selected by id); ``every``: all of them, for the catalog."""
    from .rulebook import DEFAULT_TARGET, RuleError, load_rulebook, targets

    try:
        book = load_rulebook(rule_paths, target=target or DEFAULT_TARGET)
        if not len(book) and target not in targets():
            raise SettingsError(f"unknown target {target!r}; the built-in rules serve {', '.join(targets())}")
        if every:
            return book
        dropped = [] if fused_optimizers else book.tagged("fused-optimizer")
        return book.select(codes(select), [*codes(ignore), *dropped])
    except RuleError as exc:
        raise SettingsError(str(exc)) from None


class Session:
    """One configuration with the flags applied: its rulebook (loaded when first needed), the text
    rules' file patterns, its excludes, per-file ignores and cache."""

    def __init__(self, config: Config, flags: Flags, project: Path | None = None):
        from .pins import choose
        from .versions import VersionError

        self.config = config
        self.fail_on = flags.fail_on or config.fail_on
        configured = (config.torch_npu_version, config.path) if config.torch_npu_version else None
        try:  # the release the rules are gated to, and why
            self.torch_npu = choose(flags.torch_npu_version, configured,
                                    config.path.parent if config.path else project)
        except VersionError as exc:
            raise SettingsError(str(exc)) from None
        from .opsupport import DEFAULT_SOC

        self.soc = (flags.soc or config.soc or DEFAULT_SOC).upper()
        self.target = flags.target or config.target or "npu"
        self.torch = None  # the accelerator target: the torch release it writes for
        if self.target == "accelerator":
            from .portable import TorchError, choose as choose_torch

            try:
                choice = self.torch_npu
                self.torch = choose_torch(choice.release.version if choice.pinned else None, choice.why,
                                          config.path.parent if config.path else project)
            except (TorchError, VersionError) as exc:
                raise SettingsError(str(exc)) from None
        self._everywhere = flags.ops_everywhere
        self._rules = ((*config.rules, *flags.rule_paths), flags.select or tuple(config.select),
                       (*config.ignore, *flags.ignore))
        self._book: RuleBook | None = None
        base = config.path.parent if config.path else None
        patterns = list(DEFAULT_EXCLUDE if config.exclude is None else config.exclude) + config.extend_exclude
        self.cache = None if flags.no_cache else self._open_cache(flags)
        globs = self.cache.globs() if self.cache is not None else None
        self.excluded = Excluder(patterns, base, globs)
        self._ignores = [(Excluder([pattern], base, globs), tuple(codes(tuple(ids))))
                         for pattern, ids in config.per_file_ignores.items()]
        patterns = self.cache.text_patterns if self.cache is not None else None
        if patterns is None:  # not known from an earlier run: load (and so check) the rules now
            patterns = sorted(self.book().text_patterns())
            if self.cache is not None:
                self.cache.know(patterns)
        self.patterns = tuple(patterns)

    def settings(self) -> list[tuple[str, str]]:
        """What this session runs with, for ``--show-settings``."""
        rule_paths, select, ignore = self._rules
        config = self.config
        excludes = list(DEFAULT_EXCLUDE if config.exclude is None else config.exclude) + config.extend_exclude
        return [("config", str(config.path) if config.path else "(none)"),
                ("rules", ", ".join(["(built-in)", *map(str, rule_paths)])),
                ("select", ", ".join(codes(select)) or "(all)"), ("ignore", ", ".join(codes(ignore)) or "(none)"),
                ("fused-optimizers", str(config.fused_optimizers).lower()),
                ("fail-on", self.fail_on or "(none)"), ("exclude", ", ".join(excludes)),
                ("per-file-ignores", "; ".join(f"{k}: {', '.join(v)}" for k, v in config.per_file_ignores.items())
                 or "(none)"),
                ("target", self.target),
                ("torch-npu-version", f"{self.torch_npu.release.version} ({self.torch_npu.why})"),
                *([("torch", f"{self.torch.version} ({self.torch.why})")] if self.torch else []),
                ("soc", self.soc),
                ("cache", str(self.cache.path) if self.cache is not None else "(off)")]

    def book(self) -> "RuleBook":
        if self._book is None:
            rule_paths, select, ignore = self._rules
            book = rulebook(rule_paths, select, ignore, fused_optimizers=self.config.fused_optimizers,
                            target=self.target)
            from .rulebook import RuleError
            from .versions import for_release

            for ids in self.config.per_file_ignores.values():
                try:
                    book.select(ignore=codes(tuple(ids)))
                except RuleError as exc:
                    raise SettingsError(f"{self.config.path}: [tool.cuda2npu] per-file-ignores: {exc}") from None
            if self.torch is not None:
                from .portable import for_torch

                self._book = for_torch(book, self.torch.version, self.soc)
            else:
                self._book = for_release(book, self.torch_npu.release, self.soc, self._everywhere)
        return self._book

    def ignores(self, path: Path) -> tuple[str, ...]:
        """The rule ids per-file-ignores leave out for ``path``."""
        return tuple(sorted({i for match, ids in self._ignores if match(path) for i in ids}))

    def kind(self, path: Path) -> str:
        return file_kind(path, self.patterns)

    def _open_cache(self, flags: Flags) -> "Cache | None":
        from .cache import Cache, default_dir, disabled_by_env, fingerprint, refusal

        if disabled_by_env():
            return None
        from_env = os.environ.get("CUDA2NPU_CACHE_DIR")
        chosen = Path(flags.cache_dir) if flags.cache_dir else default_dir() if from_env else self.config.cache_dir
        folder = chosen or default_dir()
        if folder is None:
            return None
        why = refusal(folder) if chosen else None  # the default folder is cuda2npu's own, whatever it holds
        if why:
            raise SettingsError(f"cache folder {folder}: {why}; choose another with --cache-dir or cache-dir, "
                                "or use --no-cache")
        rule_paths, select, ignore = self._rules
        try:
            files = [path for path, _ in rule_sources(rule_paths)]
        except FileNotFoundError:
            return None  # the rulebook's load says why
        settings = {"select": codes(select), "ignore": codes(ignore), "fused": self.config.fused_optimizers,
                    "per-file-ignores": self.config.per_file_ignores, "positions": flags.positions,
                    "torch-npu": self.torch_npu.release.version, "soc": self.soc, "target": self.target,
                    "torch": self.torch.version if self.torch else None,
                    "ops-everywhere": flags.ops_everywhere}
        key = fingerprint(files, settings)
        return Cache(folder, key) if key else None


class Sessions:
    """The session of every path: of the configuration given (``--config``, ``--no-config``), else
    of the nearest pyproject.toml with a ``[tool.cuda2npu]`` table above it."""

    def __init__(self, flags: Flags, config_path: str | None = None, no_config: bool = False,
                 project: Path | None = None):
        self.flags = flags
        self.project = project  # where a project without configuration declares its torch-npu pin
        self._fixed = None
        self._by_config: dict[Path | None, Session] = {}
        self._by_folder: dict[str | Path, Session] = {}  # by folder as given and as absolute
        self._nearest: dict[str, Path | None] = {}  # each folder's configuration file
        if no_config or config_path:
            self._fixed = self._session(Path(config_path) if config_path else None)

    def of(self, path: Path) -> Session:
        """The session of a file, or of a folder's files."""
        return self.of_folder(path if path.is_dir() else path.parent)

    def of_folder(self, folder: Path) -> Session:
        """The session of the files in ``folder`` (looked up once per folder, without a stat)."""
        if self._fixed is not None:
            return self._fixed
        session = self._by_folder.get(folder)
        if session is None:
            key = os.path.abspath(folder)
            if key not in self._by_folder:
                try:
                    found = nearest(Path(key), self._nearest)
                except ConfigError as exc:
                    raise SettingsError(str(exc)) from None
                self._by_folder[key] = self._session(found)
            session = self._by_folder[folder] = self._by_folder[key]
        return session

    def excluded(self, path: Path, root: Path | None = None) -> bool:
        """Whether the configuration of ``path``'s folder excludes it (an Excluder's signature)."""
        return self.of_folder(path.parent).excluded(path, root)

    def kind(self, path: Path) -> str:
        return self.of_folder(path.parent).kind(path)

    def all(self) -> list[Session]:
        return [self._fixed] if self._fixed is not None else list(self._by_config.values())

    def _session(self, config_path: Path | None) -> Session:
        if config_path not in self._by_config:
            try:
                config = load(config_path)
            except ConfigError as exc:
                raise SettingsError(str(exc)) from None
            self._by_config[config_path] = Session(config, self.flags, self.project)
        return self._by_config[config_path]
