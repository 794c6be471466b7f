"""DBA206: alter_column(nullable=False) scans the table under an ACCESS EXCLUSIVE lock."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts._alembic_checks import FILES, PATH, op_target, revision_file
from dbagents.check.project_settings import settings_doc
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity


def _has_not_null_check(rev, table: str | None) -> bool:
    """The revision validates a CHECK (col IS NOT NULL) first, which PostgreSQL 12+ uses to skip the scan."""
    for op in rev.upgrade_ops():
        if op.name == "create_check_constraint" and (op.table == table or table is None):
            cond = op.param("condition")
            if isinstance(cond, str) and "is not null" in cond.lower():
                return True
        for action in op.actions:
            if action.kind == "validate" and (action.table == table or table is None):
                return True
            if action.kind == "add_check" and "IS NOT NULL" in action.detail.upper():
                return True
    return False


class SetNotNullOnExistingColumn(ProjectRule):
    id = "DBA206"
    name = "set-not-null-on-existing-column"
    revision_files_only = True
    groups = ("migrations",)
    severity = Severity.WARNING
    summary = "alter_column(nullable=False) scans the whole table under an ACCESS EXCLUSIVE lock."
    hint = ("add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it in its own transaction (autocommit_block(), or a "
            "later revision with transaction_per_migration=True), then SET NOT NULL (PostgreSQL 12+ skips the scan)")
    doc = """
## What it does
Finds `op.alter_column(..., nullable=False)` (and `batch_op` forms, and `ALTER COLUMN … SET NOT NULL` in
`op.execute()`) on a table the same revision did not create, unless the revision also validates a
`CHECK (… IS NOT NULL)` constraint on it.

## Why is this bad
`SET NOT NULL` reads every row to prove there is no NULL while holding an ACCESS EXCLUSIVE lock: reads and
writes of the table wait for the whole scan. The VALIDATE of the CHECK that avoids it must run in its own
transaction, or it scans under the ACCESS EXCLUSIVE lock the CHECK's add took: `alembic upgrade` runs all
pending revisions in one transaction unless env.py sets `transaction_per_migration=True`, and an
`autocommit_block()` also ends any `SET LOCAL lock_timeout` (set it for the session, DBA211). Name the CHECK
with `op.f()` when the MetaData has a naming convention, or the convention renames it and the raw VALIDATE
fails after the block has committed.

## Example
```python
def upgrade():
    op.alter_column("users", "email", nullable=False)
```

## Fix
```python
def upgrade():
    op.create_check_constraint(op.f("ck_users_email_nn"), "users", "email IS NOT NULL",
                               postgresql_not_valid=True)
    with op.get_context().autocommit_block():  # commits: VALIDATE runs without the ACCESS EXCLUSIVE lock
        op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck_users_email_nn")
    op.alter_column("users", "email", nullable=False)   # PostgreSQL 12+ trusts the valid CHECK: no scan
    op.drop_constraint(op.f("ck_users_email_nn"), "users", type_="check")
```
(Or two revisions, the second validating, when env.py sets `transaction_per_migration=True`.)
""" + settings_doc("DBA206")
    valid = [
        Example(revision_file('    op.alter_column("users", "email", nullable=True)\n'), path=PATH, files=FILES),
        Example(revision_file('    op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck_users_email_nn")\n'
                              '    op.alter_column("users", "email", nullable=False)\n'
                              '    op.drop_constraint("ck_users_email_nn", "users")\n'), path=PATH, files=FILES),
        Example(revision_file('    op.create_table("users", sa.Column("email", sa.Text()))\n'
                              '    op.alter_column("users", "email", nullable=False)\n'), path=PATH, files=FILES),
    ]
    invalid = [
        Example(revision_file('    op.alter_column("users", "email", existing_type=sa.Text(), nullable=False)\n'),
                path=PATH, files=FILES, lines=(10,)),
        Example(revision_file('    with op.batch_alter_table("users") as batch_op:\n'
                              '        batch_op.alter_column("email", nullable=False)\n'),
                path=PATH, files=FILES, lines=(11,)),
        Example(revision_file('    op.execute("ALTER TABLE users ALTER COLUMN email SET NOT NULL")\n'),
                path=PATH, files=FILES, lines=(10,)),
    ]

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        for _env, rev, op in graph.pg_ops():
            if op.name == "alter_column" and op.param("nullable") is False:
                if rev.is_new_table(op.table) or _has_not_null_check(rev, op.table):
                    continue
                column = op.param("column_name")
                yield self.finding(
                    rev.relpath, op.line, op.col,
                    f"SET NOT NULL on {op_target(op)}.{column if isinstance(column, str) else '?'} scans the "
                    "whole table under an ACCESS EXCLUSIVE lock",
                    end_line=op.end_line,
                )
            elif op.name == "execute":
                for action in op.actions:
                    if action.kind == "set_not_null" and not rev.is_new_table(action.table):
                        if _has_not_null_check(rev, action.table):
                            continue
                        yield self.finding(
                            rev.relpath, op.line, op.col,
                            f"SET NOT NULL on {action.table or '?'}.{action.name or '?'} scans the whole table "
                            "under an ACCESS EXCLUSIVE lock",
                            end_line=op.end_line,
                        )
