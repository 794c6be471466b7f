"""DBA501: a string built with f-string/%/.format()/+ reaches text(), execute() or another SQL sink."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts.sql import KEY as SQL
from dbagents.check.rule import Example, ModuleContext, ModuleRule
from dbagents.findings import Finding, Severity

HOW = {
    "f-string": "an f-string",
    "%": "`%` formatting",
    ".format()": "`.format()`",
    "+": "`+` concatenation",
    "+=": "`+=` concatenation",
}


class SqlInjection(ModuleRule):
    id = "DBA501"
    name = "sql-injection"
    groups = ("security",)
    severity = Severity.ERROR
    summary = "SQL text built with an f-string, `%`, `.format()` or `+` from non-constant values reaches a SQL sink."
    hint = 'keep the SQL constant and pass values as bound parameters: text("… WHERE id = :id").bindparams(id=value)'
    triggers = ("text(", "execute", "exec_driver_sql", "literal_column", "order_by", "filter(", "where(", "having(",
                "group_by")
    doc = """
## What it does
Follows string values through each function — f-strings, `%` formatting, `.format()`, `+` and `+=`, assignments
and reassignments of local variables, branches and loops — and reports when a string that mixes in a
non-constant value reaches a SQL sink: `text()`, `Session.execute()`, `Connection.execute()`, a DB-API
`cursor.execute()`, `exec_driver_sql()`, Alembic's `op.execute()`, `literal_column()`, or a string passed to
`.order_by()`, `.filter()`, `.where()`, `.having()` or `.group_by()`.

Strings built only from literals, module-level string constants, UPPER_CASE names, `__tablename__`, loop
variables over constant lists, and `int()`/`len()`/`quote…()` results are constant and are not reported.
A value we cannot see into (a parameter passed straight to `text(sql)`) is not reported either.

## Why is this bad
Formatting a value into SQL text lets that value change the statement: a name such as `x' OR '1'='1` turns a
lookup into a full-table read, and `'; DROP TABLE users; --` into something worse. The database cannot tell
data from code once they share one string.

## Example
```python
def find(session, name):
    sql = "SELECT * FROM users WHERE 1 = 1"
    if name:
        sql += f" AND name = '{name}'"
    return session.execute(text(sql)).all()
```

## Fix
Keep the SQL constant and bind the values; use the ORM or Core expressions for dynamic parts.
```python
def find(session, name):
    stmt = text("SELECT * FROM users WHERE name = :name").bindparams(name=name)
    return session.execute(stmt).all()
    # or: session.scalars(select(User).where(User.name == name))
```
Identifiers (table or column names) cannot be bound: pick them from a fixed allow-list (a dict of constants)
or quote them with the dialect's `identifier_preparer.quote()`.
"""
    valid = [
        Example('from sqlalchemy import text\n\n\ndef f(session, uid):\n    return session.execute(text("SELECT * FROM t WHERE id = :id"), {"id": uid})\n'),
        Example('from sqlalchemy import text\n\nTABLE = "users"\n\ndef f(session):\n    return session.execute(text(f"SELECT count(*) FROM {TABLE}"))\n'),
        Example('import sqlalchemy as sa\n\n\ndef f(session, uid):\n    sql = f"SELECT * FROM t WHERE id = {uid}"\n    sql = "SELECT 1"\n'
                '    return session.execute(sa.text(sql))\n', note="reassigned to a constant"),
        Example('def f(cursor, uid):\n    cursor.execute("SELECT * FROM t WHERE id = %s", (uid,))\n'),
        Example('def upgrade():\n    for table in ("a", "b"):\n        op.execute(f"ALTER TABLE {table} ADD x int")\n',
                path="versions/0001_x.py"),
        Example('from tagflow import text\n\n\ndef label(name):\n    return text(f"Hello {name}")\n',
                note="not SQLAlchemy's text()"),
    ]
    invalid = [
        Example('from sqlalchemy import text\n\n\ndef f(session, uid):\n    return session.execute(text(f"SELECT * FROM t WHERE id = {uid}"))\n',
                lines=(5,)),
        Example('from sqlalchemy import text\n\n\ndef f(session, name):\n    sql = "SELECT * FROM users WHERE 1 = 1"\n    if name:\n'
                "        sql += f\" AND name = '{name}'\"\n    return session.execute(text(sql)).all()\n", lines=(8,)),
        Example('def f(cursor, uid):\n    cursor.execute("DELETE FROM t WHERE id = %s" % uid)\n', lines=(2,)),
        Example('def f(conn, uid):\n    conn.exec_driver_sql("DELETE FROM t WHERE id = " + str(uid))\n', lines=(2,)),
        Example("def upgrade(name):\n    op.execute(\"UPDATE t SET x = '{}'\".format(name))\n",
                path="versions/0001_x.py", lines=(2,)),
        Example('def f(session, col):\n    return session.scalars(select(User).order_by(f"{col} desc"))\n', lines=(2,)),
    ]

    def check(self, ctx: ModuleContext) -> Iterable[Finding]:
        facts = ctx.facts.get(SQL)
        if facts is None:
            return
        for sink in facts.sinks:
            if sink.how == "literal_binds":
                continue  # DBA506
            where = f"via `{sink.via}` (built on line {sink.built_line})" if sink.via else "directly"
            target = f"{sink.receiver}.{sink.sink}()" if sink.receiver and sink.sink != "op.execute" else f"{sink.sink}()"
            if sink.sink in ("order_by", "filter", "where", "having", "group_by"):
                target = f".{sink.sink}()"
            msg = f"SQL built with {HOW.get(sink.how, sink.how)} from non-constant values reaches {target} {where}"
            f = self.finding(ctx.relpath, sink.line, sink.col, msg, end_line=sink.end_line)
            yield f
