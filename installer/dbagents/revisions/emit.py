"""`--emit-revision` for `dbagents check`: gather what can become a revision, plan one, write it (or show it as a
diff with --diff), and say so on stderr."""

from __future__ import annotations

from pathlib import Path

import click

from dbagents.errors import InputError
from dbagents.reporting.paths import display_path
from dbagents.revisions import PlannedRevision, plan, write_revision

NEEDS = ("--emit-revision needs live findings (--database-url, or $DATABASE_URL with `check schema`) or --fix / "
         "--diff (model fixes need --unsafe-fixes too)")


def require_source(database_url: str | None, fixing: bool) -> None:
    """Fail before the run (exit 2) when nothing could feed a revision."""
    if not database_url and not fixing:
        raise InputError(NEEDS)


def _note(text: str) -> None:
    click.echo(f"dbagents: note: {text}", err=True)


def plan_revision(root: Path, *, findings=(), database_url: str | None = None, live_settings=None, changes=(),
                  project=None, alembic_ini: Path | None = None, alembic_name: str | None = None
                  ) -> PlannedRevision | None:
    """One revision for the live DBA301/302/303 findings (with their catalog objects) and the schema changes of
    applied fixes; notes on what was left out go to stderr. None when nothing qualified. Nothing is written."""
    from dbagents.revisions.changes import operations as change_ops
    from dbagents.revisions.live import RULES
    from dbagents.revisions.live import operations as live_ops

    ops, notes, sources = [], [], []
    live = [f for f in findings if f.rule_id in RULES and f.detail]
    if live and database_url:
        found, why = live_ops(live, database_url, live_settings)
        ops += found
        notes += why
        if found:
            sources.append("live findings (" + ", ".join(sorted({op.why.split(":", 1)[0] for op in found})) + ")")
    if changes:
        found, why = change_ops(list(changes))
        ops += found
        notes += why
        if found:
            sources.append("model fixes")
    for text in notes:
        _note(text)
    if not ops:
        _note("--emit-revision: nothing to write (no DBA301/DBA302/DBA303 finding and no schema change of an "
              "applied fix that a revision can carry)")
        return None
    origin = "`dbagents check --emit-revision` from " + " and ".join(sources)
    return plan(root, ops, origin=origin, project=project, alembic_ini=alembic_ini, alembic_name=alembic_name)


def fix_changes(fixing) -> list:
    """The schema changes of an applied fix run: unsafe model fixes, then DBA204's validations."""
    return [*fixing.schema_changes, *fixing.follow_ups]


def write_and_report(planned: PlannedRevision) -> Path:
    """Write the planned revision and tell stderr where, on what, and which steps need review."""
    path = write_revision(planned)
    shown = display_path(str(path), "/")
    steps = len(planned.operations)
    click.echo(f"dbagents: wrote revision {planned.revision} (revises {planned.down_revision or 'nothing: first'}, "
               f"{steps} step{'s' * (steps != 1)}): {shown}", err=True)
    for line_no, line in enumerate(planned.text.splitlines(), start=1):
        if "# REVIEW:" in line:
            click.echo(f"{shown}:{line_no}: review: {line.split('# REVIEW:', 1)[1].strip()}", err=True)
    return path


def new_file_diff(planned: PlannedRevision | None) -> str:
    """The planned file as a unified diff creating it (what --fix --emit-revision would write)."""
    if planned is None:
        return ""
    shown = display_path(str(planned.path), "/")  # as the fix diff shows paths (patch -p0)
    lines = planned.text.splitlines()
    body = "".join(f"+{line}\n" for line in lines)
    return f"--- /dev/null\n+++ {shown}\n@@ -0,0 +1,{len(lines)} @@\n{body}"


__all__ = ["NEEDS", "fix_changes", "new_file_diff", "plan_revision", "require_source", "write_and_report"]
