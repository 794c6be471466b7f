"""DBA218: a name longer than PostgreSQL's 63 bytes: SQLAlchemy refuses literal index/constraint names,
PostgreSQL truncates table/column names and names in raw SQL; `op.f()` / `conv()` names are shortened safely."""

from __future__ import annotations

from typing import Any, Iterable

from dbagents.check.facts._alembic_checks import FILES, PATH, revision_file
from dbagents.check.facts._alembic_model import Call, iter_calls
from dbagents.check.project_settings import settings_doc
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

MAX_BYTES = 63
NAME_PARAMS = ("table_name", "index_name", "constraint_name", "new_table_name", "new_column_name")
NAMED_CALLS = {"Index", "UniqueConstraint", "ForeignKeyConstraint", "CheckConstraint", "PrimaryKeyConstraint",
               "ExcludeConstraint", "ForeignKey", "Sequence"}
# Names SQLAlchemy checks itself (IdentifierError over the dialect's max_identifier_length) or, when marked
# with op.f()/conv(), shortens below 63 bytes with a hash suffix.
SQLALCHEMY_CHECKED = {"index", "constraint", "Index", "UniqueConstraint", "ForeignKeyConstraint", "CheckConstraint",
                      "PrimaryKeyConstraint", "ExcludeConstraint", "ForeignKey"}
SHORTENING_WRAPPERS = ("f", "conv")

LONG = "ix_" + "subscription_billing_period_" * 2 + "ends_at"


def _name(value: Any) -> tuple[str | None, bool]:
    """(the name a value spells, whether it is wrapped in op.f()/conv())."""
    if isinstance(value, str):
        return value, False
    if isinstance(value, Call) and value.args:
        inner, wrapped = _name(value.args[0])
        if value.short in SHORTENING_WRAPPERS:
            return inner, True
        if value.short == "quoted_name":
            return inner, wrapped
    return None, False


def _names(op) -> Iterable[tuple[str, str, bool, bool]]:
    """(kind, identifier, wrapped in op.f()/conv(), written as raw SQL) for every name an operation creates."""
    if not op.name.startswith("drop_"):
        for param in NAME_PARAMS:
            name, wrapped = _name(op.params.get(param))
            if name:
                yield param.replace("_name", "").replace("new_", ""), name, wrapped, False
    values: list[Any] = [v for k, v in op.params.items() if k.startswith("arg") or k in ("column", "columns")]
    for call in iter_calls(values):
        if not isinstance(call, Call):
            continue
        if call.short == "Column":
            name, wrapped = _name(call.args[0]) if call.args else _name(call.kwargs.get("name"))
            if name:
                yield "column", name, wrapped, False
        if call.short in NAMED_CALLS:
            name, wrapped = _name(call.kwargs.get("name"))
            if call.short in ("Index", "Sequence") and call.args and not name:
                name, wrapped = _name(call.args[0])
            if name:
                yield call.short, name, wrapped, False
    for action in op.actions:
        if action.kind in ("create_index", "add_fk", "add_check", "add_unique", "add_pk", "add_column") and action.name:
            yield action.kind.replace("add_", "").replace("create_", ""), action.name, False, True
        if action.kind == "create_table" and action.table:
            yield "table", action.table, False, True


class IdentifierTooLong(ProjectRule):
    id = "DBA218"
    name = "identifier-too-long"
    revision_files_only = True
    groups = ("migrations", "schema")
    severity = Severity.WARNING
    summary = ("A migration creates a name over 63 bytes: SQLAlchemy raises for a literal index/constraint name, "
               "PostgreSQL truncates the rest.")
    hint = "shorten the name to 63 bytes or fewer (PostgreSQL's NAMEDATALEN - 1)"
    doc = """
## What it does
Finds names created by a migration — tables, columns, indexes and constraints in `op.create_table()`,
`op.add_column()`, `op.create_index()`, `op.create_*_constraint()`, renames, and recognised raw SQL — whose
UTF-8 length exceeds 63 bytes. What happens depends on how the name is written (checked with SQLAlchemy
2.x on PostgreSQL):

- a plain string as an index or constraint name: SQLAlchemy raises `IdentifierError` when the migration runs
  — reported as an **error**;
- a table or column name, or any name in raw SQL (`op.execute("CREATE INDEX …")`): PostgreSQL silently
  truncates it to 63 bytes — a warning;
- an index or constraint name wrapped in `op.f()` / `conv()` (what autogenerate writes): SQLAlchemy shortens
  it below 63 bytes with a hash suffix, the same way every time — not reported.

## Why is this bad
A migration that raises stops the deploy. A truncated name no longer matches the name in the models or in a
later `op.drop_constraint("…")`; two long names that share their first 63 bytes collide.

## Example
```python
op.create_index("ix_subscription_billing_period_subscription_billing_period_ends_at", "subscriptions", ["ends_at"])
```

## Fix
Use a shorter explicit name (or a naming convention and `op.f()`, which SQLAlchemy shortens safely).
""" + settings_doc("DBA218")
    valid = [
        Example(revision_file('    op.create_index("ix_subscriptions_ends_at", "subscriptions", ["ends_at"])\n'),
                path=PATH, files=FILES),
        Example(revision_file(f'    op.drop_index("{LONG}", table_name="subscriptions")\n'), path=PATH, files=FILES,
                note="dropping an old name is how you get rid of it"),
        Example(revision_file(f'    op.create_index(op.f("{LONG}"), "subscriptions", ["ends_at"])\n'),
                path=PATH, files=FILES, note="op.f(): SQLAlchemy shortens it with a hash suffix"),
        Example(revision_file('    op.create_table(\n        "subscriptions",\n'
                              '        sa.Column("plan_id", sa.Integer()),\n'
                              f'        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_{LONG}")),\n'
                              '    )\n'), path=PATH, files=FILES),
    ]
    invalid = [
        Example(revision_file(f'    op.create_index("{LONG}", "subscriptions", ["ends_at"])\n'),
                path=PATH, files=FILES, lines=(10,), note="error: SQLAlchemy raises IdentifierError"),
        Example(revision_file(f'    op.execute("CREATE INDEX {LONG} ON subscriptions (ends_at)")\n'),
                path=PATH, files=FILES, lines=(10,), note="raw SQL: PostgreSQL truncates"),
        Example(revision_file('    op.create_table(\n        "subscriptions",\n'
                              f'        sa.Column("{"x" * 64}", sa.Integer()),\n    )\n'),
                path=PATH, files=FILES, lines=(10,)),
    ]

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        for _env, rev, op in graph.pg_ops():
            seen = set()
            for kind, name, wrapped, raw_sql in _names(op):
                size = len(name.encode("utf-8"))
                if size <= MAX_BYTES or name in seen:
                    continue
                seen.add(name)
                checked = kind in SQLALCHEMY_CHECKED and not raw_sql
                if checked and wrapped:
                    continue  # op.f()/conv(): SQLAlchemy shortens it below 63 bytes with a hash suffix
                if checked:
                    yield self.finding(
                        rev.relpath, op.line, op.col,
                        f"{kind} name {name!r} is {size} bytes; SQLAlchemy raises IdentifierError (over "
                        f"{MAX_BYTES}) when this migration runs",
                        hint="shorten the name, or wrap it in op.f() to let SQLAlchemy shorten it with a hash suffix",
                        end_line=op.end_line,
                    ).with_severity(Severity.ERROR)
                    continue
                yield self.finding(
                    rev.relpath, op.line, op.col,
                    f"{kind} name {name!r} is {size} bytes; PostgreSQL truncates it to {MAX_BYTES}",
                    end_line=op.end_line,
                )
