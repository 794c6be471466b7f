"""DBA217: non-concurrent DROP INDEX / REINDEX, VACUUM FULL, CLUSTER, TRUNCATE … CASCADE, unordered ADD VALUE."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts._alembic_checks import FILES, PATH, revision_file
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
    "enum_add_value": ("ALTER TYPE … ADD VALUE without BEFORE/AFTER appends the value at the end of the enum order",
                       "say where it goes with BEFORE 'x' / AFTER 'y' so ORDER BY and comparisons stay right"),
}


class ExclusiveLockMaintenance(ProjectRule):
    id = "DBA217"
    name = "exclusive-lock-maintenance"
    groups = ("migrations",)
    severity = Severity.WARNING
    summary = ("A migration drops an index without CONCURRENTLY, or runs REINDEX, VACUUM FULL, CLUSTER, "
               "TRUNCATE CASCADE or an unordered enum ADD VALUE.")
    hint = "use op.drop_index(..., postgresql_concurrently=True) inside an autocommit block"
    doc = """
## What it does
Finds `op.drop_index()` without `postgresql_concurrently=True` on a table the revision did not create, and
in `op.execute()` SQL: `DROP INDEX` / `REINDEX` without `CONCURRENTLY`, `VACUUM FULL`, `CLUSTER`,
`TRUNCATE … CASCADE`, and `ALTER TYPE … ADD VALUE` without `BEFORE`/`AFTER`.

## Why is this bad
These take an ACCESS EXCLUSIVE lock (or block writes) on a live table: `DROP INDEX` waits in the lock queue
and blocks everything behind it, `REINDEX`, `VACUUM FULL` and `CLUSTER` hold the lock for a full rebuild.
`TRUNCATE … CASCADE` silently empties every referencing table. An enum value appended without a position
sorts after all others.

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
    ]
    invalid = [
        Example(revision_file('    op.drop_index("ix_o", table_name="orders")\n'), path=PATH, files=FILES,
                lines=(10,)),
        Example(revision_file('    op.execute("VACUUM FULL orders")\n'), path=PATH, files=FILES, lines=(10,)),
        Example(revision_file("    op.execute(\"ALTER TYPE status ADD VALUE IF NOT EXISTS 'paused'\")\n"),
                path=PATH, files=FILES, lines=(10,)),
        Example(revision_file('    op.execute("TRUNCATE customers CASCADE")\n'), path=PATH, files=FILES,
                lines=(10,)),
    ]

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        for _env, rev, op in graph.pg_ops():
            if op.name == "drop_index":
                if op.kw_true("postgresql_concurrently") or rev.is_new_table(op.table):
                    continue
                table = op.table or op.param("table_name")
                where = f" on {table!r}" if isinstance(table, str) else ""
                yield self.finding(
                    rev.relpath, op.line, op.col,
                    f"drop_index{where} without postgresql_concurrently=True takes an ACCESS EXCLUSIVE lock",
                    end_line=op.end_line,
                )
            elif op.name == "execute":
                for action in op.actions:
                    if action.kind not in SQL_MESSAGES or action.concurrently:
                        continue
                    if action.kind == "enum_add_value" and action.detail == "ordered":
                        continue
                    message, hint = SQL_MESSAGES[action.kind]
                    yield self.finding(rev.relpath, op.line, op.col, message, hint=hint, end_line=op.end_line)
