"""DBA217: non-concurrent DROP INDEX / REINDEX, VACUUM FULL, CLUSTER, TRUNCATE … CASCADE."""

from __future__ import annotations

import re
from typing import Iterable

from dbagents.check.facts._alembic_checks import FILES, PATH, revision_file
from dbagents.check.facts._alembic_model import literal_name
from dbagents.check.project_settings import settings_doc
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

SQL_MESSAGES = {
    "drop_index": ("DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the table",
                   "use DROP INDEX CONCURRENTLY inside `with op.get_context().autocommit_block():`"),
    "reindex": ("REINDEX without CONCURRENTLY blocks writes (and reads using the index) until it finishes",
                "use REINDEX … CONCURRENTLY (PostgreSQL 12+) inside an autocommit block"),
    "vacuum_full": ("VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock",
                    "use pg_repack / pg_squeeze, or plain VACUUM"),
    "cluster": ("CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock", "use pg_repack instead"),
    "truncate_cascade": ("TRUNCATE … CASCADE also empties every table that references this one",
                         "truncate the tables you mean explicitly, without CASCADE"),
}
# Operations that take ACCESS EXCLUSIVE on their table (a drop_index next to them adds no lock of its own).
EXCLUSIVE_OPS = {"add_column", "drop_column", "drop_table", "rename_table", "drop_constraint",
                 "create_check_constraint", "create_unique_constraint", "create_primary_key",
                 "create_exclude_constraint"}
EXCLUSIVE_ALTER = ("type_", "nullable", "server_default", "new_column_name")
EXCLUSIVE_SQL = {"add_column", "drop_column", "alter_type", "set_not_null", "alter_other", "add_check", "add_unique",
                 "add_pk", "add_using_index", "drop_constraint", "rename_column", "rename_table", "drop_table",
                 "vacuum_full", "cluster"}


def _key(table, schema) -> tuple[str, str]:
    return ((table or "").lower(), (schema or "").lower())


def _index_tables(env) -> dict[str, tuple[str, str] | None]:
    """Index name -> (table, schema) from every create_index of the env (None when two tables use the name):
    where a raw `DROP INDEX name` (or a drop_index without table_name) points."""
    out: dict[str, tuple[str, str] | None] = {}

    def add(name, table, schema):
        if not name or not table:
            return
        key = name.lower()
        where = _key(table, schema)
        out[key] = where if out.get(key, where) == where else None

    for rev in env.revisions.values():
        for op in rev.upgrade_ops():
            if op.name == "create_index":
                add(literal_name(op.param("index_name")), op.table, op.schema)
            for action in op.actions:
                if action.kind == "create_index":
                    add(action.name, action.table, action.schema)
    return out


def _named_after(index: str | None, tables: set[tuple[str, str]]) -> bool:
    """An index whose name spells one of `tables` as a whole word (`ix_track_principals_email` for
    track_principals): how naming conventions name an index nobody created under an explicit name."""
    if not index:
        return False
    name = index.lower()
    return any(re.search(rf"(?:^|_){re.escape(table)}(?:_|$)", name) for table, _schema in tables if table)


def _exclusive_tables(rev) -> set[tuple[str, str]]:
    """(table, schema) pairs upgrade() locks ACCESS EXCLUSIVE (or drops) in its transaction, apart from drop_index."""
    out: set[tuple[str, str]] = set()
    for op in rev.upgrade_ops():
        if op.autocommit or not op.pg:
            continue
        if op.table and (op.name in EXCLUSIVE_OPS or
                         (op.name == "alter_column" and any(k in op.params for k in EXCLUSIVE_ALTER))):
            out.add(_key(op.table, op.schema))
        for action in op.actions:
            if action.kind in EXCLUSIVE_SQL and action.table:
                out.add(_key(action.table, action.schema))
    return out


class ExclusiveLockMaintenance(ProjectRule):
    id = "DBA217"
    name = "exclusive-lock-maintenance"
    revision_files_only = True
    groups = ("migrations",)
    severity = Severity.WARNING
    summary = ("A migration drops an index without CONCURRENTLY, or runs REINDEX, VACUUM FULL, CLUSTER or "
               "TRUNCATE CASCADE.")
    hint = "use op.drop_index(..., postgresql_concurrently=True) inside an autocommit block"
    doc = """
## What it does
Finds `op.drop_index()` without `postgresql_concurrently=True` on a table the revision did not create, and
in `op.execute()` SQL: `DROP INDEX` / `REINDEX` without `CONCURRENTLY`, `VACUUM FULL`, `CLUSTER` and
`TRUNCATE … CASCADE`. A `drop_index` is not reported when the same transaction already takes ACCESS
EXCLUSIVE on that table another way (adds, drops or alters a column, adds or drops a constraint, renames or
drops the table — the usual autogenerate "drop the index, then the column"): dropping the index concurrently
would not spare the table that lock. A raw `DROP INDEX name` (or a `drop_index` without `table_name`) is
matched to its table through the `create_index` that made it, else by the table its name spells
(`ix_orders_legacy` when `orders` is locked anyway). Enum `ALTER TYPE … ADD VALUE` is not a lock
problem and is not reported.

## Why is this bad
These take an ACCESS EXCLUSIVE lock (or block writes) on a live table: `DROP INDEX` waits in the lock queue
and blocks everything behind it, `REINDEX`, `VACUUM FULL` and `CLUSTER` hold the lock for a full rebuild.
`TRUNCATE … CASCADE` silently empties every referencing table.

## Example
```python
def upgrade():
    op.drop_index("ix_orders_legacy", table_name="orders")
```

## Fix
```python
def upgrade():
    with op.get_context().autocommit_block():
        op.drop_index("ix_orders_legacy", table_name="orders", postgresql_concurrently=True)
```
""" + settings_doc("DBA217")
    valid = [
        Example(revision_file("    with op.get_context().autocommit_block():\n"
                              '        op.drop_index("ix_o", table_name="orders", postgresql_concurrently=True)\n'),
                path=PATH, files=FILES),
        Example(revision_file("    op.execute(\"ALTER TYPE status ADD VALUE 'paused' AFTER 'running'\")\n"),
                path=PATH, files=FILES),
        Example(revision_file('    op.create_table("t", sa.Column("a", sa.Integer()))\n'
                              '    op.create_index("ix_t_a", "t", ["a"])\n'
                              '    op.drop_index("ix_t_a", table_name="t")\n'), path=PATH, files=FILES),
        Example(revision_file('    op.drop_index("ix_orders_legacy", table_name="orders")\n'
                              '    op.drop_column("orders", "legacy")\n'), path=PATH, files=FILES,
                note="the transaction takes ACCESS EXCLUSIVE on orders anyway"),
        Example(revision_file('    op.drop_index("ix_audit_at", table_name="audit", schema="app")\n'
                              '    op.drop_table("audit", schema="app")\n'), path=PATH, files=FILES),
        Example(revision_file("    op.execute(\"ALTER TYPE status ADD VALUE IF NOT EXISTS 'paused'\")\n"),
                path=PATH, files=FILES, note="enum ADD VALUE is not a lock problem"),
        Example(revision_file('    op.drop_column("orders", "legacy")\n'
                              '    op.execute("DROP INDEX IF EXISTS ix_orders_legacy")\n'), path=PATH,
                files={**FILES, "migrations/versions/0f9e8d_create.py": (
                    'import sqlalchemy as sa\nfrom alembic import op\n\nrevision = "0f9e8d"\ndown_revision = None\n\n\n'
                    'def upgrade():\n    op.create_index(op.f("ix_orders_legacy"), "orders", ["legacy"])\n')},
                note="raw DROP INDEX: its table is known from the create_index, which the transaction locks anyway"),
        Example(revision_file('    op.execute("""\n'
                              '        ALTER TABLE events.track_principals DROP CONSTRAINT ck_track_principals_email;\n'
                              '        DROP INDEX events.ix_track_principals_email;\n'
                              '        ALTER TABLE events.track_principals DROP COLUMN email;\n'
                              '    """)\n'), path=PATH, files=FILES,
                note="an auto-named index of a table the same SQL locks anyway"),
    ]
    invalid = [
        Example(revision_file('    op.drop_index("ix_o", table_name="orders")\n'), path=PATH, files=FILES,
                lines=(10,)),
        Example(revision_file('    op.execute("VACUUM FULL orders")\n'), path=PATH, files=FILES, lines=(10,)),
        Example(revision_file('    op.execute("TRUNCATE customers CASCADE")\n'), path=PATH, files=FILES,
                lines=(10,)),
        Example(revision_file('    op.drop_index("ix_orders_legacy", table_name="orders")\n'
                              '    op.drop_column("customers", "legacy")\n'
                              '    op.drop_column("orders", "legacy", schema="archive")\n'), path=PATH, files=FILES,
                lines=(10,), note="the other locks are on other tables"),
        Example(revision_file('    op.drop_column("orders_archive", "legacy")\n'
                              '    op.execute("DROP INDEX ix_orders_legacy")\n'), path=PATH, files=FILES, lines=(11,),
                note="orders_archive is locked, not orders"),
    ]

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        exclusive: dict[str, set[tuple[str, str]]] = {}
        indexes: dict[str, dict] = {}
        for env, rev, op in graph.pg_ops():
            if op.name not in ("drop_index", "execute") or op.kw_true("postgresql_concurrently"):
                continue
            if rev.relpath not in exclusive:
                exclusive[rev.relpath] = _exclusive_tables(rev)
            if op.name == "drop_index":
                where = _key(op.table, op.schema) if op.table else self._indexed(env, indexes, op.param("index_name"))
                if where and (rev.is_new_table(where[0]) or (not op.autocommit and where in exclusive[rev.relpath])):
                    continue
                table = where[0] if where else None
                on = f" on {table!r}" if table else ""
                yield self.finding(
                    rev.relpath, op.line, op.col,
                    f"drop_index{on} without postgresql_concurrently=True takes an ACCESS EXCLUSIVE lock",
                    end_line=op.end_line,
                )
                continue
            for action in op.actions:
                if action.kind not in SQL_MESSAGES or action.concurrently:
                    continue
                message, hint = SQL_MESSAGES[action.kind]
                if action.kind == "drop_index":
                    where = self._indexed(env, indexes, action.name, action.schema)
                    if where and (rev.is_new_table(where[0]) or
                                  (not op.autocommit and where in exclusive[rev.relpath])):
                        continue
                    if where is None and not op.autocommit and _named_after(action.name, exclusive[rev.relpath]):
                        continue
                    if where:
                        message = message.replace("on the table", f"on {where[0]!r}")
                yield self.finding(rev.relpath, op.line, op.col, message, hint=hint, end_line=op.end_line)

    @staticmethod
    def _indexed(env, cache: dict, name, schema: str | None = None) -> tuple[str, str] | None:
        """(table, schema) of the index `name` (from the env's create_index calls), if one table has it."""
        name = literal_name(name)
        if not name:
            return None
        if env.name not in cache:
            cache[env.name] = _index_tables(env)
        where = cache[env.name].get(name.lower())
        if where and schema and where[1] and where[1] != schema.lower():
            return None
        return where
