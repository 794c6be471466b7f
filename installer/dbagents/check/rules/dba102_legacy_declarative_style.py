"""DBA102: pre-2.0 declarative style and APIs deprecated in 2.1."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

MESSAGES = {
    "declarative_base": "declarative_base() is the legacy API; subclass DeclarativeBase instead",
    "backref": "relationship(backref=...) is legacy; declare both sides with back_populates=",
    "lazy=dynamic": 'lazy="dynamic" is legacy; use WriteOnlyMapped[...] with lazy="write_only"',
    "lazy=noload": 'lazy="noload" is deprecated in SQLAlchemy 2.1; use lazy="raise" or a write-only relationship',
    "noload": "noload() is deprecated in SQLAlchemy 2.1; use raiseload() or lazyload()",
    "declarative_mixin": "@declarative_mixin is deprecated in SQLAlchemy 2.1; a plain mixin class works the same",
}
HINTS = {
    "declarative_base": "class Base(DeclarativeBase): pass",
    "backref": 'relationship(back_populates="x") on this side and the reverse relationship on the other class',
    "lazy=dynamic": 'items: WriteOnlyMapped["Item"] = relationship(lazy="write_only")',
    "lazy=noload": 'lazy="raise" (or "write_only") instead of "noload"',
    "noload": "raiseload(...) makes unwanted loads fail loudly; lazyload(...) loads on access",
    "declarative_mixin": "remove the decorator",
}


class LegacyDeclarativeStyle(ProjectRule):
    id = "DBA102"
    name = "legacy-declarative-style"
    groups = ("models",)
    severity = Severity.INFO
    summary = "Pre-2.0 declarative style: declarative_base(), Column() without Mapped[], backref=, dynamic/noload."
    hint = "move to the 2.0 typed style: DeclarativeBase, Mapped[...] = mapped_column(...), back_populates"
    doc = """
## What it does
Reports the SQLAlchemy 1.x declarative style in mapped classes: `declarative_base()`, ORM classes whose
columns are `Column(...)` attributes without a `Mapped[...]` annotation (one finding per class),
`relationship(backref=...)`, `lazy="dynamic"`, and the APIs deprecated in 2.1: `lazy="noload"`, the
`noload()` loader option and `@declarative_mixin`. Columns inside Core `Table(...)` (imperative mapping)
are not reported.

## Why is this bad
Un-annotated columns are invisible to type checkers (`user.id` is `Any`), `backref` creates an attribute
nobody can find by reading the target class, and dynamic relationships return a legacy `Query`. The 2.1
deprecations will become errors in a later release.

## Example
```python
Base = declarative_base()
class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    addresses = relationship("Address", backref="user", lazy="dynamic")
```

## Fix
```python
class Base(DeclarativeBase):
    pass
class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    addresses: WriteOnlyMapped["Address"] = relationship(back_populates="user", lazy="write_only")
```
"""
    valid = [
        Example(
            "from sqlalchemy.orm import DeclarativeBase\n"
            "class Base(DeclarativeBase):\n    pass\n"
            "class User(Base):\n    __tablename__ = 'users'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    addresses: Mapped[list['Address']] = relationship(back_populates='user', lazy='selectin')\n"
            "users = Table('legacy_users', metadata, Column('id', Integer, primary_key=True))\n"
        ),
    ]
    invalid = [
        Example(
            "from sqlalchemy.orm import declarative_base\n"
            "Base = declarative_base()\n"
            "class User(Base):\n    __tablename__ = 'users'\n"
            "    id = Column(Integer, primary_key=True)\n"
            "    addresses = relationship('Address', backref='user', lazy='dynamic')\n",
            lines=(2, 3, 6),
        ),
        Example("stmt = select(User).options(noload(User.addresses))\n", lines=(1,)),
    ]

    def check(self, project) -> Iterable[Finding]:
        index = project.get("models")
        migrations = {rel for rel, f in project.module_facts("models") if f.migration}
        for relpath, use in index.legacy:
            if relpath in migrations:
                continue
            yield self.finding(relpath, use.line, use.col, MESSAGES[use.what], hint=HINTS[use.what],
                               end_line=use.end_line)
        seen = set()
        for cls in index.all_classes:
            if cls.family == "sqlmodel" or cls.root or (cls.relpath, cls.line) in seen:
                continue
            seen.add((cls.relpath, cls.line))
            plain = [c for a, c in cls.columns.items()
                     if a in cls.own_columns and c.relpath == cls.relpath and c.kind == "Column" and not c.mapped]
            if plain:
                names = ", ".join(c.attr for c in plain[:3]) + (", …" if len(plain) > 3 else "")
                yield self.finding(
                    cls.relpath, cls.line, cls.col,
                    f"{cls.name} maps {len(plain)} column(s) with Column() and no Mapped[] annotation ({names})",
                    hint="annotate: name: Mapped[str] = mapped_column(String(50))",
                )
