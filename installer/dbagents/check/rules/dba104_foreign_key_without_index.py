"""DBA104: a foreign key whose columns lead no index, unique constraint or primary key."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity


class ForeignKeyWithoutIndex(ProjectRule):
    id = "DBA104"
    name = "foreign-key-without-index"
    groups = ("models", "performance", "schema")
    severity = Severity.WARNING
    summary = "Foreign key column(s) not leading any index, unique constraint or primary key."
    hint = "add index=True to the column, or an Index/UniqueConstraint whose leading columns are the foreign key"
    fixable = "unsafe"
    doc = """
## What it does
Finds foreign keys in mapped classes and Core `Table(...)` definitions whose columns are not the leading
columns of any index: not `index=True`/`unique=True`/`primary_key=True` on the column, not the first
column(s) of an `Index(...)`, `UniqueConstraint(...)` or the primary key — whether declared in
`__table_args__`, inside `Table(...)` or as `Index(...)` at module level. Composite keys count when their
columns lead the index in any order. Columns inherited from mixins and abstract bases are checked on every
concrete table that uses them.

## Why is this bad
PostgreSQL indexes primary keys and unique constraints, but never the referencing side of a foreign key.
Every delete or key update on the parent then scans the child table to check the constraint (holding
locks while it does), and joins from parent to children (`selectinload`, `relationship` loads) do a
sequential scan of the child table.

## Example
```python
class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
```

## Fix
```python
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
# or, when queries filter on more columns:
    __table_args__ = (Index("ix_orders_customer_id_created", "customer_id", "created_at"),)
```
`dbagents check --fix --unsafe-fixes` adds `index=True` to the column of a one-column foreign key (a new index:
the database needs a migration, which `--emit-revision` writes). Composite keys and columns saying `index=False`
are left to you.
"""
    valid = [
        Example(
            "class Order(Base):\n"
            "    __tablename__ = 'orders'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    customer_id: Mapped[int] = mapped_column(ForeignKey('customers.id'), index=True)\n",
            files={"base.py": "from sqlalchemy.orm import DeclarativeBase\nclass Base(DeclarativeBase):\n    pass\n"},
        ),
        Example(
            "from sqlalchemy.orm import DeclarativeBase\n"
            "class Base(DeclarativeBase):\n    pass\n"
            "class Membership(Base):\n"
            "    __tablename__ = 'memberships'\n"
            "    __table_args__ = (UniqueConstraint('team_id', 'user_id'),)\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    user_id: Mapped[int] = mapped_column(ForeignKey('users.id'))\n"
            "    team_id: Mapped[int] = mapped_column(ForeignKey('teams.id'))\n"
            "Index('ix_memberships_user', Membership.user_id)\n",
            note="one FK leads a unique constraint, the other a module-level Index",
        ),
        Example(
            "tags = Table('post_tags', metadata,\n"
            "    Column('post_id', ForeignKey('posts.id'), primary_key=True),\n"
            "    Column('tag_id', ForeignKey('tags.id'), primary_key=True),\n"
            "    Index('ix_post_tags_tag', 'tag_id'),\n"
            ")\n",
            note="composite primary key covers post_id; tag_id has its own index",
        ),
    ]
    invalid = [
        Example(
            "from sqlalchemy.orm import DeclarativeBase\n"
            "class Base(DeclarativeBase):\n    pass\n"
            "class Order(Base):\n"
            "    __tablename__ = 'orders'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    customer_id: Mapped[int] = mapped_column(ForeignKey('customers.id'))\n",
            lines=(7,),
            fixed="from sqlalchemy.orm import DeclarativeBase\n"
                  "class Base(DeclarativeBase):\n    pass\n"
                  "class Order(Base):\n"
                  "    __tablename__ = 'orders'\n"
                  "    id: Mapped[int] = mapped_column(primary_key=True)\n"
                  "    customer_id: Mapped[int] = mapped_column(ForeignKey('customers.id'), index=True)\n",
        ),
        Example(
            "tags = Table('post_tags', metadata,\n"
            "    Column('post_id', ForeignKey('posts.id'), primary_key=True),\n"
            "    Column('tag_id', ForeignKey('tags.id'), primary_key=True),\n"
            ")\n",
            lines=(3,),
            fixed="tags = Table('post_tags', metadata,\n"
                  "    Column('post_id', ForeignKey('posts.id'), primary_key=True),\n"
                  "    Column('tag_id', ForeignKey('tags.id'), primary_key=True, index=True),\n"
                  ")\n",
            note="tag_id is the second column of the primary key, so lookups by tag scan",
        ),
        Example(
            "class Comment(db.Model):\n"
            "    id = db.Column(db.Integer, primary_key=True)\n"
            "    post_id = db.Column(db.Integer, db.ForeignKey('post.id'))\n"
            "    __table_args__ = (db.Index('ix_comment_created_post', 'created', 'post_id'),)\n",
            lines=(3,),
            fixed="class Comment(db.Model):\n"
                  "    id = db.Column(db.Integer, primary_key=True)\n"
                  "    post_id = db.Column(db.Integer, db.ForeignKey('post.id'), index=True)\n"
                  "    __table_args__ = (db.Index('ix_comment_created_post', 'created', 'post_id'),)\n",
            note="post_id is in an index, but not as its leading column",
        ),
    ]

    def check(self, project) -> Iterable[Finding]:
        index = project.get("models")
        seen: dict[tuple, list[str]] = {}
        first: dict[tuple, tuple] = {}
        for t in index.tables.values():
            if t.reflected:
                continue
            for fk in t.foreign_keys:
                if t.covered(fk.columns):
                    continue
                key = (fk.relpath, fk.line, fk.columns)
                seen.setdefault(key, []).append(t.name)
                first.setdefault(key, (t, fk))
        for key, tables in seen.items():
            t, fk = first[key]
            cols = ", ".join(fk.columns)
            target = ", ".join(fk.targets)
            where = t.name if len(tables) == 1 else f"{tables[0]} (and {len(tables) - 1} more tables)"
            yield self.finding(
                fk.relpath, fk.line, fk.col,
                f"foreign key {where}({cols}) -> {target} has no index leading with {cols}",
                end_line=fk.end_line, obj=f"{t.name}.{fk.columns[0]}",
            )

    def fix(self, site):
        """index=True on the foreign key column; each table it lands in gets an add_index schema change."""
        from dbagents.check.fix.changes import SchemaChange
        from dbagents.check.fix.site import keyword, with_keyword

        call = site.column_call()
        if call is None or keyword(call, "index") is not None:
            return None
        f = site.finding
        tables = [(t, fk) for t in site.project.get("models").tables.values() if not t.reflected
                  for fk in t.foreign_keys if (fk.relpath, fk.line) == (f.path, f.line) and not t.covered(fk.columns)]
        if not tables or any(len(fk.columns) != 1 or not fk.from_column for _, fk in tables):
            return None
        changes = [SchemaChange("add_index", t.name, fk.columns[0], schema=t.schema, path=f.path, line=f.line)
                   for t, fk in tables]
        return site.edit(call, with_keyword(call, "index", "True"), change=changes)
