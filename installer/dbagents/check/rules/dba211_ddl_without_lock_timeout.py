"""DBA211: lock-taking DDL with no lock_timeout/statement_timeout in force: none set in the revision or env.py, or
one set with SET LOCAL that a commit (autocommit_block(), one transaction per revision) has already ended."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts._alembic_checks import (
    ENV_PY_LOCAL_TIMEOUT,
    ENV_PY_TIMEOUT,
    FILES_NO_TIMEOUT,
    INI,
    PATH,
    env_script,
    first_commit_line,
    locks_existing_table,
    revision_file,
)
from dbagents.check.project_settings import settings_doc
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

SESSION_HINT = ("set it for the whole migration session: connect_args={\"options\": \"-c lock_timeout=5s\"} in "
                "env.py, a plain SET committed before context.configure(), or ALTER ROLE ... SET lock_timeout")
AUTOCOMMIT_REVISION = (
    "    op.execute(\"SET LOCAL lock_timeout = '5s'\")\n"
    "    with op.get_context().autocommit_block():\n"
    "        op.create_index(\"ix_orders_note\", \"orders\", [\"note\"], postgresql_concurrently=True)\n"
    "    op.add_column(\"orders\", sa.Column(\"note2\", sa.Text()))\n"
)


class DdlWithoutLockTimeout(ProjectRule):
    id = "DBA211"
    name = "ddl-without-lock-timeout"
    revision_files_only = True
    groups = ("migrations",)
    severity = Severity.WARNING
    summary = ("A revision takes strong locks on existing tables with no lock_timeout in force (none set, or a "
               "SET LOCAL one that autocommit_block() or a per-revision commit already ended).")
    hint = ("op.execute(\"SET LOCAL lock_timeout = '5s'\") at the top of upgrade() (no autocommit_block() after "
            "it), or once in env.py for the session: connect_args={\"options\": \"-c lock_timeout=5s\"}")
    fixable = "sometimes"
    doc = """
## What it does
Reports a revision whose `upgrade()` runs DDL that locks an existing table (add/alter/drop column, plain
index builds, constraints, validation, renames, drops — via `op.*` or recognised `op.execute()` SQL) while no
`lock_timeout` or `statement_timeout` is in force:
- neither the revision nor the environment's env.py (or alembic.ini) sets one;
- the only one is a `SET LOCAL` (or `set_config(..., true)`) and the DDL runs after an
  `op.get_context().autocommit_block()` (or an explicit COMMIT): the commit ended the setting, so the DDL
  inside and after the block runs with `lock_timeout = 0`;
- env.py sets it with `SET LOCAL` and `transaction_per_migration=True`: each revision commits, so the setting
  covers only the first revision of a run.
One finding per revision, on its first unprotected operation.

## Why is this bad
`ALTER TABLE` must wait for every transaction touching the table to finish. While it waits in the lock
queue, every new query on that table queues behind it — one long-running report can turn a millisecond
migration into an outage. A `lock_timeout` makes the migration fail fast instead; you retry it later. A
`SET LOCAL` lasts only until the transaction commits, and `autocommit_block()` commits — silently.

## Example
```python
def upgrade():
    op.add_column("orders", sa.Column("note", sa.Text()))

def upgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    with op.get_context().autocommit_block():
        op.create_index("ix_orders_note", "orders", ["note"], postgresql_concurrently=True)
    op.add_column("orders", sa.Column("note2", sa.Text()))  # lock_timeout is 0 again here
```

## Fix
```python
def upgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column("orders", sa.Column("note", sa.Text()))
```
or once for every migration, for the whole session, in env.py:
`engine_from_config(..., connect_args={"options": "-c lock_timeout=5s -c statement_timeout=5min"})`
(or `connection.exec_driver_sql("SET lock_timeout = '5s'")` then `connection.commit()` before
`context.configure()`, or `ALTER ROLE migrator SET lock_timeout = '5s'`).

`dbagents check --fix` puts `op.execute("SET LOCAL lock_timeout = '5s'")` first in `upgrade()` of a revision that
has not shipped and sets none — a plain `SET lock_timeout` (for the session) when `upgrade()` uses an
autocommit block, whose commit would end a `SET LOCAL`. A timeout that a commit ended, or one that only env.py
sets, is left to you.
""" + settings_doc("DBA211")
    valid = [
        Example(revision_file('    op.execute("SET LOCAL lock_timeout = \'5s\'")\n'
                              '    op.add_column("orders", sa.Column("note", sa.Text()))\n'),
                path=PATH, files=FILES_NO_TIMEOUT),
        Example(revision_file('    op.add_column("orders", sa.Column("note", sa.Text()))\n'),
                path=PATH, files={"alembic.ini": INI, "migrations/env.py": ENV_PY_TIMEOUT},
                note="env.py sets it for every migration"),
        Example(revision_file(AUTOCOMMIT_REVISION), path=PATH,
                files={"alembic.ini": INI, "migrations/env.py": ENV_PY_TIMEOUT},
                note="env.py's session-level SET survives the autocommit block"),
        Example(revision_file('    with op.get_context().autocommit_block():\n'
                              '        op.create_index("ix_o_n", "orders", ["note"], postgresql_concurrently=True)\n'
                              '    op.execute("SET LOCAL lock_timeout = \'5s\'")\n'
                              '    op.add_column("orders", sa.Column("note2", sa.Text()))\n'),
                path=PATH, files=FILES_NO_TIMEOUT, note="SET LOCAL after the block protects what follows"),
        Example(revision_file('    op.create_table("notes", sa.Column("id", sa.Integer()))\n'
                              '    op.create_index("ix_notes_id", "notes", ["id"])\n'),
                path=PATH, files=FILES_NO_TIMEOUT, note="only a new table is locked"),
    ]
    invalid = [
        Example(revision_file('    op.add_column("orders", sa.Column("note", sa.Text()))\n'
                              '    op.drop_column("orders", "old_note")\n'),
                path=PATH, files=FILES_NO_TIMEOUT, lines=(10,),
                fixed=revision_file('    op.execute("SET LOCAL lock_timeout = \'5s\'")\n'
                                    '    op.add_column("orders", sa.Column("note", sa.Text()))\n'
                                    '    op.drop_column("orders", "old_note")\n')),
        Example(revision_file('    """Defaults."""\n'
                              '    with op.get_context().autocommit_block():\n'
                              '        op.create_index("ix_o_n", "orders", ["note"], postgresql_concurrently=True)\n'
                              '    op.execute("ALTER TABLE orders ALTER COLUMN note SET DEFAULT \'\'")\n'),
                path=PATH, files=FILES_NO_TIMEOUT, lines=(13,),
                fixed=revision_file('    """Defaults."""\n'
                                    '    op.execute("SET lock_timeout = \'5s\'")\n'
                                    '    with op.get_context().autocommit_block():\n'
                                    '        op.create_index("ix_o_n", "orders", ["note"], postgresql_concurrently=True)\n'
                                    '    op.execute("ALTER TABLE orders ALTER COLUMN note SET DEFAULT \'\'")\n'),
                note="an autocommit block would end a SET LOCAL: the fix sets it for the session"),
        Example(revision_file(AUTOCOMMIT_REVISION), path=PATH, files=FILES_NO_TIMEOUT, lines=(13,),
                note="the autocommit block ended the revision's SET LOCAL"),
        Example(revision_file('    with op.get_context().autocommit_block():\n'
                              '        op.execute("ALTER TABLE orders VALIDATE CONSTRAINT ck_orders_note")\n'),
                path=PATH, files={"alembic.ini": INI, "migrations/env.py": ENV_PY_LOCAL_TIMEOUT}, lines=(11,),
                note="env.py's SET LOCAL does not reach into the autocommit block"),
        Example(revision_file('    op.add_column("orders", sa.Column("note", sa.Text()))\n'), path=PATH,
                files={"alembic.ini": INI, "migrations/env.py": ENV_PY_LOCAL_TIMEOUT.replace(
                    "target_metadata=target_metadata)",
                    "target_metadata=target_metadata, transaction_per_migration=True)")},
                lines=(10,), note="SET LOCAL in env.py covers only the first revision of a run"),
    ]

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        scripts = {}
        for env, rev in graph.all_revisions():
            if not env.pg:
                continue
            locking = [op for op in rev.upgrade_ops() if op.pg and locks_existing_table(rev, op)]
            if not locking:
                continue
            if env.name not in scripts:
                scripts[env.name] = env_script(project, env)
            script = scripts[env.name]
            env_local = bool(env.timeout_source) and script is not None and env.timeout_source.startswith(
                script.relpath + ":") and getattr(script, "timeout_local", False)
            if not rev.timeout_line and not env.timeout_source:
                first = locking[0]
                yield self.finding(
                    rev.relpath, first.line, first.col,
                    f"{first.name}() locks an existing table but no lock_timeout/statement_timeout is set "
                    "in this revision or env.py; a blocked lock queues all traffic behind it",
                    end_line=first.end_line,
                )
                continue
            if env.timeout_source and not env_local:
                continue  # a session-level setting in env.py or alembic.ini holds for the whole run
            if rev.timeout_line and not getattr(rev, "timeout_local", False):
                continue  # a session-level SET in the revision
            where = f"line {rev.timeout_line}" if rev.timeout_line else env.timeout_source
            commit = first_commit_line(rev, rev.timeout_line)
            exposed = next((op for op in locking if commit and op.line >= commit), None)
            if exposed is not None:
                yield self.finding(
                    rev.relpath, exposed.line, exposed.col,
                    f"{exposed.name}() runs after autocommit_block() committed, which ended the SET LOCAL "
                    f"lock_timeout ({where}): it waits for its lock with no timeout",
                    hint=SESSION_HINT, end_line=exposed.end_line,
                )
            elif not rev.timeout_line and script is not None and script.transaction_per_migration:
                first = locking[0]
                yield self.finding(
                    rev.relpath, first.line, first.col,
                    f"{first.name}() relies on env.py's SET LOCAL lock_timeout ({where}), but with "
                    "transaction_per_migration=True each revision commits: only the first revision of a run "
                    "has the timeout",
                    hint=SESSION_HINT, end_line=first.end_line,
                )

    def fix(self, site):
        """SET [LOCAL] lock_timeout as the first statement of upgrade() (after its docstring)."""
        import libcst as cst

        if "no lock_timeout/statement_timeout is set" not in site.finding.message:
            return None  # a timeout a commit ended, or env.py's: the session setting belongs in env.py
        node = site.node(cst.BaseSmallStatement, cst.BaseExpression)
        fn = next((a for a in site.ancestors(node) if isinstance(a, cst.FunctionDef)), None) if node else None
        if fn is None or fn.name.value != "upgrade" or site.imported_as("alembic", "op") != "op":
            return None
        if not isinstance(fn.body, cst.IndentedBlock) or not fn.body.body:
            return None
        local = "" if "autocommit_block" in site.code(fn) else "LOCAL "
        setting = cst.parse_statement(f"op.execute(\"SET {local}lock_timeout = '5s'\")\n")
        first = fn.body.body[0]
        docstring = isinstance(first, cst.SimpleStatementLine) and isinstance(first.body[0], cst.Expr) and isinstance(
            first.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
        new = [first, setting] if docstring else [setting, first]
        return site.edit(first, new)
