"""Alembic facts: config files (alembic.ini, [tool.alembic]), env.py scripts and revision scripts per file;
the environments and their revision graphs for the whole project (``project.get("alembic")``).
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from dbagents.check.facts._alembic_env import extract_env
from dbagents.check.facts._alembic_extract import extract_revision
from dbagents.check.facts._alembic_history import mark_history
from dbagents.check.facts._alembic_ini import parse_ini, parse_pyproject
from dbagents.check.facts._alembic_model import (  # noqa: F401  (re-exported for rules and tests)
    AlembicConfigFile,
    AlembicFileFacts,
    AlembicGraph,
    Call,
    Env,
    EnvScript,
    Expr,
    Op,
    Ref,
    Revision,
    SqlAction,
    is_true,
    iter_calls,
    literal_name,
)

KEY = "alembic"
TRIGGERS = ("down_revision", "run_migrations", "script_location", "[alembic", "[tool.alembic")
KINDS = ("python", "ini", "toml")

OTHER_DIALECTS = ("sqlite", "mysql", "mariadb", "mssql", "oracle")


def extract(src) -> AlembicFileFacts | None:
    if src.kind == "ini":
        config = parse_ini(src.text, src.relpath)
        return AlembicFileFacts(config=config) if config else None
    if src.kind == "toml":
        config = parse_pyproject(src.text, src.relpath)
        return AlembicFileFacts(config=config) if config else None
    if src.tree is None:
        return None
    if "down_revision" in src.text:
        revision = extract_revision(src.tree, src.relpath)
        if revision is not None:
            return AlembicFileFacts(revision=revision)
    if "run_migrations" in src.text:
        env = extract_env(src.tree, src.text, src.relpath)
        if env is not None:
            return AlembicFileFacts(env=env)
    return None


# ------------------------------------------------------------------------------------------- build


def _dirname(relpath: str) -> str:
    d = posixpath.dirname(relpath)
    return d


def _norm(path: str) -> str:
    path = posixpath.normpath(path.replace("\\", "/"))
    return "" if path == "." else path


def _known_dirs(relpaths) -> set[str]:
    dirs = {""}
    for rel in relpaths:
        d = _dirname(rel)
        while d and d not in dirs:
            dirs.add(d)
            d = _dirname(d)
    return dirs


def resolve_location(raw: str, ini_dir: str, known: set[str], root: Path | None = None) -> str | None:
    """A script/versions location from a config file as a folder relative to the checked root."""
    value = raw.replace("%%", "%").replace("%(here)s", ini_dir or ".").strip().strip('"').strip("'")
    value = value.replace("\\", "/")
    if not value:
        return None
    candidates: list[str] = []
    is_package = ":" in value and not (len(value) > 1 and value[1] == ":") and not value.startswith("/")
    if is_package:
        parts = [p for chunk in value.split(":") for p in chunk.split("/") if p and p != "."]
        suffix = "/".join(parts)
        matches = [d for d in known if d == suffix or d.endswith("/" + suffix)]
        # prefer the match closest to the config file
        matches.sort(key=lambda d: (not d.startswith(ini_dir), len(d)))
        candidates.extend(matches)
    else:
        if value.startswith("/") and root is not None:
            try:
                value = Path(value).resolve().relative_to(root.resolve()).as_posix()
            except (ValueError, OSError):
                return None
            candidates.append(_norm(value))
        else:
            candidates.append(_norm(posixpath.join(ini_dir, value)))
            candidates.append(_norm(value))
    for cand in candidates:
        if cand in known and not cand.startswith(".."):
            return cand
    if root is not None:
        for cand in candidates:
            if not cand.startswith("..") and (root / cand).is_dir():
                return cand
    return None


def _dialect_from(*texts: str | None) -> str:
    for text in texts:
        if not text:
            continue
        low = text.lower()
        for part in low.replace(":", "/").replace("+", "/").split("/"):
            if part in OTHER_DIALECTS:
                return part
    return "postgresql"


def _nearest_env_py(folder: str | None, env_scripts: dict[str, EnvScript], levels: int = 3) -> EnvScript | None:
    d = folder
    for _ in range(levels):
        if d is None:
            return None
        found = env_scripts.get(posixpath.join(d, "env.py") if d else "env.py")
        if found:
            return found
        if not d:
            return None
        d = _dirname(d)
    return None


def _link(env: Env) -> None:
    """Heads, bases, missing parents and cycles of one env's revisions."""
    revs = env.revisions
    children = set()
    for rev in revs.values():
        children.update(rev.down_revisions)
        for parent in rev.down_revisions:
            if parent not in revs:
                env.missing.append((rev, parent))
        if not rev.down_revisions and not rev.down_unknown:
            env.bases.add(rev.revision)
    env.heads = {rid for rid in revs if rid not in children}
    # cycles: iterative DFS over down edges
    state: dict[str, int] = {}
    seen_cycles: set[frozenset] = set()
    for start in revs:
        if state.get(start):
            continue
        stack = [(start, iter(revs[start].down_revisions))]
        path = [start]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            if nxt not in revs:
                continue
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):]
                key = frozenset(cycle)
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    env.cycles.append(list(cycle))
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(revs[nxt].down_revisions)))


def _complete(env: Env, root: Path | None, checked) -> bool:
    """Did this run see every revision file of the env? (Only folder listings are read, never files.)"""
    if root is None:
        return True
    for folder in env.versions:
        try:
            entries = list((root / folder).iterdir()) if folder else list(root.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.suffix == ".py" and entry.name != "__init__.py" and entry.is_file():
                rel = f"{folder}/{entry.name}" if folder else entry.name
                if rel not in checked:
                    return False
    return True


def build(project) -> AlembicGraph:
    configs: list[AlembicConfigFile] = []
    env_scripts: dict[str, EnvScript] = {}
    revisions: list[Revision] = []
    for _relpath, facts in project.module_facts(KEY):
        if facts.config:
            configs.append(facts.config)
        elif facts.env:
            env_scripts[facts.env.relpath] = facts.env
        elif facts.revision:
            revisions.append(facts.revision)
    root = getattr(project, "root", None)
    known = _known_dirs(project.files)
    graph = AlembicGraph()
    by_versions: dict[str, Env] = {}
    recursive: set[str] = set()  # versions folders whose sub-folders belong to them too

    for config in sorted(configs, key=lambda c: c.relpath):
        ini_dir = _dirname(config.relpath)
        for section in config.sections:
            if section.script_location:
                script = resolve_location(section.script_location, ini_dir, known, root)
            else:
                # Flask-Migrate style: alembic.ini lives in the script folder itself
                here = ini_dir
                has_env = posixpath.join(here, "env.py") in env_scripts if here else "env.py" in env_scripts
                script = here if has_env or posixpath.join(here, "versions") in known else None
                if script is None:
                    continue
            versions = [v for v in (resolve_location(loc, ini_dir, known, root) for loc in section.version_locations)
                        if v is not None]
            if not versions and script is not None:
                versions = [_norm(posixpath.join(script, "versions"))]
            env = Env(
                name=f"{config.relpath}[{section.name}]",
                ini=config.relpath,
                script_location=script,
                versions=versions,
                dialect=_dialect_from(section.url if section.url and "://" in section.url and
                                      not section.url.startswith("driver://") else None, script, *versions),
            )
            script_env = _nearest_env_py(script, env_scripts, levels=1) if script is not None else None
            if script_env:
                env.env_py = script_env.relpath
                env.autocommit = script_env.autocommit
                if script_env.timeout_line:
                    env.timeout_source = f"{script_env.relpath}:{script_env.timeout_line}"
            if config.timeout_line and not env.timeout_source:
                env.timeout_source = f"{config.relpath}:{config.timeout_line}"
            if section.recursive:
                recursive.update(versions)
            graph.envs.append(env)
            for v in versions:
                by_versions.setdefault(v, env)

    inferred: dict[str, Env] = {}
    for rev in sorted(revisions, key=lambda r: r.relpath):
        folder = _dirname(rev.relpath)
        env = by_versions.get(folder)
        if env is None:
            for vdir, candidate in by_versions.items():
                if vdir in recursive and folder.startswith(vdir + "/"):
                    env = candidate
                    break
        if env is None:
            env = inferred.get(folder)
        if env is None:
            parent_env = next((e for v, e in by_versions.items() if folder.startswith(v + "/")), None)
            script = _dirname(folder) if posixpath.basename(folder) == "versions" else folder
            env = Env(name=folder or ".", ini=None, script_location=script, versions=[folder],
                      dialect=_dialect_from(folder))
            if parent_env is not None:
                env.dialect = _dialect_from(folder, parent_env.script_location)
                env.env_py = parent_env.env_py
                env.autocommit = parent_env.autocommit
                env.timeout_source = parent_env.timeout_source
            else:
                script_env = _nearest_env_py(script, env_scripts)
                if script_env:
                    env.env_py = script_env.relpath
                    env.autocommit = script_env.autocommit
                    if script_env.timeout_line:
                        env.timeout_source = f"{script_env.relpath}:{script_env.timeout_line}"
            inferred[folder] = env
            graph.envs.append(env)
        rev.env = env.name
        if rev.revision in env.revisions:
            env.duplicates.setdefault(rev.revision, [env.revisions[rev.revision]]).append(rev)
        else:
            env.revisions[rev.revision] = rev
        graph.revisions.setdefault(rev.revision, rev)

    for env in graph.envs:
        env.complete = _complete(env, root, project.files)
        _link(env)
        graph.heads.update(env.heads)
    config = getattr(project, "config", None)
    if config is not None and config.migrations_start_after:
        where = config.start_after_source or f"{config.path}: migrations-start-after"
        mark_history(graph, config.migrations_start_after, where)
    return graph
