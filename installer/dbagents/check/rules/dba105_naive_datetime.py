"""DBA105: a timestamp column the ORM creates as `timestamp without time zone`."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Iterable

from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

BASE = "from datetime import datetime\nfrom sqlalchemy.orm import DeclarativeBase\nclass Base(DeclarativeBase):\n"


CONVENTION_USES = 3  # columns typed with the project's own aware type before it counts as the convention


def _own_aware_type(index) -> str:
    """The project's own time-zone-aware timestamp type (a converting TypeDecorator, an alias of
    DateTime(timezone=True)) when at least CONVENTION_USES columns use it; "" otherwise."""
    uses = Counter(c.type_via for t in index.tables.values() if not t.dialect for c in t.columns.values()
                   if c.timezone is True and c.type_origin is not None and c.type_via)
    name, count = uses.most_common(1)[0] if uses else ("", 0)
    return name if count >= CONVENTION_USES else ""


class NaiveDateTime(ProjectRule):
    id = "DBA105"
    name = "naive-datetime-column"
    groups = ("models", "schema")
    severity = Severity.WARNING
    summary = "DateTime/TIMESTAMP column without timezone=True (timestamp without time zone)."
    hint = "use DateTime(timezone=True), or map datetime to DateTime(timezone=True) in the base's type_annotation_map"
    fixable = "unsafe"
    doc = """
## What it does
Finds mapped and Core columns whose type, as the ORM will see it, is `timestamp without time zone`:
`DateTime`, `DateTime()`, `DateTime(False)`, `TIMESTAMP`, `postgresql.TIMESTAMP`, and `Mapped[datetime]`
with no explicit type when the declarative base has no `type_annotation_map` entry for `datetime` (SQLAlchemy
then uses a plain `DateTime()`). Type aliases (`Naive = DateTime()`), `Annotated[...]` aliases carrying a
`mapped_column(...)` and `TypeDecorator` subclasses are followed to their `impl`; a naive alias or
decorator is reported once, where it is defined. `DateTime(True)`, `TIMESTAMP(timezone=True)` and
type maps such as `{datetime: DateTime(timezone=True)}` are not reported, nor is a `TypeDecorator` whose
`process_bind_param` and `process_result_value` both convert time zones (a `UTCDateTime` that stores naive UTC
and hands back aware datetimes), nor a table of a file built for another database (a ClickHouse `MetaData`).
A column written as a plain `DateTime` in a class that writes a time-zone-aware type explicitly on another
column of the same table is left alone too: the author had the aware type at hand and chose local wall-clock
time (room bookings, opening hours). In a project whose own aware type (a converting `TypeDecorator` such as
a `UTCDateTime`, or an alias of `DateTime(timezone=True)`) types at least three columns, a plain `DateTime`
written elsewhere is reported as info, naming that type: the authors have a convention and chose not to use it
there, which is most often local wall-clock time on purpose.

## Why is this bad
A naive timestamp stores wall-clock digits with no offset. Values written from servers or sessions in
different time zones (or across a DST change) can no longer be compared or converted reliably, and
Python hands back naive `datetime` objects that compare unequal to aware ones.

## Example
```python
created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
```

## Fix
```python
created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
# or once for the whole model:
class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True)}
```
Migrating existing data: `ALTER COLUMN ... TYPE timestamptz USING col AT TIME ZONE 'UTC'`.

`dbagents check --fix --unsafe-fixes` writes `DateTime(timezone=True)` (or `TIMESTAMP(timezone=True)`) on the
column, and `mapped_column(DateTime(timezone=True))` for a bare `Mapped[datetime]`: the column type changes
(`--emit-revision` writes the migration) and the code gets aware datetimes back. Aliases, `TypeDecorator`s, type
maps and columns reported as info are left to you.
"""
    valid = [
        Example(
            BASE + "    type_annotation_map = {datetime: DateTime(timezone=True)}\n"
            "class Event(Base):\n    __tablename__ = 'events'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    at: Mapped[datetime]\n"
            "    seen: Mapped[datetime] = mapped_column(DateTime(True))\n"
            "    done: Mapped[datetime] = mapped_column(postgresql.TIMESTAMP(timezone=True))\n",
        ),
        Example(
            "from sqlalchemy.types import TypeDecorator\n"
            "class UTCDateTime(TypeDecorator):\n    impl = DateTime(timezone=True)\n    cache_ok = True\n"
            "TZ = DateTime(timezone=True)\n"
            "events = Table('events', metadata, Column('id', Integer, primary_key=True),\n"
            "    Column('at', UTCDateTime()), Column('seen', TZ))\n",
        ),
        Example(
            "import pytz\nfrom sqlalchemy.types import DateTime, TypeDecorator\n"
            "class UTCDateTime(TypeDecorator):\n    impl = DateTime\n    cache_ok = True\n"
            "    def process_bind_param(self, value, dialect):\n"
            "        return value.astimezone(pytz.utc).replace(tzinfo=None) if value else value\n"
            "    def process_result_value(self, value, dialect):\n"
            "        return value.replace(tzinfo=pytz.utc) if value else value\n"
            "events = Table('events', metadata, Column('id', Integer, primary_key=True),\n"
            "    Column('at', UTCDateTime()))\n",
            note="a naive column behind a type that stores UTC and hands back aware datetimes is not ambiguous",
        ),
        Example(
            "bookings = Table('bookings', metadata, Column('id', Integer, primary_key=True),\n"
            "    Column('created_at', DateTime(timezone=True)), Column('start_local', DateTime))\n",
            note="a naive column next to aware ones in the same table: wall-clock time chosen on purpose",
        ),
    ]
    invalid = [
        Example(
            "import sqlalchemy as sa\nfrom sqlalchemy.orm import Mapped, mapped_column\n" + BASE + "    pass\n"
            "class Event(Base):\n    __tablename__ = 'events'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    at: Mapped[datetime]\n"
            "    seen: Mapped[datetime] = mapped_column(sa.DateTime)\n"
            "    done: Mapped[datetime] = mapped_column(sa.TIMESTAMP(timezone=False))\n",
            lines=(10, 11, 12),
            fixed="import sqlalchemy as sa\nfrom sqlalchemy.orm import Mapped, mapped_column\n" + BASE + "    pass\n"
                  "class Event(Base):\n    __tablename__ = 'events'\n"
                  "    id: Mapped[int] = mapped_column(primary_key=True)\n"
                  "    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))\n"
                  "    seen: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))\n"
                  "    done: Mapped[datetime] = mapped_column(sa.TIMESTAMP(timezone=True))\n",
        ),
        Example(
            "class NaiveUTC(TypeDecorator):\n    impl = DateTime\n"
            "events = Table('events', metadata, Column('id', Integer, primary_key=True),\n"
            "    Column('at', NaiveUTC()), Column('at2', NaiveUTC()))\n",
            lines=(2,),
            note="reported once, at the TypeDecorator's impl",
        ),
    ]

    def check(self, project) -> Iterable[Finding]:
        index = project.get("models")
        at_origin: dict[tuple[str, int], list] = {}
        # (table, declaring class) pairs where the author wrote an aware type explicitly on some column
        mixed = {(t.name, c.owner) for t in index.tables.values() for c in t.columns.values()
                 if c.timezone is True and c.type_source == "explicit"}
        convention = _own_aware_type(index)
        for t, c in index.unique_columns():
            if c.timezone is not False or t.dialect:
                continue  # t.dialect: a table built for another database (a ClickHouse MetaData)
            if (t.name, c.owner) in mixed and c.type_source == "explicit" and c.type_origin is None:
                continue  # a plain DateTime next to time-zone-aware columns of the same table: wall-clock time on purpose
            if c.type_origin is not None and c.type_source in ("explicit", "annotated"):
                at_origin.setdefault(c.type_origin, []).append((t, c))
                continue
            if c.type_source == "default":
                msg = (f"{t.name}.{c.name}: Mapped[{c.python_type}] without an explicit type becomes DateTime() "
                       "(timestamp without time zone); the base has no type_annotation_map entry for it")
            elif c.type_source == "type_map":
                msg = f"{t.name}.{c.name}: the type_annotation_map maps {c.python_type} to a naive DateTime"
            else:
                msg = f"{t.name}.{c.name}: {c.sql_type} without timezone=True is timestamp without time zone"
            found = self.finding(c.relpath, c.line, c.col, msg, end_line=c.end_line, obj=f"{t.name}.{c.name}")
            if convention and c.type_source == "explicit" and c.type_origin is None:
                # The project built its own aware type and wrote the plain one here: likely wall-clock on purpose.
                found = dataclasses.replace(
                    found, severity=Severity.INFO,
                    message=f"{msg}, in a project that stores its timestamps as {convention}",
                    hint=f"if this is local wall-clock time on purpose (a booking slot, opening hours), say so with "
                         f"`# noqa: DBA105`; otherwise use {convention}")
            yield found
        for (relpath, line), uses in at_origin.items():
            t, c = uses[0]
            more = f" (and {len(uses) - 1} more)" if len(uses) > 1 else ""
            yield self.finding(
                relpath, line, 1,
                f"{c.type_via} is {c.sql_type} without timezone=True (timestamp without time zone); "
                f"used by {t.name}.{c.name}{more}",
                obj=f"{t.name}.{c.name}",
            )

    def fix(self, site):
        """timezone=True on the column's DateTime/TIMESTAMP (a type for a bare Mapped[datetime])."""
        import libcst as cst

        from dbagents.check.fix.changes import SchemaChange
        from dbagents.check.fix.site import with_first_arg, with_keyword

        found = site.table_column()
        if found is None or site.finding.severity == Severity.INFO:
            return None
        table, column = found
        if column.type_origin is not None or column.type_source not in ("explicit", "default"):
            return None  # an alias, a TypeDecorator or the type map decides: change it there
        change = SchemaChange("alter_type", table.name, column.name, schema=table.schema,
                              path=site.finding.path, line=site.finding.line)
        call = site.column_call()
        if column.type_source == "default":
            spelled = site.sqlalchemy_name("DateTime", ("sqlalchemy", "sqlalchemy.types"))
            if spelled is None:
                return None
            type_code, imports = spelled[0] + "(timezone=True)", spelled[1]
            change = dataclasses.replace(change, new_type="sa.DateTime(timezone=True)", old_type="sa.DateTime()")
            if call is not None and call.func and site.type_arg(call, ()) is None and not any(
                    a.keyword is None for a in call.args):
                return site.edit(call, with_first_arg(call, type_code), imports=imports, change=change)
            node = site.node(cst.AnnAssign)
            factory = site.sqlalchemy_name("mapped_column", ("sqlalchemy.orm",))
            if call is not None or node is None or node.value is not None or factory is None:
                return None
            value = cst.parse_expression(f"{factory[0]}({type_code})")
            return site.edit(node, node.with_changes(value=value, equal=cst.AssignEqual()),
                             imports=imports + factory[1], change=change)
        arg = site.type_arg(call, ("DateTime", "TIMESTAMP")) if call is not None else None
        if arg is None:
            return None
        value = arg.value
        base = value.func if isinstance(value, cst.Call) else value
        name = site.code(base).rpartition(".")[2]
        change = dataclasses.replace(change, new_type=f"sa.{name}(timezone=True)", old_type=f"sa.{name}()")
        if isinstance(value, cst.Call):
            if any(a.keyword is None for a in value.args):
                return None  # DateTime(False): written positionally, a person reads it
            new = with_keyword(value, "timezone", "True")
        else:
            new = cst.Call(func=value, args=[cst.Arg(cst.Name("True"), keyword=cst.Name("timezone"), equal=cst.AssignEqual(
                whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")))])
        return site.edit(arg, arg.with_changes(value=new), change=change)
