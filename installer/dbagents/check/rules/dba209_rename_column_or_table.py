"""DBA209: renaming a column or table breaks the code still running during the deploy."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts._alembic_checks import FILES, PATH, columns_added_before, op_target, revision_file
from dbagents.check.project_settings import settings_doc
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity


class RenameColumnOrTable(ProjectRule):
    id = "DBA209"
    name = "rename-column-or-table"
    revision_files_only = True
    groups = ("migrations",)
    severity = Severity.WARNING
    summary = "A migration renames a column or table that running code still uses by its old name."
    hint = "add the new column/table, write to both, switch readers, then drop the old one"
    doc = """
## What it does
Finds `op.alter_column(..., new_column_name=…)`, `op.rename_table()` (and `batch_op` forms, and
`ALTER TABLE … RENAME` in `op.execute()`) on a table the same revision did not create. Renaming a column
the same `upgrade()` added before (add -> copy -> rename into place) is not reported: nothing running reads
it yet (dropping the old column is DBA208's finding).

## Why is this bad
The rename is instant, but the application version still running during the deploy keeps using the old
name: its queries fail until the new version is everywhere, and a rollback of the code fails the other way.

## Example
```python
def upgrade():
    op.alter_column("users", "name", new_column_name="full_name")
```

## Fix
Expand and contract: add `full_name`, write both, backfill, switch readers, and drop `name` in a later
release. For a table, a view with the old name can bridge the gap.
""" + settings_doc("DBA209")
    valid = [
        Example(revision_file('    op.alter_column("users", "name", comment="display name")\n'), path=PATH,
                files=FILES),
        Example(revision_file('    op.create_table("tmp_users", sa.Column("id", sa.Integer()))\n'
                              '    op.rename_table("tmp_users", "staging_users")\n'), path=PATH, files=FILES),
        Example(revision_file('    op.add_column("orders", sa.Column("amount_new", sa.Numeric(12, 2)))\n'
                              '    op.execute("UPDATE orders SET amount_new = amount")\n'
                              '    op.drop_column("orders", "amount")\n'
                              '    op.alter_column("orders", "amount_new", new_column_name="amount")\n'),
                path=PATH, files=FILES, note="add -> copy -> rename a column added above"),
        Example(revision_file('    op.execute("ALTER TABLE orders ADD COLUMN amount_new numeric(12,2)")\n'
                              '    op.execute("ALTER TABLE orders RENAME COLUMN amount_new TO amount_v2")\n'),
                path=PATH, files=FILES),
    ]
    invalid = [
        Example(revision_file('    op.alter_column("users", "name", new_column_name="full_name")\n'),
                path=PATH, files=FILES, lines=(10,)),
        Example(revision_file('    op.rename_table("users", "accounts")\n'), path=PATH, files=FILES, lines=(10,)),
        Example(revision_file('    op.execute("ALTER TABLE users RENAME COLUMN name TO full_name")\n'),
                path=PATH, files=FILES, lines=(10,)),
    ]

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        for _env, rev, op in graph.pg_ops():
            if rev.is_new_table(op.table):
                continue
            if op.name == "alter_column" and isinstance(op.param("new_column_name"), str):
                column = op.param("column_name")
                added = columns_added_before(rev, op)
                if isinstance(column, str) and ((op.table or "").lower(), column.lower()) in added:
                    continue  # add -> copy -> rename: nothing running reads the new column yet
                yield self.finding(
                    rev.relpath, op.line, op.col,
                    f"renames column {op_target(op)}.{column if isinstance(column, str) else '?'} to "
                    f"{op.param('new_column_name')!r}; running code still uses the old name",
                    end_line=op.end_line,
                )
            elif op.name == "rename_table":
                new = op.param("new_table_name")
                yield self.finding(
                    rev.relpath, op.line, op.col,
                    f"renames table {op_target(op)!r} to {new if isinstance(new, str) else '?'!r}; running code "
                    "still uses the old name",
                    end_line=op.end_line,
                )
            elif op.name == "execute":
                added = columns_added_before(rev, op)
                for action in op.actions:
                    if action.kind == "rename_column" and ((action.table or ""), (action.name or "")) in added:
                        continue
                    if action.kind in ("rename_column", "rename_table") and not rev.is_new_table(action.table):
                        what = (f"column {action.table or '?'}.{action.name or '?'}" if action.kind == "rename_column"
                                else f"table {action.table or '?'!r}")
                        yield self.finding(
                            rev.relpath, op.line, op.col,
                            f"renames {what}; running code still uses the old name",
                            end_line=op.end_line,
                        )
