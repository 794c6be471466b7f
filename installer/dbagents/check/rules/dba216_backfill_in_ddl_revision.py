"""DBA216: a data backfill in a revision that also changes the schema; a migration importing app models."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts._alembic_checks import FILES, LOCKING_SQL, PATH, locks_existing_table, revision_file
from dbagents.check.project_settings import settings_doc
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

# Libraries a migration legitimately imports names from, even from a module called `models`.
LIBRARY_ROOTS = {
    "alembic", "sqlalchemy", "sqlmodel", "sqlalchemy_utils", "geoalchemy2", "alembic_utils", "sqlalchemy_json",
    "typing", "typing_extensions", "__future__", "datetime", "uuid", "enum", "json", "os", "re", "textwrap",
    "django", "flask_sqlalchemy", "pydantic",
}


def _model_classes(project) -> set[str]:
    try:
        models = project.get("models")
    except KeyError:
        return set()
    try:
        return {name for name, cls in models.classes.items() if getattr(cls, "tablename", None)}
    except AttributeError:
        return set()


class BackfillInDdlRevision(ProjectRule):
    id = "DBA216"
    name = "backfill-in-ddl-revision"
    revision_files_only = True
    groups = ("migrations",)
    severity = Severity.WARNING
    summary = "A revision backfills rows while holding DDL locks, or imports the application's models."
    hint = "move the backfill to its own revision (batched), and copy the table shape into the migration"
    doc = """
## What it does
Reports an `UPDATE` (raw SQL in `op.execute()`, `sa.update()`/`table.update()`, or `query(…).update()`)
that runs after DDL in the same `upgrade()` transaction has locked an existing table, and imports of the
application's ORM models into a revision script (a module path containing `models`, or a name that is a
mapped class of the checked project).

## Why is this bad
Alembic runs the whole revision in one transaction, so the locks taken by the DDL are held while the
`UPDATE` rewrites every row — the table is unavailable for the whole backfill. An `UPDATE` *before* any
lock-taking DDL (backfill, then `SET NOT NULL` / add the constraint) is the recommended order and is not
reported; neither is DDL inside `autocommit_block()`. And a migration that imports
today's models runs against tomorrow's code: when a model changes later, old revisions break or silently do
something different.

## Example
```python
from myapp.models import User

def upgrade():
    op.add_column("users", sa.Column("plan", sa.Text()))
    op.execute("UPDATE users SET plan = 'free'")
```

## Fix
Add the column in one revision; backfill in a separate revision (or a script) in batches; declare the
table the migration needs with `sa.table("users", sa.column("plan"))` instead of importing the model.
""" + settings_doc("DBA216")
    valid = [
        Example(revision_file("    users = sa.table(\"users\", sa.column(\"plan\"))\n"
                              "    op.execute(users.update().values(plan=\"free\"))\n"), path=PATH, files=FILES,
                note="a data-only revision"),
        Example(revision_file('    op.create_table("plans", sa.Column("id", sa.Integer()))\n'
                              "    op.execute(\"UPDATE users SET plan_id = 1\")\n"), path=PATH, files=FILES,
                note="DDL only on a new table"),
        Example(revision_file("    op.execute(\"UPDATE users SET plan = 'free' WHERE plan IS NULL\")\n"
                              '    op.alter_column("users", "plan", nullable=False)\n'), path=PATH, files=FILES,
                note="backfill, then enforce"),
    ]
    invalid = [
        Example(revision_file('    op.add_column("users", sa.Column("plan", sa.Text()))\n'
                              "    op.execute(\"UPDATE users SET plan = 'free'\")\n"), path=PATH, files=FILES,
                lines=(11,)),
        Example(revision_file("    op.execute(\"ALTER TABLE users ADD COLUMN plan text; "
                              "UPDATE users SET plan = 'free'\")\n"
                              "    users = sa.table(\"users\", sa.column(\"plan\"))\n"
                              "    op.execute(users.update().values(plan=\"pro\"))\n"), path=PATH, files=FILES,
                lines=(10, 12)),
        Example(revision_file('    op.add_column("users", sa.Column("plan", sa.Text()))\n',
                              header='"""change"""\nimport sqlalchemy as sa\nfrom alembic import op\n'
                                     'from myapp.models import User\n\nrevision = "a1b2c3"\n'
                                     'down_revision = "0f9e8d"\n\n'),
                path=PATH, files=FILES, lines=(4,)),
    ]

    def _backfills_under_lock(self, rev) -> Iterable[Finding]:
        """UPDATEs that run after DDL in the same transaction has locked an existing table (in upgrade() order).
        An UPDATE before any such DDL is the recommended backfill-then-enforce and holds no DDL lock."""
        locked = False
        for op in rev.upgrade_ops():
            if not op.pg or op.autocommit:
                continue
            if op.name != "execute":
                if op.data_change and locked:
                    yield self._backfill(rev, op)
                locked = locked or locks_existing_table(rev, op)
                continue
            if not op.actions:  # an update built in Python (sa.update(), query().update())
                if op.data_change and locked:
                    yield self._backfill(rev, op)
                continue
            reported = False
            for action in op.actions:
                if action.kind == "update" and locked and not reported:
                    reported = True
                    yield self._backfill(rev, op)
                elif action.kind in LOCKING_SQL and not action.concurrently and not rev.is_new_table(action.table):
                    locked = True

    def _backfill(self, rev, op) -> Finding:
        return self.finding(
            rev.relpath, op.line, op.col,
            "backfill UPDATE after DDL that locked an existing table in the same transaction: the lock is held "
            "until every row is updated",
            end_line=op.end_line,
        )

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        classes: set[str] | None = None
        for env, rev in graph.all_revisions():
            if env.pg:
                yield from self._backfills_under_lock(rev)
            for module, names, line in rev.imports:
                root = module.lstrip(".").split(".")[0]
                if root in LIBRARY_ROOTS:
                    continue
                last = module.lstrip(".").split(".")[-1]
                if classes is None:
                    classes = _model_classes(project)
                if classes:
                    mapped = [n for n in names if n in classes]
                else:  # no model facts: CamelCase names from a `…models` module
                    mapped = [n for n in names if last in ("models", "model") and n[:1].isupper() and not n.isupper()]
                whole_module = not names and last in ("models", "model")
                if mapped or whole_module:
                    what = ", ".join(mapped[:3]) if mapped else module
                    yield self.finding(
                        rev.relpath, line, 1,
                        f"revision imports application models ({what}); it will run against whatever the models "
                        "look like later",
                        hint="declare what the migration needs with sa.table()/sa.column() inside the revision",
                    )
