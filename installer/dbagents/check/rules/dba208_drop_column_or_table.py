"""DBA208: drop_column / drop_table while running code may still use them (error if a model still maps it)."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts._alembic_checks import (
    FILES,
    PATH,
    column_call,
    column_name,
    columns_added_before,
    revision_file,
)
from dbagents.check.project_settings import settings_doc
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

MODEL = '''from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    nickname: Mapped[str] = mapped_column(String(50))
'''


def _models(project):
    try:
        return project.get("models")
    except KeyError:  # the models facts are not available
        return None


def _mapped(models, table: str | None, column: str | None, schema: str | None = None):
    """(relpath, line) of the model that still maps `table` (and `column`) in `schema`, or None."""
    if models is None or not table:
        return None
    try:
        tables = models.tables
        model = tables.get(table) or tables.get(table.lower())
        if model is None and schema:
            model = tables.get(f"{schema}.{table}")
        if model is None:
            return None
        model_schema = getattr(model, "schema", None)
        if (schema or "public").lower() != (model_schema or "public").lower():
            return None  # same name in another schema: not the mapped table
        if column is not None and column not in model.columns and column.lower() not in model.columns:
            return None
        located = models.locate(table, column)
        return located or (model.relpath, model.line)
    except AttributeError:
        return None


def _recreates(op, table: str | None, column: str | None) -> bool:
    """Does `op` (re)create `table` (or `table.column`) under that name?"""
    if not table:
        return False
    if op.name == "create_table" and op.table == table:
        if column is None:
            return True
        return any(column_call(v) is not None and column_name(column_call(v)) == column
                   for k, v in op.params.items() if k.startswith("arg"))
    if op.name == "rename_table" and str(op.param("new_table_name", "")).lower() == table:
        return True
    if column is None:
        return any(a.kind == "create_table" and a.table == table for a in op.actions)
    if op.table != table:
        return any(a.kind == "add_column" and a.table == table and a.name == column for a in op.actions)
    if op.name == "add_column":
        col = column_call(op.param("column"))
        return col is not None and column_name(col) == column
    if op.name == "alter_column":
        return op.param("new_column_name") == column
    return False


def _descendants(env, revision: str) -> list:
    children: dict[str, list] = {}
    for rev in env.revisions.values():
        for parent in rev.down_revisions:
            children.setdefault(parent, []).append(rev)
    out, todo, seen = [], [revision], set()
    while todo:
        for child in children.get(todo.pop(), []):
            if child.revision not in seen:
                seen.add(child.revision)
                out.append(child)
                todo.append(child.revision)
    return out


def _recreated_later(env, rev, drop_op, table: str | None, column: str | None) -> bool:
    """The model may map a *new* column/table of the same name, added after this drop."""
    for op in rev.upgrade_ops():
        if op.line > drop_op.line and _recreates(op, table, column):
            return True
    return any(_recreates(op, table, column) for later in _descendants(env, rev.revision)
               for op in later.upgrade_ops())


class DropColumnOrTable(ProjectRule):
    id = "DBA208"
    name = "drop-column-or-table"
    revision_files_only = True
    groups = ("migrations", "models")
    severity = Severity.WARNING
    summary = "A migration drops a column or table that running code may still read; an error if a model maps it."
    hint = "stop using it first: remove it from the models, deploy, then drop it in a later release"
    doc = """
## What it does
Finds `op.drop_column()`, `op.drop_table()` (and `batch_op.drop_column()`, and `DROP TABLE` /
`ALTER TABLE … DROP COLUMN` in `op.execute()`) in `upgrade()`. Tables and columns the same `upgrade()`
created or added before dropping them (a temporary copy: add -> copy -> drop) are not reported. When a model
in the checked project still maps the dropped table or column, the finding is an error.

## Why is this bad
During a deploy the old application version keeps running while the migration runs. If it still selects the
column or table — and an ORM model that maps it always does, in every `SELECT` of that entity — every such
query fails from the moment the migration commits until the new code is everywhere.

## Example
```python
def upgrade():
    op.drop_column("users", "nickname")   # while User.nickname is still mapped
```

## Fix
Two phases: first remove the attribute from the model (or mark it `deferred`) and deploy; then drop the
column in a later release's migration.
""" + settings_doc("DBA208")
    valid = [
        Example(revision_file('    op.add_column("users", sa.Column("nickname", sa.String(), nullable=True))\n',
                              '    op.drop_column("users", "nickname")\n'), path=PATH, files=FILES,
                note="dropping in downgrade() is its purpose"),
        Example(revision_file('    op.create_table("tmp", sa.Column("id", sa.Integer()))\n'
                              '    op.drop_table("tmp")\n'), path=PATH, files=FILES),
        Example(revision_file('    op.add_column("users", sa.Column("name_tmp", sa.Text()))\n'
                              '    op.execute("UPDATE users SET name_tmp = name")\n'
                              '    op.drop_column("users", "name_tmp")\n'), path=PATH, files=FILES,
                note="a column this upgrade() added itself"),
        Example(revision_file('    op.execute("ALTER TABLE users ADD COLUMN scratch text")\n'
                              '    with op.batch_alter_table("Users") as batch_op:\n'
                              '        batch_op.drop_column("scratch")\n'), path=PATH, files=FILES),
    ]
    invalid = [
        Example(revision_file('    op.drop_column("users", "nickname")\n'), path=PATH, files=FILES, lines=(10,)),
        Example(revision_file('    op.drop_table("audit_log")\n'), path=PATH, files=FILES, lines=(10,)),
        Example(revision_file('    with op.batch_alter_table("users") as batch_op:\n'
                              '        batch_op.drop_column("nickname")\n'),
                path=PATH, files={**FILES, "myapp/models.py": MODEL}, lines=(11,),
                note="error: User.nickname still maps it"),
        Example(revision_file('    op.execute("ALTER TABLE users DROP COLUMN IF EXISTS nickname")\n'),
                path=PATH, files=FILES, lines=(10,)),
        Example(revision_file('    op.add_column("orders", sa.Column("amount_new", sa.Numeric(12, 2)))\n'
                              '    op.execute("UPDATE orders SET amount_new = amount")\n'
                              '    op.drop_column("orders", "amount")\n'
                              '    op.alter_column("orders", "amount_new", new_column_name="amount")\n'),
                path=PATH, files=FILES, lines=(12,), note="add -> copy -> drop: the old column is still read"),
    ]

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        models = None
        loaded = False
        for env, rev, op in graph.pg_ops():
            targets: list[tuple[str | None, str | None, str | None]] = []
            if op.name == "drop_column":
                column = op.param("column_name")
                targets.append((op.table, column if isinstance(column, str) else None, op.schema))
            elif op.name == "drop_table" and not rev.is_new_table(op.table):
                targets.append((op.table, None, op.schema))
            elif op.name == "execute":
                for action in op.actions:
                    if action.kind == "drop_column":
                        targets.append((action.table, action.name, action.schema))
                    elif action.kind == "drop_table" and not rev.is_new_table(action.table):
                        targets.append((action.table, None, action.schema))
            if targets and any(column for _t, column, _s in targets):
                added = columns_added_before(rev, op)
                targets = [(t, c, s) for t, c, s in targets if not (c and ((t or "").lower(), c.lower()) in added)]
            for table, column, schema in targets:
                if not loaded:
                    models, loaded = _models(project), True
                where = _mapped(models, table, column, schema)
                if where and _recreated_later(env, rev, op, (table or "").lower() or None, column):
                    where = None
                what = f"column {table or '?'}.{column}" if column else f"table {table or '?'!r}"
                if where:
                    yield self.finding(
                        rev.relpath, op.line, op.col,
                        f"drops {what}, which the model at {where[0]}:{where[1]} still maps; running code "
                        "selecting it breaks",
                        end_line=op.end_line,
                    ).with_severity(Severity.ERROR)
                else:
                    yield self.finding(
                        rev.relpath, op.line, op.col,
                        f"drops {what}; code still running during the deploy may use it",
                        hint="make sure the release that stopped using it is deployed before this migration",
                        end_line=op.end_line,
                    )
