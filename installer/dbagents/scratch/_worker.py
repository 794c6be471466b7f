"""Runs in a SUBPROCESS, in the project's directory: executes the user's Alembic env against the scratch database.

Self-contained (stdlib + SQLAlchemy 1.3-2.x + Alembic 1.x, no dbagents imports) so it can run under the project's
own interpreter; its two helpers `_guard.py` and `_diffs.py` sit beside it and are loaded by path (nothing is
added to sys.path). Usage: python _worker.py REQUEST.json RESULT.json

Request: project_root, ini, url (the scratch database), phase ("up"/"down"), extension_hint, applied and
snapshots (down phase); optional ini_section (Alembic's --name), script_location (for ini files without one, as
Flask-Migrate's), app ("module:attr": a Flask app or app factory; everything then runs inside its app context),
compare (default true; false skips the DBA214 comparison, e.g. when DBA214 is deselected).

phase "up":   DBA213 heads / graph errors, upgrade base -> heads one revision at a time (first failure is
              reported with its first database error and statement), a schema snapshot before and after each
              revision, DBA214 compare against the env's target_metadata (Alembic autogenerate, run through the
              env with a custom `fn`).
phase "down": from the top, for each applied revision: downgrade it alone, compare with the snapshot before
              it (DBA215 traces), upgrade it again and compare with the snapshot after it, downgrade again.

Result: findings, fatal (one line of context + the full error) and fatal_kind: "guard" (code tried to reach a
database other than the scratch one; `attempts` says what), "env" (env.py, the app or the models cannot be
imported/run: not a revision's fault), "nothing_ran" (env.py never ran the migrations, did not commit them, or
no revision changed the schema), "internal" (a bug of ours); notes (what the user should know that is neither,
e.g. an app factory that migrated the database itself). The result file is always written.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import sys
import traceback
import warnings
from pathlib import Path


def _sibling(name: str):
    """Load `name`.py from this directory by path, without putting this directory on sys.path."""
    module_name = f"_dbagents_scratch{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


_guard = _sibling("_guard")
_diffs = _sibling("_diffs")
ScratchGuardError = _guard.ScratchGuardError
describe_diff = _diffs.describe_diff

SNAPSHOT_QUERIES = {
    "schema": """SELECT n.nspname, '' FROM pg_namespace n
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_%%'""",
    "extension": "SELECT extname, extversion FROM pg_extension WHERE extname <> 'plpgsql'",
    "relation": """SELECT n.nspname || '.' || c.relname, c.relkind::text FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {user}""",
    "column": """SELECT n.nspname || '.' || c.relname || '.' || a.attname,
               format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
               || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {user}""",
    "index": """SELECT n.nspname || '.' || c.relname || '.' || ic.relname, pg_get_indexdef(i.indexrelid)
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {user}""",
    "constraint": """SELECT n.nspname || '.' || c.relname || '.' || k.conname, pg_get_constraintdef(k.oid)
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {user}""",
    "type": """SELECT n.nspname || '.' || t.typname, t.typtype::text || coalesce(':' || (
               SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '')
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typtype IN ('e', 'd', 'r') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_%%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.objid = t.oid AND x.deptype = 'e')""",
    "function": """SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
               md5(coalesce(p.prosrc, ''))
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.objid = p.oid AND x.deptype = 'e')""",
}
USER_RELATION = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_%%' "
    "AND c.relname <> '{version_table}' AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.objid = c.oid "
    "AND x.deptype = 'e')"
)
USER_SCHEMA = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_%'"
USER_OBJECTS = {  # what an app may have created in the scratch database; "drops" empties the schemas that stay
    "schemas": f"SELECT n.nspname FROM pg_namespace n WHERE {USER_SCHEMA} ORDER BY 1",
    "extensions": "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1",
    "drops": f"""SELECT format('DROP %s IF EXISTS %I.%I CASCADE', CASE c.relkind WHEN 'v' THEN 'VIEW'
                   WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                   ELSE 'TABLE' END, n.nspname, c.relname)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE {USER_SCHEMA} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND NOT c.relispartition
                 AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.objid = c.oid AND x.deptype IN ('e', 'a', 'i'))
               UNION ALL
               SELECT format('DROP TYPE IF EXISTS %I.%I CASCADE', n.nspname, t.typname)
               FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
               WHERE {USER_SCHEMA} AND t.typtype IN ('e', 'd', 'r')
                 AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.objid = t.oid AND x.deptype = 'e')
               UNION ALL
               SELECT format('DROP ROUTINE IF EXISTS %I.%I(%s) CASCADE', n.nspname, p.proname,
                             pg_get_function_identity_arguments(p.oid))
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE {USER_SCHEMA} AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.objid = p.oid AND x.deptype = 'e')
               ORDER BY 1""",
}
EXTENSION_ERROR = re.compile(
    r'extension "([\w-]+)" is not available|could not open extension control file "[^"]*/([\w-]+)\.control"'
    r'|extension "([\w-]+)" (?:is not|does not)'
)
OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")
UNNAMED_CONSTRAINT = re.compile(r"Can't emit DROP CONSTRAINT for constraint (\w+)\(.*?table=Table\('([^']+)'.*it has no name")
MISSING_RELATION = re.compile(r'(?:relation|table) "([\w.]+)" does not exist')
FOLLOW_ON = re.compile(r"InFailedSqlTransaction|current transaction is aborted", re.IGNORECASE)
MAX_LINES, MAX_CHARS = 40, 4000
SYNC_DRIVERS_SA2, SYNC_DRIVERS_SA1 = ("psycopg", "psycopg2", "pg8000"), ("psycopg2", "pg8000")
ASYNC_DRIVERS = ("asyncpg", "psycopg_async", "psycopg")
HERE = os.path.dirname(os.path.realpath(__file__))


class Stop(Exception):
    """The phase cannot go on; Worker.fatal and Worker.fatal_kind say why."""


# ---------------------------------------------------------------------------------------------- helpers


def revision_line(path: str, pattern: str = r"^revision\s*[:=]") -> int:
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return 0
    regex = re.compile(pattern)
    for number, line in enumerate(lines, 1):
        if regex.search(line):
            return number
    return 0


def error_text(exc: BaseException) -> str:
    """Type and first line of an error (the DBAPI error inside a SQLAlchemy one)."""
    orig = getattr(exc, "orig", None)
    source = orig if orig is not None else exc
    first = next((ln.strip() for ln in str(source).splitlines() if ln.strip()), "")
    first = OBJECT_REPR.sub("...", first)  # "<…ReadOnlyColumnCollection object at 0x7f…>" says nothing
    return f"{type(source).__name__}: {first}" if first else type(source).__name__


def missing_relation(text: str, snapshot: dict) -> str:
    """The table an UndefinedTable error names when no revision so far created it (else '')."""
    match = MISSING_RELATION.search(text)
    if not match or "UndefinedTable" not in text.split(";", 1)[0]:
        return ""
    name = match.group(1).rsplit(".", 1)[-1]
    made = any(key.startswith("relation ") and key.rsplit(".", 1)[-1] == name for key in snapshot)
    return "" if made else match.group(1)


def unnamed_constraint_hint(text: str, snap: dict) -> str:
    """For "Can't emit DROP CONSTRAINT … it has no name" (op.drop_constraint(None, …)): the names PostgreSQL
    gave the constraints of that kind this revision created on that table, from the walk's snapshots."""
    match = UNNAMED_CONSTRAINT.search(text)
    if not match:
        return ""
    kind, table = match.group(1), match.group(2)
    prefix = {"ForeignKeyConstraint": "FOREIGN KEY", "UniqueConstraint": "UNIQUE", "CheckConstraint": "CHECK",
              "PrimaryKeyConstraint": "PRIMARY KEY"}.get(kind, "")
    before, after = snap.get("before") or {}, snap.get("after") or {}
    names = sorted(key.rsplit(".", 1)[-1] for key, definition in after.items()
                   if key.startswith("constraint ") and key not in before and key.split(" ", 1)[1].count(".") == 2
                   and key.split(" ", 1)[1].split(".")[1] == table and definition.startswith(prefix))
    named = (f"; the upgrade of this revision created {', '.join(names[:3])} on {table}, so PostgreSQL's name is "
             f"{'one of those' if len(names) > 1 else 'that'}") if names else ""
    return (f"op.drop_constraint(None, {table!r}, ...) cannot run: a constraint is dropped by name{named}. Pass the "
            "name (and give constraints names in upgrade(), e.g. a naming_convention on the MetaData)")


def full_error(exc: BaseException) -> str:
    """Type and the whole message (pydantic's detail, SyntaxError's caret…), trimmed to MAX_LINES/MAX_CHARS."""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES] + [f"... ({len(lines) - MAX_LINES} more lines)"]
    text = "\n".join(lines)
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS] + " ..."


def squash(sql: str, limit: int = 300) -> str:
    text = " ".join(str(sql).split())
    return text if len(text) <= limit else text[:limit] + " ..."


def line_in(frames, path: str) -> int:
    """The deepest of `frames` (FrameSummary list) inside the file `path`."""
    real = os.path.realpath(path) if path else ""
    line = 0
    for frame in frames:
        if real and os.path.realpath(frame.filename) == real:
            line = frame.lineno or line
    return line


def error_line(exc: BaseException, path: str, fallback_pattern: str) -> int:
    """The deepest traceback line inside the revision file, else the line of `def upgrade/downgrade`."""
    return (line_in(traceback.extract_tb(exc.__traceback__), path) or revision_line(path, fallback_pattern)
            or revision_line(path))


def extension_in(text: str) -> str | None:
    match = EXTENSION_ERROR.search(text)
    return next((g for g in match.groups() if g), None) if match else None


def _dbapi_loads(url) -> bool:
    try:
        dialect = url.get_dialect()
        loader = getattr(dialect, "import_dbapi", None) or dialect.dbapi
        loader()
        return True
    except Exception:  # noqa: BLE001 - NoSuchModuleError, ImportError: this interpreter lacks it
        return False


def _with_driver(url: str, driver: str) -> str:
    return re.sub(r"^[\w]+(?:\+\w+)?://", f"postgresql+{driver}://", url, count=1)


def usable_url(url: str, asynchronous: bool | None = None) -> str:
    """`url` if this interpreter's SQLAlchemy can load its driver, else the same URL with a driver it has.

    asynchronous=None keeps the URL's own kind (sync/async); True/False asks for that kind."""
    import sqlalchemy
    from sqlalchemy.engine.url import make_url

    driver = make_url(url).drivername.partition("+")[2]
    is_async = driver in ("asyncpg", "psycopg_async") if asynchronous is None else asynchronous
    if (asynchronous is None or is_async == (driver in ("asyncpg", "psycopg_async"))) and _dbapi_loads(make_url(url)):
        return url
    sa2 = int(sqlalchemy.__version__.split(".")[0]) >= 2
    candidates = ASYNC_DRIVERS if is_async else (SYNC_DRIVERS_SA2 if sa2 else SYNC_DRIVERS_SA1)
    for candidate in candidates:
        if not sa2 and candidate.startswith("psycopg") and candidate != "psycopg2":
            continue
        if _dbapi_loads(make_url(_with_driver(url, candidate))):
            return _with_driver(url, candidate)
    return url


class Worker:
    def __init__(self, request: dict):
        self.request = request
        self.root = Path(request["project_root"])
        self.url = request["url"]
        self.version_table = "alembic_version"
        self.version_schema: str | None = None
        self.findings: list[dict] = []
        self.notes: list[str] = []  # things the user should know that are neither findings nor fatal
        self.app_state: dict[str, str] | None = None  # up: the schema the app built itself when it was created
        self.app_keys: set[str] = set()  # down: snapshot items creating the app changed (its own migrations)
        self.fatal: str | None = None
        self.fatal_kind: str | None = None
        self.guard = _guard.Guard(self.url)
        self.first_error: tuple | None = None  # (error, statement, stack) of the first database error of a run
        self._engine = None
        self._async_engine_url: str | None = None
        self.cfg = None

    # -- output
    def rel(self, path: str) -> str:
        if not path:
            return ""
        try:
            return Path(os.path.realpath(path)).relative_to(os.path.realpath(self.root)).as_posix()
        except ValueError:
            return Path(path).as_posix()

    def add(self, rule: str, message: str, *, path: str = "", line: int = 0, obj: str = "", hint: str = "",
            severity: str = "") -> None:
        severity = severity or {"DBA215": "warning"}.get(rule, "error")
        self.findings.append({"rule": rule, "message": message, "path": self.rel(path), "line": line,
                              "obj": obj, "hint": hint, "severity": severity})

    def stop(self, kind: str, message: str) -> None:
        """End the phase: the first fatal wins."""
        if self.fatal is None:
            self.fatal, self.fatal_kind = message, kind
        raise Stop(message)

    def project_location(self, exc: BaseException | None) -> str:
        """'path:line' of the deepest frame of the project's own code in exc (or what caused it), else ''."""
        root = os.path.realpath(self.root) + os.sep

        def own(filename: str) -> bool:
            if not filename or filename.startswith("<") or not os.path.isfile(filename):
                return False  # "<string>": code generated by exec (Alembic's context proxies), not a file
            real = os.path.realpath(filename)
            parts = set(Path(real).parts)
            return (real.startswith(root) and not real.startswith(HERE + os.sep)
                    and not parts & {"site-packages", "dist-packages"})

        seen: set[int] = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            if isinstance(exc, SyntaxError) and exc.filename and own(exc.filename):
                return f"{self.rel(exc.filename)}:{exc.lineno or 0}"
            found = ""
            for frame in traceback.extract_tb(exc.__traceback__):
                if own(frame.filename):
                    found = f"{self.rel(frame.filename)}:{frame.lineno}"
            if found:
                return found
            exc = exc.__cause__ or exc.__context__
        return ""

    def stop_env(self, what: str, exc: BaseException) -> None:
        where = self.project_location(exc)
        hint = ""
        if "application context" in str(exc) and not self.request.get("app"):
            hint = ' (env.py needs a Flask app context: set [tool.dbagents.scratch] app = "module:create_app")'
        elif "no schema has been selected to create in" in str(exc) or "InvalidSchemaName" in type(
                getattr(exc, "orig", None) or exc).__name__:
            hint = (" (env.py selects a schema that does not exist on an empty database, e.g. SET search_path or "
                    "version_table_schema; create it first in env.py: CREATE SCHEMA IF NOT EXISTS …)")
        self.stop("env", f"{what} failed{' at ' + where if where else ''}{hint}: {full_error(exc)}")

    # -- setup: config, guard, app
    def prepare(self) -> None:
        from alembic.config import Config

        self.url = usable_url(self.url)
        if os.environ.get("DATABASE_URL") == self.request["url"]:
            os.environ["DATABASE_URL"] = self.url  # env.py files that read it get a driver this interpreter has
        self.install_guard()
        section = self.request.get("ini_section") or "alembic"
        try:
            self.cfg = Config(self.request["ini"], ini_section=section)
            self.cfg.file_config  # noqa: B018 - parsed lazily: read it now, errors are the ini's
        except Exception as exc:  # noqa: BLE001 - configparser errors, a missing %(var)s
            self.stop_env(f"reading {self.rel(self.request['ini'])}", exc)
        if not self.cfg.file_config.has_section(section):
            sections = ", ".join(self.cfg.file_config.sections()) or "none"
            self.stop("env", f"{self.rel(self.request['ini'])} has no [{section}] section (sections: {sections})")
        location = self.request.get("script_location")
        if location:
            self.cfg.set_main_option("script_location", str(location).replace("%", "%%"))
        self.cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        if not self.request.get("app"):
            return
        up = self.request["phase"] == "up"
        objects, schema = self.user_objects() if up else None, self.snapshot()
        self.enter_app()
        app_schema = self.snapshot()
        if app_schema == schema:
            return
        if up:  # the factory migrated the empty database itself (CTFd): keep what it built, start from nothing
            self.app_state = app_schema
            self.undo_app_changes(objects)
        else:  # it migrated again what the walk does not cover (its own plugin chains): not the revisions' doing
            self.app_keys = {key for key in set(schema) | set(app_schema) if schema.get(key) != app_schema.get(key)}
            self.notes.append(f"creating the app {self.request['app']} changed the schema ({_tables_of(self.app_keys)}"
                              "); those objects are left out of the downgrade checks")

    def install_guard(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        self.guard.install_sqlalchemy()
        self.guard.install_dbapi()

        def remember_first_error(context):  # noqa: ANN001
            if self.first_error is None:
                self.first_error = (context.original_exception, context.statement, traceback.extract_stack())

        event.listen(Engine, "handle_error", remember_first_error)

    def enter_app(self) -> None:
        """Import the app named by request["app"] ("module:attr"), create it if a factory, push its app context."""
        spec = self.request.get("app")
        if not spec:
            return
        module_name, _, attr = str(spec).partition(":")
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))

        def load():
            target = importlib.import_module(module_name)
            for part in (attr or "app").split("."):
                target = getattr(target, part)
            if callable(target) and not hasattr(target, "app_context"):
                target = target()
            if not hasattr(target, "app_context"):
                raise TypeError(f"{spec} is {type(target).__name__}, not a Flask app or an app factory")
            context = target.app_context()
            context.push()
            return context

        try:
            self.app_context = self.guarded(f"importing the app {spec}", load)
        except Stop:
            raise
        except Exception as exc:  # noqa: BLE001 - the project's import/creation failed
            self.stop_env(f"importing the app {spec}", exc)

    def guarded(self, what: str, action):  # noqa: ANN001
        """Run user code; a refused connection, raised or swallowed by the code, stops the phase ("guard")."""
        seen = len(self.guard.attempts)
        try:
            result = action()
        except ScratchGuardError:
            result = None
        except SystemExit as exc:  # user code calling sys.exit() is an error of that code, not the end of ours
            self._check_attempts(what, seen)
            raise RuntimeError(f"sys.exit({exc.code!r}) was called") from exc
        except BaseException:
            self._check_attempts(what, seen)
            raise
        self._check_attempts(what, seen)
        return result

    def _check_attempts(self, what: str, seen: int) -> None:
        attempts = self.guard.attempts[seen:]
        if attempts:
            more = f" (and {len(attempts) - 1} more attempts)" if len(attempts) > 1 else ""
            self.stop("guard", f"{what}: env.py or the code it runs tried to connect to {attempts[0]}{more}, "
                      "not the scratch database; nothing was run there")

    # -- the scratch database, for snapshots
    def snapshot(self) -> dict[str, str]:
        user = USER_RELATION.format(version_table=self.version_table)
        queries = [(kind, query.replace("{user}", user).replace("%%", "%")) for kind, query in SNAPSHOT_QUERIES.items()]
        items: dict[str, str] = {}
        for kind, rows in self._query_all(queries):
            for name, definition in rows:
                items[f"{kind} {name}"] = definition or ""
        return items

    def _query_all(self, queries, write: bool = False):  # noqa: ANN001
        """[(kind, rows)] for [(kind, sql)] on the scratch database, in one transaction (committed if `write`)."""
        from sqlalchemy import create_engine, pool, text
        from sqlalchemy.engine.url import make_url

        if self._engine is None and self._async_engine_url is None:
            sync = usable_url(self.url, asynchronous=False)
            if _dbapi_loads(make_url(sync)):
                self._engine = create_engine(sync, poolclass=pool.NullPool)
            else:  # only an async driver here (asyncpg…): read through an async engine
                self._async_engine_url = usable_url(self.url, asynchronous=True)

        def rows(result):  # noqa: ANN001
            return result.fetchall() if result.returns_rows else []

        if self._engine is not None:
            with (self._engine.begin() if write else self._engine.connect()) as conn:
                return [(kind, rows(conn.execute(text(sql)))) for kind, sql in queries]
        import asyncio

        from sqlalchemy.ext.asyncio import create_async_engine

        async def run():
            engine = create_async_engine(self._async_engine_url, poolclass=pool.NullPool)
            try:
                async with (engine.begin() if write else engine.connect()) as conn:
                    return [(kind, rows(await conn.execute(text(sql)))) for kind, sql in queries]
            finally:
                await engine.dispose()

        return asyncio.run(run())

    def user_objects(self) -> dict[str, list[str]]:
        """Schemas and extensions of the scratch database, and the DROP statements that would empty it."""
        found = dict(self._query_all([(kind, sql) for kind, sql in USER_OBJECTS.items()]))
        return {kind: [row[0] for row in rows] for kind, rows in found.items()}

    def undo_app_changes(self, before: dict[str, list[str]]) -> None:
        """Creating the app changed the empty scratch database (e.g. CTFd's create_app() upgrades to head and
        writes rows): empty it again, so the walk starts from nothing, and say so in the result."""
        after = self.user_objects()
        drops = [f'DROP SCHEMA IF EXISTS "{name}" CASCADE' for name in after["schemas"]
                 if name not in before["schemas"]]
        drops += [f'DROP EXTENSION IF EXISTS "{name}" CASCADE' for name in after["extensions"]
                  if name not in before["extensions"]]
        drops += after["drops"]
        self._query_all([("drop", sql) for sql in drops], write=True)
        names = [re.sub(r"^DROP .* IF EXISTS (\S+?)(?:\(.*\))? CASCADE$", r"\1", sql) for sql in after["drops"]]
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        self.notes.append(f"creating the app {self.request['app']} built {len(names)} objects in the empty scratch "
                          f"database ({shown}): it migrates itself; they were dropped so that the revisions run "
                          "one by one from an empty database")

    def recorded_versions(self) -> set[str]:
        """The revisions the version table records now (empty when it does not exist)."""
        def quote(name: str) -> str:
            return '"' + name.replace('"', '""') + '"'

        table = (quote(self.version_schema) + "." if self.version_schema else "") + quote(self.version_table)
        ((_, exists),) = self._query_all([("exists", f"SELECT to_regclass('{table.replace(chr(39), chr(39) * 2)}')::text")])
        if exists[0][0] is None:
            return set()
        ((_, rows),) = self._query_all([("versions", f"SELECT version_num FROM {table}")])
        return {row[0] for row in rows}

    # -- alembic plumbing
    def load_script(self):
        """(script directory, heads, revisions base -> heads), or None after a DBA213 finding."""
        from alembic.script import ScriptDirectory
        from alembic.script.revision import RevisionError

        def load():
            script = ScriptDirectory.from_config(self.cfg)
            heads = list(script.get_heads())
            return script, heads, list(reversed(list(script.walk_revisions("base", "heads"))))

        try:
            script, heads, order = self.guarded("loading the migration scripts", load)
        except Stop:
            raise
        except Exception as exc:  # noqa: BLE001 - sorted below: broken graph (DBA213) or broken code (env)
            graph = isinstance(exc, RevisionError) or (isinstance(exc, KeyError) and not self.project_location(exc))
            if not graph:
                self.stop_env("loading the migration scripts (env/revision files)", exc)
            with warnings.catch_warnings(record=True) as caught:  # load again only to name the missing parent
                warnings.simplefilter("always")
                try:
                    list(ScriptDirectory.from_config(self.cfg).walk_revisions("base", "heads"))
                except Exception:  # noqa: BLE001
                    pass
            notes = [" ".join(str(w.message).split()) for w in caught if "not present" in str(w.message)]
            self.add("DBA213", f"the revision graph cannot be loaded: {error_text(exc)}"
                     + (f" ({'; '.join(notes[:3])})" if notes else ""),
                     hint="fix down_revision in the revision named above (`alembic history` shows the graph)")
            return None
        return script, heads, order

    def run_env(self, script, fn, what: str) -> int:
        """Run env.py once with `fn` as its migration function; returns how often env.py called it.

        A failure before env.py called `fn` is the env's (fatal "env"); later ones are the revision's: raised."""
        from alembic.runtime.environment import EnvironmentContext

        calls = [0]

        def counted(heads, context):  # noqa: ANN001
            calls[0] += 1
            return fn(heads, context)

        def run():
            with EnvironmentContext(self.cfg, script, fn=counted):
                script.run_env()

        self.first_error = None
        try:
            self.guarded(what, run)
        except Stop:
            raise
        except Exception as exc:
            if calls[0] == 0:
                self.stop_env(f"running env.py (for {what}, before it ran any migration)", exc)
            raise
        return calls[0]

    def step(self, script, revision, upgrade: bool) -> int:
        from alembic.runtime.migration import RevisionStep

        def fn(heads, context):  # noqa: ANN001
            self.version_table = context.opts.get("version_table") or self.version_table
            self.version_schema = context.opts.get("version_table_schema")
            return [RevisionStep(script.revision_map, revision, upgrade)]

        verb = "the upgrade to" if upgrade else "the downgrade of"
        return self.run_env(script, fn, f"{verb} revision {revision.revision}")

    def failure(self, exc: BaseException, path: str, def_pattern: str) -> tuple[str, int]:
        """(message, line) for a failed revision: the FIRST database error of the run and its statement."""
        line = error_line(exc, path, def_pattern)
        if self.first_error is None:
            return error_text(exc), line
        first, statement, stack = self.first_error
        text = error_text(first)
        final = getattr(exc, "orig", None) or exc
        if final is not first and not FOLLOW_ON.search(f"{type(final).__name__} {final}"):
            text += f" (then {error_text(exc)})"
        if statement:
            text += f"; statement: {squash(statement)}"
        return text, line_in(stack, path) or line

    # -- phase up
    def phase_up(self) -> dict:
        result: dict = {"applied": [], "snapshots": {}, "heads": []}
        try:
            self._up(result)
        except Stop:
            pass
        return result

    def _up(self, result: dict) -> None:
        loaded = self.load_script()
        if loaded is None:
            return
        script, heads, order = loaded
        result["heads"] = heads
        if len(heads) > 1:
            by_id = {rev.revision: rev for rev in order}
            described = ", ".join(f"{h} ({self.rel(by_id[h].path)})" for h in sorted(heads) if h in by_id)
            first = by_id.get(sorted(heads)[0])
            self.add("DBA213", f"{len(heads)} migration heads: {described}; `alembic upgrade head` fails",
                     path=first.path if first else "", line=revision_line(first.path) if first else 0,
                     hint="alembic merge heads -m 'merge heads'  (or rebase one branch onto the other)")
        snapshots, applied = result["snapshots"], result["applied"]
        before = self.snapshot()
        changed = False
        for rev in order:
            try:
                calls = self.step(script, rev, True)
            except Stop:
                raise
            except Exception as exc:  # noqa: BLE001 - the user's migration failed: that is the finding
                text, line = self.failure(exc, rev.path, r"^def upgrade")
                ext = extension_in(text)
                hint = "fix the upgrade() of this revision; later revisions were not run"
                if ext:
                    hint = f"this scratch server has no extension {ext!r}: " + self.request.get("extension_hint", "")
                elif missing_relation(text, before):
                    hint = (f"no earlier revision creates {missing_relation(text, before)!r}: the chain does not "
                            "build the schema from an empty database (projects that create their tables with "
                            "metadata.create_all() and `alembic stamp head` cannot be replayed); make the first "
                            "revisions create those tables, or check another chain")
                self.add("DBA213", f"upgrade to revision {rev.revision} fails: {text}", path=rev.path, line=line,
                         hint=hint)
                result["failed"] = rev.revision
                return
            if calls == 0:
                self.stop("nothing_ran", f"env.py never called context.run_migrations() for the upgrade to revision "
                          f"{rev.revision} ({self.rel(rev.path)}), so none of the {len(order)} revisions ran on the "
                          "scratch database: env.py may migrate only schemas or tenants that already exist (a "
                          "multi-tenant env, none exist on an empty server) or skip on a condition; pick an ini "
                          "section that migrates the main schema (--alembic-name) or make env.py run the "
                          "migrations on an empty database")
            if rev.revision not in self.recorded_versions():
                self.stop("nothing_ran", f"the upgrade to revision {rev.revision} ({self.rel(rev.path)}) ran but "
                          "was not committed: the version table does not record it and its changes are gone. env.py "
                          "may roll back its transaction (a connection.begin() that is never committed, a "
                          "connection used after context.begin_transaction() ended); make env.py follow Alembic's "
                          "template: with connectable.connect() as connection: context.configure(connection="
                          "connection, ...); with context.begin_transaction(): context.run_migrations()")
            after = self.snapshot()
            snapshots[rev.revision] = {"before": before, "after": after}
            applied.append(rev.revision)
            changed = changed or after != before
            before = after
        if applied and not changed:
            self.stop("nothing_ran", f"all {len(applied)} revisions ran (env.py called context.run_migrations()) "
                      "but none changed the scratch database's schema: env.py may roll back its transaction "
                      "(a connection.begin() or session that is never committed), or every revision is empty; "
                      "check that `alembic upgrade head` on an empty database creates the tables")
        if applied and self.request.get("compare", True):
            beyond = set()
            if self.app_state is not None:  # what the app builds beyond this chain (its plugins' own migrations)
                beyond = {_table_of(k) for k in set(self.app_state) | set(before)
                          if self.app_state.get(k) != before.get(k)}
            self.compare_models(script, beyond)

    def compare_models(self, script, skip_tables: set[str] = frozenset()) -> None:
        """DBA214 for each difference autogenerate finds, except on `skip_tables` ("schema.table")."""
        from alembic.autogenerate import produce_migrations

        from sqlalchemy import text

        diffs: list = []  # (diff, the schema objects without one live in)
        missing_metadata = []

        def fn(heads, context):  # noqa: ANN001
            metadata = context.opts.get("target_metadata")
            if metadata is None:
                missing_metadata.append(True)
                return []
            connection = getattr(context, "connection", None) or context.bind
            schema = connection.execute(text("SELECT current_schema()")).scalar()
            found = list(produce_migrations(context, metadata).upgrade_ops.as_diffs())
            found += _diffs.enum_diffs(connection, metadata, schema, context.opts)
            diffs.extend((diff, schema) for diff in _diffs.flatten(found) if not self.is_version_table(diff))
            return []

        try:
            self.run_env(script, fn, "the comparison of the models with the migrated schema")
        except Stop:
            raise
        except Exception as exc:  # noqa: BLE001 - the comparison itself broke: say so, keep everything else
            where = self.project_location(exc)
            self.add("DBA214", f"comparing the models with the migrated schema failed: {full_error(exc)}"
                     + (f" (at {where})" if where else ""), severity="warning")
            return
        if missing_metadata:
            env_py = Path(script.dir) / "env.py"
            self.add("DBA214", "env.py passes no target_metadata to context.configure(); models cannot be "
                     "compared with the migrations", path=str(env_py),
                     line=revision_line(str(env_py), r"target_metadata\s*="), severity="warning",
                     hint="set target_metadata = Base.metadata in env.py")
            return
        skipped = set()
        described = [(diff, *describe_diff(diff, schema)) for diff, schema in diffs]
        # A model table without a migration: its indexes and constraints are part of that one finding.
        missing_tables = {obj: [] for diff, _, obj in described if _kind(diff) == "add_table"}
        for diff, message, obj in described:
            table = ".".join(obj.split(".")[:2])
            if _kind(diff) in TABLE_PARTS and table in missing_tables:
                missing_tables[table].append(message.split(" on ", 1)[0])
        for diff, message, obj in described:
            table = ".".join(obj.split(".")[:2])
            if table in skip_tables:
                skipped.add(table)
                continue
            if _kind(diff) in TABLE_PARTS and table in missing_tables:
                continue
            if _kind(diff) == "add_table" and missing_tables.get(obj):
                message += f"; with it: {', '.join(missing_tables[obj])}"
            hint = "generate the missing migration: alembic revision --autogenerate -m '...' (review it)"
            if _kind(diff).startswith("remove_"):
                hint = ("map it in the models (a model, a column, an Index()/constraint in __table_args__), or drop "
                        "it in a new migration if nothing needs it")
            elif _kind(diff) == "modify_enum":
                hint = ("autogenerate does not see enum values: write the migration by hand "
                        "(op.execute(\"ALTER TYPE ... ADD VALUE '...'\"))")
            self.add("DBA214", message, obj=obj, hint=hint)
        if skipped:
            self.notes.append(f"differences on {', '.join(sorted(skipped))} were not reported: creating the app "
                              "builds these tables differently from this chain (migrations of its own, e.g. "
                              "plugins), so the chain alone is not what the app runs on")

    def is_version_table(self, diff) -> bool:  # noqa: ANN001
        """Alembic skips its version table only in the schema it expects it in; envs that move it per tenant
        (version_table_schema) would get it reported as an unmapped table."""
        return (isinstance(diff, tuple) and len(diff) > 1 and diff[0] == "remove_table"
                and getattr(diff[1], "name", None) == self.version_table)

    # -- phase down
    def phase_down(self, applied: list[str], snapshots: dict) -> dict:
        result = {"checked": 0}
        try:
            self._down(applied, snapshots, result)
        except Stop:
            pass
        return result

    def _down(self, applied: list[str], snapshots: dict, result: dict) -> None:
        loaded = self.load_script()
        if loaded is None:
            return
        script = loaded[0]
        by_id = {rev.revision: rev for rev in loaded[2]}
        reported: set[str] = set(self.app_keys)  # items the app changed itself are not the revisions' doing
        for revision in reversed(applied):
            rev = by_id[revision]
            snap = snapshots[revision]
            try:
                self.step(script, rev, False)
            except Stop:
                raise
            except Exception as exc:  # noqa: BLE001
                text, line = self.failure(exc, rev.path, r"^def downgrade")
                hint = unnamed_constraint_hint(text, snap) or "fix downgrade() so it undoes exactly what upgrade() did"
                self.add("DBA215", f"downgrade of revision {revision} fails: {text}", path=rev.path, line=line,
                         hint=hint + "; older revisions were not checked")
                return
            result["checked"] += 1
            traces = _diff(snap["before"], self.snapshot(), reported)
            if traces:
                self.add("DBA215", f"downgrade of revision {revision} does not restore the schema before it: "
                         + "; ".join(traces), path=rev.path, line=revision_line(rev.path, r"^def downgrade"),
                         hint="make downgrade() drop/restore exactly what upgrade() changed")
                continue  # the schema is off now; upgrading again would only repeat the same difference
            try:
                self.step(script, rev, True)
                again = _diff(snap["after"], self.snapshot(), reported)
                if again:
                    self.add("DBA215", f"upgrade of revision {revision} after its downgrade gives a different "
                             "schema: " + "; ".join(again), path=rev.path,
                             line=revision_line(rev.path, r"^def upgrade"),
                             hint="upgrade() must not depend on state its downgrade() leaves behind")
                self.step(script, rev, False)
            except Stop:
                raise
            except Exception as exc:  # noqa: BLE001
                text, line = self.failure(exc, rev.path, r"^def upgrade")
                self.add("DBA215", f"upgrade of revision {revision} again after its downgrade fails: {text}",
                         path=rev.path, line=line,
                         hint="downgrade() leaves something behind that upgrade() trips over")
                return


def _diff(expected: dict, actual: dict, reported: set[str]) -> list[str]:
    """Human lines for items that differ, skipping differences already reported for a later revision."""
    lines = []
    for key in sorted(set(expected) | set(actual)):
        if expected.get(key) == actual.get(key) or key in reported:
            continue
        reported.add(key)
        kind, name = key.split(" ", 1)
        if key not in actual:
            lines.append(f"{kind} {name} is missing")
        elif key not in expected:
            lines.append(f"{kind} {name} is left behind")
        else:
            lines.append(f"{kind} {name} is {actual[key]!r} instead of {expected[key]!r}")
    return lines[:20]


TABLE_PARTS = ("add_index", "add_fk", "add_constraint")


def _kind(diff) -> str:  # noqa: ANN001
    return diff[0] if isinstance(diff, tuple) and diff and isinstance(diff[0], str) else ""


def _table_of(key: str) -> str:
    """'schema.table' of a snapshot key ("column public.t.c", "relation public.t", "index public.t.ix"…)."""
    kind, name = key.split(" ", 1)
    return name if kind in ("relation", "schema", "extension", "type", "function") else ".".join(name.split(".")[:2])


def _tables_of(keys) -> str:  # noqa: ANN001
    tables = sorted({_table_of(k) for k in keys})
    return ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename}:{last.lineno} in {last.name}"


def main(argv: list[str]) -> int:
    result: dict = {"findings": [], "fatal": None, "fatal_kind": None, "attempts": []}
    worker = None
    try:
        request = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        worker = Worker(request)
        worker.prepare()
        if request["phase"] == "up":
            result.update(worker.phase_up())
        else:
            result.update(worker.phase_down(request["applied"], request["snapshots"]))
    except Stop:
        pass
    except BaseException as exc:  # noqa: BLE001 - a bug of ours (or an interrupt): reported, never lost
        result["fatal"] = f"internal error of the scratch worker at {_where(exc)}: {full_error(exc)}"
        result["fatal_kind"] = "internal"
    if worker is not None:
        result["findings"] = worker.findings
        result["notes"] = worker.notes
        result["version_table"] = worker.version_table
        result["attempts"] = list(worker.guard.attempts)
        if worker.fatal is not None and result["fatal_kind"] != "internal":
            result["fatal"], result["fatal_kind"] = worker.fatal, worker.fatal_kind
    Path(argv[2]).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
