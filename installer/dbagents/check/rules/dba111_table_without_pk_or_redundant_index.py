"""DBA111: Core table without a primary key; index=True duplicating the PK, a unique key or a leading index."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

HEAD = "from sqlalchemy.orm import DeclarativeBase\nclass Base(DeclarativeBase):\n    pass\n"


class TableWithoutPkOrRedundantIndex(ProjectRule):
    id = "DBA111"
    name = "table-without-pk-or-redundant-index"
    groups = ("models", "schema", "performance")
    severity = Severity.WARNING
    summary = "Core Table() without a primary key, or index=True that duplicates the PK, a unique key or an index."
    hint = "give the table a primary key; drop index=True where another index already leads with the column"
    doc = """
## What it does
Reports Core `Table(...)` definitions (not reflected ones) with no primary key column and no
`PrimaryKeyConstraint`, and `index=True` on a column that already leads another index: the column is the
(first column of the) primary key, has a single-column unique constraint, or is the leading column of a
composite, non-partial `Index`/`UniqueConstraint`. (`index=True` together with `unique=True` is one unique
index and is fine.)

## Why is this bad
A table without a primary key cannot be updated row by row by the ORM, cannot be replicated logically
without `REPLICA IDENTITY FULL`, and collects duplicates. A redundant index costs disk, slows every write
and vacuum, and gives the planner nothing the other index does not.

## Example
```python
events = Table("events", metadata, Column("name", Text), Column("at", DateTime(timezone=True)))
id: Mapped[int] = mapped_column(primary_key=True, index=True)
```

## Fix
```python
events = Table("events", metadata, Column("id", BigInteger, Identity(), primary_key=True), ...)
id: Mapped[int] = mapped_column(primary_key=True)
```
"""
    valid = [
        Example(
            HEAD + "class Tag(Base):\n    __tablename__ = 'tags'\n"
            "    __table_args__ = (Index('ix_tags_kind_name', 'kind', 'name', postgresql_where=text('live')),)\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    name: Mapped[str] = mapped_column(unique=True, index=True)\n"
            "    kind: Mapped[str] = mapped_column(index=True)\n"
            "links = Table('links', metadata, Column('a', Integer), Column('b', Integer),\n"
            "    PrimaryKeyConstraint('a', 'b'))\n"
        ),
    ]
    invalid = [
        Example("events = Table('events', metadata, Column('name', Text), Column('at', DateTime))\n", lines=(1,)),
        Example(
            HEAD + "class Tag(Base):\n    __tablename__ = 'tags'\n"
            "    __table_args__ = (UniqueConstraint('owner_id', 'name'),)\n"
            "    id: Mapped[int] = mapped_column(primary_key=True, index=True)\n"
            "    owner_id: Mapped[int] = mapped_column(ForeignKey('users.id'), index=True)\n"
            "    name: Mapped[str]\n",
            lines=(7, 8),
        ),
    ]

    def check(self, project) -> Iterable[Finding]:
        index = project.get("models")
        seen = set()
        for t in index.tables.values():
            if t.reflected or t.dialect:
                continue  # t.dialect: built for another database (ClickHouse tables have no primary key)
            if t.core and not t.classes and not t.primary_key:
                yield self.finding(t.relpath, t.line, t.col, f"table {t.name} has no primary key",
                                   end_line=t.end_line, obj=t.name)
            for ix in t.indexes:
                if ix.source != "column" or ix.unique or ix.attr is None:
                    continue
                col = ix.columns[0]
                reason = None
                if t.primary_key and t.primary_key[0] == col:
                    reason = "the primary key" if len(t.primary_key) == 1 else "the primary key's leading column"
                else:
                    for other in t.indexes:
                        if (other is ix or other.partial or other.special or not other.columns
                                or other.columns[0] != col):
                            continue
                        if other.source == "column" and not other.unique:
                            continue
                        label = other.name or ("unique constraint" if other.unique else "index")
                        reason = f"{label} ({', '.join(c or 'expr' for c in other.columns)})"
                        break
                if reason is None:
                    continue
                c = t.column(col)
                if c is None or (c.relpath, c.line) in seen:
                    continue
                seen.add((c.relpath, c.line))
                yield self.finding(
                    c.relpath, c.line, c.col,
                    f"index=True on {t.name}.{col} duplicates {reason}",
                    hint="remove index=True; the existing index already serves lookups on this column",
                    end_line=c.end_line, obj=f"{t.name}.{col}",
                )
