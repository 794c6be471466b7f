"""DBA212: a revision whose downgrade() is missing, empty or raises cannot be rolled back."""

from __future__ import annotations

import re
from typing import Iterable

from dbagents.check.facts._alembic_checks import FILES, PATH, revision_file
from dbagents.check.facts._alembic_model import Ref, Revision
from dbagents.check.facts._alembic_sql import actions, split_statements
from dbagents.check.project_settings import settings_doc
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

KINDS = {
    "missing": "has no downgrade()",
    "pass": "has an empty downgrade()",
    "raise": "has a downgrade() that only raises",
}
# Operations that only move data: a downgrade has nothing schema-wise to undo.
DATA_OPS = {"execute", "bulk_insert", "inline_literal"}
_SCHEMA_SQL = re.compile(r"^(?:CREATE|ALTER|DROP|COMMENT|RENAME|GRANT|REVOKE)\b", re.I)
_ENUM_ADD_VALUE = re.compile(r"^ALTER\s+TYPE\s+\S+\s+ADD\s+VALUE\b", re.I)


_TEMP_TABLE = re.compile(r"^CREATE\s+(?:GLOBAL\s+|LOCAL\s+)?TEMP(?:ORARY)?\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
                         r'"?(?P<name>[\w$]+)"?', re.I)


_TRIGGER_TOGGLE = re.compile(r"^ALTER\s+TABLE\s+(?:ONLY\s+)?(?P<table>\S+)\s+(?P<how>ENABLE|DISABLE)\s+TRIGGER\s+"
                             r"(?P<trigger>\S+)$", re.I)


def _toggle(stmt: str) -> tuple[str, str, str] | None:
    m = _TRIGGER_TOGGLE.match(stmt)
    return (m.group("table").lower(), m.group("trigger").lower(), m.group("how").upper()) if m else None


def _paired_toggles(sqls: list[str]) -> set[tuple[str, str]]:
    """(table, trigger) pairs upgrade() both disables and enables again: a pause around a data fix."""
    seen = {t for sql in sqls for t in map(_toggle, split_statements(sql)) if t}
    return {(table, trig) for table, trig, how in seen if how == "DISABLE" and (table, trig, "ENABLE") in seen}


def _changes_schema_sql(sql: str, paused: set[tuple[str, str]] = frozenset()) -> bool:
    """DDL in a raw SQL string. Not DDL for this purpose: an enum `ADD VALUE` (downgrading leaves an unused label,
    harmlessly), work on temporary tables (a scratch table, its index and its DROP inside a data fix) and a
    trigger disabled and enabled again by the same upgrade()."""
    temporary: set[str] = set()
    for stmt in split_statements(sql):
        toggle = _toggle(stmt)
        if toggle and toggle[:2] in paused:
            continue
        temp = _TEMP_TABLE.match(stmt)
        if temp:
            temporary.add(temp.group("name").lower())
            continue
        if not _SCHEMA_SQL.match(stmt) or _ENUM_ADD_VALUE.match(stmt):
            continue
        touched = [a.table for a in actions(stmt)]
        if touched and all(t in temporary for t in touched):
            continue
        return True
    return False


def _unreadable_sql(op) -> bool:
    """`op.execute(some_name)` whose SQL we cannot read (an imported DDL string): it may change the schema.
    Statements built in Python (`table.insert()`, `sa.update(t)`, `text(…)` of a variable) are data."""
    arg = op.param("sqltext")
    return op.receiver == "op" and op.sql is None and not op.data_change and isinstance(arg, Ref)


def changes_schema(rev: Revision) -> bool:
    """Does upgrade() change the schema (op.* DDL, DDL in SQL we can read or SQL we cannot, schema helpers such as
    sqlalchemy_searchable's sync_trigger)? Data-only revisions — UPDATE / INSERT / DELETE, bulk_insert, ORM
    sessions, config rows — and enum ADD VALUE are not schema changes."""
    if rev.ddl_calls:
        return True
    ops = rev.upgrade_ops()
    paused = _paired_toggles([op.sql for op in ops if op.name == "execute" and op.sql])
    for op in ops:
        if op.name not in DATA_OPS:
            return True
        if op.name != "execute":
            continue
        if _unreadable_sql(op) or (op.sql is not None and _changes_schema_sql(op.sql, paused)):
            return True
    return False


class DowngradeMissing(ProjectRule):
    id = "DBA212"
    name = "downgrade-missing"
    revision_files_only = True
    groups = ("migrations",)
    severity = Severity.WARNING
    summary = "A revision that changes the schema cannot be rolled back: downgrade() is missing, empty or raises."
    hint = "write the reverse operations in downgrade(), or add `# noqa: DBA212` where it is irreversible by design"
    doc = """
## What it does
Reports revision scripts whose `upgrade()` changes the schema (an `op.*` DDL operation, or `CREATE` / `ALTER`
/ `DROP` / `COMMENT` / `GRANT` in `op.execute()` SQL) but whose `downgrade()` is missing, is only `pass` / a
docstring / `...`, or only raises (typically `NotImplementedError`). Empty revisions and merge points are
fine, and so are data-only revisions (`UPDATE` / `INSERT` / `DELETE`, `bulk_insert`, ORM sessions,
configuration rows, a scratch temporary table, a trigger disabled and enabled again) and enum `ALTER TYPE …
ADD VALUE`: with nothing to undo in the schema they step down fine (PostgreSQL cannot drop an enum label, and
leaving an unused one is harmless) — as long as `downgrade()` exists and is empty: a data-only revision whose
`downgrade()` raises (or is missing) really stops `alembic downgrade`, and is reported. Schema changes outside
`op.*` count too: `op.execute(NAME)` with SQL from elsewhere, sqlalchemy_searchable's `sync_trigger()`,
`create_all()` and `Enum(…).create(bind)`.

## Why is this bad
When a deploy goes wrong the fastest way back is `alembic downgrade -1`. A revision without a real downgrade
stops that rollback half way, at the worst possible moment; tests that walk the history down and up
(pytest-alembic's up/down consistency) cannot run either.

## Example
```python
def upgrade():
    op.add_column("users", sa.Column("plan", sa.Text()))

def downgrade():
    pass
```

## Fix
```python
def downgrade():
    op.drop_column("users", "plan")
```
""" + settings_doc("DBA212")
    valid = [
        Example(revision_file('    op.add_column("users", sa.Column("plan", sa.Text()))\n',
                              '    op.drop_column("users", "plan")\n'), path=PATH, files=FILES),
        Example(revision_file('    pass\n', '    pass\n'), path=PATH, files=FILES, note="empty / merge revision"),
        Example(revision_file("    op.execute(\"UPDATE users SET plan = 'free' WHERE plan IS NULL\")\n"
                              '    op.bulk_insert(sa.table("plans", sa.column("name")), [{"name": "free"}])\n'),
                path=PATH, files=FILES, note="data only"),
        Example(revision_file("    bind = op.get_bind()\n"
                              "    session = sa.orm.Session(bind=bind)\n"
                              "    session.execute(sa.text(\"INSERT INTO settings (name) VALUES ('x')\"))\n"),
                path=PATH, files=FILES, note="an ORM session writing config rows"),
        Example(revision_file("    op.execute(\"ALTER TYPE status ADD VALUE IF NOT EXISTS 'paused'\")\n"), path=PATH,
                files=FILES, note="enum ADD VALUE"),
        Example(revision_file("    op.execute(\"\"\"\n"
                              "        CREATE TEMPORARY TABLE merge_map AS SELECT id, merged_into_id FROM users;\n"
                              "        CREATE INDEX ix_merge_map ON merge_map (merged_into_id);\n"
                              "        UPDATE orders o SET user_id = m.merged_into_id FROM merge_map m\n"
                              "            WHERE m.id = o.user_id;\n"
                              "        DROP TABLE merge_map;\n"
                              "    \"\"\")\n"), path=PATH, files=FILES, note="a data fix through a temporary table"),
        Example(revision_file('    op.execute("ALTER TABLE events DISABLE TRIGGER consistent_times")\n'
                              "    op.execute(\"UPDATE events SET duration = '1 minute' WHERE duration <= '0'\")\n"
                              '    op.execute("ALTER TABLE events ENABLE TRIGGER consistent_times")\n'),
                path=PATH, files=FILES, note="a trigger paused around a data fix"),
    ]
    invalid = [
        Example(revision_file('    op.add_column("users", sa.Column("plan", sa.Text()))\n', '    pass\n'),
                path=PATH, files=FILES, lines=(13,)),
        Example(revision_file('    op.add_column("users", sa.Column("plan", sa.Text()))\n',
                              '    """Irreversible."""\n    raise NotImplementedError()\n'),
                path=PATH, files=FILES, lines=(13,)),
        Example('import sqlalchemy as sa\nfrom alembic import op\n\nrevision = "a1"\ndown_revision = None\n\n\n'
                'def upgrade():\n    op.add_column("users", sa.Column("plan", sa.Text()))\n',
                path=PATH, files=FILES, lines=(8,)),
        Example(revision_file("    op.execute(\"UPDATE users SET plan = 'free'\")\n"
                              '    op.execute("CREATE INDEX ix_users_plan ON users (plan)")\n'),
                path=PATH, files=FILES, lines=(14,), note="DDL in raw SQL"),
        Example(revision_file("    conn = op.get_bind()\n"
                              '    table = sa.Table("tag", sa.MetaData(), autoload_with=conn)\n'
                              '    sync_trigger(conn, table, "search_vector", ["name"])\n'),
                path=PATH, files=FILES, lines=(15,), note="a trigger made by sqlalchemy_searchable"),
        Example(revision_file("    op.execute(\"UPDATE users SET plan = 'free' WHERE plan IS NULL\")\n",
                              "    raise NotImplementedError()\n"),
                path=PATH, files=FILES, lines=(13,), note="data only, but the raising downgrade() stops a rollback"),
    ]

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        for _env, rev in graph.all_revisions():
            if rev.downgrade_kind not in KINDS or rev.upgrade_empty:
                continue
            if rev.downgrade_kind == "pass" and not changes_schema(rev):
                continue  # a data-only step down with an empty downgrade() runs fine
            line = rev.downgrade_line or rev.upgrade_line or rev.line
            yield self.finding(
                rev.relpath, line, 1,
                f"revision {rev.revision} {KINDS[rev.downgrade_kind]}, so it cannot be rolled back",
            )
