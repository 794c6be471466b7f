"""DBA212: a revision whose downgrade() is missing, empty or raises cannot be rolled back."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts._alembic_checks import FILES, PATH, revision_file
from dbagents.check.project_settings import settings_doc
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

KINDS = {
    "missing": "has no downgrade()",
    "pass": "has an empty downgrade()",
    "raise": "has a downgrade() that only raises",
}


class DowngradeMissing(ProjectRule):
    id = "DBA212"
    name = "downgrade-missing"
    groups = ("migrations",)
    severity = Severity.WARNING
    summary = "A revision that changes something cannot be rolled back: downgrade() is missing, empty or raises."
    hint = "write the reverse operations in downgrade(), or add `# noqa: DBA212` where it is irreversible by design"
    doc = """
## What it does
Reports revision scripts whose `upgrade()` does something but whose `downgrade()` is missing, is only
`pass` / a docstring / `...`, or only raises (typically `NotImplementedError`). Empty revisions and merge
points with nothing in either direction are fine.

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
    ]

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        for _env, rev in graph.all_revisions():
            if rev.downgrade_kind not in KINDS or rev.upgrade_empty:
                continue
            line = rev.downgrade_line or rev.upgrade_line or rev.line
            yield self.finding(
                rev.relpath, line, 1,
                f"revision {rev.revision} {KINDS[rev.downgrade_kind]}, so it cannot be rolled back",
            )
