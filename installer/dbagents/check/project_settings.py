"""Project facts that live outside the code, applied to findings in one place (not in each rule).

- `migrations-start-after` / `--since-revision`: findings of the migration rules (DBA2xx) on revisions at or
  before the cut-off are dropped; graph rules (DBA213) still judge the whole graph.
- `lock-timeout = "role" | "database" | "pgoptions"`: lock_timeout is set outside the code, so DBA211 is satisfied.
- `migrations-run = "offline"`: migrations run with the application stopped; lock rules become info.
- `dialect` other than "postgresql": the PostgreSQL lock rules (and CONCURRENTLY, the 63-byte limit) are off.

Each affected rule's doc says how these settings change it (tests/test_adopt_settings.py holds them to it).
"""

from __future__ import annotations

import dataclasses

from dbagents.findings import Finding, Severity

# Rules whose harm is a lock held on a live table while the application runs.
LOCK_RULES = frozenset({"DBA202", "DBA204", "DBA205", "DBA206", "DBA207", "DBA211", "DBA217", "DBA219"})
# Rules that only make sense on PostgreSQL: the lock rules, CONCURRENTLY in a transaction, the 63-byte names.
POSTGRES_RULES = LOCK_RULES | {"DBA203", "DBA218"}
# Migration rules that judge the graph itself, not one revision's content: they ignore the cut-off.
GRAPH_RULES = frozenset({"DBA213"})
# Which setting touches which rule (for the docs test and `dbagents rule`).
SETTINGS_OF = {
    "migrations-start-after": "every DBA2xx rule except " + ", ".join(sorted(GRAPH_RULES)),
    "lock-timeout": "DBA211",
    "migrations-run": ", ".join(sorted(LOCK_RULES)),
    "dialect": ", ".join(sorted(POSTGRES_RULES)),
}


def is_migration_rule(rule_id: str) -> bool:
    return rule_id.startswith("DBA2") and rule_id not in GRAPH_RULES


def apply_settings(findings: list[Finding], project) -> list[Finding]:
    """Drop or downgrade findings as the project's settings say; the rules' own output is untouched (cached)."""
    config = project.config
    drop: set[str] = set()
    if config.dialect != "postgresql":
        drop |= POSTGRES_RULES
    if config.lock_timeout != "code":
        drop.add("DBA211")
    history: set[str] = set()
    if config.migrations_start_after and any(is_migration_rule(f.rule_id) for f in findings):
        history = project.get("alembic").history
    elif config.migrations_start_after:
        project.get("alembic")  # an unknown revision is still an error, whatever this run reports
    out = []
    for f in findings:
        if f.rule_id in drop:
            continue
        if history and f.path in history and is_migration_rule(f.rule_id):
            continue
        if config.migrations_run == "offline" and f.rule_id in LOCK_RULES and f.severity > Severity.INFO:
            f = dataclasses.replace(f, severity=Severity.INFO)
        out.append(f)
    return out


def settings_doc(rule_id: str) -> str:
    """The "## Project settings" section of a migration rule's doc: how each setting changes this rule."""
    lines = []
    if rule_id in GRAPH_RULES:
        lines.append("- `migrations-start-after` / `--since-revision` do not apply: the graph is judged whole, "
                     "history included.")
    else:
        lines.append('- `migrations-start-after = "REV"` (or `--since-revision REV`): revisions at or before REV in '
                     "the revision graph are history and are not judged.")
    if rule_id == "DBA219":
        lines.append("  A constraint added NOT VALID by a history revision was committed long ago, so validating it "
                     "later is not reported either.")
    if rule_id == "DBA211":
        lines.append('- `lock-timeout = "role"` (or `"database"`, `"pgoptions"`): lock_timeout is set outside the '
                     "code (ALTER ROLE/DATABASE … SET, PGOPTIONS), so this rule is satisfied and reports nothing.")
    if rule_id in LOCK_RULES:
        lines.append('- `migrations-run = "offline"`: migrations run with the application stopped, so nothing '
                     "waits on the lock; reported as info.")
    if rule_id in POSTGRES_RULES:
        lines.append('- `dialect = "sqlite"` (or `"mysql"`, any dialect but `"postgresql"`): PostgreSQL-only, so off.')
    return ("\n## Project settings\nSet in `[tool.dbagents]` (see the README, \"Adopting dbagents on an existing "
            "project\"):\n" + "\n".join(lines) + "\n")
