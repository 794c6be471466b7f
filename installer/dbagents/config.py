"""`[tool.dbagents]` in the nearest pyproject.toml, found by walking up from the checked path."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbagents.errors import InputError
from dbagents.findings import Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

# Keys the static engine understands; sub-tables (e.g. [tool.dbagents.live]) belong to other parts
# and are passed through in `sections`.
KNOWN_KEYS = {"select", "ignore", "per-file-ignores", "exclude", "extend-exclude", "fail-on", "cache", "jobs",
              "baseline", "migrations-start-after", "lock-timeout", "migrations-run", "dialect", "roles", "per-role",
              "sqlalchemy"}
DEFAULT_BASELINE = ".dbagents-baseline.json"
# Project facts that live outside the code (see check/project_settings.py for what each one changes).
LOCK_TIMEOUT_VALUES = ("code", "role", "database", "pgoptions")
MIGRATIONS_RUN_VALUES = ("online", "offline")
DIALECT_VALUES = ("postgresql", "sqlite", "mysql", "mariadb", "mssql", "oracle")
KNOWN_SECTIONS = {"live", "scratch", "nplusone", "validate"}


@dataclass
class Config:
    """Settings from [tool.dbagents]; `path` is the pyproject.toml they came from (None = defaults)."""

    path: Path | None = None
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    fail_on: Severity | None = None
    cache: bool = True
    jobs: int | None = None
    baseline: str = DEFAULT_BASELINE  # relative to the project root (the config's folder)
    migrations_start_after: str | None = None  # revisions up to this one are history
    start_after_source: str = ""  # "--since-revision" when the command line set it (for error messages)
    lock_timeout: str = "code"  # where lock_timeout is set: in the code, or outside it (role, database, PGOPTIONS)
    migrations_run: str = "online"  # online: with traffic; offline: with the application stopped
    dialect: str = "postgresql"
    # file roles (check/roles.py): role -> globs that give it; role -> {rule id or prefix: "on" | "info" | "off"}
    roles: dict[str, list[str]] = field(default_factory=dict)
    per_role: dict[str, dict[str, str]] = field(default_factory=dict)
    sqlalchemy: str | None = None  # the SQLAlchemy line the project runs ("1.4"); None = read the pins
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Files this run judges as work in progress (--changed-since, --only-files, the hook): real absolute paths.
    # A revision among them is never "past", wherever it sits in the graph. Not a setting: left out of repr
    # (the cache key), since it only changes which findings are kept, never what a rule finds.
    in_progress: frozenset[str] = field(default_factory=frozenset, repr=False, compare=False)

    @property
    def root(self) -> Path | None:
        return self.path.parent if self.path else None


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above `start` that has a [tool.dbagents] table, else None."""
    here = start.resolve()
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                text = candidate.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if "tool.dbagents" not in text:
                continue
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError:
                return candidate  # ours, but broken: load_config reports it with the line
            if "dbagents" in data.get("tool", {}):
                return candidate
    return None


def _str_list(value: Any, key: str, path: Path) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise InputError(f"[tool.dbagents] {key} must be a list of strings", path=str(path))


def load_config(start: Path, explicit: Path | None = None) -> Config:
    """Load config from `explicit` or the nearest pyproject.toml with [tool.dbagents]."""
    path = explicit or find_pyproject(start)
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read config: {exc.strerror}", path=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(f"invalid TOML ({exc}); fix the syntax", path=str(path), line=line) from None
    table = data.get("tool", {}).get("dbagents", {})
    if not isinstance(table, dict):
        raise InputError("[tool.dbagents] must be a table", path=str(path))
    cfg = Config(path=path)
    for key, value in table.items():
        if key in ("roles", "per-role", "sqlalchemy"):
            _context_key(cfg, key, value, path)
            continue
        if isinstance(value, dict) and key in KNOWN_SECTIONS:
            cfg.sections[key] = value
            continue
        if key not in KNOWN_KEYS and key != "per-file-ignores":
            known = ", ".join(sorted(KNOWN_KEYS | KNOWN_SECTIONS))
            raise InputError(f"unknown key {key!r} in [tool.dbagents]; known keys: {known}", path=str(path))
        if key in ("select", "ignore"):
            setattr(cfg, key, [v.upper() for v in _str_list(value, key, path)])
        elif key in ("exclude", "extend-exclude"):
            cfg.exclude.extend(_str_list(value, key, path))
        elif key == "per-file-ignores":
            if not isinstance(value, dict):
                raise InputError("[tool.dbagents] per-file-ignores must be a table of glob = [ids]", path=str(path))
            cfg.per_file_ignores = {g: [v.upper() for v in _str_list(ids, key, path)] for g, ids in value.items()}
        elif key == "fail-on":
            try:
                cfg.fail_on = Severity.parse(str(value))
            except ValueError as exc:
                raise InputError(f"[tool.dbagents] fail-on: {exc}", path=str(path)) from None
        elif key == "cache":
            cfg.cache = bool(value)
        elif key == "jobs":
            if not isinstance(value, int) or value < 1:
                raise InputError("[tool.dbagents] jobs must be a positive integer", path=str(path))
            cfg.jobs = value
        elif key == "baseline":
            if not isinstance(value, str) or not value.strip():
                raise InputError("[tool.dbagents] baseline must be a file path (string)", path=str(path))
            cfg.baseline = value
        elif key == "migrations-start-after":
            if not isinstance(value, str) or not value.strip():
                raise InputError("[tool.dbagents] migrations-start-after must be an Alembic revision id (string)",
                                 path=str(path))
            cfg.migrations_start_after = value.strip()
        else:
            choices = {"lock-timeout": LOCK_TIMEOUT_VALUES, "migrations-run": MIGRATIONS_RUN_VALUES,
                       "dialect": DIALECT_VALUES}[key]
            if not isinstance(value, str) or value.strip().lower() not in choices:
                raise InputError(f"[tool.dbagents] {key} must be one of {', '.join(map(repr, choices))}",
                                 path=str(path))
            setattr(cfg, key.replace("-", "_"), value.strip().lower())
    return cfg


ROLE_NAMES = ("code", "test", "bench", "script", "revision", "past-revision")  # check/facts/_file_roles.py
ROLE_ACTIONS = ("on", "info", "off")


def _context_key(cfg: Config, key: str, value: Any, path: Path) -> None:
    """`roles`, `per-role` and `sqlalchemy`: where a file sits and what the project runs on."""
    def bad(what: str) -> InputError:
        return InputError(f"[tool.dbagents] {key}: {what}", path=str(path))

    if key == "sqlalchemy":
        text = str(value).strip()
        if not isinstance(value, (str, int, float)) or not text or not text.split(".")[0].isdigit():
            raise bad('give the SQLAlchemy version the project runs, e.g. "1.4" or "2.0"')
        cfg.sqlalchemy = text
        return
    if not isinstance(value, dict):
        raise bad("must be a table keyed by role (" + ", ".join(ROLE_NAMES) + ")")
    for role in value:
        if role not in ROLE_NAMES:
            raise bad(f"unknown role {role!r}; use one of {', '.join(ROLE_NAMES)}")
    if key == "roles":
        cfg.roles = {role: _str_list(globs, f"roles.{role}", path) for role, globs in value.items()}
        return
    for role, cells in value.items():
        if not isinstance(cells, dict):
            raise bad(f'{role} must be a table of rule id = "on" | "info" | "off"')
        for rule, action in cells.items():
            if not isinstance(action, str) or action.lower() not in ROLE_ACTIONS:
                raise bad(f'{role}.{rule} must be "on", "info" or "off"')
        from dbagents.check.registry import check_patterns  # only a per-role table pays for loading the rules

        try:
            check_patterns([r for r in cells if r.upper() != "ALL"], f"[tool.dbagents] per-role.{role}")
        except InputError as exc:
            raise InputError(str(exc), path=str(path)) from None
        cfg.per_role[role] = {rule.upper(): action.lower() for rule, action in cells.items()}
