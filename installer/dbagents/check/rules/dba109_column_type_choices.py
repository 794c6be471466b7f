"""DBA109 (opt-in): JSON instead of JSONB, CHAR, length-limited String, native Enum."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

HEAD = "from sqlalchemy.orm import DeclarativeBase\nclass Base(DeclarativeBase):\n    pass\n"


def _complaint(c) -> tuple[str, str] | None:
    ref = c.type
    if ref is None or c.type_source not in ("explicit", "annotated"):
        return None
    kind = c.sql_type
    if kind == "JSON":
        return "JSON stores text and cannot be indexed with GIN", "use postgresql.JSONB"
    if kind in ("CHAR", "NCHAR"):
        return "CHAR(n) pads with spaces and compares surprisingly", "use Text (with a CHECK on length if needed)"
    if kind in ("String", "VARCHAR", "Unicode", "NVARCHAR") and ref.called and (
            ref.args and isinstance(ref.args[0], int) or isinstance(ref.kw("length"), int)):
        return (f"{kind}(n) is a length limit that needs ACCESS EXCLUSIVE to change",
                "use Text/String() and a CHECK constraint when a limit matters")
    if kind == "Enum" and ref.kw("native_enum") is not False:
        return ("a native Enum type needs ALTER TYPE for every new value and cannot drop values",
                "use Enum(..., native_enum=False) with a CHECK, or a lookup table")
    return None


class ColumnTypeChoices(ProjectRule):
    id = "DBA109"
    name = "column-type-choices"
    groups = ("models", "schema")
    severity = Severity.INFO
    default_enabled = False
    summary = "Opt-in: JSON instead of JSONB, CHAR, String(n) length limits, native Enum types."
    hint = "prefer JSONB, Text with CHECK constraints, and non-native enums (native_enum=False)"
    doc = """
## What it does
Opt-in (select it with `--select DBA109`). Reports column types that are a matter of taste but often
regretted on PostgreSQL: `JSON` (not `JSONB`), `CHAR(n)`, `String(n)`/`VARCHAR(n)` with a length and native
`Enum(...)` types (without `native_enum=False`). Only explicit types (or types from an `Annotated` alias)
are reported.

## Why is this bad
`json` keeps the raw text, has no equality operator and no GIN indexing. `char(n)` pads with spaces.
A `varchar(n)` limit buys nothing over `text` in PostgreSQL, and widening it in older versions or adding a
check later takes locks. Native enum types cannot drop or reorder values and adding one needs its own
migration step.

## Example
```python
payload = mapped_column(JSON)
code = mapped_column(CHAR(3))
status = mapped_column(Enum(Status))
```

## Fix
```python
payload = mapped_column(postgresql.JSONB)
code = mapped_column(Text, CheckConstraint("length(code) = 3"))
status = mapped_column(Enum(Status, native_enum=False, length=20))
```
"""
    valid = [
        Example(
            HEAD + "class Doc(Base):\n    __tablename__ = 'docs'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    body = mapped_column(postgresql.JSONB)\n"
            "    title: Mapped[str] = mapped_column(Text)\n"
            "    state = mapped_column(Enum(State, native_enum=False))\n"
        ),
    ]
    invalid = [
        Example(
            HEAD + "class Doc(Base):\n    __tablename__ = 'docs'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    body = mapped_column(JSON)\n"
            "    code = mapped_column(CHAR(3))\n"
            "    title: Mapped[str] = mapped_column(String(200))\n"
            "    state = mapped_column(sa.Enum(State))\n",
            lines=(7, 8, 9, 10),
        ),
    ]

    def check(self, project) -> Iterable[Finding]:
        index = project.get("models")
        for t, c in index.unique_columns():
            found = _complaint(c)
            if found is None:
                continue
            why, fix = found
            yield self.finding(c.relpath, c.line, c.col, f"{t.name}.{c.name}: {why}", hint=fix,
                               end_line=c.end_line, obj=f"{t.name}.{c.name}")
