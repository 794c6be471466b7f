"""DBA205: create_unique_constraint / create_primary_key on an existing table builds the index under lock."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts._alembic_checks import FILES, PATH, op_target, revision_file
from dbagents.check.project_settings import settings_doc
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

WHAT = {
    "create_unique_constraint": "unique constraint",
    "create_primary_key": "primary key",
    "create_exclude_constraint": "exclusion constraint",
    "add_unique": "unique constraint",
    "add_pk": "primary key",
}


class UniqueOrPrimaryKeyDirectly(ProjectRule):
    id = "DBA205"
    name = "unique-or-primary-key-directly"
    revision_files_only = True
    groups = ("migrations",)
    severity = Severity.WARNING
    summary = "A unique/primary key constraint is added to an existing table, building its index under lock."
    hint = ("create a unique index CONCURRENTLY first, then ADD CONSTRAINT … UNIQUE/PRIMARY KEY USING INDEX")
    doc = """
## What it does
Finds `op.create_unique_constraint()`, `op.create_primary_key()` and `op.create_exclude_constraint()` (and
`batch_op` forms, and `ALTER TABLE … ADD … UNIQUE/PRIMARY KEY` without `USING INDEX` in `op.execute()`) on a
table the same revision did not create.

## Why is this bad
Adding the constraint builds its unique index while holding an ACCESS EXCLUSIVE lock: nobody can read or
write the table until the whole index is built.

## Example
```python
def upgrade():
    op.create_unique_constraint("uq_users_email", "users", ["email"])
```

## Fix
```python
def upgrade():
    with op.get_context().autocommit_block():
        op.create_index("uq_users_email", "users", ["email"], unique=True, postgresql_concurrently=True)
    op.execute("ALTER TABLE users ADD CONSTRAINT uq_users_email UNIQUE USING INDEX uq_users_email")
```
""" + settings_doc("DBA205")
    valid = [
        Example(revision_file('    op.execute("ALTER TABLE users ADD CONSTRAINT uq_e UNIQUE USING INDEX uq_e")\n'),
                path=PATH, files=FILES),
        Example(revision_file('    op.create_table("users", sa.Column("id", sa.Integer()), sa.Column("email",'
                              ' sa.Text()))\n'
                              '    op.create_unique_constraint("uq_e", "users", ["email"])\n'
                              '    op.create_primary_key("pk_users", "users", ["id"])\n'),
                path=PATH, files=FILES, note="new table"),
    ]
    invalid = [
        Example(revision_file('    op.create_unique_constraint("uq_e", "users", ["email"])\n'),
                path=PATH, files=FILES, lines=(10,)),
        Example(revision_file('    op.create_primary_key("pk_users", "users", ["id"])\n'),
                path=PATH, files=FILES, lines=(10,)),
        Example(revision_file('    op.execute("ALTER TABLE users ADD CONSTRAINT uq_e UNIQUE (email)")\n'),
                path=PATH, files=FILES, lines=(10,)),
    ]

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        for _env, rev, op in graph.pg_ops():
            if op.name in WHAT and not rev.is_new_table(op.table):
                yield self.finding(
                    rev.relpath, op.line, op.col,
                    f"{WHAT[op.name]} on existing table {op_target(op)!r} builds its index under an ACCESS "
                    "EXCLUSIVE lock",
                    end_line=op.end_line,
                )
            elif op.name == "execute":
                for action in op.actions:
                    if action.kind in WHAT and not rev.is_new_table(action.table):
                        yield self.finding(
                            rev.relpath, op.line, op.col,
                            f"{WHAT[action.kind]} on existing table {action.table or '?'!r} builds its index "
                            "under an ACCESS EXCLUSIVE lock",
                            end_line=op.end_line,
                        )
