"""`run_scratch`: build a throwaway database, run the project's Alembic chain on it, check what it produced.

This EXECUTES the project's env.py and migrations (in a subprocess, so a crash cannot take dbagents down),
against a temporary server or an empty database the user names — never against DATABASE_URL.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from dbagents.errors import InputError
from dbagents.findings import Finding, Severity
from dbagents.live.connection import libpq_url, mask_url

WORKER = Path(__file__).with_name("_worker.py")
SCRATCH_DB = "dbagents_scratch"
# Statistics of a database that just came to life say nothing; the version table is at head by construction.
SKIPPED_LIVE_RULES = {"DBA304", "DBA309", "DBA310"}
CREATE_EXTENSION = re.compile(r"create\s+extension\s+(?:if\s+not\s+exists\s+)?[\"'\\]*([\w-]+)", re.IGNORECASE)


@dataclass(frozen=True)
class ScratchSettings:
    """[tool.dbagents.scratch]: which server, which interpreter runs the project's code, how long it may take."""

    server: str = "auto"  # auto | pgserver | local
    python: str = ""  # interpreter for env.py/migrations; default: the one running dbagents
    timeout_s: int = 900  # per phase (upgrade walk, downgrade walk)

    @classmethod
    def from_mapping(cls, values: dict | None) -> "ScratchSettings":
        values = dict(values or {})
        values.pop("live", None)
        known = {"server", "python", "timeout_s"}
        kwargs = {}
        for raw, value in values.items():
            key = str(raw).replace("-", "_")
            if key not in known:
                raise InputError(f"unknown key {raw!r} in [tool.dbagents.scratch]; known keys: "
                                 f"{', '.join(sorted(known | {'live'}))}")
            if key == "timeout_s":
                if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                    raise InputError(f"[tool.dbagents.scratch] {raw} must be a positive integer, got {value!r}")
            elif not isinstance(value, str):
                raise InputError(f"[tool.dbagents.scratch] {raw} must be a string, got {value!r}")
            kwargs[key] = value
        return cls(**kwargs)


def split_settings(settings: dict | None) -> tuple[ScratchSettings, dict]:
    """Scratch keys, and live keys (nested under "live" or mixed in at the top level), validated."""
    from dataclasses import fields

    from dbagents.live.settings import LiveSettings

    settings = dict(settings or {})
    live = dict(settings.pop("live", None) or {})
    live_keys = {f.name for f in fields(LiveSettings)}
    for key in list(settings):
        if str(key).replace("-", "_") in live_keys:
            live[key] = settings.pop(key)
    LiveSettings.from_mapping(live)  # fail early, before a server starts
    return ScratchSettings.from_mapping(settings), live


# ---------------------------------------------------------------------------------------------- project facts


def find_alembic_ini(project_root: Path, alembic_ini: Path | None) -> Path:
    ini = Path(alembic_ini) if alembic_ini else project_root / "alembic.ini"
    if not ini.is_absolute():
        ini = project_root / ini
    if not ini.is_file():
        raise InputError(f"no Alembic config at {ini}; pass the path of your alembic.ini (--alembic-ini)",
                         path=str(ini))
    return ini


def read_ini(ini: Path) -> tuple[list[Path], str]:
    """(versions directories, configured sqlalchemy.url) from alembic.ini, without running anything."""
    parser = configparser.ConfigParser(defaults={"here": str(ini.parent)}, interpolation=None)
    try:
        parser.read(ini, encoding="utf-8")
    except configparser.Error as exc:
        raise InputError(f"cannot parse {ini.name}: {' '.join(str(exc).split())}", path=str(ini)) from None
    if not parser.has_section("alembic"):
        raise InputError("no [alembic] section; is this Alembic's config file?", path=str(ini))
    section = parser["alembic"]
    location = section.get("script_location", "").replace("%(here)s", str(ini.parent))
    dirs: list[Path] = []
    if location and ":" not in location.replace(str(ini.parent), ""):
        base = Path(location) if Path(location).is_absolute() else ini.parent / location
        dirs.append(base / "versions")
        for extra in re.split(r"[\s,]+", section.get("version_locations", "").replace("%(here)s", str(ini.parent))):
            if extra:
                dirs.append(Path(extra) if Path(extra).is_absolute() else ini.parent / extra)
    return dirs, section.get("sqlalchemy.url", "")


def needed_extensions(version_dirs: list[Path]) -> tuple[str, ...]:
    """Extensions that revision files create (by text search, nothing is imported)."""
    found: set[str] = set()
    for folder in version_dirs:
        for path in folder.rglob("*.py") if folder.is_dir() else ():
            try:
                found.update(m.lower() for m in CREATE_EXTENSION.findall(path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError):
                continue
    return tuple(sorted(found))


def sqlalchemy_url(libpq: str, configured: str) -> str:
    """The scratch URL in SQLAlchemy form, keeping the project's driver (asyncpg, psycopg2…) when it names one."""
    driver = "psycopg"
    for candidate in (configured, os.environ.get("DATABASE_URL", "")):
        match = re.match(r"^postgres(?:ql)?\+(\w+)://", candidate or "")
        if match:
            driver = match.group(1)
            break
    return re.sub(r"^postgres(?:ql)?://", f"postgresql+{driver}://", libpq)


def extension_hint(kind: str) -> str:
    if kind == "pgserver":
        return ("the embedded pgserver ships no contrib extensions (uuid-ossp, pg_trgm, hstore, citext…). Install "
                "PostgreSQL with contrib (Debian/Ubuntu: apt-get install postgresql postgresql-contrib) and set "
                "[tool.dbagents.scratch] server = \"local\", or pass --scratch-url to an empty database that has it")
    return ("install the contrib package for your local PostgreSQL (Debian/Ubuntu: apt-get install "
            "postgresql-contrib), or pass --scratch-url to an empty database that has the extension")


# ---------------------------------------------------------------------------------------------- own database


USER_OBJECTS_SQL = """
SELECT 'relation ' || n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_%%'
UNION ALL
SELECT 'type ' || n.nspname || '.' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype IN ('e', 'd', 'r') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%%'
UNION ALL
SELECT 'function ' || n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
UNION ALL
SELECT 'extension ' || extname FROM pg_extension WHERE extname <> 'plpgsql'
"""
SCHEMAS_SQL = ("SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema', "
               "'pg_toast') AND nspname NOT LIKE 'pg\\_%%'")


def _own_database_state(url: str) -> tuple[list[str], list[str]]:
    import psycopg

    from dbagents.live.connection import connect
    from dbagents.live.settings import LiveSettings

    conn = connect(url, LiveSettings(), application_name="dbagents-scratch")
    try:
        objects = [r[0] for r in conn.execute(USER_OBJECTS_SQL).fetchall()]
        schemas = [r[0] for r in conn.execute(SCHEMAS_SQL).fetchall()]
    except psycopg.Error as exc:
        raise InputError(f"cannot inspect the scratch database {mask_url(url)}: {' '.join(str(exc).split())}") from None
    finally:
        conn.close()
    return objects, schemas


def check_own_database(url: str) -> list[str]:
    """Refuse DATABASE_URL and non-empty databases; return the schemas that exist (to keep on reset)."""
    real = os.environ.get("DATABASE_URL", "")
    if real and libpq_url(real) == libpq_url(url):
        raise InputError("--scratch-url is the same as DATABASE_URL; --scratch never runs migrations on that "
                         "database: create an empty one (createdb app_scratch) and pass its URL")
    objects, schemas = _own_database_state(url)
    if objects:
        shown = ", ".join(objects[:5]) + (f" and {len(objects) - 5} more" if len(objects) > 5 else "")
        raise InputError(f"--scratch-url {mask_url(url)} is not empty ({shown}); --scratch needs an empty "
                         "database because it migrates it up and down: create one (createdb app_scratch)")
    return schemas


def reset_own_database(url: str, original_schemas: list[str]) -> None:
    """Drop everything the run created in the user's (formerly empty) scratch database."""
    import psycopg
    from psycopg import sql

    from dbagents.live.connection import connect
    from dbagents.live.settings import LiveSettings

    conn = connect(url, LiveSettings(), application_name="dbagents-scratch")
    conn.autocommit = True
    try:
        for (schema,) in conn.execute(SCHEMAS_SQL).fetchall():
            if schema not in original_schemas:
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        for (ext,) in conn.execute("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'").fetchall():
            conn.execute(sql.SQL("DROP EXTENSION IF EXISTS {} CASCADE").format(sql.Identifier(ext)))
        drops = conn.execute(
            """SELECT format('DROP %%s IF EXISTS %%I.%%I CASCADE', CASE c.relkind WHEN 'v' THEN 'VIEW'
                   WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                   ELSE 'TABLE' END, n.nspname, c.relname)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND NOT c.relispartition
               UNION ALL
               SELECT format('DROP TYPE IF EXISTS %%I.%%I CASCADE', n.nspname, t.typname)
               FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
               WHERE n.nspname = ANY(%s) AND t.typtype IN ('e', 'd', 'r')
               UNION ALL
               SELECT format('DROP ROUTINE IF EXISTS %%I.%%I(%%s) CASCADE', n.nspname, p.proname,
                             pg_get_function_identity_arguments(p.oid))
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY(%s)""",
            (original_schemas, original_schemas, original_schemas),
        ).fetchall()
        for (statement,) in drops:
            conn.execute(statement)
    except psycopg.Error as exc:
        print(f"dbagents: warning: could not empty the scratch database {mask_url(url)} again: "
              f"{' '.join(str(exc).split())}", file=sys.stderr)
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------- the worker


def _worker_env(project_root: Path, sa_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
    env["DATABASE_URL"] = sa_url  # env.py files that read it get the scratch database, never the real one
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(project_root), env.get("PYTHONPATH", "")) if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # do not litter the project with __pycache__
    return env


def run_worker(request: dict, *, project_root: Path, settings: ScratchSettings, tmp: Path) -> dict:
    phase = request["phase"]
    req_path, res_path, log_path = (tmp / f"{phase}-request.json", tmp / f"{phase}-result.json",
                                    tmp / f"{phase}.log")
    req_path.write_text(json.dumps(request), encoding="utf-8")
    python = settings.python or sys.executable
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            proc = subprocess.run([python, str(WORKER), str(req_path), str(res_path)], cwd=project_root,
                                  env=_worker_env(project_root, request["url"]), stdout=log, stderr=log,
                                  stdin=subprocess.DEVNULL, timeout=settings.timeout_s)
        except FileNotFoundError:
            raise InputError(f"[tool.dbagents.scratch] python {python!r} not found") from None
        except subprocess.TimeoutExpired:
            raise InputError(f"the migrations ({phase} phase) ran longer than {settings.timeout_s} s; raise "
                             "[tool.dbagents.scratch] timeout_s") from None
    if not res_path.is_file():
        tail = [ln for ln in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
        last = tail[-1].strip() if tail else f"exit code {proc.returncode}"
        raise InputError(f"running the project's Alembic env crashed ({phase} phase): {mask_url(last)[:300]}")
    result = json.loads(res_path.read_text(encoding="utf-8"))
    if result.get("fatal"):
        raise InputError(f"--scratch stopped: {result['fatal']}")
    return result


def _to_finding(data: dict) -> Finding:
    return Finding(data["path"], data["line"], 0, data["rule"], data["message"],
                   Severity.parse(data["severity"]), data.get("hint", ""), data.get("obj", ""))


# ---------------------------------------------------------------------------------------------- public


def run_scratch(project_root: Path, *, alembic_ini: Path | None = None, scratch_url: str | None = None,
                settings: dict | None = None) -> list[Finding]:
    """Run the project's Alembic chain on a scratch database and return DBA213/214/215 + live findings.

    `settings`: [tool.dbagents.scratch] keys (server, python, timeout_s) plus an optional "live" dict with
    [tool.dbagents.live] keys for the catalog checks on the migrated schema.
    """
    from dbagents.live import run_live_checks
    from dbagents.live.rules import ALL_RULES
    from dbagents.scratch.server import start_scratch_server

    cfg, live_settings = split_settings(settings)
    root = Path(project_root).resolve()
    ini = find_alembic_ini(root, alembic_ini)
    version_dirs, configured_url = read_ini(ini)
    extensions = needed_extensions(version_dirs)

    findings: list[Finding] = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dbagents-scratch-run-")))
        if scratch_url:
            original_schemas = check_own_database(scratch_url)
            stack.callback(reset_own_database, scratch_url, original_schemas)
            db_url, kind, where = scratch_url, "own", f"your empty database {mask_url(scratch_url)}"
        else:
            server = stack.enter_context(start_scratch_server(cfg.server, extensions=extensions))
            db_url, kind = server.create_database(SCRATCH_DB), server.kind
            where = f"a throwaway PostgreSQL ({server.kind}, removed afterwards)"
        print(f"dbagents: --scratch executes {ini.relative_to(root) if ini.is_relative_to(root) else ini}'s "
              f"env.py and migrations against {where}; DATABASE_URL is not used", file=sys.stderr)
        sa_url = sqlalchemy_url(libpq_url(db_url), configured_url)
        base = {"project_root": str(root), "ini": str(ini), "url": sa_url, "extension_hint": extension_hint(kind)}

        up = run_worker({**base, "phase": "up"}, project_root=root, settings=cfg, tmp=tmp)
        findings.extend(_to_finding(f) for f in up["findings"])
        if up.get("applied"):
            live_ids = {r.id for r in ALL_RULES} - SKIPPED_LIVE_RULES
            findings.extend(run_live_checks(libpq_url(db_url), settings=live_settings, select=live_ids))
            down = run_worker({**base, "phase": "down", "applied": up["applied"], "snapshots": up["snapshots"]},
                              project_root=root, settings=cfg, tmp=tmp)
            findings.extend(_to_finding(f) for f in down["findings"])
    return sorted(findings)
