"""The SQLAlchemy release line a project runs on, read as text from its dependency files (nothing imported).

Looked for in the checked root and its direct subfolders (a `server/` or `backend/` package), lock files
first (they name the installed version): uv.lock, poetry.lock, pdm.lock, Pipfile.lock; then declared
requirements: pyproject.toml (PEP 621 / PDM / uv dependencies, Poetry's `SQLAlchemy = "^1.4"` tables),
requirements*.txt, setup.cfg, setup.py. A requirement pins 1.x when its versions all lie below 2.0 (`==1.4.54`,
`~=1.3`, `^1.4`, `<2`, `>=1.3,<1.4`). `[tool.dbagents] sqlalchemy = "1.4"` overrides all of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

LOCKS = ("uv.lock", "poetry.lock", "pdm.lock", "Pipfile.lock")
DECLARED = ("pyproject.toml", "setup.cfg", "setup.py")
MAX_BYTES = 16 * 1024 * 1024
# `name = "sqlalchemy"` followed by its `version = "x"` (uv, poetry, pdm lock files)
LOCK_ENTRY = re.compile(r'^name\s*=\s*"sqlalchemy"\s*\n(?:[^\[\n][^\n]*\n)*?version\s*=\s*"([^"]+)"',
                        re.IGNORECASE | re.MULTILINE)
PIPFILE_ENTRY = re.compile(r'"sqlalchemy"\s*:\s*\{[^}]*?"version"\s*:\s*"==([^"]+)"', re.IGNORECASE)
# a requirement of the package itself (not flask-sqlalchemy, sqlalchemy-utils, prefect[sqlalchemy]):
# `sqlalchemy[asyncio]>=2.0`, `SQLAlchemy==1.4.54`, Poetry's `SQLAlchemy = "^1.4"` / `{version = "~1.3"}`
REQUIREMENT = re.compile(
    r"""(?:^|["'\s,])sqlalchemy(?:\[[\w,\s-]*\])?\s*(?:=\s*\{[^}\n]*?version\s*=\s*|=\s*)?["']?\s*"""
    r"""((?:(?:===?|~=|!=|<=?|>=?|\^|~)\s*[\w.*]+\s*,?\s*)+)""", re.IGNORECASE | re.MULTILINE)
CLAUSE = re.compile(r"(===?|~=|!=|<=?|>=?|\^|~)\s*(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class Pin:
    version: str  # "1.4", "2.0", or "1.x" when only a bound below 2 is known
    source: str  # relpath of the file that says so ("" = [tool.dbagents] sqlalchemy)
    line: int

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _spec_version(spec: str) -> str | None:
    """The release line a version specifier keeps to: "1.4" for ==1.4.x, "1.x" for <2, None when 2.x is allowed."""
    lower: tuple[int, int] | None = None
    below_two = False
    for op, major, minor in CLAUSE.findall(spec):
        ver = (int(major), int(minor or 0))
        if op in ("==", "===", "~=", "^", "~"):
            if op == "~=" and not minor:
                return None
            return f"{ver[0]}.{ver[1]}" if ver[0] < 2 or op in ("==", "===") else f"{ver[0]}.x"
        if op in ("<", "<="):
            below_two = below_two or ver < (2, 0) or (op == "<" and ver == (2, 0))
        elif op in (">", ">="):
            lower = ver
    if below_two:
        return f"{lower[0]}.{lower[1]}" if lower and lower[0] == 1 else "1.x"
    if lower and lower[0] >= 2:
        return f"{lower[0]}.x"
    return None


def _read(path: Path) -> str | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _from_lock(name: str, text: str) -> tuple[str, int] | None:
    m = (PIPFILE_ENTRY if name == "Pipfile.lock" else LOCK_ENTRY).search(text)
    if not m:
        return None
    parts = m.group(1).split(".")
    return f"{parts[0]}.{parts[1] if len(parts) > 1 else 0}", _line_of(text, m.start(1))


def _from_declared(text: str) -> tuple[str, int] | None:
    for m in REQUIREMENT.finditer(text):
        name_at = m.start() + m.group(0).lower().index("sqlalchemy")
        line_start = text.rfind("\n", 0, name_at) + 1
        if text[line_start:name_at].lstrip().startswith("#"):
            continue
        version = _spec_version(m.group(1))
        if version:
            return version, _line_of(text, m.start(1))
    return None


def _folders(root: Path) -> list[Path]:
    try:
        subs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "node_modules")))
    except OSError:
        subs = []
    return [root, *subs]


def pinned_sqlalchemy(root: Path, override: str | None = None) -> Pin | None:
    """The project's SQLAlchemy line, or None when nothing says (treated as 2.x, the current release)."""
    if override:
        return Pin(override if "." in override else f"{override}.x", "", 0)
    folders = _folders(root)
    for names, reader in ((LOCKS, _from_lock), (None, None)):
        for folder in folders:
            candidates = names or sorted(p.name for p in _requirement_files(folder)) + list(DECLARED)
            for name in candidates:
                text = _read(folder / name)
                if text is None or "sqlalchemy" not in text.lower():
                    continue
                found = reader(name, text) if reader else _from_declared(text)
                if found:
                    rel = (folder / name).relative_to(root).as_posix()
                    return Pin(found[0], rel, found[1])
    return None


def _requirement_files(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.glob("requirements*.txt") if p.is_file()]
    except OSError:
        return []
