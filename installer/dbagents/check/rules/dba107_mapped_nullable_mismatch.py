"""DBA107: the Mapped[] annotation and nullable= disagree."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

# annotations that say nothing about NULL: Mapped[Any], Mapped[None] (a subclass re-declaring a parent's column)
OPEN_TYPES = {"Any", "None", "object"}


def _single_table_columns(index) -> set[tuple[str, int]]:
    """Columns (relpath, line) that only single-table-inheritance subclasses carry."""
    owners: dict[tuple[str, int], list] = {}
    for cls in index.all_classes:
        if cls.concrete:
            for c in cls.columns.values():
                owners.setdefault((c.relpath, c.line), []).append(cls)
    return {key for key, classes in owners.items() if all(k.single_table for k in classes)}


HEAD = "from typing import Optional\nfrom sqlalchemy.orm import DeclarativeBase\nclass Base(DeclarativeBase):\n    pass\n"


class MappedNullableMismatch(ProjectRule):
    id = "DBA107"
    name = "mapped-nullable-mismatch"
    groups = ("models",)
    severity = Severity.WARNING
    summary = "Mapped[Optional[X]] with nullable=False, or Mapped[X] with nullable=True."
    hint = "make the annotation and nullable= agree; drop nullable= and let Mapped[Optional[X]] / Mapped[X] decide"
    fixable = "unsafe"
    doc = """
## What it does
Compares each `Mapped[...]` annotation with an explicit `nullable=` on its `mapped_column()` (also through
`Annotated[...]` aliases and in mixins): `Mapped[Optional[X]]` / `Mapped[X | None]` with `nullable=False`,
and `Mapped[X]` with `nullable=True`. A not-null column whose value is filled by the database or by a
default (`server_default=`, `default=`, `Identity()`, `Computed()`, primary keys) may legitimately be
`Optional` in Python before the flush, so that combination is not reported.

## Why is this bad
SQLAlchemy derives nullability from the annotation only when `nullable=` is absent. When both are given and
disagree, the type checker and the database tell different stories: code reads a non-optional attribute
that can be `None`, or handles `None` that can never be stored. Removing the explicit `nullable=` later
makes Alembic autogenerate flip the column's NULL constraint.

## Example
```python
nickname: Mapped[str] = mapped_column(String(50), nullable=True)
email: Mapped[Optional[str]] = mapped_column(nullable=False)
```

## Fix
```python
nickname: Mapped[Optional[str]] = mapped_column(String(50))
email: Mapped[str] = mapped_column()
```
`dbagents check --fix --unsafe-fixes` makes exactly that change: the annotation follows the `nullable=` the
database already has, and `nullable=` goes. The schema stays as it is (no migration), but type checkers and code
reading the attribute see a different type, hence unsafe. String annotations and `Annotated` aliases are left to
you.
"""
    valid = [
        Example(
            HEAD + "class User(Base):\n    __tablename__ = 'users'\n"
            "    id: Mapped[Optional[int]] = mapped_column(primary_key=True, nullable=False)\n"
            "    nick: Mapped[Optional[str]] = mapped_column(nullable=True)\n"
            "    email: Mapped[str] = mapped_column(nullable=False)\n"
            "    created: Mapped[Optional[datetime]] = mapped_column(server_default=func.now(), nullable=False)\n"
            "    legacy = Column(String, nullable=True)\n",
        ),
        Example(
            HEAD + "from typing import Any\nclass Price(Base):\n    __tablename__ = 'prices'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    kind: Mapped[Any] = mapped_column(String, nullable=True)\n"
            "class NewPrice(Price):\n"
            "    kind: Mapped[None] = mapped_column(use_existing_column=True, nullable=True)\n"
            "class OldPrice(Price):\n"
            "    kind: Mapped[str] = mapped_column(use_existing_column=True, nullable=True)\n",
            note="Mapped[Any] / Mapped[None] say nothing about NULL; use_existing_column re-declares a column",
        ),
        Example(
            HEAD + "class Employee(Base):\n    __tablename__ = 'employees'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    kind: Mapped[str]\n"
            "    __mapper_args__ = {'polymorphic_on': 'kind'}\n"
            "class Engineer(Employee):\n"
            "    language: Mapped[str] = mapped_column(nullable=True)\n"
            "    __mapper_args__ = {'polymorphic_identity': 'engineer'}\n",
            note="single-table inheritance: a subclass column is NULL in the other subclasses' rows",
        ),
    ]
    invalid = [
        Example(
            HEAD + "class User(Base):\n    __tablename__ = 'users'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    nick: Mapped[str] = mapped_column(String(50), nullable=True)\n"
            "    email: Mapped[str | None] = mapped_column(nullable=False)\n"
            "    bio: Mapped['Optional[str]'] = mapped_column(Text, nullable=False)\n",
            lines=(8, 9, 10),
            fixed=HEAD + "class User(Base):\n    __tablename__ = 'users'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    nick: Mapped[Optional[str]] = mapped_column(String(50))\n"
            "    email: Mapped[str] = mapped_column()\n"
            "    bio: Mapped['str'] = mapped_column(Text)\n",
        ),
        Example(
            HEAD + "class User(Base):\n    __tablename__ = 'users'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    nick: Mapped[str] = mapped_column(String(50), nullable=True)\n"
            "    email: Mapped[str | None] = mapped_column(nullable=False)\n"
            "    bio: Mapped[Optional[str]] = mapped_column(\n        Text,\n        nullable=False,\n    )\n",
            lines=(8, 9, 10),
            fixed=HEAD + "class User(Base):\n    __tablename__ = 'users'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    nick: Mapped[Optional[str]] = mapped_column(String(50))\n"
            "    email: Mapped[str] = mapped_column()\n"
            "    bio: Mapped[str] = mapped_column(\n        Text,\n    )\n",
        ),
        Example(
            "from typing import Annotated, Optional\n"
            "str_opt = Annotated[Optional[str], mapped_column(String(30))]\n",
            path="types.py",
            files={"models.py": HEAD + "from types import str_opt\n"
                   "class Tag(Base):\n    __tablename__ = 'tags'\n"
                   "    id: Mapped[int] = mapped_column(primary_key=True)\n"
                   "    label: Mapped[str_opt] = mapped_column(nullable=False)\n"},
            note="reported in models.py, through an Annotated alias defined in another file",
        ),
    ]

    def check(self, project) -> Iterable[Finding]:
        index = project.get("models")
        seen = set()
        sti_only = _single_table_columns(index)
        for cls in index.all_classes:
            for c in cls.columns.values():
                key = (c.relpath, c.line)
                if key in seen or not c.mapped or c.nullable is None or c.optional is None:
                    continue
                if c.python_type in OPEN_TYPES or c.use_existing:
                    seen.add(key)  # Mapped[Any]/Mapped[None]: no claim; use_existing_column: declared elsewhere
                    continue
                if key in sti_only:
                    continue  # a single-table-inheritance subclass column must be NULL for its siblings' rows
                seen.add(key)
                if c.optional and c.nullable is False:
                    if c.server_default or c.default or c.identity or c.computed or c.primary_key:
                        continue
                    yield self.finding(
                        c.relpath, c.line, c.col,
                        f"{cls.name}.{c.attr} is Mapped[Optional[...]] but nullable=False",
                        end_line=c.end_line,
                    )
                elif not c.optional and c.nullable is True and not c.primary_key:
                    yield self.finding(
                        c.relpath, c.line, c.col,
                        f"{cls.name}.{c.attr} is Mapped[{c.python_type or '...'}] (not Optional) but nullable=True",
                        end_line=c.end_line,
                    )

    def fix(self, site):
        """The annotation follows nullable= (what the database has), and nullable= goes."""
        import libcst as cst

        from dbagents.check.fix.site import keyword, without_keyword

        node = site.node(cst.AnnAssign)
        call = node.value if node is not None else None
        mapped = node.annotation.annotation if node is not None else None
        if not (isinstance(call, cst.Call) and keyword(call, "nullable") is not None and isinstance(mapped, cst.Subscript)
                and len(mapped.slice) == 1 and isinstance(mapped.slice[0].slice, cst.Index)):
            return None
        inner = mapped.slice[0].slice.value
        quoted = isinstance(inner, cst.SimpleString)  # Mapped['Optional[str]']: the same change inside the string
        try:
            written = cst.parse_expression(inner.evaluated_value) if quoted else inner
        except cst.ParserSyntaxError:
            return None
        imports: tuple = ()
        if "but nullable=True" in site.finding.message:
            optional = site.imported_as("typing", "Optional") or (
                f"{site.module_alias('typing')}.Optional" if site.module_alias("typing") else None)
            if optional is None:
                if "Optional" in site.view.names:
                    return None
                optional, imports = "Optional", (("typing", "Optional"),)
            new_inner = cst.parse_expression(f"{optional}[{cst.Module([]).code_for_node(written)}]")
        else:
            new_inner = _without_none(written, cst)
            if new_inner is None:
                return None
        if quoted:
            code = cst.Module([]).code_for_node(new_inner)
            if inner.quote in code or inner.prefix:
                return None
            new_inner = cst.SimpleString(f"{inner.quote}{code}{inner.quote}")
        annotation = node.annotation.with_deep_changes(mapped.slice[0].slice, value=new_inner)
        new = node.with_changes(annotation=annotation, value=without_keyword(call, "nullable"))
        return site.edit(node, new, imports=imports)


def _without_none(node, cst):
    """X for Optional[X], X | None, None | X, Union[X, None]; None when the annotation is spelled otherwise."""
    from dbagents.check.fix.site import dotted

    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
        sides = [node.left, node.right]
        rest = [s for s in sides if not (isinstance(s, cst.Name) and s.value == "None")]
        return rest[0] if len(rest) == 1 else None
    if isinstance(node, cst.Subscript) and len(node.slice) >= 1:
        name = dotted(node.value).rpartition(".")[2]
        items = [e.slice.value for e in node.slice if isinstance(e.slice, cst.Index)]
        if name == "Optional" and len(items) == 1:
            return items[0]
        if name == "Union":
            rest = [i for i in items if not (isinstance(i, cst.Name) and i.value == "None")]
            return rest[0] if len(rest) == 1 and len(items) == 2 else None
    return None
