"""DBA202: create_index without postgresql_concurrently=True blocks writes to the table while it builds."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts._alembic_checks import FILES, PATH, op_target, revision_file
from dbagents.check.project_settings import settings_doc
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity


class CreateIndexNonConcurrently(ProjectRule):
    id = "DBA202"
    name = "create-index-non-concurrently"
    revision_files_only = True
    groups = ("migrations", "performance")
    severity = Severity.WARNING
    summary = "A migration builds an index on an existing table without CONCURRENTLY, blocking writes."
    hint = ("use op.create_index(..., postgresql_concurrently=True) inside "
            "`with op.get_context().autocommit_block():`")
    fixable = "sometimes"
    doc = """
## What it does
Finds `op.create_index()` / `batch_op.create_index()` without `postgresql_concurrently=True`, and
`CREATE INDEX` without `CONCURRENTLY` in `op.execute()`, on a table the same revision did not create.

## Why is this bad
A plain `CREATE INDEX` holds a SHARE lock on the table for the whole build: every INSERT, UPDATE and DELETE
waits until the index is finished, which on a large table can be minutes. `CREATE INDEX CONCURRENTLY` builds
the index without blocking writes.

## Example
```python
def upgrade():
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"])
```

## Fix
```python
def upgrade():
    with op.get_context().autocommit_block():
        op.create_index("ix_orders_customer_id", "orders", ["customer_id"],
                        postgresql_concurrently=True)
```
`CONCURRENTLY` cannot run inside a transaction, hence the autocommit block (see DBA203). Indexes on a table
created in the same revision are fine as they are.

`dbagents check --fix` makes that change to an `op.create_index(...)` statement of `upgrade()` or `downgrade()` in
revisions that have not shipped (the heads and the revision below them, or those after `migrations-start-after`);
`batch_op`, SQL in `op.execute()` and statements inside other blocks are left to you.
""" + settings_doc("DBA202")
    valid = [
        Example(revision_file('    with op.get_context().autocommit_block():\n'
                              '        op.create_index("ix_o", "orders", ["customer_id"],'
                              ' postgresql_concurrently=True)\n'), path=PATH, files=FILES),
        Example(revision_file('    op.create_table("orders", sa.Column("id", sa.Integer(), primary_key=True),'
                              ' sa.Column("customer_id", sa.Integer()))\n'
                              '    op.create_index("ix_o", "orders", ["customer_id"])\n'),
                path=PATH, files=FILES, note="new table"),
        Example(revision_file('    if op.get_bind().dialect.name == "sqlite":\n'
                              '        op.create_index("ix_o", "orders", ["customer_id"])\n'), path=PATH, files=FILES),
        Example(revision_file('    op.execute("CREATE TABLE t (id int); CREATE INDEX ix_t ON t (id)")\n'),
                path=PATH, files=FILES),
    ]
    invalid = [
        Example(revision_file('    op.create_index("ix_o", "orders", ["customer_id"])\n'),
                path=PATH, files=FILES, lines=(10,),
                fixed=revision_file('    with op.get_context().autocommit_block():\n'
                                    '        op.create_index("ix_o", "orders", ["customer_id"], '
                                    'postgresql_concurrently=True)\n')),
        Example(revision_file('    with op.batch_alter_table("orders") as batch_op:\n'
                              '        batch_op.create_index("ix_o", ["customer_id"], unique=True)\n'),
                path=PATH, files=FILES, lines=(11,)),
        Example(revision_file('    op.execute("CREATE UNIQUE INDEX ix_o ON public.orders (customer_id)")\n'),
                path=PATH, files=FILES, lines=(10,)),
    ]

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        for _env, rev, op in graph.pg_ops():
            if op.name == "create_index":
                if op.kw_true("postgresql_concurrently") or rev.is_new_table(op.table):
                    continue
                yield self.finding(
                    rev.relpath, op.line, op.col,
                    f"index built on existing table {op_target(op)!r} without CONCURRENTLY blocks writes "
                    "until it is finished",
                    end_line=op.end_line,
                )
            elif op.name == "execute":
                for action in op.actions:
                    if action.kind == "create_index" and not action.concurrently:
                        if rev.is_new_table(action.table):
                            continue
                        yield self.finding(
                            rev.relpath, op.line, op.col,
                            f"CREATE INDEX on existing table {action.table or '?'!r} without CONCURRENTLY "
                            "blocks writes until it is finished",
                            hint="write CREATE INDEX CONCURRENTLY … inside `with op.get_context().autocommit_block():`",
                            end_line=op.end_line,
                        )

    def fix(self, site):
        """postgresql_concurrently=True, inside `with op.get_context().autocommit_block():`."""
        from dbagents.check.fix.site import autocommit_block, with_keyword

        found = site.op_statement("create_index")
        if found is None:
            return None
        stmt, call = found
        return site.edit(stmt, autocommit_block(stmt.deep_replace(call, with_keyword(
            call, "postgresql_concurrently", "True")), "op"))
