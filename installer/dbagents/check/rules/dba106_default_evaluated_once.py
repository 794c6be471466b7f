"""DBA106: column defaults evaluated once at import (`default=datetime.now()`) or naive `datetime.utcnow`."""

from __future__ import annotations

import ast
import dataclasses
from typing import Iterable

from dbagents.check.facts._model_extract import dotted, last
from dbagents.check.rule import Example, ModuleContext, ModuleRule
from dbagents.findings import Finding, Severity
from dbagents.check.walk import of_type, span

COLUMN_CALLS = {"mapped_column", "Column", "Field", "column_property"}
DEFAULT_KEYWORDS = {"default", "onupdate", "insert_default", "default_factory"}
ONCE = {"now", "utcnow", "today", "uuid4", "uuid1", "uuid6", "uuid7", "time", "random", "token_hex",
        "token_urlsafe", "token_bytes", "randint", "getrandbits", "ulid", "new", "monotonic", "perf_counter"}
ONCE_OWNERS = {"datetime", "date", "uuid", "time", "random", "secrets", "pendulum", "arrow", "timezone", "dt",
               "ulid", "ULID"}
SQL_NAMESPACES = {"func", "sa.func", "sqlalchemy.func", "db.func", "text", "sa.text", "sql"}


def _is_once_call(call: ast.Call) -> bool:
    name = dotted(call.func)
    if not name:
        return False
    head = name.rsplit(".", 1)[0] if "." in name else ""
    if head in SQL_NAMESPACES or name.split(".")[0] in ("func",):
        return False
    lname = last(name)
    if lname in ("uuid4", "uuid1", "uuid6", "uuid7", "utcnow", "token_hex", "token_urlsafe", "token_bytes"):
        return True
    return lname in ONCE and (last(head) in ONCE_OWNERS or (head == "" and lname != "new"))


def _once_calls(node: ast.AST) -> Iterable[ast.Call]:
    """Calls evaluated right now inside a default value (not inside lambdas)."""
    inside = -1  # calls below a reported call are not reported again
    nodes, end, start, stop = span(node)
    j = start
    while j < stop:
        n = nodes[j]
        if isinstance(n, ast.Lambda):
            j = end[j]
            continue
        if isinstance(n, ast.Call) and j >= inside and _is_once_call(n):
            inside = end[j]
            yield n
        j += 1


def _utcnow_uses(node: ast.AST) -> Iterable[ast.AST]:
    for n in of_type(node, ast.Attribute, ast.Name):
        if last(dotted(n)) == "utcnow":
            yield n


class DefaultEvaluatedOnce(ModuleRule):
    id = "DBA106"
    name = "default-evaluated-once"
    groups = ("models",)
    severity = Severity.ERROR
    summary = "Column default computed once at import (`datetime.now()`, `uuid4()`), or naive `datetime.utcnow`."
    hint = "pass the callable (default=uuid4, default=lambda: datetime.now(timezone.utc)) or use server_default=func.now()"
    triggers = ("default",)
    fixable = "sometimes"
    doc = """
## What it does
Looks at `default=`, `onupdate=`, `insert_default=` and `default_factory=` of `mapped_column()`, `Column()`
and SQLModel `Field()`. Reports a value that *calls* a clock or random source right there —
`datetime.now()`, `datetime.utcnow()`, `date.today()`, `uuid4()`, `uuid.uuid4()`, `time.time()`,
`secrets.token_hex()` … — and any use of `datetime.utcnow` (warning), which returns a naive datetime and is
deprecated since Python 3.12. `func.now()` and other SQL functions are fine.

## Why is this bad
The argument is evaluated once, when the class body runs at import. Every row inserted by that process
gets the same timestamp or the same "unique" id — the second insert of a UUID primary key then fails, and
audit timestamps silently show the server's start time. `datetime.utcnow()` yields naive values that are
easy to mix up with local time.

## Example
```python
id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4())
created_at: Mapped[datetime] = mapped_column(default=datetime.utcnow)
```

## Fix
```python
id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
# or default=lambda: datetime.now(timezone.utc)
```
`dbagents check --fix` passes the callable (`default=uuid.uuid4`), or wraps a call with arguments in a lambda
(`default=lambda: str(uuid4())`); on SQLModel's `Field()` it moves the value to `default_factory=`. It leaves
`datetime.utcnow` (switching to aware datetimes changes what the column stores) and `mapped_column()` in a project
using dataclass mapping (there `default=` is also the dataclass field's default) to you.
"""
    valid = [
        Example(
            "class User(Base):\n"
            "    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)\n"
            "    created: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())\n"
            "    seen: Mapped[datetime] = mapped_column(default=lambda: datetime.now(timezone.utc))\n"
            "    token: Mapped[str] = mapped_column(default=partial(secrets.token_hex, 16))\n"
        ),
        Example("events = Table('e', md, Column('at', DateTime(timezone=True), default=func.now()))\n"),
    ]
    invalid = [
        Example(
            "class User(Base):\n"
            "    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4())\n"
            "    created: Mapped[datetime] = mapped_column(default=datetime.now())\n",
            lines=(2, 3),
            fixed="class User(Base):\n"
                  "    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)\n"
                  "    created: Mapped[datetime] = mapped_column(default=datetime.now)\n",
        ),
        Example(
            "class User(Base):\n"
            "    created = Column(DateTime, default=datetime.utcnow)\n"
            "    updated = Column(DateTime, onupdate=lambda: datetime.datetime.utcnow())\n",
            lines=(2, 3),
            note="utcnow: no fix (aware timestamps change what the column stores)",
        ),
        Example("from sqlmodel import Field, SQLModel\n\n\nclass Item(SQLModel, table=True):\n"
                "    ref: str = Field(default=str(uuid4()))\n", lines=(5,),
                fixed="from sqlmodel import Field, SQLModel\n\n\nclass Item(SQLModel, table=True):\n"
                      "    ref: str = Field(default_factory=lambda: str(uuid4()))\n"),
        Example("events = Table('events', metadata,\n"
                "    Column('at', DateTime(timezone=True), default=datetime.now(timezone.utc)),\n"
                "    Column('token', String, default=secrets.token_hex(16), onupdate=time.time()))\n",
                lines=(2, 3),
                fixed="events = Table('events', metadata,\n"
                      "    Column('at', DateTime(timezone=True), default=lambda: datetime.now(timezone.utc)),\n"
                      "    Column('token', String, default=lambda: secrets.token_hex(16), onupdate=time.time))\n",
                note="a call with arguments becomes a lambda"),
    ]

    def check(self, ctx: ModuleContext) -> Iterable[Finding]:
        for node in ctx.src.nodes_of(ast.Call):
            if last(dotted(node.func)) not in COLUMN_CALLS:
                continue
            for kw in node.keywords:
                if kw.arg not in DEFAULT_KEYWORDS:
                    continue
                once = next(iter(_once_calls(kw.value)), None)
                if once is not None:
                    yield ctx.report(
                        self, once,
                        f"{kw.arg}={ast.unparse(once)} is evaluated once, when the class is defined: "
                        "every row gets the same value",
                    )
                    continue
                use = next(iter(_utcnow_uses(kw.value)), None)
                if use is not None:
                    found = ctx.report(
                        self, use,
                        f"{kw.arg} uses datetime.utcnow: naive UTC timestamps, deprecated since Python 3.12",
                        hint="use lambda: datetime.now(timezone.utc) with DateTime(timezone=True), or "
                             "server_default=func.now()",
                    )
                    yield dataclasses.replace(found, severity=Severity.WARNING)

    def fix(self, site):
        """Pass the callable itself, or a lambda around a call with arguments; Field() takes default_factory."""
        import libcst as cst

        from dbagents.check.fix.site import call_name

        once = site.node(cst.Call)
        if once is None or "evaluated once" not in site.finding.message:
            return None  # datetime.utcnow: aware values would change what is stored
        arg = next((a for a in site.ancestors(once) if isinstance(a, cst.Arg) and a.keyword is not None), None)
        column = site.parent(arg) if arg is not None else None
        if arg is None or arg.keyword is None or arg.keyword.value not in DEFAULT_KEYWORDS or not isinstance(
                column, cst.Call) or call_name(column) not in COLUMN_CALLS - {"column_property"}:
            return None
        if call_name(column) == "mapped_column" and site.project_mentions("MappedAsDataclass", "mapped_as_dataclass"):
            return None  # dataclass mapping: default= is also the dataclass field's default, a callable is wrong there
        if arg.value is once and not once.args:
            value: cst.BaseExpression = once.func
        else:
            value = cst.Lambda(params=cst.Parameters(), body=arg.value)
        new = arg.with_changes(value=value)
        if call_name(column) == "Field" and arg.keyword.value == "default":
            new = new.with_changes(keyword=cst.Name("default_factory"))
        return site.edit(arg, new)
