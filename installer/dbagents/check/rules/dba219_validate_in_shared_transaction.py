"""DBA219: a revision validates a constraint an earlier revision added NOT VALID, while env.py runs every pending
revision in one transaction (no transaction_per_migration): deployed together, the VALIDATE scan runs under the
earlier revision's strong lock."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts._alembic_checks import ENV_PY, INI, PATH, env_script, revision_file
from dbagents.check.facts._alembic_model import literal_name
from dbagents.check.project_settings import settings_doc
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

PARENT = "migrations/versions/0f9e8d_add_check.py"
PARENT_HEADER = '''"""add check"""
import sqlalchemy as sa
from alembic import op

revision = "0f9e8d"
down_revision = None


'''
ADD_NOT_VALID = revision_file(
    '    op.create_check_constraint(op.f("ck_orders_total"), "orders", "total >= 0", postgresql_not_valid=True)\n',
    header=PARENT_HEADER,
)
ADD_FK_NOT_VALID = revision_file(
    '    op.execute("ALTER TABLE orders ADD CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) '
    'REFERENCES customer (id) NOT VALID")\n',
    header=PARENT_HEADER,
)
VALIDATE = '    op.execute("ALTER TABLE orders VALIDATE CONSTRAINT ck_orders_total")\n'
ENV_PER_MIGRATION = ENV_PY.replace("target_metadata=target_metadata)",
                                   "target_metadata=target_metadata, transaction_per_migration=True)")
LOCKS = {"add_fk": "SHARE ROW EXCLUSIVE", "add_check": "ACCESS EXCLUSIVE",
         "create_foreign_key": "SHARE ROW EXCLUSIVE", "create_check_constraint": "ACCESS EXCLUSIVE"}


class ValidateInSharedTransaction(ProjectRule):
    id = "DBA219"
    name = "validate-in-shared-transaction"
    revision_files_only = True
    groups = ("migrations",)
    severity = Severity.WARNING
    summary = ("A revision validates a constraint an earlier revision added NOT VALID, but env.py runs all "
               "pending revisions in one transaction (no transaction_per_migration=True).")
    hint = ("set transaction_per_migration=True in env.py's context.configure(), or run the VALIDATE inside "
            "`with op.get_context().autocommit_block():`, or deploy the validating revision separately")
    doc = """
## What it does
Finds `ALTER TABLE … VALIDATE CONSTRAINT name` in a revision's `upgrade()` (outside `autocommit_block()`) when
another revision of the same environment added `name` with `postgresql_not_valid=True` / `NOT VALID`, and the
environment's env.py does not set `transaction_per_migration=True` (nor runs migrations in autocommit mode).
Environments whose env.py was not found are not judged.

## Why is this bad
The two-step recipe — add the constraint NOT VALID, validate it "in the next revision" — works only if the
validation runs in a *later transaction*: PostgreSQL holds every lock until commit. `alembic upgrade head`
runs all pending revisions in one transaction by default (`transaction_per_migration=False`), so when both
revisions ship in the same deploy — the usual case — the VALIDATE scans the whole table while the NOT VALID
add's lock is still held: SHARE ROW EXCLUSIVE on both tables for a foreign key (writes wait), ACCESS EXCLUSIVE
for a CHECK (reads wait too). The scan the recipe was meant to make harmless blocks traffic after all.

## Example
```python
# env.py
context.configure(connection=connection, target_metadata=target_metadata)

# revision 1
def upgrade():
    op.create_check_constraint(op.f("ck_orders_total"), "orders", "total >= 0", postgresql_not_valid=True)

# revision 2
def upgrade():
    op.execute("ALTER TABLE orders VALIDATE CONSTRAINT ck_orders_total")
```

## Fix
```python
# env.py: every revision commits (and releases its locks) before the next one starts
context.configure(connection=connection, target_metadata=target_metadata, transaction_per_migration=True)
```
or validate inside `with op.get_context().autocommit_block():`, which commits everything before it.
""" + settings_doc("DBA219")
    valid = [
        Example(revision_file(VALIDATE), path=PATH,
                files={"alembic.ini": INI, "migrations/env.py": ENV_PER_MIGRATION, PARENT: ADD_NOT_VALID}),
        Example(revision_file('    with op.get_context().autocommit_block():\n    ' + VALIDATE), path=PATH,
                files={"alembic.ini": INI, "migrations/env.py": ENV_PY, PARENT: ADD_NOT_VALID},
                note="the autocommit block commits first"),
        Example(revision_file(VALIDATE), path=PATH,
                files={"alembic.ini": INI, "migrations/env.py": ENV_PY,
                       PARENT: revision_file('    op.execute("SELECT 1")\n', header=PARENT_HEADER)},
                note="no revision here added it NOT VALID"),
    ]
    invalid = [
        Example(revision_file(VALIDATE), path=PATH, lines=(10,),
                files={"alembic.ini": INI, "migrations/env.py": ENV_PY, PARENT: ADD_NOT_VALID}),
        Example(revision_file('    op.execute("ALTER TABLE orders VALIDATE CONSTRAINT fk_orders_customer")\n'),
                path=PATH, lines=(10,),
                files={"alembic.ini": INI, "migrations/env.py": ENV_PY, PARENT: ADD_FK_NOT_VALID}),
    ]

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        for env in graph.envs:
            if not env.pg or env.autocommit:
                continue
            script = env_script(project, env)
            if script is None or script.transaction_per_migration:
                continue
            revisions = list(env.revisions.values())
            added = {}  # constraint name -> (revision, how it was added)
            for rev in revisions:
                for op in rev.upgrade_ops():
                    if op.name in ("create_foreign_key", "create_check_constraint") and op.kw_true(
                            "postgresql_not_valid"):
                        name = literal_name(op.param("constraint_name"))
                        if name:
                            added.setdefault(name, (rev, op.name))
                    for action in op.actions:
                        if action.kind in ("add_fk", "add_check") and action.not_valid and action.name:
                            added.setdefault(action.name, (rev, action.kind))
            for rev in revisions:
                for op in rev.upgrade_ops():
                    if op.autocommit or not op.pg:
                        continue
                    for action in op.actions:
                        origin = added.get(action.name) if action.kind == "validate" else None
                        if origin is None or origin[0] is rev:
                            continue  # same revision: DBA204 reports it
                        if graph.is_history(origin[0]):
                            continue  # applied long ago (migrations-start-after): never deployed together
                        earlier, how = origin
                        yield self.finding(
                            rev.relpath, op.line, op.col,
                            f"VALIDATE CONSTRAINT {action.name} relies on revision {earlier.revision} having "
                            "committed, but env.py runs all pending revisions in one transaction: deployed together, "
                            f"the scan runs under that revision's {LOCKS[how]} lock",
                            end_line=op.end_line,
                        )
                        break
