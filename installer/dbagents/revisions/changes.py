"""Schema changes of applied model fixes (SchemaChange records of `check --fix`) → operations.

Records are read by attribute (kind, table, column, schema, new_type, old_type, nullable, name, path, line), so
this module needs nothing from the fix engine.
"""

from __future__ import annotations

from dbagents.errors import InputError
from dbagents.revisions.naming import identifier
from dbagents.revisions.ops import (
    AlterType,
    CreateIndex,
    Operation,
    SetNullable,
    ValidateConstraint,
)
from dbagents.revisions.source import parse_type

REWRITE = "rewrites the table under an ACCESS EXCLUSIVE lock; check its size and the lock window before deploying"
TIMEZONE = ("existing values are read in the session TimeZone; if they were stored as UTC and the server's TimeZone "
            "is not UTC, add postgresql_using=\"<column> AT TIME ZONE 'UTC'\"")


def _where(change) -> str:
    path, line = getattr(change, "path", ""), getattr(change, "line", 0)
    return f"{path}:{line}" if path and line else path


SQL_INTEGERS = {"SmallInteger": "smallint", "SMALLINT": "smallint", "Integer": "integer", "INTEGER": "integer",
                "INT": "integer", "BigInteger": "bigint", "BIGINT": "bigint"}


def _sequence_types(old, new) -> tuple[str, str] | None:
    """(new, old) SQL type of a widened integer column's sequence, else None."""
    before, after = SQL_INTEGERS.get(old.name), SQL_INTEGERS.get(new.name)
    return (after, before) if before and after and before != after else None


def operations(changes) -> tuple[list[Operation], list[str]]:
    """Operations for the changes, and notes on those that cannot become a revision step."""
    indexes, types, nulls, validates, notes = [], [], [], [], []
    seen = set()
    for change in changes:
        kind = change.kind
        table, column, schema = change.table, change.column, getattr(change, "schema", None)
        key = (kind, schema, table, column, getattr(change, "name", ""))
        if key in seen:
            continue
        seen.add(key)
        where = _where(change)
        why = f"{where}: " if where else ""
        if kind == "add_index":
            name = getattr(change, "name", "") or identifier("ix", table, column)
            indexes.append(CreateIndex(name, table, (column,), schema, why=f"{why}index=True on {table}.{column}"))
        elif kind == "alter_type":
            if not change.old_type:
                notes.append(f"{why}{table}.{column}: the old type is unknown, so no downgrade can be written; "
                             "type change left out of the revision")
                continue
            try:
                new, old = parse_type(change.new_type, where), parse_type(change.old_type, where)
            except InputError as exc:
                notes.append(f"{exc}; left out of the revision")
                continue
            review = [f"{old.label} -> {new.label} {REWRITE}"]
            if new.name in ("DateTime", "TIMESTAMP") and dict(new.kwargs).get("timezone") \
                    and not dict(old.kwargs).get("timezone"):
                review.append(TIMEZONE)
            types.append(AlterType(table, column, new, old, schema, why=f"{why}{table}.{column} becomes {new.label}",
                                   review=tuple(review), sequence_types=_sequence_types(old, new)))
        elif kind == "alter_nullable":
            if change.nullable is None:
                notes.append(f"{why}{table}.{column}: alter_nullable without a value; left out of the revision")
                continue
            review = () if change.nullable else (f"fails if {table}.{column} holds NULLs: backfill them first",)
            nulls.append(SetNullable(table, column, bool(change.nullable), schema, review=review,
                                     why=f"{why}{table}.{column} becomes "
                                         f"{'nullable' if change.nullable else 'NOT NULL'}"))
        elif kind == "validate_constraint":
            name = getattr(change, "name", "")
            if not name:
                notes.append(f"{why}constraint on {table} has no name to validate; validate it by hand")
                continue
            validates.append(ValidateConstraint(table, name, schema,
                                                why=f"{why}{name} was added NOT VALID (DBA204): validate it now",
                                                review=("fails if an existing row violates it: fix those rows "
                                                        "first",)))
        else:
            notes.append(f"{why}unknown schema change {kind!r}; left out of the revision")
    return indexes + types + nulls + validates, notes
