"""DBA108: 32-bit integer primary keys, and int4 foreign keys to bigint keys."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

INT4 = {"Integer", "INTEGER", "INT", "SERIAL", "Serial"}
INT8 = {"BigInteger", "BIGINT", "BIGSERIAL"}
HEAD = "from sqlalchemy.orm import DeclarativeBase\nclass Base(DeclarativeBase):\n    pass\n"


class IntegerPrimaryKey(ProjectRule):
    id = "DBA108"
    name = "integer-primary-key"
    groups = ("models", "schema")
    severity = Severity.INFO
    summary = "Integer (int4/serial) primary key, or an Integer foreign key to a BigInteger key."
    hint = "use BigInteger with Identity(): mapped_column(BigInteger, Identity(), primary_key=True)"
    fixable = "unsafe"
    doc = """
## What it does
Reports single-column surrogate primary keys whose type is `Integer` — written explicitly or implied by
`Mapped[int]` without a `type_annotation_map` entry mapping `int` to `BigInteger` — and `Integer` foreign
keys that reference a `BigInteger` key. Keys that are themselves foreign keys (joined inheritance),
composite keys (association tables) and `SmallInteger` keys (deliberate lookup tables) are not reported.

## Why is this bad
An `Integer` autoincrement key is a PostgreSQL `serial`: int4, which runs out at 2,147,483,647. Reaching it
is an outage, and widening the column later rewrites the table and every referencing table under an
exclusive lock. An int4 foreign key to a bigint key breaks the day the parent passes 2^31.

## Example
```python
id: Mapped[int] = mapped_column(primary_key=True)   # Integer -> serial
```

## Fix
```python
id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
# or once for the whole model:
class Base(DeclarativeBase):
    type_annotation_map = {int: BigInteger}
```
Small, fixed lookup tables may keep `SmallInteger`/`Integer` keys (silence with `# noqa: DBA108`).

**Reported as info by default.** The checker cannot tell a table that grows without bound (events, logs) from
one that stays small (settings, lookup rows), and most int4 keys in real code sit on the second kind: in the
after-audit of 2026-12-03 (`bench/audit/models-2026-12-03-after.json`) 9 of 10 sampled findings were on tables
that will never near 2^31 rows. To enforce bigint keys anyway: `dbagents check --select DBA108 --fail-on info`.

`dbagents check --fix --unsafe-fixes` writes `BigInteger` (`BIGINT` for `INTEGER`/`INT`) on the key, or adds it
to a `mapped_column()` that names no type; the integer foreign keys that then reference a bigint key are fixed in
the same run. Each is a column type change: `--emit-revision` writes the migration (a serial's sequence needs
`AS bigint` too). Aliases, `TypeDecorator`s and type maps are left to you.
"""
    valid = [
        Example(
            HEAD.replace("    pass\n", "    type_annotation_map = {int: BigInteger}\n")
            + "class User(Base):\n    __tablename__ = 'users'\n    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "class Order(Base):\n    __tablename__ = 'orders'\n"
            "    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)\n"
            "    user_id: Mapped[int] = mapped_column(ForeignKey('users.id'), index=True)\n",
        ),
        Example(
            "links = Table('links', metadata,\n"
            "    Column('a_id', Integer, ForeignKey('a.id'), primary_key=True),\n"
            "    Column('b_id', Integer, ForeignKey('b.id'), primary_key=True))\n",
            note="composite association keys are reported through their parents, not here",
        ),
        Example(
            HEAD + "class Order(Base):\n    __tablename__ = 'orders'\n"
            "    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)\n"
            "class Line(Base):\n    __tablename__ = 'lines'\n"
            "    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)\n"
            "    order_id: Mapped[int] = mapped_column(ForeignKey('orders.id'), index=True)\n",
            note="no type given: SQLAlchemy 2.x gives the key column the referenced column's type (BIGINT)",
        ),
    ]
    invalid = [
        Example(
            "from sqlalchemy import BigInteger, Column, ForeignKey, Integer\n"
            + HEAD + "class User(Base):\n    __tablename__ = 'users'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "class Order(Base):\n    __tablename__ = 'orders'\n"
            "    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)\n"
            "class Line(Base):\n    __tablename__ = 'lines'\n"
            "    id = Column(BigInteger, primary_key=True)\n"
            "    order_id = Column(Integer, ForeignKey('orders.id'), index=True)\n",
            lines=(7, 14),
            fixed="from sqlalchemy import BigInteger, Column, ForeignKey, Integer\n"
            + HEAD + "class User(Base):\n    __tablename__ = 'users'\n"
            "    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)\n"
            "class Order(Base):\n    __tablename__ = 'orders'\n"
            "    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)\n"
            "class Line(Base):\n    __tablename__ = 'lines'\n"
            "    id = Column(BigInteger, primary_key=True)\n"
            "    order_id = Column(BigInteger, ForeignKey('orders.id'), index=True)\n",
        ),
        Example(
            "import sqlalchemy as sa\n"
            + HEAD + "class Team(Base):\n    __tablename__ = 'teams'\n"
            "    id = sa.Column(sa.Integer(), primary_key=True)\n"
            "class Member(Base):\n    __tablename__ = 'members'\n"
            "    id = sa.Column(sa.BigInteger, primary_key=True)\n"
            "    team_id = sa.Column(sa.Integer, sa.ForeignKey('teams.id'))\n",
            lines=(7,),
            fixed="import sqlalchemy as sa\n"
            + HEAD + "class Team(Base):\n    __tablename__ = 'teams'\n"
            "    id = sa.Column(sa.BigInteger(), primary_key=True)\n"
            "class Member(Base):\n    __tablename__ = 'members'\n"
            "    id = sa.Column(sa.BigInteger, primary_key=True)\n"
            "    team_id = sa.Column(sa.BigInteger, sa.ForeignKey('teams.id'))\n",
            note="fixes compose: once the key is bigint, its int4 foreign key is reported and fixed in the same run",
        ),
    ]

    def check(self, project) -> Iterable[Finding]:
        index = project.get("models")
        seen = set()
        for t in index.tables.values():
            if t.reflected:
                continue
            if len(t.primary_key) == 1:
                c = t.columns.get(t.primary_key[0])
                if (c is not None and not c.foreign_keys and c.sql_type in INT4 and c.autoincrement is not False
                        and (c.relpath, c.line) not in seen):
                    seen.add((c.relpath, c.line))
                    yield self.finding(
                        c.relpath, c.line, c.col,
                        f"{t.name}.{c.name} is an Integer (int4/serial) primary key; it overflows at 2^31 rows",
                        end_line=c.end_line, obj=f"{t.name}.{c.name}",
                    )
            for c in t.columns.values():
                if c.sql_type not in INT4 or not c.foreign_keys or (c.relpath, c.line) in seen:
                    continue
                for target in c.foreign_keys:
                    tname, _, cname = target.rpartition(".")
                    parent = index.tables.get(tname)
                    pcol = parent.column(cname) if parent is not None else None
                    if pcol is not None and pcol.sql_type in INT8:
                        seen.add((c.relpath, c.line))
                        yield self.finding(
                            c.relpath, c.line, c.col,
                            f"{t.name}.{c.name} is Integer but references the BigInteger key {target}",
                            hint="give the foreign key column the same type as the key it references (BigInteger)",
                            end_line=c.end_line, obj=f"{t.name}.{c.name}",
                        )
                        break

    def fix(self, site):
        """Integer -> BigInteger on the column (named, or added to a mapped_column() without a type)."""
        import libcst as cst

        from dbagents.check.fix.changes import SchemaChange
        from dbagents.check.fix.site import with_first_arg

        found = site.table_column()
        call = site.column_call()
        if found is None or call is None:
            return None
        table, column = found
        if column.type_origin is not None or column.type_source not in ("explicit", "default"):
            return None  # an alias, a TypeDecorator or the type map decides: change it there
        change = SchemaChange("alter_type", table.name, column.name, schema=table.schema, new_type="sa.BigInteger()",
                              old_type="sa.Integer()", path=site.finding.path, line=site.finding.line)
        arg = site.type_arg(call, ("Integer", "INTEGER", "INT"))
        if arg is None:
            if column.type_source != "default" or any(a.keyword is None for a in call.args):
                return None
            spelled = site.sqlalchemy_name("BigInteger", ("sqlalchemy", "sqlalchemy.types"))
            if spelled is None:
                return None
            return site.edit(call, with_first_arg(call, spelled[0]), imports=spelled[1], change=change)
        value = arg.value
        base = value.func if isinstance(value, cst.Call) else value
        wide = "BigInteger" if site.code(base).rpartition(".")[2] == "Integer" else "BIGINT"
        if isinstance(base, cst.Attribute):
            new_base, imports = base.with_changes(attr=cst.Name(wide)), ()
        else:
            spelled = site.sqlalchemy_name(wide, ("sqlalchemy", "sqlalchemy.types"))
            if spelled is None:
                return None
            new_base, imports = cst.parse_expression(spelled[0]), spelled[1]
        new = value.with_changes(func=new_base) if isinstance(value, cst.Call) else new_base
        return site.edit(arg, arg.with_changes(value=new), imports=imports, change=change)
