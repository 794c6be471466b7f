"""DBA218: an identifier longer than PostgreSQL's 63 bytes is silently truncated."""

from __future__ import annotations

from typing import Any, Iterable

from dbagents.check.facts._alembic_checks import FILES, PATH, revision_file
from dbagents.check.facts._alembic_model import Call, iter_calls, literal_name
from dbagents.check.project_settings import settings_doc
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

MAX_BYTES = 63
NAME_PARAMS = ("table_name", "index_name", "constraint_name", "new_table_name", "new_column_name")
NAMED_CALLS = {"Index", "UniqueConstraint", "ForeignKeyConstraint", "CheckConstraint", "PrimaryKeyConstraint",
               "ExcludeConstraint", "ForeignKey", "Sequence"}

LONG = "ix_" + "subscription_billing_period_" * 2 + "ends_at"


def _names(op) -> Iterable[tuple[str, str]]:
    """(kind, identifier) pairs an operation creates."""
    for param in NAME_PARAMS:
        name = literal_name(op.params.get(param))
        if name and op.name != "drop_table" and not op.name.startswith("drop_"):
            yield param.replace("_name", "").replace("new_", ""), name
    values: list[Any] = [v for k, v in op.params.items() if k.startswith("arg") or k in ("column", "columns")]
    for call in iter_calls(values):
        if not isinstance(call, Call):
            continue
        if call.short == "Column":
            name = literal_name(call.args[0]) if call.args else literal_name(call.kwargs.get("name"))
            if name:
                yield "column", name
        if call.short in NAMED_CALLS:
            name = literal_name(call.kwargs.get("name"))
            if call.short in ("Index", "Sequence") and call.args:
                name = name or literal_name(call.args[0])
            if name:
                yield call.short, name
    for action in op.actions:
        if action.kind in ("create_index", "add_fk", "add_check", "add_unique", "add_pk", "add_column") and action.name:
            yield action.kind.replace("add_", "").replace("create_", ""), action.name
        if action.kind == "create_table" and action.table:
            yield "table", action.table


class IdentifierTooLong(ProjectRule):
    id = "DBA218"
    name = "identifier-too-long"
    groups = ("migrations", "schema")
    severity = Severity.WARNING
    summary = "A migration creates a table, column, index or constraint name longer than 63 bytes."
    hint = "shorten the name to 63 bytes or fewer (PostgreSQL's NAMEDATALEN - 1)"
    doc = """
## What it does
Finds names created by a migration — tables, columns, indexes and constraints in `op.create_table()`,
`op.add_column()`, `op.create_index()`, `op.create_*_constraint()`, renames, and recognised raw SQL — whose
UTF-8 length exceeds 63 bytes.

## Why is this bad
PostgreSQL silently truncates identifiers to 63 bytes. Two long names that share their first 63 bytes
collide; the name in the database no longer matches the name in the models or in a later
`op.drop_constraint("…")`, so autogenerate sees differences and later migrations fail.

## Example
```python
op.create_index("ix_subscription_billing_period_subscription_billing_period_ends_at", "subscriptions", ["ends_at"])
```

## Fix
Use a shorter explicit name (or a naming convention that produces short names).
""" + settings_doc("DBA218")
    valid = [
        Example(revision_file('    op.create_index("ix_subscriptions_ends_at", "subscriptions", ["ends_at"])\n'),
                path=PATH, files=FILES),
        Example(revision_file(f'    op.drop_index("{LONG}", table_name="subscriptions")\n'), path=PATH, files=FILES,
                note="dropping an old name is how you get rid of it"),
    ]
    invalid = [
        Example(revision_file(f'    op.create_index(op.f("{LONG}"), "subscriptions", ["ends_at"])\n'),
                path=PATH, files=FILES, lines=(10,)),
        Example(revision_file('    op.create_table(\n        "subscriptions",\n'
                              f'        sa.Column("{"x" * 64}", sa.Integer()),\n    )\n'),
                path=PATH, files=FILES, lines=(10,)),
    ]

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        for _env, rev, op in graph.pg_ops():
            seen = set()
            for kind, name in _names(op):
                size = len(name.encode("utf-8"))
                if size <= MAX_BYTES or name in seen:
                    continue
                seen.add(name)
                yield self.finding(
                    rev.relpath, op.line, op.col,
                    f"{kind} name {name!r} is {size} bytes; PostgreSQL truncates it to {MAX_BYTES}",
                    end_line=op.end_line,
                )
