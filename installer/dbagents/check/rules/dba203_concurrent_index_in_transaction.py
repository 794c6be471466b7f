"""DBA203: CONCURRENTLY inside the migration transaction: PostgreSQL rejects it."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts._alembic_checks import FILES, INI, PATH, revision_file
from dbagents.check.project_settings import settings_doc
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

ENV_AUTOCOMMIT = '''from alembic import context


def run_migrations_online():
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        context.configure(connection=connection)
        context.run_migrations()
'''


class ConcurrentIndexInTransaction(ProjectRule):
    id = "DBA203"
    name = "concurrent-index-in-transaction"
    revision_files_only = True
    groups = ("migrations",)
    severity = Severity.ERROR
    summary = "CREATE/DROP INDEX CONCURRENTLY runs inside the migration's transaction, which PostgreSQL rejects."
    hint = "wrap it in `with op.get_context().autocommit_block():`"
    fixable = "sometimes"
    doc = """
## What it does
Finds `op.create_index(..., postgresql_concurrently=True)`, `op.drop_index(..., postgresql_concurrently=True)`
and `CREATE INDEX CONCURRENTLY` / `DROP INDEX CONCURRENTLY` / `REINDEX … CONCURRENTLY` in `op.execute()` that
are not inside `with op.get_context().autocommit_block():` (nor after an explicit `COMMIT`), in an
environment whose env.py runs migrations in a transaction (the default).

## Why is this bad
Alembic runs each migration inside a transaction on PostgreSQL, and PostgreSQL refuses
`CREATE INDEX CONCURRENTLY cannot run inside a transaction block`. The deploy fails at this revision.

## Example
```python
def upgrade():
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"], postgresql_concurrently=True)
```

## Fix
```python
def upgrade():
    with op.get_context().autocommit_block():
        op.create_index("ix_orders_customer_id", "orders", ["customer_id"], postgresql_concurrently=True)
```
`dbagents check --fix` wraps an `op.create_index(...)` / `op.drop_index(...)` / `op.execute(...)` statement of
`upgrade()` or `downgrade()` in the autocommit block, in revisions that have not shipped (the heads and the
revision below them, or those after `migrations-start-after`); inside a batch or a branch it is left to you.
""" + settings_doc("DBA203")
    valid = [
        Example(revision_file('    with op.get_context().autocommit_block():\n'
                              '        op.create_index("ix_o", "orders", ["c"], postgresql_concurrently=True)\n'),
                path=PATH, files=FILES),
        Example(revision_file('    op.execute("COMMIT")\n'
                              '    op.execute("CREATE INDEX CONCURRENTLY ix_o ON orders (c)")\n'),
                path=PATH, files=FILES),
        Example(revision_file('    op.create_index("ix_o", "orders", ["c"], postgresql_concurrently=True)\n'),
                path=PATH, files={"alembic.ini": INI, "migrations/env.py": ENV_AUTOCOMMIT},
                note="env.py runs migrations in autocommit mode"),
    ]
    invalid = [
        Example(revision_file('    op.create_index("ix_o", "orders", ["c"], postgresql_concurrently=True)\n'),
                path=PATH, files=FILES, lines=(10,),
                fixed=revision_file('    with op.get_context().autocommit_block():\n'
                                    '        op.create_index("ix_o", "orders", ["c"], postgresql_concurrently=True)\n')),
        Example(revision_file('    op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_o")\n'),
                path=PATH, files=FILES, lines=(10,),
                fixed=revision_file('    with op.get_context().autocommit_block():\n'
                                    '        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_o")\n')),
        Example(revision_file('    with op.batch_alter_table("orders") as batch_op:\n'
                              '        batch_op.drop_index("ix_o", postgresql_concurrently=True)\n'),
                path=PATH, files=FILES, lines=(11,)),
    ]

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        for env, rev, op in graph.pg_ops():
            if op.autocommit or env.autocommit:
                continue
            if op.name in ("create_index", "drop_index") and op.kw_true("postgresql_concurrently"):
                what = "CREATE INDEX" if op.name == "create_index" else "DROP INDEX"
                yield self.finding(
                    rev.relpath, op.line, op.col,
                    f"{what} CONCURRENTLY inside the migration transaction fails: "
                    "PostgreSQL rejects it in a transaction block",
                    end_line=op.end_line,
                )
            elif op.name == "execute":
                for action in op.actions:
                    if action.concurrently and action.kind in ("create_index", "drop_index", "reindex"):
                        what = {"create_index": "CREATE INDEX", "drop_index": "DROP INDEX"}.get(action.kind, "REINDEX")
                        yield self.finding(
                            rev.relpath, op.line, op.col,
                            f"{what} CONCURRENTLY inside the migration transaction fails: "
                            "PostgreSQL rejects it in a transaction block",
                            end_line=op.end_line,
                        )
                        break

    def fix(self, site):
        """Wrap the statement in `with op.get_context().autocommit_block():`."""
        from dbagents.check.fix.site import autocommit_block

        found = site.op_statement("create_index", "drop_index", "execute")
        if found is None:
            return None
        stmt, _ = found
        return site.edit(stmt, autocommit_block(stmt, "op"))
