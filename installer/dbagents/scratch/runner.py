"""`run_scratch`: build a throwaway database, run the project's Alembic chain on it, check what it produced.

This EXECUTES the project's env.py and migrations (in a subprocess of the project's own interpreter, so a crash
cannot take dbagents down), against a temporary server or an empty database the user names — never against
DATABASE_URL. A failure of the run raises `ScratchError`, which carries the findings made before it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from dbagents.errors import InputError
from dbagents.findings import Finding, Severity
from dbagents.live.connection import libpq_url, mask_url
from dbagents.scratch.interpreter import choose_driver, choose_python, probe
from dbagents.scratch.settings import render_env, split_settings, url_parts
from dbagents.scratch.setup import (AlembicSetup, detect_app, display_path, find_alembic_ini,
                                    needed_extensions, read_setup)

WORKER = Path(__file__).with_name("_worker.py")
SCRATCH_DB = "dbagents_scratch"
# Statistics of a database that just came to life say nothing; the version table is at head by construction.
SKIPPED_LIVE_RULES = {"DBA304", "DBA309", "DBA310"}
ENV_ERROR_LINES = 30
URL_PASSWORD = re.compile(r"(\b[a-z][\w+.-]*://[^:/@\s]*):[^@\s]*@", re.IGNORECASE)


class ScratchError(InputError):
    """The scratch run failed; `findings` are what it found before (the CLI reports them, then the error)."""

    def __init__(self, message: str, findings: list[Finding] | None = None):
        super().__init__(message)
        self.findings = list(findings or [])


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


def extension_hint(kind: str) -> str:
    if kind == "pgserver":
        return ("the embedded pgserver ships no contrib extensions (uuid-ossp, pg_trgm, hstore, citext…). Install "
                "PostgreSQL with contrib (Debian/Ubuntu: apt-get install postgresql postgresql-contrib) and set "
                "[tool.dbagents.scratch] server = \"local\", or pass --scratch-url to an empty database that has it")
    return ("install the contrib package for your local PostgreSQL (Debian/Ubuntu: apt-get install "
            "postgresql-contrib), or pass --scratch-url to an empty database that has the extension")


def sqlalchemy_url(libpq: str, driver: str) -> str:
    """The scratch URL in SQLAlchemy form, with the driver the project's interpreter has."""
    return re.sub(r"^postgres(?:ql)?://", f"postgresql+{driver}://", libpq)


def _mask(text: str) -> str:
    return URL_PASSWORD.sub(r"\1:***@", text)


def worker_env(project_root: Path, run_dir: Path, sa_url: str, own: dict[str, str]) -> dict[str, str]:
    """The worker's environment: no PG* variables, DATABASE_URL = the scratch URL, then the project's `env`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
    env["DATABASE_URL"] = sa_url  # env.py files that read it get the scratch database, never the real one
    # A package's own folder on sys.path would shadow the standard library (dispatch has src/dispatch/types.py).
    ours = [str(p) for p in (project_root, run_dir) if not (p / "__init__.py").is_file()]
    paths = dict.fromkeys([*ours, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # do not litter the project with __pycache__
    env.update(own)
    return env


def _trimmed(text: str) -> str:
    lines = [ln.rstrip()[:300] for ln in _mask(text).splitlines() if ln.strip()]
    if len(lines) > ENV_ERROR_LINES:
        half = ENV_ERROR_LINES // 2
        lines = lines[:half] + [f"… ({len(lines) - 2 * half} more lines)"] + lines[-half:]
    return "\n".join(f"  {ln}" for ln in lines)


def fatal_message(result: dict, phase: str) -> str | None:
    """The one error a worker result ends the run with (None = it did not end the run)."""
    kind, text = result.get("fatal_kind"), _mask((result.get("fatal") or "").strip())
    if not kind and not text:
        return None
    first = " ".join(text.split("\n", 1)[0].split())
    if kind == "guard":
        attempts = [_mask(" ".join(str(a).split())) for a in result.get("attempts") or []] or [first]
        tried = "; ".join(attempts[:3]) + (f" and {len(attempts) - 3} more" if len(attempts) > 3 else "")
        return (f"--scratch refused a connection to something other than the scratch database ({phase} phase): "
                f"{tried}. Point env.py at the scratch URL: take the URL from config.get_main_option("
                "\"sqlalchemy.url\") or DATABASE_URL, or set the variables your settings read with "
                "[tool.dbagents.scratch] env = {VAR = \"{url}\"} (README: Scratch runs on real projects)")
    if kind == "env":
        return (f"--scratch: loading env.py or the app failed ({phase} phase) — fix env.py, the app or the settings "
                f"it reads (no revision ran):\n{_trimmed(text)}")
    if kind == "nothing_ran":
        return f"--scratch: {first}"
    return f"--scratch stopped ({phase} phase): {first[:500]}"


def run_worker(request: dict, *, python: str, run_dir: Path, env: dict[str, str], timeout_s: int,
               tmp: Path) -> dict:
    """Run one phase in the project's interpreter; the result, or ScratchError when nothing came back."""
    phase = request["phase"]
    req_path, res_path, log_path = (tmp / f"{phase}-request.json", tmp / f"{phase}-result.json",
                                    tmp / f"{phase}.log")
    req_path.write_text(json.dumps(request), encoding="utf-8")
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            proc = subprocess.run([python, str(WORKER), str(req_path), str(res_path)], cwd=run_dir, env=env,
                                  stdout=log, stderr=log, stdin=subprocess.DEVNULL, timeout=timeout_s)
        except FileNotFoundError:
            raise ScratchError(f"--scratch: interpreter {python} not found") from None
        except subprocess.TimeoutExpired:
            raise ScratchError(f"--scratch: the migrations ({phase} phase) ran longer than {timeout_s} s; raise "
                               "[tool.dbagents.scratch] timeout_s") from None
    if not res_path.is_file():
        tail = [ln for ln in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
        last = tail[-1].strip() if tail else f"exit code {proc.returncode}"
        raise ScratchError(f"--scratch: running the project's Alembic env crashed ({phase} phase): "
                           f"{_mask(mask_url(last))[:300]}")
    try:
        return json.loads(res_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScratchError(f"--scratch: the {phase} phase left an unreadable result ({exc})") from None


def _note_created(before: set[str], root: Path) -> None:
    note = created_note(before, project_entries(root))
    if note:
        print(f"dbagents: note: {note}", file=sys.stderr)


def _to_finding(data: dict) -> Finding:
    return Finding(data["path"], data["line"], 0, data["rule"], data["message"],
                   Severity.parse(data["severity"]), data.get("hint", ""), data.get("obj", ""))


# ---------------------------------------------------------------------------------------------- project files

TREE_DEPTH, TREE_LIMIT = 3, 50_000
TREE_SKIP = {".git", ".hg", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache", ".pytest_cache",
             ".ruff_cache", ".tox", ".nox"}


def project_entries(root: Path) -> set[str]:
    """Paths (relative, folders with a trailing /) down to TREE_DEPTH levels: what the project's code may add."""
    found: set[str] = set()
    pending = [(root, "", 1)]
    while pending and len(found) < TREE_LIMIT:
        folder, prefix, depth = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name in TREE_SKIP:
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            rel = f"{prefix}{entry.name}{'/' if is_dir else ''}"
            found.add(rel)
            if is_dir and depth < TREE_DEPTH and not os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):
                pending.append((Path(entry.path), rel, depth + 1))
    return found


def created_note(before: set[str], after: set[str]) -> str | None:
    """A note naming what the run added to the project (a secret key file, logs, a cache folder…)."""
    new = sorted(after - before)
    tops = [p for p in new if not any(p != q and p.startswith(q) for q in new if q.endswith("/"))]
    if not tops:
        return None
    shown = ", ".join(tops[:6]) + (f" and {len(tops) - 6} more" if len(tops) > 6 else "")
    return (f"the project's code created {shown} in the project while it ran (dbagents leaves them; delete "
            "them if unwanted): point the settings it reads (secret key, log, upload or cache folders) at a "
            "temporary folder with [tool.dbagents.scratch] env")


# ---------------------------------------------------------------------------------------------- what ran


class Plan:
    """Which phases run for the selected rules, and the stderr lines saying what ran and what was left out."""

    def __init__(self, select: set[str] | None, groups: list[str]):
        from dbagents.live.rules import ALL_RULES

        self.select, self.groups = select, groups
        live = sorted({r.id for r in ALL_RULES} - SKIPPED_LIVE_RULES)
        self.live = [rid for rid in live if self.on(rid)]
        self.live_left_out = [rid for rid in live if not self.on(rid)]
        self.compare, self.down = self.on("DBA214"), self.on("DBA215")
        self.ran: list[str] = []

    def on(self, rule_id: str) -> bool:
        return self.select is None or rule_id in self.select

    def why_not(self, rule_ids: list[str]) -> str:
        from dbagents.check.registry import groups_of

        if self.groups and not any(g in groups_of(rid) for rid in rule_ids for g in self.groups):
            return f"not in group {', '.join(self.groups)}"
        return "not selected (--select/--ignore or [tool.dbagents] select/ignore)"

    def left_out(self) -> list[str]:
        out = []
        if not self.on("DBA213"):
            out.append(f"DBA213 findings of the upgrade walk ({self.why_not(['DBA213'])}; the walk itself runs)")
        if not self.compare:
            out.append(f"model comparison DBA214 ({self.why_not(['DBA214'])})")
        if self.live_left_out:
            hint = "; `dbagents check --scratch` runs them" if self.groups else ""
            out.append(f"live checks {', '.join(self.live_left_out)} ({self.why_not(self.live_left_out)}{hint})")
        if not self.down:
            out.append(f"downgrade walk DBA215 ({self.why_not(['DBA215'])})")
        out.append(f"{', '.join(sorted(SKIPPED_LIVE_RULES))} (meaningless on a new database)")
        return out

    def report(self) -> None:
        print(f"dbagents: --scratch ran: {', '.join(self.ran) or 'nothing'}", file=sys.stderr)
        print(f"dbagents: --scratch left out: {'; '.join(self.left_out())}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------- public


def run_scratch(project_root: Path, *, alembic_ini: Path | None = None, alembic_name: str | None = None,
                scratch_url: str | None = None, settings: dict | None = None, select: set[str] | None = None,
                groups: list[str] | None = None, source: str = "pyproject.toml") -> list[Finding]:
    """Run the project's Alembic chain on a scratch database and return DBA213/214/215 + live findings.

    `settings`: [tool.dbagents.scratch] keys plus an optional "live" dict with [tool.dbagents.live] keys for
    the catalog checks on the migrated schema. `select`: enabled rule ids (None = all); phases whose rules are
    all off are skipped. Raises ScratchError (an InputError carrying the findings made so far) when the run
    cannot finish.
    """
    findings: list[Finding] = []
    try:
        return _run(Path(project_root).resolve(), alembic_ini, alembic_name, scratch_url, settings, select,
                    list(groups or []), source, findings)
    except ScratchError as exc:
        exc.findings = sorted(findings + exc.findings)
        raise
    except InputError as exc:
        message = str(exc)
        raise ScratchError(message if message.startswith("--scratch") else f"--scratch: {message}",
                           sorted(findings)) from None
    except ImportError as exc:
        raise ScratchError(f"--scratch needs the 'scratch' extra ({exc.name} is not installed): "
                           "pip install 'dbagents[scratch]'", sorted(findings)) from None


def _run(root: Path, alembic_ini, alembic_name, scratch_url, settings, select, groups, source,
         findings: list[Finding]) -> list[Finding]:
    from dbagents.live import run_live_checks
    from dbagents.scratch.server import start_scratch_server

    cfg, live_settings = split_settings(settings, source)
    plan = Plan(select, groups)
    ini = find_alembic_ini(root, alembic_ini or cfg.alembic_ini or None)
    setup: AlembicSetup = read_setup(root, ini, alembic_name or cfg.alembic_name or "alembic")
    app, app_how = detect_app(root, setup, cfg.app)
    python, how = choose_python(cfg.python, [root, setup.run_dir])
    interp = probe(python, how, cwd=setup.run_dir, env=worker_env(root, setup.run_dir, "", {}))
    driver, driver_how = choose_driver(interp, [setup.configured_url, os.environ.get("DATABASE_URL", "")])
    section = f" [{setup.section}]" if setup.section != "alembic" else ""
    app_note = f"; env.py runs in the app context of {app} ({app_how})" if app else ""
    print(f"dbagents: --scratch: Alembic config {display_path(ini, root)}{section}{app_note}", file=sys.stderr)
    print(f"dbagents: --scratch: interpreter {python} ({how}; SQLAlchemy {interp.sqlalchemy}, Alembic "
          f"{interp.alembic}), driver {driver} ({driver_how})", file=sys.stderr)

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dbagents-scratch-run-")))
        if scratch_url:
            original_schemas = check_own_database(scratch_url)
            stack.callback(reset_own_database, scratch_url, original_schemas)
            db_url, kind, where = scratch_url, "own", f"your empty database {mask_url(scratch_url)}"
        else:
            # A host and port for projects that build their URL from parts, and for drivers without socket URLs.
            tcp = bool(cfg.env) or driver not in ("psycopg", "psycopg2")
            extensions = needed_extensions(setup.version_dirs)
            server = stack.enter_context(start_scratch_server(cfg.server, extensions=extensions, tcp=tcp))
            db_url, kind = server.create_database(SCRATCH_DB), server.kind
            where = f"a throwaway PostgreSQL ({server.kind}, removed afterwards)"
        print(f"dbagents: --scratch executes {display_path(ini, root)}'s env.py and migrations against {where}; "
              "DATABASE_URL is not used", file=sys.stderr)
        libpq = libpq_url(db_url)
        sa_url = sqlalchemy_url(libpq, driver)
        own_env = render_env(cfg.env, url_parts(sa_url, libpq, driver))
        env = worker_env(root, setup.run_dir, sa_url, own_env)
        base = {"project_root": str(root), "ini": str(ini), "url": sa_url, "extension_hint": extension_hint(kind),
                "ini_section": setup.section, "script_location": setup.script_location, "app": app,
                "compare": plan.compare}

        def phase(request: dict) -> dict:
            result = run_worker(request, python=python, run_dir=setup.run_dir, env=env, timeout_s=cfg.timeout_s,
                                tmp=tmp)
            findings.extend(_to_finding(f) for f in result.get("findings") or [])
            for note in result.get("notes") or []:
                print(f"dbagents: note: {_mask(' '.join(str(note).split()))}", file=sys.stderr)
            message = fatal_message(result, request["phase"])
            if message:
                raise ScratchError(message)
            return result

        entries = project_entries(root)
        stack.callback(lambda: _note_created(entries, root))
        up = phase({**base, "phase": "up"})
        applied = up.get("applied") or []
        stopped = f", stopped at {up['failed']}" if up.get("failed") else ""
        plan.ran.append(f"upgrade walk over {len(applied)} revision{'s' if len(applied) != 1 else ''}{stopped} "
                        "(DBA213)")
        if plan.compare and applied and not up.get("failed"):
            plan.ran.append("model comparison (DBA214)")
        if applied and plan.live:
            findings.extend(run_live_checks(libpq, settings=live_settings, select=set(plan.live)))
            plan.ran.append(f"live checks on the migrated schema ({', '.join(plan.live)})")
        if applied and plan.down:
            phase({**base, "phase": "down", "applied": applied, "snapshots": up.get("snapshots") or {}})
            plan.ran.append("downgrade walk (DBA215)")
    plan.report()
    return sorted(findings)
