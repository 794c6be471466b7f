"""DBA112: ON DELETE CASCADE in the database, but the parent's relationship loads children to delete them."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

HEAD = "from sqlalchemy.orm import DeclarativeBase\nclass Base(DeclarativeBase):\n    pass\n"
CHILD = (
    "class Child(Base):\n    __tablename__ = 'children'\n"
    "    id: Mapped[int] = mapped_column(primary_key=True)\n"
    "    parent_id: Mapped[int] = mapped_column(ForeignKey('parents.id', ondelete='CASCADE'), index=True)\n"
)


def _cascading_fk(child_table, parent_table: str) -> bool:
    for fk in child_table.foreign_keys:
        if (fk.ondelete or "").upper() == "CASCADE" and any(t.rpartition(".")[0] == parent_table for t in fk.targets):
            return True
    return False


def _points_to(table, other: str) -> bool:
    return any(t.rpartition(".")[0] == other for fk in table.foreign_keys for t in fk.targets)


class CascadeWithoutPassiveDeletes(ProjectRule):
    id = "DBA112"
    name = "cascade-without-passive-deletes"
    groups = ("models", "performance")
    severity = Severity.WARNING
    summary = "FK has ondelete='CASCADE' but the parent's relationship lacks passive_deletes=True."
    hint = ("add passive_deletes=True together with the delete cascade, cascade=\"all, delete-orphan\", to the "
            "parent's relationship: the database deletes unloaded children, the ORM deletes loaded ones "
            "(without the delete cascade it sets their foreign key to NULL)")
    doc = """
## What it does
Finds one-to-many (and one-to-one) relationships from a parent class to a child class whose foreign key to
the parent is declared `ondelete="CASCADE"`, when the relationship (or the `backref(...)` that creates it)
does not set `passive_deletes=True`. `viewonly`, many-to-many (`secondary=`) and self-referential
relationships are left alone.

## Why is this bad
Without `passive_deletes=True`, `session.delete(parent)` first loads every child row into the session
(one SELECT, then one DELETE or UPDATE per child) although the database would delete them in one step.
With large collections this is slow and memory hungry; without `cascade="all, delete"` the ORM even sets
the children's foreign key to NULL before the parent row goes, defeating the cascade. `passive_deletes=True`
alone is not enough either: it only leaves *unloaded* children to the database. Once the collection is loaded
(a `selectinload`, an earlier access), the ORM still nulls the children's key unless the relationship has the
delete cascade — with a NOT NULL foreign key the delete fails with NotNullViolation. Use both.

## Example
```python
class Parent(Base):
    children: Mapped[list["Child"]] = relationship(back_populates="parent", cascade="all, delete-orphan")
class Child(Base):
    parent_id: Mapped[int] = mapped_column(ForeignKey("parents.id", ondelete="CASCADE"))
```

## Fix
```python
    children: Mapped[list["Child"]] = relationship(
        back_populates="parent", cascade="all, delete-orphan", passive_deletes=True)
```
"""
    valid = [
        Example(
            HEAD + "class Parent(Base):\n    __tablename__ = 'parents'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    children: Mapped[list['Child']] = relationship(back_populates='parent',"
            " cascade='all, delete-orphan', passive_deletes=True)\n"
            + CHILD + "    parent: Mapped['Parent'] = relationship(back_populates='children')\n",
        ),
    ]
    invalid = [
        Example(
            HEAD + "class Parent(Base):\n    __tablename__ = 'parents'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    children: Mapped[list['Child']] = relationship(back_populates='parent', cascade='all, delete')\n"
            + CHILD + "    parent: Mapped['Parent'] = relationship(back_populates='children')\n",
            lines=(7,),
        ),
        Example(
            HEAD + "class Parent(Base):\n    __tablename__ = 'parents'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            + CHILD + "    parent = relationship('Parent', backref='children')\n",
            lines=(11,),
            note="the parent's collection comes from a backref on the child",
        ),
    ]

    def check(self, project) -> Iterable[Finding]:
        index = project.get("models")
        seen = set()
        for cls in index.all_classes:
            if not cls.concrete:
                continue
            for rel in cls.relationships.values():
                if rel.viewonly or rel.secondary or rel.target is None or rel.target == cls.name:
                    continue
                if (rel.foreign_keys or rel.primaryjoin) and rel.collection is False:
                    continue  # a scalar through our own column (e.g. `state_id`): many-to-one, nothing to delete
                target = index.classes.get(rel.target)
                if target is None or not target.concrete or target.tablename == cls.tablename:
                    continue
                parent_t = index.tables.get(cls.tablename)
                child_t = index.tables.get(target.tablename)
                if parent_t is None or child_t is None:
                    continue
                # rel on the parent: the child table cascades to us, and we hold no key to the child
                if (not rel.passive_deletes and _cascading_fk(child_t, cls.tablename)
                        and not _points_to(parent_t, target.tablename) and (rel.relpath, rel.line) not in seen):
                    seen.add((rel.relpath, rel.line))
                    yield self.finding(
                        rel.relpath, rel.line, rel.col,
                        f"{cls.name}.{rel.attr}: {target.tablename} rows are deleted by ON DELETE CASCADE, but "
                        "without passive_deletes=True the ORM loads them first",
                        end_line=rel.end_line,
                    )
                # backref created on the parent from this (child-side) relationship
                if (rel.backref and not rel.backref_passive_deletes and _cascading_fk(parent_t, target.tablename)
                        and not _points_to(child_t, cls.tablename) and (rel.relpath, rel.backref_line) not in seen):
                    seen.add((rel.relpath, rel.backref_line))
                    yield self.finding(
                        rel.relpath, rel.backref_line or rel.line, rel.col,
                        f"backref {target.name}.{rel.backref}: {cls.tablename} rows are deleted by ON DELETE "
                        "CASCADE, but without passive_deletes=True the ORM loads them first",
                        hint=f"backref=backref({rel.backref!r}, passive_deletes=True), or better a back_populates pair",
                    )
