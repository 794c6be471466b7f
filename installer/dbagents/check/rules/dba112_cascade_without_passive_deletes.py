"""DBA112: ON DELETE CASCADE in the database, but the parent's relationship loads children to delete them."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts._model_relations import JOIN_PAIR, direction
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

HEAD = "from sqlalchemy.orm import DeclarativeBase\nclass Base(DeclarativeBase):\n    pass\n"
CHILD = (
    "class Child(Base):\n    __tablename__ = 'children'\n"
    "    id: Mapped[int] = mapped_column(primary_key=True)\n"
    "    parent_id: Mapped[int] = mapped_column(ForeignKey('parents.id', ondelete='CASCADE'), index=True)\n"
)


def _cascading_fk(child_table, parent_table: str, keys: set[str] | None = None) -> bool:
    return bool(_cascading_columns(child_table, parent_table, keys))


def _key_columns(rel, key_cls) -> set[str] | None:
    """Database names of `key_cls`'s columns that `rel` joins on, from its `foreign_keys=` or `primaryjoin=`
    (`Participant.id == Task.owner_id` gives {"owner_id"}); None when it names none (SQLAlchemy then uses every
    foreign key between the two tables)."""
    attrs = set()
    for name in rel.fk_names:
        owner, _, attr = name.rpartition(".")
        if owner.split(".")[-1] in ("", key_cls.name):
            attrs.add(attr)
    for a_cls, a_col, b_cls, b_col in JOIN_PAIR.findall(rel.join_text or ""):
        attrs.update(col for cls, col in ((a_cls, a_col), (b_cls, b_col)) if cls == key_cls.name)
    names = {key_cls.columns[a].name for a in attrs if a in key_cls.columns}
    return names or None


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
does not set `passive_deletes=True`, and says what really happens on `session.delete(parent)`:

- with a delete cascade (`cascade="all, ..."`/`"delete"`): the ORM loads the children first to delete them
  one by one (the database would do it in one step);
- without one (the default `save-update, merge`, and every plain `backref=`): the ORM loads the children and
  sets their foreign key to NULL — the delete fails on a NOT NULL key, or leaves orphans — so the
  database's ON DELETE CASCADE never runs.

Left alone: `viewonly`, many-to-many (`secondary=`), self-referential relationships, many-to-one
relationships (the key sits on the class's own side: `foreign_keys=[own_column]`, a `primaryjoin` from our
column to the target's primary key), relationships with a `**kwargs` the checker cannot read, eager-loaded
collections (`lazy="joined"/"selectin"/"subquery"/"immediate"`) that have the delete cascade: they are loaded
with the parent anyway, so `passive_deletes=True` changes nothing, and one-to-one children (`uselist=False`)
with the delete cascade: one row to load, nothing to gain. A relationship that names its key
(`primaryjoin="Person.id == Task.owner_id"`, `foreign_keys=`) is judged on that key alone.

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
        Example(
            HEAD + "class Parent(Base):\n    __tablename__ = 'parents'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    children: Mapped[list['Child']] = relationship(cascade='all, delete-orphan', lazy='selectin')\n"
            + CHILD,
            note="eager-loaded with the parent anyway: passive_deletes=True would change nothing",
        ),
        Example(
            HEAD + "class Parent(Base):\n    __tablename__ = 'parents'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    favorite_id = mapped_column(Integer)\n"
            "    favorite = relationship('Child', foreign_keys=[favorite_id])\n"
            "    best = relationship('Child', primaryjoin='Child.id == Parent.favorite_id', viewonly=False)\n"
            + CHILD,
            note="many-to-one through the parent's own column (foreign_keys= / primaryjoin=): nothing to delete",
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
        Example(
            HEAD + "class Parent(Base):\n    __tablename__ = 'parents'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    children: Mapped[list['Child']] = relationship(lazy='selectin')\n"
            + CHILD,
            lines=(7,),
            note="eager-loaded, but no delete cascade: the ORM sets the children's NOT NULL key to NULL",
        ),
    ]

    def check(self, project) -> Iterable[Finding]:
        index = project.get("models")
        seen = set()
        for cls in index.all_classes:
            if not cls.concrete:
                continue
            for rel in cls.relationships.values():
                if (rel.viewonly or rel.secondary or rel.target is None or rel.target == cls.name
                        or rel.hidden_kwargs):
                    continue
                target = index.classes.get(rel.target)
                if target is None or not target.concrete or target.tablename == cls.tablename:
                    continue
                parent_t = index.tables.get(cls.tablename)
                child_t = index.tables.get(target.tablename)
                if parent_t is None or child_t is None:
                    continue
                # rel on the parent: the child table cascades to us, and we hold no key to the child
                way = direction(index, cls, rel)
                keys = _key_columns(rel, target)
                if (not rel.passive_deletes and way != "many-to-one"
                        and _cascading_fk(child_t, cls.tablename, keys) and not _points_to(parent_t, target.tablename)
                        and (rel.relpath, rel.line) not in seen):
                    seen.add((rel.relpath, rel.line))
                    found = self._claim(cls.name, rel.attr, target.tablename, child_t, cls.tablename, rel.cascade,
                                        rel.lazy, rel.relpath, rel.line, rel.col, rel.end_line, keys=keys,
                                        scalar=way == "one-to-one")
                    if found is not None:
                        yield found
                # backref created on the parent from this (child-side) relationship
                keys = _key_columns(rel, cls)
                if (rel.backref and not rel.backref_passive_deletes and _cascading_fk(parent_t, target.tablename, keys)
                        and not _points_to(child_t, cls.tablename) and (rel.relpath, rel.backref_line) not in seen):
                    seen.add((rel.relpath, rel.backref_line))
                    cascade = rel.backref_cascade if isinstance(rel.backref_cascade, str) else None
                    if rel.backref_cascade is not None and cascade is None:
                        continue  # a cascade we cannot read
                    found = self._claim(f"backref {target.name}", rel.backref, cls.tablename, parent_t,
                                        target.tablename, cascade, None, rel.relpath,
                                        rel.backref_line or rel.line, rel.col, 0,
                                        f"backref=backref({rel.backref!r}, cascade='all, delete-orphan', "
                                        "passive_deletes=True), or better a back_populates pair", keys=keys)
                    if found is not None:
                        yield found

    def _claim(self, owner, attr, child, child_t, parent, cascade, lazy, relpath, line, col, end_line, hint=None,
               keys=None, scalar=False):
        """What really happens on session.delete(parent) for this relationship, or None when it is fine."""
        deletes = _has_delete(cascade)
        if deletes and (str(lazy) in EAGER or scalar):
            return None  # loaded with the parent anyway, or one row (uselist=False): passive_deletes adds nothing
        if deletes:
            msg = (f"{owner}.{attr}: {child} rows are deleted by ON DELETE CASCADE, but without "
                   "passive_deletes=True the ORM loads them first")
        else:
            columns = ", ".join(_cascading_columns(child_t, parent, keys)) or "foreign key"
            not_null = _not_null(child_t, parent, keys)
            msg = (f"{owner}.{attr}: {child} rows have ON DELETE CASCADE, but the relationship has no delete "
                   f"cascade: deleting the parent makes the ORM load them and set {child}.{columns} to NULL"
                   + (" (NOT NULL, so the delete fails)" if not_null else
                      " (orphans them instead of deleting them)"))
        return self.finding(relpath, line, col, msg, hint=hint, end_line=end_line)


EAGER = {"joined", "selectin", "subquery", "immediate"}


def _has_delete(cascade) -> bool:
    if not isinstance(cascade, str):
        return False
    parts = {p.strip() for p in cascade.split(",")}
    return "all" in parts or "delete" in parts


def _cascading_columns(child_table, parent_table: str, keys: set[str] | None = None) -> list[str]:
    """The child's ON DELETE CASCADE key columns to the parent; only those the relationship joins on (`keys`)."""
    cols = []
    for fk in child_table.foreign_keys:
        if ((fk.ondelete or "").upper() == "CASCADE" and any(t.rpartition(".")[0] == parent_table for t in fk.targets)
                and (keys is None or set(fk.columns) <= keys)):
            cols.extend(fk.columns)
    return cols


def _not_null(child_table, parent_table: str, keys: set[str] | None = None) -> bool:
    """True when the cascading key columns are NOT NULL (the ORM's UPDATE ... SET key = NULL fails)."""
    cols = [child_table.column(c) for c in _cascading_columns(child_table, parent_table, keys)]
    return bool(cols) and all(c is not None and (c.nullable is False or c.primary_key or
                                                 (c.nullable is None and c.mapped and c.optional is False))
                              for c in cols)
