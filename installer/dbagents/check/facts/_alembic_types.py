"""Column types as migrations spell them (`sa.Numeric(12, 2)`, `"numeric(12,2)"`) and which changes PostgreSQL
makes without rewriting the table (checked against PostgreSQL 16: relfilenode unchanged).

No rewrite: varchar(n) -> varchar(m >= n) / varchar / text; text -> varchar; numeric(p, s) -> numeric(q >= p, s)
or unconstrained numeric. Everything else (narrowing, varchar -> varchar(n), a new scale, json -> jsonb,
integer -> bigint, …) rewrites the table or scans it under ACCESS EXCLUSIVE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dbagents.check.facts._alembic_model import Call, Ref, Revision

FAMILIES = {
    "varchar": {"String", "VARCHAR", "Unicode", "NVARCHAR", "varchar", "character varying"},
    "text": {"Text", "TEXT", "UnicodeText", "CITEXT", "text", "citext"},
    "numeric": {"Numeric", "NUMERIC", "DECIMAL", "numeric", "decimal"},
}
_FAMILY_OF = {name: family for family, names in FAMILIES.items() for name in names}
_SQL_TYPE = re.compile(r"^(?P<name>[a-z][a-z ]*?)\s*(?:\(\s*(?P<a>\d+)\s*(?:,\s*(?P<b>\d+)\s*)?\))?"
                       r"(?:\s+USING\s+(?P<using>.+))?$", re.I)


@dataclass(frozen=True)
class ColumnType:
    """A type family we can reason about (varchar, text, numeric) and its modifiers (None = unconstrained)."""

    family: str
    size: int | None = None  # varchar length, numeric precision
    scale: int | None = None  # numeric scale


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def from_value(value: Any) -> ColumnType | None:
    """`sa.String(100)`, `sa.Numeric(precision=12, scale=2)`, `sa.Text` … as a ColumnType (None: not one we know)."""
    if isinstance(value, Ref):
        family = _FAMILY_OF.get(value.name.rsplit(".", 1)[-1])
        return ColumnType(family) if family else None
    if not isinstance(value, Call):
        return None
    family = _FAMILY_OF.get(value.short)
    if family is None:
        return None
    args = list(value.args)
    if family == "numeric":
        precision = _int(args[0]) if args else _int(value.kwargs.get("precision"))
        scale = _int(args[1]) if len(args) > 1 else _int(value.kwargs.get("scale"))
        return ColumnType(family, precision, scale if precision is not None else None)
    if family == "varchar":
        return ColumnType(family, _int(args[0]) if args else _int(value.kwargs.get("length")))
    return ColumnType(family)


def from_sql(text: str, column: str | None = None) -> ColumnType | None:
    """`numeric(11,2)`, `VARCHAR(255)`, `text USING x::text` as a ColumnType. A USING clause is accepted only
    when it is a plain cast of the column itself (`col::type`), which PostgreSQL treats like no USING at all."""
    m = _SQL_TYPE.match(" ".join(text.split()))
    if not m:
        return None
    using = m.group("using")
    if using and not (column and re.match(rf'^"?{re.escape(column)}"?\s*::', using.strip(), re.I)):
        return None
    family = _FAMILY_OF.get(m.group("name").lower())
    if family is None:
        return None
    a, b = m.group("a"), m.group("b")
    size = int(a) if a else None
    if family == "numeric":
        return ColumnType(family, size, (int(b) if b else 0) if size is not None else None)
    return ColumnType(family, size if family == "varchar" else None)


def keeps_table(old: ColumnType | None, new: ColumnType | None) -> bool:
    """Does changing `old` to `new` leave the table as it is (no rewrite, no scan)?"""
    if old is None or new is None:
        return False
    if old == new:
        return True
    if new.family == "text":
        return old.family in ("varchar", "text")
    if new.family == "varchar":
        if old.family == "text":
            return new.size is None
        return old.family == "varchar" and (new.size is None or (old.size is not None and new.size >= old.size))
    if new.family == "numeric" and old.family == "numeric":
        if new.size is None:
            return True
        old_scale = old.scale if old.scale is not None else 0
        new_scale = new.scale if new.scale is not None else 0
        return old.size is not None and new.size >= old.size and new_scale == old_scale
    return False


def _same(a: Any, b: Any) -> bool:
    """Names equal ignoring case (None only equals None; a non-string never matches)."""
    if a is None or b is None:
        return a is None and b is None
    return isinstance(a, str) and isinstance(b, str) and a.lower() == b.lower()


def old_type_from_downgrade(rev: Revision, table: str | None, column: str | None,
                            schema: str | None) -> ColumnType | None:
    """The type downgrade() sets the column back to: the type it had before this revision."""
    if not table or not column:
        return None
    for op in rev.ops:
        if op.phase != "downgrade":
            continue
        if (op.name == "alter_column" and _same(op.table, table) and _same(op.schema, schema)
                and _same(op.param("column_name"), column) and op.param("type_") is not None):
            return from_value(op.param("type_"))
        for action in op.actions:
            if (action.kind == "alter_type" and _same(action.table, table) and _same(action.schema, schema)
                    and _same(action.name, column)):
                return from_sql(action.detail, column)
    return None


def _column_type(col: Any, column: str) -> ColumnType | None:
    """The type of `sa.Column("column", sa.String(50), …)` when `col` is that column (None otherwise)."""
    if not (isinstance(col, Call) and col.short == "Column" and col.args and _same(col.args[0], column)):
        return None
    type_ = col.args[1] if len(col.args) > 1 else col.kwargs.get("type_")
    return from_value(type_)


def _type_set_in(rev: Revision, table: str, column: str, schema: str | None) -> ColumnType | None | bool:
    """The column's type as `rev`'s upgrade() leaves it: a ColumnType, None when it sets a type we do not model,
    False when `rev` does not touch the column's type."""
    found: ColumnType | None | bool = False
    for op in rev.upgrade_ops():
        if not _same(op.table, table) or not _same(op.schema, schema):
            continue
        if op.name == "alter_column" and _same(op.param("column_name"), column) and op.param("type_") is not None:
            found = from_value(op.param("type_"))
        elif op.name == "add_column" and isinstance(op.param("column"), Call):
            col = op.param("column")
            if _same(col.args[0] if col.args else None, column):
                found = _column_type(col, column)
        elif op.name == "create_table":
            for key, value in op.params.items():
                if key.startswith("arg") and isinstance(value, Call) and value.short == "Column":
                    if _same(value.args[0] if value.args else None, column):
                        found = _column_type(value, column)
    return found


def old_type_from_history(revisions: dict[str, Revision], rev: Revision, table: str | None, column: str | None,
                          schema: str | None, limit: int = 400) -> ColumnType | None:
    """The type the earlier revisions gave the column (nearest ancestor that created or retyped it), walking
    down_revision links; None when no ancestor says, or two parents disagree."""
    if not table or not column:
        return None
    frontier, seen, steps = list(rev.down_revisions), set(), 0
    while frontier and steps < limit:
        answers = []
        next_frontier: list[str] = []
        for rid in frontier:
            parent = revisions.get(rid)
            if parent is None or rid in seen:
                continue
            seen.add(rid)
            steps += 1
            found = _type_set_in(parent, table, column, schema)
            if found is False:
                next_frontier.extend(parent.down_revisions)
            else:
                answers.append(found)
        if answers:
            return answers[0] if all(a == answers[0] for a in answers) and not next_frontier else None
        frontier = next_frontier
    return None
