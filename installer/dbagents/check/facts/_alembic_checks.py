"""Small shared helpers for the DBA2xx rules: reading Column calls, lock-taking operations, example files."""

from __future__ import annotations

from typing import Any

from dbagents.check.facts._alembic_model import Call, EnvScript, Op, Ref, Revision, iter_calls

STRING_TYPES = {"String", "VARCHAR", "Unicode", "NVARCHAR", "CHAR", "NCHAR"}
TEXT_TYPES = {"Text", "TEXT", "UnicodeText", "CITEXT"}

# Operations that take a strong lock on an existing table (ACCESS EXCLUSIVE, or SHARE for a plain index build).
LOCKING_OPS = {
    "add_column", "drop_column", "alter_column", "create_index", "drop_index", "create_foreign_key",
    "create_check_constraint", "create_unique_constraint", "create_primary_key", "create_exclude_constraint",
    "drop_constraint", "drop_table", "rename_table",
}
LOCKING_SQL = {
    "create_index", "drop_index", "reindex", "add_fk", "add_check", "add_unique", "add_pk", "add_using_index",
    "validate", "add_column", "drop_column", "drop_constraint", "alter_type", "set_not_null", "alter_other",
    "rename_column", "rename_table", "drop_table", "vacuum_full", "truncate_cascade", "cluster",
}


def column_call(value: Any) -> Call | None:
    return value if isinstance(value, Call) and value.short == "Column" else None


def column_name(col: Call) -> str | None:
    if col.args and isinstance(col.args[0], str):
        return col.args[0]
    name = col.kwargs.get("name")
    return name if isinstance(name, str) else None


def column_not_null(col: Call) -> bool:
    nullable = col.kwargs.get("nullable")
    if nullable is False:
        return True
    return nullable is None and col.kwargs.get("primary_key") is True


def column_fills_itself(col: Call) -> bool:
    """A server default, identity or generated value fills the rows that already exist."""
    default = col.kwargs.get("server_default", None)
    if "server_default" in col.kwargs and default is not None:
        return True
    return any(isinstance(a, Call) and a.short in ("Identity", "Computed", "FetchedValue", "DefaultClause")
               for a in col.args)


def column_foreign_keys(col: Call) -> list[str]:
    out = []
    for arg in col.args:
        if isinstance(arg, Call) and arg.short == "ForeignKey" and arg.args:
            target = arg.args[0]
            out.append(target if isinstance(target, str) else getattr(target, "name", "?"))
    return out


def type_name(value: Any) -> str | None:
    if isinstance(value, Call):
        return value.short
    if isinstance(value, Ref):
        return value.name.rsplit(".", 1)[-1]
    return None


def type_length(value: Any) -> int | None:
    if isinstance(value, Call):
        if value.args and isinstance(value.args[0], int):
            return value.args[0]
        length = value.kwargs.get("length")
        return length if isinstance(length, int) else None
    return None


def is_widening(new: Any, old: Any) -> bool:
    """varchar(n) -> varchar(m >= n), varchar -> unbounded varchar or text: no rewrite, readers unaffected."""
    new_name, old_name = type_name(new), type_name(old)
    if not new_name or not old_name:
        return False
    old_stringy = old_name in STRING_TYPES - {"CHAR", "NCHAR"} or old_name in TEXT_TYPES
    if new_name in TEXT_TYPES:
        return old_stringy
    if new_name in STRING_TYPES - {"CHAR", "NCHAR"} and old_stringy:
        new_len, old_len = type_length(new), type_length(old)
        if new_len is None:
            return True
        return old_name not in TEXT_TYPES and old_len is not None and new_len >= old_len
    return False


def op_target(op: Op) -> str:
    table = op.table or "?"
    return f"{op.schema}.{table}" if op.schema else table


def locks_existing_table(rev: Revision, op: Op) -> bool:
    """True when `op` takes a strong lock on a table that existed before this revision."""
    if op.name in LOCKING_OPS:
        if op.name in ("create_index", "drop_index") and op.kw_true("postgresql_concurrently"):
            return False
        return not rev.is_new_table(op.table)
    if op.name == "execute":
        for action in op.actions:
            if action.kind in LOCKING_SQL and not action.concurrently and not rev.is_new_table(action.table):
                return True
    return False


def columns_added_before(rev: Revision, op: Op) -> set[tuple[str, str]]:
    """(table, column) pairs, lower case, that upgrade() adds before `op`: new columns nobody reads yet
    (add -> copy -> drop/rename of a temporary column)."""
    added: set[tuple[str, str]] = set()
    for earlier in rev.ops:
        if earlier is op:
            break
        if earlier.phase != op.phase:
            continue
        if earlier.name == "add_column" and earlier.table:
            col = column_call(earlier.param("column"))
            name = column_name(col) if col is not None else None
            if name:
                added.add((earlier.table.lower(), name.lower()))
        for action in earlier.actions:
            if action.kind == "add_column" and action.table and action.name:
                added.add((action.table, action.name.lower()))
    return added


def env_script(project, env) -> EnvScript | None:
    """The env.py facts of a migration environment (None when it has no env.py we read)."""
    if not env.env_py:
        return None
    for _relpath, facts in project.module_facts("alembic"):
        if facts.env is not None and facts.env.relpath == env.env_py:
            return facts.env
    return None


def first_commit_line(rev: Revision, after: int = 0) -> int:
    """Line of the first upgrade() operation after line `after` that runs once the migration transaction has been
    committed (inside `autocommit_block()` or after an explicit COMMIT); 0 when there is none."""
    lines = [op.line for op in rev.upgrade_ops() if op.autocommit and op.line > after]
    return min(lines) if lines else 0


def calls_in(value: Any) -> list[Call]:
    return list(iter_calls(value))


# ------------------------------------------------------------------------------- examples (for rules)

INI = "[alembic]\nscript_location = migrations\n"
ENV_PY = '''from alembic import context
from myapp.models import Base

target_metadata = Base.metadata


def run_migrations_online():
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
'''
ENV_PY_LOCAL_TIMEOUT = ENV_PY.replace(
    "            context.run_migrations()",
    "            connection.exec_driver_sql(\"SET LOCAL lock_timeout = '5s'\")\n            context.run_migrations()",
)
ENV_PY_TIMEOUT = ENV_PY.replace(
    "        with context.begin_transaction():",
    "        connection.exec_driver_sql(\"SET lock_timeout = '5s'\")\n        with context.begin_transaction():",
)
FILES = {"alembic.ini": INI, "migrations/env.py": ENV_PY_TIMEOUT}
FILES_NO_TIMEOUT = {"alembic.ini": INI, "migrations/env.py": ENV_PY}
PATH = "migrations/versions/a1b2c3_change.py"
HEADER = '''"""change"""
import sqlalchemy as sa
from alembic import op

revision = "a1b2c3"
down_revision = "0f9e8d"


'''  # 8 lines: `def upgrade` is line 9, its first statement line 10


def revision_file(upgrade: str, downgrade: str = "    pass\n", *, header: str = HEADER) -> str:
    """A revision script with the given (indented) upgrade and downgrade bodies."""
    return f"{header}def upgrade():\n{upgrade}\n\ndef downgrade():\n{downgrade}"
