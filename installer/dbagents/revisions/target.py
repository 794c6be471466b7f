"""Where a new revision goes: the Alembic environment (found the way the check engine finds it), its single head,
the versions folder of that head, and the file name settings of its alembic.ini / [tool.alembic]."""

from __future__ import annotations

import ast
import configparser
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from dbagents.errors import InputError

INIT_HINT = ("run `alembic init migrations` (and point env.py at your models) first, or pass the folder that holds "
             "alembic.ini")


@dataclass
class Target:
    """The environment a revision is written into."""

    root: Path
    env_name: str
    ini: str | None  # relpath of alembic.ini / pyproject.toml
    folder: str  # versions folder (relpath) the new file goes into
    head: str | None  # down_revision of the new revision (None: the first revision)
    revisions: set[str] = field(default_factory=set)  # every id in the env (the new id must not clash)
    file_template: str | None = None
    slug_length: int = 40
    timezone: str | None = None

    @property
    def label(self) -> str:
        return self.ini or self.folder


def _graph(project, root: Path):
    if project is None:
        from dbagents.check.engine import check_tree
        from dbagents.config import load_config

        project = check_tree([root], root=root, config=load_config(root), enabled=set()).project
    return project.get("alembic")


def _choose(envs, root: Path, alembic_ini: Path | None, alembic_name: str | None):
    configured = [e for e in envs if e.ini is not None]
    pool = configured or [e for e in envs if e.revisions]
    if alembic_ini is not None:
        try:
            wanted = Path(alembic_ini).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            raise InputError(f"{alembic_ini}: not inside the checked folder {root}; run from the project") from None
        pool = [e for e in configured if e.ini == wanted]
        if not pool:
            raise InputError(f"{alembic_ini}: no [alembic] section with script_location found in it")
    if alembic_name:
        pool = [e for e in pool if e.name.endswith(f"[{alembic_name}]")]
        if not pool:
            raise InputError(f"no Alembic section [{alembic_name}] with script_location found; check --alembic-name")
    if not pool:
        raise InputError(f"no Alembic setup found under {root} (no alembic.ini or [tool.alembic] with "
                         f"script_location, no versions folder with revisions); {INIT_HINT}")
    if len(pool) > 1:
        names = ", ".join(sorted(e.name for e in pool)[:4])
        raise InputError(f"several Alembic environments ({names}); choose one with --alembic-ini and/or "
                         "--alembic-name")
    return pool[0]


def _scan(root: Path, folders: list[str], recursive: bool):
    """Every revision script in the versions folders (read here, so nothing the check left out is missed); with
    recursive_version_locations also those in sub-folders."""
    from dbagents.check.facts._alembic_extract import extract_revision

    found = []
    for folder in folders:
        path = root / folder if folder else root
        if not path.is_dir():
            continue
        for entry in sorted(path.rglob("*.py") if recursive else path.iterdir()):
            if entry.suffix != ".py" or entry.name == "__init__.py" or not entry.is_file():
                continue
            rel = entry.relative_to(root).as_posix()
            try:
                tree = ast.parse(entry.read_bytes(), filename=rel)
            except (SyntaxError, ValueError, OSError) as exc:
                line = getattr(exc, "lineno", None)
                raise InputError("cannot read this revision script (fix it, then --emit-revision again): "
                                 f"{getattr(exc, 'msg', None) or exc}", path=rel, line=line) from None
            rev = extract_revision(tree, rel)
            if rev is not None:
                found.append(rev)
    return found


def _settings(root: Path, env) -> tuple[str | None, int, str | None, bool]:
    """file_template, truncate_slug_length, timezone and recursive_version_locations of the env's config section."""
    if not env.ini:
        return None, 40, None, False
    section_name = env.name[len(env.ini) + 1:-1] if env.name.startswith(env.ini + "[") else "alembic"
    path = root / env.ini
    values: dict = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None, 40, None, False
    if path.suffix == ".toml":
        try:
            import tomllib  # type: ignore[import-not-found]
        except ImportError:  # Python 3.10
            tomllib = None
        if tomllib is not None:
            try:
                values = tomllib.loads(text).get("tool", {}).get("alembic", {}) or {}
            except Exception:  # noqa: BLE001 - the engine already reported an unreadable pyproject
                values = {}
    else:
        parser = configparser.RawConfigParser(strict=False)
        try:
            parser.read_string(text, source=env.ini)
            values = dict(parser[section_name]) if parser.has_section(section_name) else {}
        except configparser.Error:
            values = {}
    template = values.get("file_template")
    try:
        slug_length = int(str(values.get("truncate_slug_length", 40)).strip())
    except ValueError:
        slug_length = 40
    tz = values.get("timezone")
    recursive = str(values.get("recursive_version_locations", "")).strip().lower() in ("1", "true", "yes", "on")
    return ((str(template).strip() or None) if template else None, slug_length,
            (str(tz).strip() or None) if tz else None, recursive)


def find_target(root: Path, *, project=None, alembic_ini: Path | None = None, alembic_name: str | None = None) -> Target:
    """The environment, head and folder for a new revision under `root`; InputError (exit 2) when there is no single
    PostgreSQL environment with one head."""
    root = Path(root)
    graph = _graph(project, root)
    env = _choose(graph.envs, root, alembic_ini, alembic_name)
    if not env.pg:
        raise InputError(f"{env.name}: this Alembic environment targets {env.dialect}; generated revisions use "
                         "PostgreSQL-only operations (CONCURRENTLY, NOT VALID)")
    template, slug_length, tz, recursive = _settings(root, env)
    revisions = _scan(root, env.versions, recursive)
    unknown = next((r for r in revisions if r.down_unknown), None)
    if unknown is not None:
        raise InputError("down_revision is not a literal, so the head cannot be found; write it as a string",
                         path=unknown.relpath, line=unknown.down_line)
    ids = {r.revision for r in revisions}
    parents = {p for r in revisions for p in r.down_revisions}
    heads = sorted(ids - parents)
    if len(heads) > 1:
        raise InputError(f"{env.name}: {len(heads)} heads ({', '.join(heads[:4])}); run `alembic merge heads` "
                         "first, then --emit-revision again")
    if revisions and not heads:
        raise InputError(f"{env.name}: the revisions form a cycle (no head); fix the down_revision values first")
    if not revisions and not env.versions:
        raise InputError(f"{env.name}: no versions folder; {INIT_HINT}")
    head = heads[0] if heads else None
    if head is not None:
        folder = posixpath.dirname(next(r.relpath for r in revisions if r.revision == head))
    else:
        folder = env.versions[0]
    if not (root / folder).is_dir():
        raise InputError(f"versions folder {folder} does not exist; create it (alembic init makes it)")
    return Target(root, env.name, env.ini, folder, head, ids, template, slug_length, tz)
