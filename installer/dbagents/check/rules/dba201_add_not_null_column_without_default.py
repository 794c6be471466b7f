"""DBA201: add_column(nullable=False) without a server_default fails on a table that has rows."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts._alembic_checks import (
    FILES,
    PATH,
    column_call,
    column_fills_itself,
    column_name,
    column_not_null,
    op_target,
    revision_file,
)
from dbagents.check.project_settings import settings_doc
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity


class AddNotNullColumnWithoutDefault(ProjectRule):
    id = "DBA201"
    name = "add-not-null-column-without-default"
    revision_files_only = True
    groups = ("migrations",)
    severity = Severity.ERROR
    summary = "A migration adds a NOT NULL column without a server_default to an existing table."
    hint = "add it nullable, backfill, then set NOT NULL; or give it a server_default"
    doc = """
## What it does
Finds `op.add_column()` (and `batch_op.add_column()`, and `ALTER TABLE … ADD COLUMN … NOT NULL` in
`op.execute()`) adding a column declared `nullable=False` (or `primary_key=True`) that has no
`server_default`, identity or computed value, on a table the same revision did not create.

## Why is this bad
PostgreSQL must give every existing row a value for the new column. With no default the value is NULL, so
the `ALTER TABLE` fails with `column "…" contains null values` as soon as the table has a row — typically in
production, after the migration passed on an empty development database. A Python-side `default=` does not
help: Alembic emits only the server side of the column.

## Example
```python
def upgrade():
    op.add_column("users", sa.Column("plan", sa.String(), nullable=False))
```

## Fix
```python
def upgrade():
    # PostgreSQL 11+ stores a constant default without rewriting the table
    op.add_column("users", sa.Column("plan", sa.String(), nullable=False, server_default="free"))
```
or add the column nullable, backfill it in batches, and set `NOT NULL` in a later revision.
""" + settings_doc("DBA201")
    valid = [
        Example(revision_file('    op.add_column("users", sa.Column("plan", sa.String(), nullable=False,'
                              ' server_default="free"))\n'), path=PATH, files=FILES),
        Example(revision_file('    op.add_column("users", sa.Column("plan", sa.String(), nullable=True))\n'),
                path=PATH, files=FILES),
        Example(revision_file('    op.create_table("plans", sa.Column("id", sa.Integer(), primary_key=True))\n'
                              '    op.add_column("plans", sa.Column("name", sa.String(), nullable=False))\n'),
                path=PATH, files=FILES, note="table created in the same revision"),
        Example(revision_file('    op.add_column("users", sa.Column("n", sa.BigInteger(), sa.Identity(),'
                              ' nullable=False))\n'), path=PATH, files=FILES),
        Example(revision_file('    op.execute("ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT \'free\'")\n'),
                path=PATH, files=FILES),
    ]
    invalid = [
        Example(revision_file('    op.add_column("users", sa.Column("plan", sa.String(), nullable=False))\n'),
                path=PATH, files=FILES, lines=(10,)),
        Example(revision_file('    with op.batch_alter_table("users") as batch_op:\n'
                              '        batch_op.add_column(sa.Column("plan", sa.String(), nullable=False,'
                              ' default="free"))\n'), path=PATH, files=FILES, lines=(11,)),
        Example(revision_file('    op.execute("ALTER TABLE users ADD COLUMN plan text NOT NULL")\n'),
                path=PATH, files=FILES, lines=(10,)),
    ]

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        for _env, rev, op in graph.pg_ops():
            if op.name == "add_column":
                col = column_call(op.param("column"))
                if col is None or not column_not_null(col) or column_fills_itself(col):
                    continue
                if rev.is_new_table(op.table):
                    continue
                yield self.finding(
                    rev.relpath, op.line, op.col,
                    f"NOT NULL column {column_name(col) or '?'!r} added to existing table {op_target(op)!r} "
                    "without a server_default fails when the table has rows",
                    end_line=op.end_line,
                )
            elif op.name == "execute":
                for action in op.actions:
                    flags = action.detail.split(",")
                    if action.kind == "add_column" and "not_null" in flags and "default" not in flags:
                        if rev.is_new_table(action.table):
                            continue
                        yield self.finding(
                            rev.relpath, op.line, op.col,
                            f"NOT NULL column {action.name or '?'!r} added to existing table "
                            f"{action.table or '?'!r} without a DEFAULT fails when the table has rows",
                            end_line=op.end_line,
                        )
