"""DBA204: a foreign key or CHECK added to an existing table without NOT VALID scans it under lock."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts._alembic_checks import (
    FILES,
    PATH,
    column_call,
    column_foreign_keys,
    column_name,
    op_target,
    revision_file,
)
from dbagents.check.project_settings import settings_doc
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity


class ConstraintWithoutNotValid(ProjectRule):
    id = "DBA204"
    name = "constraint-without-not-valid"
    revision_files_only = True
    groups = ("migrations",)
    severity = Severity.WARNING
    summary = "A foreign key or CHECK constraint is added to an existing table without NOT VALID."
    hint = ("add it with postgresql_not_valid=True, then VALIDATE CONSTRAINT in its own transaction: inside "
            "`with op.get_context().autocommit_block():`, or in a later revision when env.py sets "
            "transaction_per_migration=True (or it ships in a separate deploy)")
    fixable = "sometimes"
    doc = """
## What it does
Finds `op.create_foreign_key()` and `op.create_check_constraint()` (also the `batch_op` forms and
`ALTER TABLE … ADD CONSTRAINT … FOREIGN KEY/CHECK` in `op.execute()`) without `postgresql_not_valid=True` /
`NOT VALID`, and `add_column` of a column carrying a `ForeignKey`, on a table the same revision did not
create. It also finds a constraint added `NOT VALID` and then validated in the same transaction.

## Why is this bad
Adding a validated constraint makes PostgreSQL check every existing row while it holds a strong lock: a
foreign key takes SHARE ROW EXCLUSIVE on the table and the referenced table (writes wait), a CHECK takes ACCESS
EXCLUSIVE (reads wait too). `NOT VALID` adds the constraint instantly for new rows (the lock is still taken,
briefly); `ALTER TABLE … VALIDATE CONSTRAINT` then checks old rows under SHARE UPDATE EXCLUSIVE, which lets
reads and writes continue. Locks last until commit, so validating in the same transaction as the `NOT VALID`
add keeps the strong lock and gains nothing — and `alembic upgrade` runs all pending revisions in one
transaction unless env.py sets `transaction_per_migration=True`, so "the next revision" is only a separate
transaction with that setting or a separate deploy (DBA219 reports chains that rely on it).

## Example
```python
def upgrade():
    op.create_foreign_key("fk_orders_customer", "orders", "customers", ["customer_id"], ["id"])
```

## Fix
```python
def upgrade():
    op.create_foreign_key("fk_orders_customer", "orders", "customers", ["customer_id"], ["id"],
                          postgresql_not_valid=True)

# next revision: its own transaction needs transaction_per_migration=True in env.py's context.configure()
# (or a separate deploy); otherwise validate inside `with op.get_context().autocommit_block():`
def upgrade():
    op.execute("ALTER TABLE orders VALIDATE CONSTRAINT fk_orders_customer")
```
`dbagents check --fix` adds `postgresql_not_valid=True` to a named `op.create_foreign_key(...)` /
`op.create_check_constraint(...)` statement of a revision that has not shipped, and says which constraint still
needs validating: `--emit-revision` writes that follow-up revision. A column added with a `ForeignKey`, SQL in
`op.execute()` and unnamed constraints are left to you.
""" + settings_doc("DBA204")
    valid = [
        Example(revision_file('    op.create_foreign_key("fk_o_c", "orders", "customers", ["customer_id"], ["id"],'
                              ' postgresql_not_valid=True)\n'), path=PATH, files=FILES),
        Example(revision_file('    op.create_table("orders", sa.Column("id", sa.Integer(), primary_key=True),'
                              ' sa.Column("customer_id", sa.Integer()))\n'
                              '    op.create_foreign_key("fk_o_c", "orders", "customers", ["customer_id"], ["id"])\n'),
                path=PATH, files=FILES, note="new table"),
        Example(revision_file('    op.execute("ALTER TABLE orders VALIDATE CONSTRAINT fk_o_c")\n'),
                path=PATH, files=FILES, note="validation in its own revision"),
        Example(revision_file('    op.create_check_constraint("ck_price", "items", "price >= 0",'
                              ' postgresql_not_valid=True)\n'
                              '    with op.get_context().autocommit_block():\n'
                              '        op.execute("ALTER TABLE items VALIDATE CONSTRAINT ck_price")\n'),
                path=PATH, files=FILES),
    ]
    invalid = [
        Example(revision_file('    op.create_foreign_key("fk_o_c", "orders", "customers", ["customer_id"], ["id"])\n'),
                path=PATH, files=FILES, lines=(10,),
                fixed=revision_file('    op.create_foreign_key("fk_o_c", "orders", "customers", ["customer_id"], ["id"],'
                                    ' postgresql_not_valid=True)\n')),
        Example(revision_file('    op.create_check_constraint(\n        "ck_price",\n        "items",\n'
                              '        "price >= 0",\n    )\n'),
                path=PATH, files=FILES, lines=(10,),
                fixed=revision_file('    op.create_check_constraint(\n        "ck_price",\n        "items",\n'
                                    '        "price >= 0",\n        postgresql_not_valid=True,\n    )\n')),
        Example(revision_file('    op.add_column("orders", sa.Column("customer_id", sa.Integer(),'
                              ' sa.ForeignKey("customers.id"), nullable=True))\n'),
                path=PATH, files=FILES, lines=(10,)),
        Example(revision_file('    op.execute("ALTER TABLE orders ADD CONSTRAINT fk_o_c FOREIGN KEY (customer_id)'
                              ' REFERENCES customers (id)")\n'), path=PATH, files=FILES, lines=(10,)),
        Example(revision_file('    op.create_check_constraint("ck_price", "items", "price >= 0",'
                              ' postgresql_not_valid=True)\n'
                              '    op.execute("ALTER TABLE items VALIDATE CONSTRAINT ck_price")\n'),
                path=PATH, files=FILES, lines=(11,), note="validated in the same transaction"),
    ]

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        for env, rev, op in graph.pg_ops():
            if op.name in ("create_foreign_key", "create_check_constraint"):
                if op.kw_true("postgresql_not_valid") or rev.is_new_table(op.table):
                    continue
                kind = "foreign key" if op.name == "create_foreign_key" else "CHECK constraint"
                yield self.finding(
                    rev.relpath, op.line, op.col,
                    f"{kind} added to existing table {op_target(op)!r} without NOT VALID scans the whole "
                    "table while writes are blocked",
                    end_line=op.end_line,
                )
            elif op.name == "add_column":
                col = column_call(op.param("column"))
                if col is None or rev.is_new_table(op.table):
                    continue
                targets = column_foreign_keys(col)
                if targets:
                    yield self.finding(
                        rev.relpath, op.line, op.col,
                        f"column {column_name(col) or '?'!r} is added to {op_target(op)!r} with a validated "
                        f"foreign key to {targets[0]!r}, which locks both tables while it is checked",
                        hint="add the column without ForeignKey, then op.create_foreign_key(..., "
                             "postgresql_not_valid=True) and validate later",
                        end_line=op.end_line,
                    )
            elif op.name == "execute":
                for action in op.actions:
                    if action.kind in ("add_fk", "add_check") and not action.not_valid:
                        if rev.is_new_table(action.table):
                            continue
                        kind = "foreign key" if action.kind == "add_fk" else "CHECK constraint"
                        yield self.finding(
                            rev.relpath, op.line, op.col,
                            f"{kind} added to existing table {action.table or '?'!r} without NOT VALID scans "
                            "the whole table while writes are blocked",
                            end_line=op.end_line,
                        )
        yield from self._validate_in_same_transaction(graph)

    def _validate_in_same_transaction(self, graph) -> Iterable[Finding]:
        for env, rev in graph.all_revisions():
            if not env.pg or env.autocommit:
                continue
            ops = [o for o in rev.upgrade_ops() if o.pg]
            not_valid_added = any(
                (o.name in ("create_foreign_key", "create_check_constraint") and o.kw_true("postgresql_not_valid"))
                or any(a.kind in ("add_fk", "add_check") and a.not_valid for a in o.actions)
                for o in ops if not o.autocommit
            )
            if not not_valid_added:
                continue
            for o in ops:
                if not o.autocommit and any(a.kind == "validate" for a in o.actions):
                    yield self.finding(
                        rev.relpath, o.line, o.col,
                        "VALIDATE CONSTRAINT in the same transaction as the NOT VALID add keeps the strong lock "
                        "until commit",
                        hint="validate inside `with op.get_context().autocommit_block():`, or in a later revision "
                             "with transaction_per_migration=True in env.py",
                        end_line=o.end_line,
                    )

    def fix(self, site):
        """postgresql_not_valid=True on a named constraint; the VALIDATE step is a follow-up revision's."""
        import libcst as cst

        from dbagents.check.fix.changes import SchemaChange
        from dbagents.check.fix.site import keyword, with_keyword

        found = site.op_statement("create_foreign_key", "create_check_constraint")
        if found is None or "without NOT VALID" not in site.finding.message:
            return None
        stmt, call = found
        positional = [a.value for a in call.args if a.keyword is None and not a.star]

        def literal(index: int, *names: str) -> str | None:
            arg = next((keyword(call, n) for n in names if keyword(call, n) is not None), None)
            value = arg.value if arg is not None else (positional[index] if len(positional) > index else None)
            return value.evaluated_value if isinstance(value, cst.SimpleString) else None

        name = literal(0, "constraint_name")
        table = literal(1, "source_table", "table_name")
        schema_arg = keyword(call, "source_schema") or keyword(call, "schema")
        if not name or not table or (schema_arg is not None and not isinstance(schema_arg.value, cst.SimpleString)):
            return None  # unnamed (a naming convention decides) or computed: the follow-up could not name it
        schema = schema_arg.value.evaluated_value if schema_arg is not None else None
        follow_up = SchemaChange("validate_constraint", table, "", schema=schema, path=site.finding.path,
                                 line=site.finding.line, name=name)
        return site.edit(call, with_keyword(call, "postgresql_not_valid", "True"), follow_up=follow_up)
