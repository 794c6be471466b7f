"""One-line messages for Alembic autogenerate differences (models vs. the migrated schema), for the scratch worker.

Loaded by path from `_worker.py` (stdlib + SQLAlchemy only, SQLAlchemy 1.3-2.x). `describe_diff` never raises:
a difference it cannot describe still becomes a message.
"""

from __future__ import annotations

MISSING = "(missing migration)"


def flatten(diffs):
    for diff in diffs:
        if isinstance(diff, list):
            yield from flatten(diff)
        else:
            yield diff


def qual(schema, *names) -> str:
    return ".".join([schema or "public", *[str(n) for n in names if n]])


def constraint_table(constraint):
    """The Table a constraint or index belongs to, or None (never a truth test on a clause: that raises)."""
    for attr in ("table", "parent"):
        try:
            table = getattr(constraint, attr, None)
        except Exception:  # noqa: BLE001 - Constraint.table raises InvalidRequestError when unbound
            table = None
        if table is not None and hasattr(table, "name") and hasattr(table, "schema"):
            return table
    return None


def sql_text(value) -> str:
    """SQL text of a server default, check condition, index expression or type."""
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    arg = getattr(value, "arg", None)  # DefaultClause
    if arg is not None:
        return sql_text(arg)
    text = getattr(value, "text", None)  # TextClause
    if isinstance(text, str):
        return text
    sqltext = getattr(value, "sqltext", None)  # Computed, CheckConstraint
    if sqltext is not None:
        return sql_text(sqltext)
    try:
        from sqlalchemy.dialects import postgresql

        if hasattr(value, "compile"):
            return str(value.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    except Exception:  # noqa: BLE001 - fall back to str()
        pass
    return str(value)


def type_text(type_) -> str:
    if type_ is None:
        return "none"
    enums = getattr(type_, "enums", None)
    name = getattr(type_, "name", None)
    if enums is not None:
        labels = ", ".join(repr(e) for e in enums)
        return f"enum {name or '(unnamed)'} ({labels})"
    try:
        from sqlalchemy.dialects import postgresql

        return type_.compile(dialect=postgresql.dialect())
    except Exception:  # noqa: BLE001 - types the dialect cannot render
        return repr(type_)


def column_names(items) -> str:
    names = []
    for item in items:
        name = getattr(item, "name", None)
        names.append(str(name) if isinstance(name, str) else sql_text(item))
    return ", ".join(names)


def fk_text(fk) -> str:
    """(local columns) -> schema.table (referred columns)."""
    local = list(getattr(fk, "column_keys", None) or [])
    if not local:
        local = [getattr(e, "parent", None) and e.parent.name for e in fk.elements]
    targets = [e.target_fullname for e in fk.elements]
    referred_table = targets[0].rsplit(".", 1)[0] if targets else "?"
    if referred_table.count(".") == 0:
        referred_table = "public." + referred_table
    referred_cols = ", ".join(t.rsplit(".", 1)[-1] for t in targets)
    return f"({', '.join(str(c) for c in local)}) -> {referred_table} ({referred_cols})"


def where(kind: str) -> str:
    return "in the models but not in the migrated schema" if kind.startswith("add") else \
        "in the migrated schema but not in the models"


def describe_diff(diff, default_schema: str = "public") -> tuple[str, str]:
    """A one-line message and obj for one Alembic autogenerate diff tuple; never raises.

    default_schema: the schema of objects the diff names without one (the env's current schema)."""
    try:
        return _describe(diff, default_schema or "public")
    except Exception as exc:  # noqa: BLE001 - one odd difference must not lose the others
        kind = diff[0] if isinstance(diff, tuple) and diff else type(diff).__name__
        try:
            shown = repr(diff)
        except Exception:  # noqa: BLE001
            shown = object.__repr__(diff)
        return (f"models and migrated schema differ: {kind} {shown}"[:300]
                + f" (not described: {type(exc).__name__})"), ""


def _describe(diff, default_schema: str) -> tuple[str, str]:
    def q(schema, *names) -> str:
        return qual(schema or default_schema, *names)

    kind = diff[0]
    if kind in ("add_table", "remove_table"):
        table = diff[1]
        obj = q(table.schema, table.name)
        if kind == "add_table":
            return f"model table {obj} does not exist after the migrations {MISSING}", obj
        return f"table {obj} exists after the migrations but no model maps it", obj
    if kind in ("add_column", "remove_column"):
        schema, table, column = diff[1], diff[2], diff[3]
        obj = q(schema, table, column.name)
        if kind == "add_column":
            return f"model column {obj} ({type_text(column.type)}) does not exist after the migrations {MISSING}", obj
        return f"column {obj} exists after the migrations but the model does not map it", obj
    if kind in ("add_index", "remove_index"):
        index = diff[1]
        table = constraint_table(index)
        on = q(table.schema, table.name) if table is not None else "?"
        obj = q(table.schema, table.name, index.name) if table is not None else ""
        unique = "unique index" if getattr(index, "unique", False) else "index"
        return (f"{unique} {index.name or '(unnamed)'} on {on} ({column_names(index.expressions)}) exists "
                f"{where(kind)}"), obj
    if kind in ("add_fk", "remove_fk"):
        fk = diff[1]
        table = constraint_table(fk)
        name = fk.name if isinstance(fk.name, str) else "(unnamed)"
        on = q(table.schema, table.name) if table is not None else "?"
        local = list(getattr(fk, "column_keys", None) or [])
        # placed on its column when it has one (the model's line), else named by the constraint
        part = local[0] if len(local) == 1 else (fk.name if isinstance(fk.name, str) else "")
        obj = q(table.schema, table.name, part) if table is not None else ""
        return f"foreign key {name} on {on} {fk_text(fk)} exists {where(kind)}", obj
    if kind in ("add_constraint", "remove_constraint"):
        constraint = diff[1]
        table = constraint_table(constraint)
        name = constraint.name if isinstance(constraint.name, str) else "(unnamed)"
        on = q(table.schema, table.name) if table is not None else "?"
        obj = (q(table.schema, table.name, constraint.name if isinstance(constraint.name, str) else "")
               if table is not None else "")
        label = {"UniqueConstraint": "unique constraint", "CheckConstraint": "check constraint",
                 "PrimaryKeyConstraint": "primary key", "ForeignKeyConstraint": "foreign key",
                 "ExcludeConstraint": "exclusion constraint"}.get(type(constraint).__name__,
                                                                    type(constraint).__name__)
        if type(constraint).__name__ == "ForeignKeyConstraint":
            detail = fk_text(constraint)
        elif getattr(constraint, "sqltext", None) is not None:
            detail = f"CHECK ({sql_text(constraint.sqltext)})"
        else:
            detail = f"({column_names(constraint.columns)})"
        return f"{label} {name} on {on} {detail} exists {where(kind)}", obj
    if kind in ("add_table_comment", "remove_table_comment"):
        table = diff[1]
        obj = q(table.schema, table.name)
        if kind == "add_table_comment":
            old = diff[2] if len(diff) > 2 else None
            return (f"table {obj}: comment is {old!r} in the migrated schema but {table.comment!r} in the "
                    "model"), obj
        return f"table {obj}: has a comment in the migrated schema but none in the model", obj
    if kind == "modify_enum":  # the worker's own comparison (autogenerate does not compare enum values)
        _, schema, name, old, new, columns = diff
        obj = q(schema, name)
        return (f"enum {obj} has values ({', '.join(map(repr, old))}) in the migrated schema but "
                f"({', '.join(map(repr, new))}) in the model (used by {', '.join(columns)})"), obj
    if kind.startswith("modify_"):
        schema, table, column = diff[1], diff[2], diff[3]
        obj = q(schema, table, column)
        old, new = diff[-2], diff[-1]
        if kind == "modify_nullable":
            def state(nullable):
                return "nullable" if nullable else "NOT NULL"

            return f"column {obj} is {state(old)} in the migrated schema but {state(new)} in the model", obj
        if kind == "modify_type":
            return (f"column {obj} has type {type_text(old)} in the migrated schema but {type_text(new)} in "
                    "the model"), obj
        if kind == "modify_default":
            def default(value):
                return "no server default" if value is None else f"server default {sql_text(value)}"

            return f"column {obj} has {default(old)} in the migrated schema but {default(new)} in the model", obj
        if kind == "modify_comment":
            return f"column {obj}: comment is {old!r} in the migrated schema but {new!r} in the model", obj
        what = kind[len("modify_"):]
        return f"column {obj}: {what} is {sql_text(old)} in the migrated schema but {sql_text(new)} in the model", obj
    return f"models and migrated schema differ: {kind} {diff[1:]!r}"[:300], ""


ENUM_LABELS_SQL = """SELECT n.nspname, t.typname, json_agg(e.enumlabel ORDER BY e.enumsortorder)::text
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
    GROUP BY n.nspname, t.typname"""


def _compared(table, opts: dict) -> bool:
    """Whether the env's include_name / include_object hooks let autogenerate compare this table."""
    include_name, include_object = opts.get("include_name"), opts.get("include_object")
    try:
        if include_name and not include_name(table.name, "table", {"schema_name": table.schema}):
            return False
        return not include_object or bool(include_object(table, table.name, "table", False, None))
    except Exception:  # noqa: BLE001 - a hook that cannot take this call: treat the table as compared
        return True


def enum_diffs(connection, metadata, default_schema: str = "public", opts: dict | None = None) -> list[tuple]:
    """("modify_enum", schema, name, database labels, model labels, columns) for every native enum of the
    models whose type exists in the database with other values (Alembic's autogenerate does not compare them).
    Tables the env's include hooks leave out are left out here too."""
    import json

    from sqlalchemy import Enum, text

    in_database = {(schema, name): json.loads(labels)
                   for schema, name, labels in connection.execute(text(ENUM_LABELS_SQL))}
    models: dict[tuple, tuple[list, list]] = {}
    for meta in metadata if isinstance(metadata, (list, tuple)) else [metadata]:
        for table in meta.tables.values():
            if not _compared(table, opts or {}):
                continue
            for column in table.columns:
                type_ = column.type
                if not isinstance(type_, Enum) or not getattr(type_, "native_enum", True) or not type_.name:
                    continue
                key = (type_.schema or table.schema or default_schema, type_.name)
                labels, columns = models.setdefault(key, (list(type_.enums), []))
                columns.append(qual(table.schema or default_schema, table.name, column.name))
    diffs = []
    for key, (labels, columns) in sorted(models.items()):
        existing = in_database.get(key)
        if existing is not None and existing != labels:
            diffs.append(("modify_enum", key[0], key[1], existing, labels, columns))
    return diffs
