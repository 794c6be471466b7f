"""DBA501: a string built with f-string/%/.format()/+ reaches text(), execute() or another SQL sink."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts.enums import KEY as ENUMS
from dbagents.check.facts.sql import KEY as SQL
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

HOW = {
    "f-string": "an f-string",
    "%": "`%` formatting",
    ".format()": "`.format()`",
    "+": "`+` concatenation",
    "+=": "`+=` concatenation",
}


class SqlInjection(ProjectRule):
    id = "DBA501"
    name = "sql-injection"
    groups = ("security",)
    severity = Severity.INFO
    summary = "SQL text built with an f-string, `%`, `.format()` or `+` from non-constant values reaches a SQL sink."
    hint = 'keep the SQL constant and pass values as bound parameters: text("… WHERE id = :id").bindparams(id=value)'
    doc = """
## What it does
Follows string values through each function — f-strings, `%` formatting, `.format()`, `+` and `+=`, assignments
and reassignments of local variables, branches and loops — and reports when a string that mixes in a
non-constant value reaches a SQL sink: `text()`, `Session.execute()`, `Connection.execute()`, a DB-API
`cursor.execute()`, `exec_driver_sql()`, Alembic's `op.execute()`, `literal_column()`, or a string passed to
`.order_by()`, `.filter()`, `.where()`, `.having()` or `.group_by()`.

Strings built only from literals, module-level string constants, UPPER_CASE names, `__tablename__`, loop
variables over constant lists, and `int()`/`len()`/`quote…()` results are constant and are not reported.
The file's own code counts too: functions, methods and properties whose every `return` is constant
(`self.timestamp_now`), class attributes assigned only a literal, parameters of private functions (and of
any function of an Alembic revision) to which every call in the file passes a constant, the keys of a local
dict literal (`", ".join(data.keys())`), Enum classes and members (`.format(type=MenuEntryType)`,
`self.value` inside the Enum), and values whose quotes were doubled with `.replace("'", "''")`.
A value we cannot see into (a parameter passed straight to `text(sql)`) is not reported either.

Calls of the file's own SQL wrappers are sinks as well: a function or method whose parameter reaches
`execute()`/`text()` (`def fetchall(self, query): … self.conn.execute(text(query))`) reports
`self.fetchall(f"… {clause}")`.

Attributes and argument-less methods another file of the project defines as constants count as constants
(`{db.timestamp_column_default}` where the project's `Compat` class returns `"now()"` or `"NULL"`), unless
some class defines that name otherwise or it is a mapped column. So do parameters annotated with an Enum class
of the project (`event: WebhookEventType`) or with a type that prints no quotes (`int`, `float`, `bool`,
`UUID`, `datetime`, `date`, `Decimal`, and sequences of them: `ids: Sequence[UUID]`).

`# noqa: S608` (ruff) and `# nosec B608` (bandit) are honoured on any line of the call, or of every statement
that built the SQL — ruff puts the comment on the string's closing line.

**Reported as info by default.** On nine real projects (audit of 2026-12-03, `bench/audit/security-2026-12-03.json`)
most remaining findings were right but not worth an error there — identifiers from operator configuration,
values validated at an API boundary in another module, one-off tools — so the rule cannot yet meet the ≤ 10 %
noise bar as an error. To fail CI on it anyway, run it as its own step:
`dbagents check --select DBA501 --fail-on info`.

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
        Example('from sqlalchemy import text\n\n\ndef count(conn, name):\n    sql = f"""\n        SELECT count(*) FROM r WHERE n = \'{name}\'\n'
                '    """  # noqa: S608\n    return conn.execute(text(sql)).scalar()\n', note="ruff's S608 on the closing line"),
        Example('from sqlalchemy import text\n\n\ndef _assign(conn, table):\n    conn.execute(text(f"UPDATE {table} SET h = 1"))\n\n\n'
                'def upgrade(conn):\n    for table in ("recipes", "tools"):\n        _assign(conn, table)\n',
                note="every caller passes a constant"),
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
        Example('from sqlalchemy import text\n\n\nclass Db:\n    def fetchall(self, query):\n        return self.conn.execute(text(query)).all()\n\n'
                '    def page(self, clause):\n        return self.fetchall(f"SELECT * FROM t {clause}")\n', lines=(9,),
                note="the file's own wrapper reaches a sink"),
    ]

    def check(self, project) -> Iterable[Finding]:
        files = list(project.module_facts(SQL))
        constant, other = set(), set()
        for _, facts in files:
            constant.update(facts.const_members)
            other.update(facts.other_members)
        constant -= other | _column_attrs(project)
        constant.update("@" + name for _, names in project.module_facts(ENUMS) for name in names)
        for relpath, facts in files:
            for sink in facts.sinks:
                if sink.how == "literal_binds" or sink.marked:
                    continue  # DBA506 / `# noqa: S608`, `# nosec B608` where the SQL was built
                if sink.members is not None and set(sink.members) <= constant:
                    continue  # `{db.timestamp_now}`: a constant property the project defines (lnbits' Compat)
                yield self.finding(relpath, sink.line, sink.col, message(sink), end_line=sink.end_line)


def _column_attrs(project) -> set[str]:
    """Attribute names mapped as columns anywhere: a constant property elsewhere does not make them constant."""
    index = project.get("models")
    return {c.attr for _, c in index.unique_columns()} if index is not None else set()


def message(sink) -> str:
    where = f"via `{sink.via}` (built on line {sink.built_line})" if sink.via else "directly"
    target = f"{sink.receiver}.{sink.sink}()" if sink.receiver and sink.sink != "op.execute" else f"{sink.sink}()"
    if sink.sink in ("order_by", "filter", "where", "having", "group_by"):
        target = f".{sink.sink}()"
    return f"SQL built with {HOW.get(sink.how, sink.how)} from non-constant values reaches {target} {where}"
