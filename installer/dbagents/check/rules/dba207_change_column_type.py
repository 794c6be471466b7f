"""DBA207: alter_column(type_=…) rewrites the table under lock and breaks code reading the old type."""

from __future__ import annotations

import re
from typing import Iterable

from dbagents.check.facts._alembic_checks import FILES, HEADER, PATH, op_target, revision_file
from dbagents.check.facts._alembic_model import Call, Op, Ref, Revision
from dbagents.check.facts._alembic_types import (
    from_sql,
    from_value,
    keeps_table,
    old_type_from_downgrade,
    old_type_from_history,
)
from dbagents.check.project_settings import settings_doc
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

OTHER_DIALECT_MODULES = {"mysql", "sqlite", "mssql", "oracle"}
PARENT = ('import sqlalchemy as sa\nfrom alembic import op\n\nrevision = "0f9e8d"\ndown_revision = None\n\n\n'
          'def upgrade():\n    op.create_table("users", sa.Column("id", sa.Integer(), primary_key=True),\n'
          '                    sa.Column("name", sa.String(100)), sa.Column("visits", sa.Integer()))\n')
HISTORY = {**FILES, "migrations/versions/0f9e8d_create.py": PARENT}
_SAFE_SQL_TARGET = re.compile(r"^(TEXT|CHARACTER VARYING|VARCHAR)\s*(USING\b.*)?$", re.I)


def _spell(value) -> str:
    if isinstance(value, Call):
        args = ", ".join(repr(a) for a in value.args if isinstance(a, (int, str)))
        return f"{value.short}({args})"
    if isinstance(value, Ref):
        return value.name.rsplit(".", 1)[-1]
    return "?"


def _plain_cast(using, column) -> bool:
    """`postgresql_using="col::numeric(12,2)"`: PostgreSQL treats a cast of the column itself like no USING."""
    return (isinstance(using, str) and isinstance(column, str)
            and re.match(rf'^"?{re.escape(column)}"?\s*::', using.strip(), re.I) is not None)


def _keeps_table(env, rev: Revision, op: Op) -> bool:
    """Is this alter_column a change PostgreSQL makes without rewriting (old type from existing_type=, else from
    what downgrade() sets the column back to, else from the revision that created or last retyped it)?"""
    column = op.param("column_name")
    using = op.param("postgresql_using")
    if using is not None and not _plain_cast(using, column):
        return False
    old = from_value(op.param("existing_type"))
    if old is None and isinstance(column, str):
        old = old_type_from_downgrade(rev, op.table, column, op.schema)
    if old is None and isinstance(column, str):
        old = old_type_from_history(env.revisions, rev, op.table, column, op.schema)
    return keeps_table(old, from_value(op.param("type_")))


def _sql_keeps_table(env, rev: Revision, action) -> bool:
    if _SAFE_SQL_TARGET.match(action.detail.strip()):
        return True
    old = (old_type_from_downgrade(rev, action.table, action.name, action.schema)
           or old_type_from_history(env.revisions, rev, action.table, action.name, action.schema))
    return keeps_table(old, from_sql(action.detail, action.name))


class ChangeColumnType(ProjectRule):
    id = "DBA207"
    name = "change-column-type"
    revision_files_only = True
    groups = ("migrations",)
    severity = Severity.WARNING
    summary = "alter_column(type_=…) on an existing table usually rewrites it under an ACCESS EXCLUSIVE lock."
    hint = "add a new column, backfill it, switch readers, then drop the old one; widening varchar is safe"
    doc = """
## What it does
Finds `op.alter_column(..., type_=…)` (and `batch_op` forms, and `ALTER COLUMN … TYPE` in `op.execute()`)
on a table the same revision did not create. Changes PostgreSQL makes without rewriting the table are not
reported: a longer or unbounded `VARCHAR`, `VARCHAR`/`TEXT` to `TEXT`, and a `NUMERIC` with more precision and
the same scale (or no precision at all). The old type is read from `existing_type=`, else from what
`downgrade()` sets the column back to (`alter_column(type_=…)` or `ALTER COLUMN … TYPE`), else from the
earlier revision that created or last retyped the column (`create_table`, `add_column`, `alter_column`). A
`postgresql_using=` / `USING` other than a plain cast of the column itself counts as a rewrite.

## Why is this bad
Most type changes make PostgreSQL rewrite the whole table and all its indexes while holding an ACCESS
EXCLUSIVE lock, so the table is unavailable for the duration. Code that is still running during the deploy
also reads and writes the column with the old type.

## Example
```python
def upgrade():
    op.alter_column("orders", "amount", type_=sa.Numeric(12, 2), existing_type=sa.Integer())
```

## Fix
Add a new column with the new type, write to both, backfill in batches, switch readers, then drop the old
column in a later release. Widening is cheap and safe; say the old type so the check (and a reader) can see it:
```python
op.alter_column("users", "name", type_=sa.String(200), existing_type=sa.String(100))
op.alter_column("orders", "amount", type_=sa.Numeric(12, 2), existing_type=sa.Numeric(10, 2))
```
""" + settings_doc("DBA207")
    valid = [
        Example(revision_file('    op.alter_column("users", "name", type_=sa.String(200),'
                              ' existing_type=sa.String(100))\n'), path=PATH, files=FILES),
        Example(revision_file('    op.alter_column("users", "name", type_=sa.Text(),'
                              ' existing_type=sa.VARCHAR(length=100))\n'), path=PATH, files=FILES),
        Example(revision_file('    op.create_table("t", sa.Column("a", sa.Integer()))\n'
                              '    op.alter_column("t", "a", type_=sa.BigInteger())\n'), path=PATH, files=FILES),
        Example(revision_file('    op.alter_column("orders", "amount", type_=sa.Numeric(12, 2),'
                              ' existing_type=sa.Numeric(10, 2))\n'), path=PATH, files=FILES,
                note="more precision, same scale: no rewrite"),
        Example(revision_file('    op.alter_column("reminders", "message", type_=sa.Text(), schema="events")\n',
                              '    op.alter_column("reminders", "message", type_=sa.String(), schema="events")\n'),
                path=PATH, files=FILES, note="varchar -> text, the old type known from downgrade()"),
        Example(revision_file('    op.execute("ALTER TABLE shop.orders ALTER COLUMN amount SET DATA TYPE numeric(11,2)'
                              ' USING amount::numeric(11,2)")\n',
                              '    op.execute("ALTER TABLE shop.orders ALTER COLUMN amount TYPE numeric(8,2)")\n'),
                path=PATH, files=FILES, note="raw SQL numeric widening, old type from downgrade()"),
        Example(revision_file('    op.alter_column("users", "name", type_=sa.Text())\n'), path=PATH, files=HISTORY,
                note="varchar -> text, the old type known from the revision that created the column"),
        Example(revision_file('    if not is_postgres():\n'
                              '        with op.batch_alter_table("recipes") as batch_op:\n'
                              '            batch_op.alter_column("rating", existing_type=sa.INTEGER(),'
                              ' type_=sa.Float())\n',
                              header=HEADER + 'def is_postgres():\n'
                                              '    return op.get_context().dialect.name == "postgresql"\n\n\n'),
                path=PATH, files=FILES, note="SQLite only: a helper returning a dialect comparison guards it"),
    ]
    invalid = [
        Example(revision_file('    op.alter_column("orders", "amount", type_=sa.Numeric(12, 2),'
                              ' existing_type=sa.Integer())\n'), path=PATH, files=FILES, lines=(10,)),
        Example(revision_file('    op.alter_column("users", "name", type_=sa.String(50),'
                              ' existing_type=sa.String(100))\n'), path=PATH, files=FILES, lines=(10,),
                note="narrowing"),
        Example(revision_file('    op.execute("ALTER TABLE orders ALTER COLUMN amount TYPE bigint")\n'),
                path=PATH, files=FILES, lines=(10,)),
        Example(revision_file('    op.alter_column("orders", "amount", type_=sa.Numeric(12, 3),'
                              ' existing_type=sa.Numeric(10, 2))\n'), path=PATH, files=FILES, lines=(10,),
                note="a new scale rewrites"),
        Example(revision_file('    op.alter_column("users", "email", type_=sa.String(255))\n',
                              '    op.alter_column("users", "email", type_=sa.String())\n'), path=PATH, files=FILES,
                lines=(10,), note="unbounded varchar -> varchar(255) checks every row"),
        Example(revision_file('    op.alter_column("users", "visits", type_=sa.BigInteger())\n'), path=PATH,
                files=HISTORY, lines=(10,), note="integer -> bigint (old type from history) rewrites"),
        Example(revision_file('    op.alter_column("rooms", "lat", type_=sa.Float, postgresql_using="lat::float")\n',
                              '    op.alter_column("rooms", "lat", type_=sa.String)\n'), path=PATH, files=FILES,
                lines=(10,)),
    ]

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        for env, rev, op in graph.pg_ops():
            if op.name == "alter_column" and "type_" in op.params and op.param("type_") is not None:
                new, old = op.param("type_"), op.param("existing_type")
                if rev.is_new_table(op.table) or _keeps_table(env, rev, op):
                    continue
                if isinstance(new, Call) and new.func.split(".")[0] in OTHER_DIALECT_MODULES:
                    continue  # mysql.DATETIME(...) and friends: not a PostgreSQL change
                column = op.param("column_name")
                change = f"{_spell(old)} -> {_spell(new)}" if old is not None else f"to {_spell(new)}"
                yield self.finding(
                    rev.relpath, op.line, op.col,
                    f"type change of {op_target(op)}.{column if isinstance(column, str) else '?'} ({change}) "
                    "rewrites the table under an ACCESS EXCLUSIVE lock",
                    end_line=op.end_line,
                )
            elif op.name == "execute":
                changed = [a for a in op.actions if a.kind == "alter_type" and not rev.is_new_table(a.table)
                           and not _sql_keeps_table(env, rev, a)]
                if not changed:
                    continue
                columns = ", ".join(f"{a.table or '?'}.{a.name or '?'} to {a.detail.split(' USING')[0].lower()}"
                                    for a in changed[:3])
                more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
                yield self.finding(
                    rev.relpath, op.line, op.col,
                    f"type change of {columns}{more} rewrites the table under an ACCESS EXCLUSIVE lock",
                    end_line=op.end_line,
                )
