"""Scratch-database run of the Alembic chain (`dbagents check migrations --scratch`).

`start_scratch_server()` gives a throwaway PostgreSQL (pgserver or local binaries), always removed afterwards;
`run_scratch(project_root)` runs the project's env.py and migrations on it in a subprocess of the project's own
interpreter and returns
DBA213 (heads, failing upgrade), DBA214 (models vs. migrated schema), DBA215 (downgrade/upgrade consistency)
and the live DBA3xx findings on the migrated schema.
"""

from __future__ import annotations

from dbagents.findings import RuleInfo, Severity
from dbagents.scratch.runner import ScratchError, run_scratch
from dbagents.scratch.settings import ScratchSettings
from dbagents.scratch.server import ScratchServer, start_scratch_server

SCRATCH_RULES: dict[str, RuleInfo] = {
    "DBA214": RuleInfo(
        "DBA214",
        "models-match-migrations",
        "Models differ from the schema the migrations build",
        Severity.ERROR,
        "## What it does\n\nBuilds an empty scratch database, upgrades it to head with the project's own Alembic "
        "env, then runs Alembic's autogenerate comparison against the env's `target_metadata` (respecting the "
        "env's `include_object`, `compare_type` and other options). Every difference is a finding: tables, "
        "columns, indexes, constraints, nullability and types.\n\n"
        "## Why is this bad\n\nA model change without a migration works in tests that call `create_all()` and "
        "breaks in production, where only migrations shape the schema; the next autogenerate also picks up "
        "the forgotten change inside an unrelated revision.\n\n"
        "## Example\n\n```python\nclass Invoice(Base):          # no revision creates \"invoices\"\n"
        "    __tablename__ = \"invoices\"\n    id: Mapped[int] = mapped_column(primary_key=True)\n```\n\n"
        "## Fix\n\n```bash\nalembic revision --autogenerate -m \"add invoices\"   # then review the script\n```\n"
        "Types autogenerate cannot compare (some dialect types, server defaults) are not reported.",
    ),
    "DBA215": RuleInfo(
        "DBA215",
        "downgrade-restores-schema",
        "A downgrade does not restore the schema, or the upgrade cannot be replayed",
        Severity.WARNING,
        "## What it does\n\nAfter the upgrade walk (a schema snapshot before and after every revision), walks "
        "back from the top: each revision is downgraded alone and the schema compared with the snapshot taken "
        "before it; then it is upgraded again and compared with the snapshot after it, and downgraded again. "
        "A failing downgrade is reported with the line that failed.\n\n"
        "## Why is this bad\n\nA rollback that fails, or leaves a column, index or type behind, turns an "
        "incident into a second one: the re-deploy of the fixed revision then trips over the leftovers.\n\n"
        "## Example\n\n```python\ndef upgrade():\n    op.create_table(\"tags\", ...)\n"
        "    op.add_column(\"users\", sa.Column(\"tag_count\", sa.Integer()))\n\n"
        "def downgrade():\n    op.drop_table(\"tags\")        # users.tag_count is left behind\n```\n\n"
        "## Fix\n\nMake `downgrade()` undo exactly what `upgrade()` did, in reverse order:\n\n"
        "```python\ndef downgrade():\n    op.drop_column(\"users\", \"tag_count\")\n    op.drop_table(\"tags\")\n```\n",
    ),
}

__all__ = ["SCRATCH_RULES", "ScratchError", "ScratchServer", "ScratchSettings", "run_scratch", "start_scratch_server"]
