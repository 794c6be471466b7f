"""Runs in a SUBPROCESS, in the project's directory: executes the user's Alembic env against the scratch database.

Self-contained (stdlib + SQLAlchemy + Alembic, no dbagents imports) so it can run under the project's own
interpreter. Usage: python _worker.py REQUEST.json RESULT.json

phase "up":   DBA213 heads / script errors, upgrade base -> heads one revision at a time (first failure is
              reported), a schema snapshot before and after each revision, DBA214 compare against the env's
              target_metadata (Alembic autogenerate, run through the env with a custom `fn`).
phase "down": from the top, for each applied revision: downgrade it alone, compare with the snapshot before
              it (DBA215 traces), upgrade it again and compare with the snapshot after it, downgrade again.
Every connection any code opens is checked against the scratch database (SQLAlchemy do_connect event).
"""

from __future__ import annotations

import json
import os
import re
import sys
import traceback
from pathlib import Path

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
EXTENSION_ERROR = re.compile(
    r'extension "([\w-]+)" is not available|could not open extension control file "[^"]*/([\w-]+)\.control"'
    r'|extension "([\w-]+)" (?:is not|does not)'
)


class ScratchGuardError(RuntimeError):
    """Raised when user code tries to connect anywhere but the scratch database."""


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
    orig = getattr(exc, "orig", None)
    source = orig if orig is not None else exc
    first = next((ln.strip() for ln in str(source).splitlines() if ln.strip()), "")
    return f"{type(source).__name__}: {first}" if first else type(source).__name__


def error_line(exc: BaseException, path: str, fallback_pattern: str) -> int:
    """The deepest traceback line inside the revision file, else the line of `def upgrade/downgrade`."""
    line = 0
    real = os.path.realpath(path) if path else ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if real and os.path.realpath(frame.filename) == real:
            line = frame.lineno or line
    return line or revision_line(path, fallback_pattern) or revision_line(path)


def extension_in(text: str) -> str | None:
    match = EXTENSION_ERROR.search(text)
    return next((g for g in match.groups() if g), None) if match else None


class Worker:
    def __init__(self, request: dict):
        from alembic.config import Config

        self.request = request
        self.root = Path(request["project_root"])
        self.url = request["url"]
        self.version_table = "alembic_version"
        self.findings: list[dict] = []
        self.fatal: str | None = None
        self.cfg = Config(request["ini"])
        self.cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        self._engine = None

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

    # -- safety: no connection but to the scratch database
    def install_guard(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine, make_url

        expected = make_url(self.url)
        want_db = expected.database
        want_host = expected.query.get("host") or expected.host

        @event.listens_for(Engine, "do_connect")
        def _only_scratch(dialect, conn_rec, cargs, cparams):  # noqa: ANN001
            if dialect.name != "postgresql":
                return None
            db = cparams.get("dbname") or cparams.get("database")
            host = cparams.get("host")
            if db != want_db or (host and host != want_host):
                raise ScratchGuardError(
                    f"env.py or a migration connects to database {db!r} on host {host!r}, not the scratch "
                    "database; make env.py take its URL from config.get_main_option('sqlalchemy.url') or "
                    "DATABASE_URL so --scratch can redirect it"
                )
            return None

    @property
    def engine(self):
        if self._engine is None:
            from sqlalchemy import create_engine, pool

            self._engine = create_engine(self.url, poolclass=pool.NullPool)
        return self._engine

    # -- schema snapshots
    def snapshot(self) -> dict[str, str]:
        from sqlalchemy import text

        user = USER_RELATION.format(version_table=self.version_table)
        items: dict[str, str] = {}
        with self.engine.connect() as conn:
            for kind, query in SNAPSHOT_QUERIES.items():
                sql = query.replace("{user}", user).replace("%%", "%")
                for name, definition in conn.execute(text(sql)):
                    items[f"{kind} {name}"] = definition or ""
        return items

    # -- alembic plumbing
    def script(self):
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self.cfg)

    def run_env(self, script, fn) -> None:
        from alembic.runtime.environment import EnvironmentContext

        with EnvironmentContext(self.cfg, script, fn=fn):
            script.run_env()

    def step(self, script, revision, upgrade: bool) -> None:
        from alembic.runtime.migration import RevisionStep

        def fn(heads, context):
            self.version_table = context.opts.get("version_table") or self.version_table
            return [RevisionStep(script.revision_map, revision, upgrade)]

        self.run_env(script, fn)

    def ordered_revisions(self, script) -> list:
        return list(reversed(list(script.walk_revisions("base", "heads"))))

    # -- phase up
    def phase_up(self) -> dict:
        try:
            script = self.script()
            heads = list(script.get_heads())
            order = self.ordered_revisions(script)
        except Exception as exc:  # noqa: BLE001 - alembic reports cycles, missing parents etc. as exceptions
            self.add("DBA213", f"the revision graph cannot be loaded: {error_text(exc)}",
                     hint="fix down_revision in the revision named above (`alembic history` shows the graph)")
            return {"applied": [], "snapshots": {}}
        if len(heads) > 1:
            by_id = {rev.revision: rev for rev in order}
            described = ", ".join(f"{h} ({self.rel(by_id[h].path)})" for h in sorted(heads) if h in by_id)
            first = by_id.get(sorted(heads)[0])
            self.add("DBA213", f"{len(heads)} migration heads: {described}; `alembic upgrade head` fails",
                     path=first.path if first else "", line=revision_line(first.path) if first else 0,
                     hint="alembic merge heads -m 'merge heads'  (or rebase one branch onto the other)")
        snapshots: dict[str, dict] = {}
        applied: list[str] = []
        before = self.snapshot()
        for rev in order:
            try:
                self.step(script, rev, True)
            except ScratchGuardError as exc:
                self.fatal = str(exc)
                break
            except Exception as exc:  # noqa: BLE001 - the user's migration failed: that is the finding
                text = error_text(exc)
                ext = extension_in(text)
                hint = "fix the upgrade() of this revision; later revisions were not run"
                if ext:
                    hint = (f"this scratch server has no extension {ext!r}: " + self.request.get("extension_hint", ""))
                self.add("DBA213", f"upgrade to revision {rev.revision} fails: {text}", path=rev.path,
                         line=error_line(exc, rev.path, r"^def upgrade"), hint=hint)
                return {"applied": applied, "snapshots": snapshots, "failed": rev.revision}
            after = self.snapshot()
            snapshots[rev.revision] = {"before": before, "after": after}
            applied.append(rev.revision)
            before = after
        if self.fatal is None and applied:
            self.compare_models(script)
        return {"applied": applied, "snapshots": snapshots, "heads": heads}

    def compare_models(self, script) -> None:
        from alembic.autogenerate import produce_migrations

        diffs: list = []
        missing_metadata = []

        def fn(heads, context):
            metadata = context.opts.get("target_metadata")
            if metadata is None:
                missing_metadata.append(True)
            else:
                diffs.extend(produce_migrations(context, metadata).upgrade_ops.as_diffs())
            return []

        try:
            self.run_env(script, fn)
        except ScratchGuardError as exc:
            self.fatal = str(exc)
            return
        except Exception as exc:  # noqa: BLE001
            self.add("DBA214", f"comparing the models with the migrated schema failed: {error_text(exc)}",
                     severity="warning")
            return
        if missing_metadata:
            env_py = Path(script.dir) / "env.py"
            self.add("DBA214", "env.py passes no target_metadata to context.configure(); models cannot be "
                     "compared with the migrations", path=str(env_py),
                     line=revision_line(str(env_py), r"target_metadata\s*="), severity="warning",
                     hint="set target_metadata = Base.metadata in env.py")
            return
        for diff in _flatten(diffs):
            message, obj = describe_diff(diff)
            self.add("DBA214", message, obj=obj,
                     hint="generate the missing migration: alembic revision --autogenerate -m '...' (review it)")

    # -- phase down
    def phase_down(self, applied: list[str], snapshots: dict) -> dict:
        script = self.script()
        by_id = {rev.revision: rev for rev in script.walk_revisions("base", "heads")}
        reported: set[str] = set()
        checked = 0
        for revision in reversed(applied):
            rev = by_id[revision]
            snap = snapshots[revision]
            try:
                self.step(script, rev, False)
            except ScratchGuardError as exc:
                self.fatal = str(exc)
                break
            except Exception as exc:  # noqa: BLE001
                self.add("DBA215", f"downgrade of revision {revision} fails: {error_text(exc)}", path=rev.path,
                         line=error_line(exc, rev.path, r"^def downgrade"),
                         hint="fix downgrade() so it undoes exactly what upgrade() did; older revisions were "
                         "not checked")
                break
            checked += 1
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
            except ScratchGuardError as exc:
                self.fatal = str(exc)
                break
            except Exception as exc:  # noqa: BLE001
                self.add("DBA215", f"upgrade of revision {revision} again after its downgrade fails: "
                         f"{error_text(exc)}", path=rev.path, line=error_line(exc, rev.path, r"^def upgrade"),
                         hint="downgrade() leaves something behind that upgrade() trips over")
                break
        return {"checked": checked}


def _flatten(diffs):
    for diff in diffs:
        if isinstance(diff, list):
            yield from _flatten(diff)
        else:
            yield diff


def _qual(schema, *names) -> str:
    return ".".join([schema or "public", *[n for n in names if n]])


def describe_diff(diff: tuple) -> tuple[str, str]:
    """A one-line message and obj for one Alembic autogenerate diff tuple."""
    kind = diff[0]
    if kind in ("add_table", "remove_table"):
        table = diff[1]
        obj = _qual(table.schema, table.name)
        if kind == "add_table":
            return f"model table {obj} does not exist after the migrations (missing migration)", obj
        return f"table {obj} exists after the migrations but no model maps it", obj
    if kind in ("add_column", "remove_column"):
        schema, table, column = diff[1], diff[2], diff[3]
        obj = _qual(schema, table, column.name)
        if kind == "add_column":
            return f"model column {obj} does not exist after the migrations (missing migration)", obj
        return f"column {obj} exists after the migrations but the model does not map it", obj
    if kind in ("add_index", "remove_index"):
        index = diff[1]
        table = index.table
        obj = _qual(table.schema if table is not None else None, table.name if table is not None else "")
        cols = ", ".join(str(getattr(c, "name", c)) for c in index.expressions)
        where = "model" if kind == "add_index" else "database"
        return f"index {index.name} ({cols}) on {obj} exists only in the {where}", obj
    if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        constraint = diff[1]
        table = getattr(constraint, "table", None) or getattr(constraint, "parent", None)
        obj = _qual(getattr(table, "schema", None), getattr(table, "name", ""))
        where = "model" if kind.startswith("add") else "database"
        return f"{type(constraint).__name__} {constraint.name or '(unnamed)'} on {obj} exists only in the {where}", obj
    if kind.startswith("modify_"):
        schema, table, column = diff[1], diff[2], diff[3]
        obj = _qual(schema, table, column)
        what = kind[len("modify_"):]
        old, new = diff[-2], diff[-1]
        return f"column {obj}: {what} is {old!r} in the database but {new!r} in the model", obj
    return f"models and migrated schema differ: {kind} {diff[1:]!r}"[:300], ""


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


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    result: dict = {"findings": []}
    try:
        worker = Worker(request)
        worker.install_guard()
        if request["phase"] == "up":
            result.update(worker.phase_up())
        else:
            result.update(worker.phase_down(request["applied"], request["snapshots"]))
        result["findings"] = worker.findings
        result["fatal"] = worker.fatal
        result["version_table"] = worker.version_table
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
        result["fatal"] = f"{error_text(exc)} (in {traceback.extract_tb(exc.__traceback__)[-1].filename})"
    Path(argv[2]).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
