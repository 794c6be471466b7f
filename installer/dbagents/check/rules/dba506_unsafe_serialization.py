"""DBA506: executing SQL rendered with literal_binds, and PickleType columns."""

from __future__ import annotations

import ast
from typing import Iterable

from dbagents.check.facts.sql import KEY as SQL
from dbagents.check.rule import Example, ModuleContext, ModuleRule
from dbagents.findings import Finding, Severity
from dbagents.check.walk import walk


class LiteralBindsOrPickle(ModuleRule):
    id = "DBA506"
    name = "literal-binds-or-pickle"
    groups = ("security",)
    severity = Severity.WARNING
    summary = "SQL rendered with `literal_binds` is executed, or a `PickleType` column unpickles database content."
    hint = "execute the statement object itself so values stay bound; store JSON (JSONB) instead of pickles"
    triggers = ("literal_binds", "PickleType")
    doc = """
## What it does
Reports two unsafe patterns:

- the output of `stmt.compile(compile_kwargs={"literal_binds": True})` (directly, through `str()` or a local
  variable) passed to `text()`, `execute()`, `exec_driver_sql()` or `op.execute()`;
- every use of `PickleType` (a column type or a `TypeDecorator.impl`).

## Why is this bad
`literal_binds` renders values into the SQL text with SQLAlchemy's best-effort literal quoting, meant for
printing and debugging. Executing that text turns bound parameters back into string-formatted SQL: escaping
differences between dialects, types without a literal renderer, or crafted values become injection.

`PickleType` stores Python pickles and unpickles whatever the column holds when a row loads. Anyone who can
write to that column (a SQL injection elsewhere, a compromised replica, a restored dump) can run code in every
process that reads the row. Pickles also break when classes are renamed.

## Example
```python
sql = str(stmt.compile(compile_kwargs={"literal_binds": True}))
conn.execute(text(sql))

class Job(Base):
    payload = mapped_column(PickleType)
```

## Fix
```python
conn.execute(stmt)                       # values stay bound parameters

class Job(Base):
    payload: Mapped[dict] = mapped_column(JSONB)
```
Printing a `literal_binds` rendering for logs or debugging is fine — just do not execute it.
"""
    valid = [
        Example('print(stmt.compile(compile_kwargs={"literal_binds": True}))\nconn.execute(stmt)\n'),
        Example("class Job(Base):\n    payload: Mapped[dict] = mapped_column(JSONB)\n"),
        Example("from sqlalchemy import PickleType\n", note="an import alone"),
    ]
    invalid = [
        Example('from sqlalchemy import text\n\nsql = str(stmt.compile(compile_kwargs={"literal_binds": True}))\n'
                'conn.execute(text(sql))\n', lines=(4,)),
        Example('def f(conn, stmt):\n    conn.exec_driver_sql(str(stmt.compile(compile_kwargs={"literal_binds": True})))\n',
                lines=(2,)),
        Example("class Job(Base):\n    __tablename__ = 'job'\n    id = Column(Integer, primary_key=True)\n"
                "    payload = Column(PickleType)\n", lines=(4,)),
        Example("class Job(Base):\n    payload = mapped_column(sa.PickleType(protocol=4))\n", lines=(2,)),
    ]

    def check(self, ctx: ModuleContext) -> Iterable[Finding]:
        facts = ctx.facts.get(SQL)
        if facts is not None:
            for sink in facts.sinks:
                if sink.how == "literal_binds":
                    via = f" via `{sink.via}`" if sink.via else ""
                    yield self.finding(
                        ctx.relpath, sink.line, sink.col,
                        f"SQL rendered with literal_binds (line {sink.built_line}) is executed{via}",
                        end_line=sink.end_line,
                    )
        if "PickleType" not in ctx.src.text:
            return
        for node in walk(ctx.tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            is_pickle = (isinstance(node, ast.Name) and node.id == "PickleType") or (
                isinstance(node, ast.Attribute) and node.attr == "PickleType"
            )
            if is_pickle:
                yield ctx.report(
                    self, node, "PickleType unpickles database content on load; a writable row becomes code execution",
                    hint="store JSON/JSONB (or a typed column) instead of Python pickles",
                )
