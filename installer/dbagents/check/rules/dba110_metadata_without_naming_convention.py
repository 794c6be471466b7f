"""DBA110: MetaData (explicit or implied by the declarative base) without a naming_convention."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

CONVENTION = (
    "NAMING = {'ix': 'ix_%(column_0_label)s', 'uq': 'uq_%(table_name)s_%(column_0_name)s',\n"
    "    'ck': 'ck_%(table_name)s_%(constraint_name)s',\n"
    "    'fk': 'fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s', 'pk': 'pk_%(table_name)s'}\n"
)


class MetaDataWithoutNamingConvention(ProjectRule):
    id = "DBA110"
    name = "metadata-without-naming-convention"
    groups = ("models", "migrations")
    severity = Severity.INFO
    summary = "MetaData() without naming_convention (also the implicit one of DeclarativeBase/declarative_base())."
    hint = ("MetaData(naming_convention={'ix': 'ix_%(column_0_label)s', 'uq': …, "
            "'ck': 'ck_%(table_name)s_%(constraint_name)s', 'fk': …, 'pk': 'pk_%(table_name)s'}); "
            "then name constraints in migrations with op.f('…')")
    doc = """
## What it does
Reports, at module or class level (outside Alembic revision files): `MetaData()` without a
`naming_convention=`; a `DeclarativeBase` subclass without a `metadata = MetaData(naming_convention=...)`
attribute; `declarative_base()`, `registry()` and Flask-SQLAlchemy's `SQLAlchemy()` without `metadata=`.
Nothing is reported when the project assigns `metadata.naming_convention` elsewhere.

## Why is this bad
Without a convention, PostgreSQL invents names for unique, check and foreign key constraints
(`users_email_key`, `orders_customer_id_fkey`). Alembic autogenerate then emits `None` as the name, so
dropping or altering the constraint in a later migration needs the server-generated name — which differs
between databases created at different times — and `batch` migrations fail outright.

## Example
```python
class Base(DeclarativeBase):
    pass
```

## Fix
```python
class Base(DeclarativeBase):
    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })
```
Once env.py passes this MetaData as `target_metadata`, Alembic applies the convention to `op.create_*` names
as well: with the `ck` pattern above, `op.create_check_constraint("ck_users_age", ...)` creates
`ck_users_ck_users_age`. Write hand-made names as `op.f("ck_users_age")` (final, as autogenerate does), so raw
SQL such as `VALIDATE CONSTRAINT ck_users_age` names the constraint that exists.
"""
    valid = [
        Example(
            "from sqlalchemy import MetaData\nfrom sqlalchemy.orm import DeclarativeBase\n" + CONVENTION
            + "class Base(DeclarativeBase):\n    metadata = MetaData(naming_convention=NAMING)\n"
            "def reflect(engine):\n    md = MetaData()\n    md.reflect(engine)\n",
            note="a MetaData() inside a function (reflection) is not reported",
        ),
        Example(
            "revision = 'a1'\ndown_revision = None\n"
            "def upgrade():\n    pass\n"
            "meta = sa.MetaData()\n",
            path="versions/a1_init.py",
        ),
    ]
    invalid = [
        Example("from sqlalchemy.orm import DeclarativeBase\nclass Base(DeclarativeBase):\n    pass\n", lines=(2,)),
        Example("from sqlalchemy import MetaData\nmetadata = MetaData(schema='app')\n", lines=(2,)),
        Example("from flask_sqlalchemy import SQLAlchemy\ndb = SQLAlchemy()\n", lines=(2,)),
    ]

    def check(self, project) -> Iterable[Finding]:
        index = project.get("models")
        if index.sets_naming:
            return
        migrations = {rel for rel, f in project.module_facts("models") if f.migration}
        for relpath, call in index.metadata_calls:
            if call.naming or not call.top or relpath in migrations or call.dialect:
                continue
            if call.func == "SQLAlchemy" and not call.flask:
                continue
            what = "MetaData()" if call.func == "MetaData" else f"{call.func}() without metadata="
            yield self.finding(relpath, call.line, call.col,
                               f"{what} has no naming_convention; constraints get server-generated names",
                               end_line=call.end_line)
        for cls in index.roots:
            if cls.family != "declarative" or cls.has_metadata:
                continue
            yield self.finding(
                cls.relpath, cls.line, cls.col,
                f"{cls.name} uses the implicit MetaData() of DeclarativeBase, which has no naming_convention",
                hint="add `metadata = MetaData(naming_convention={...})` to the class body",
            )
