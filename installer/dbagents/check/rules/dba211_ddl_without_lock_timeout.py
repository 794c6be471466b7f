"""DBA211: lock-taking DDL with no lock_timeout/statement_timeout, in the revision or in env.py."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts._alembic_checks import (
    ENV_PY_TIMEOUT,
    FILES_NO_TIMEOUT,
    INI,
    PATH,
    locks_existing_table,
    revision_file,
)
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity


class DdlWithoutLockTimeout(ProjectRule):
    id = "DBA211"
    name = "ddl-without-lock-timeout"
    groups = ("migrations",)
    severity = Severity.WARNING
    summary = "A revision takes strong locks on existing tables with no lock_timeout set in it or in env.py."
    hint = "op.execute(\"SET LOCAL lock_timeout = '5s'\") at the top of upgrade(), or set it once in env.py"
    doc = """
## What it does
Reports a revision whose `upgrade()` runs DDL that locks an existing table (add/alter/drop column, plain
index builds, constraints, renames, drops — via `op.*` or recognised `op.execute()` SQL) when neither the
revision nor the environment's env.py (or alembic.ini) sets `lock_timeout` or `statement_timeout`. One
finding per revision, on its first such operation.

## Why is this bad
`ALTER TABLE` must wait for every transaction touching the table to finish. While it waits in the lock
queue, every new query on that table queues behind it — one long-running report can turn a millisecond
migration into an outage. A `lock_timeout` makes the migration fail fast instead; you retry it later.

## Example
```python
def upgrade():
    op.add_column("orders", sa.Column("note", sa.Text()))
```

## Fix
```python
def upgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column("orders", sa.Column("note", sa.Text()))
```
or once for every migration in env.py, e.g.
`connection.exec_driver_sql("SET lock_timeout = '5s'")` before `context.run_migrations()`.
"""
    valid = [
        Example(revision_file('    op.execute("SET LOCAL lock_timeout = \'5s\'")\n'
                              '    op.add_column("orders", sa.Column("note", sa.Text()))\n'),
                path=PATH, files=FILES_NO_TIMEOUT),
        Example(revision_file('    op.add_column("orders", sa.Column("note", sa.Text()))\n'),
                path=PATH, files={"alembic.ini": INI, "migrations/env.py": ENV_PY_TIMEOUT},
                note="env.py sets it for every migration"),
        Example(revision_file('    op.create_table("notes", sa.Column("id", sa.Integer()))\n'
                              '    op.create_index("ix_notes_id", "notes", ["id"])\n'),
                path=PATH, files=FILES_NO_TIMEOUT, note="only a new table is locked"),
    ]
    invalid = [
        Example(revision_file('    op.add_column("orders", sa.Column("note", sa.Text()))\n'
                              '    op.drop_column("orders", "old_note")\n'),
                path=PATH, files=FILES_NO_TIMEOUT, lines=(10,)),
        Example(revision_file('    op.execute("ALTER TABLE orders ALTER COLUMN note SET DEFAULT \'\'")\n'),
                path=PATH, files=FILES_NO_TIMEOUT, lines=(10,)),
    ]

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        for env, rev in graph.all_revisions():
            if not env.pg or rev.timeout_line or env.timeout_source:
                continue
            first = next((op for op in rev.upgrade_ops() if op.pg and locks_existing_table(rev, op)), None)
            if first is None:
                continue
            yield self.finding(
                rev.relpath, first.line, first.col,
                f"{first.name}() locks an existing table but no lock_timeout/statement_timeout is set "
                "in this revision or env.py; a blocked lock queues all traffic behind it",
                end_line=first.end_line,
            )
