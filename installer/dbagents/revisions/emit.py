"""`--emit-revision` for `dbagents check`: gather what can become a revision, write one, say so on stderr."""

from __future__ import annotations

from pathlib import Path

import click

from dbagents.errors import InputError
from dbagents.reporting.paths import display_path
from dbagents.revisions import NothingToWrite, PlannedRevision, plan, write_revision

NEEDS = ("--emit-revision needs live findings (--database-url, or $DATABASE_URL with `check schema`) or "
         "--fix --unsafe-fixes (model fixes)")


def require_source(database_url: str | None, fixing: bool) -> None:
    """Fail before the run (exit 2) when nothing could feed a revision."""
    if not database_url and not fixing:
        raise InputError(NEEDS)


def _note(text: str) -> None:
    click.echo(f"dbagents: note: {text}", err=True)


def emit(root: Path, *, findings=(), database_url: str | None = None, live_settings=None, changes=(),
         project=None, alembic_ini: Path | None = None, alembic_name: str | None = None) -> PlannedRevision | None:
    """One revision from the live DBA301/302/303 findings (with their catalog objects) and the applied schema
    changes; written into the project's versions folder, reported on stderr. None when nothing qualified."""
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
            sources.append("live findings (" + ", ".join(sorted({f.rule_id for f in live})) + ")")
    if changes:
        found, why = change_ops(list(changes))
        ops += found
        notes += why
        if found:
            sources.append("model fixes")
    for text in notes:
        _note(text)
    if not ops:
        _note("--emit-revision: nothing to write (no DBA301/DBA302/DBA303 finding or schema-changing fix a revision "
              "can carry)")
        return None
    origin = "`dbagents check --emit-revision` from " + " and ".join(sources)
    planned = plan(root, ops, origin=origin, notes=[], project=project, alembic_ini=alembic_ini,
                   alembic_name=alembic_name)
    path = write_revision(planned)
    shown = display_path(str(path), "/")
    click.echo(f"dbagents: wrote revision {planned.revision} (revises {planned.down_revision or 'nothing: first'}): "
               f"{shown} — {len(ops)} step{'s' * (len(ops) != 1)}", err=True)
    for line_no, line in enumerate(planned.text.splitlines(), start=1):
        if "# REVIEW:" in line:
            click.echo(f"{shown}:{line_no}: review: {line.split('# REVIEW:', 1)[1].strip()}", err=True)
    return planned


__all__ = ["NEEDS", "NothingToWrite", "emit", "require_source"]
