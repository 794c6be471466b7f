"""New Alembic revisions written from findings and fixes (`--emit-revision`).

    planned = plan_for_findings(root, findings, url)      # live DBA301/302/303 → one revision
    planned = plan_for_changes(root, fix_run.schema_changes)  # applied model fixes → one revision
    write_revision(planned)                                # atomic, never over an existing file

A plan is None when nothing can become a revision step; `notes` say what was left out and why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from dbagents.revisions.naming import file_name, new_revision_id, slugify
from dbagents.revisions.ops import Operation, describe
from dbagents.revisions.render import render
from dbagents.revisions.target import Target, find_target
from dbagents.revisions.write import write_new


@dataclass
class PlannedRevision:
    """A revision ready to be written: where, what, and what a person should know about it."""

    path: Path
    text: str
    revision: str
    down_revision: str | None
    operations: list[Operation]
    notes: list[str] = field(default_factory=list)

    @property
    def reviews(self) -> list[str]:
        return [r for op in self.operations for r in op.review]


def _now(target: Target) -> dt.datetime:
    if target.timezone:
        try:
            from zoneinfo import ZoneInfo

            return dt.datetime.now(ZoneInfo(target.timezone))
        except Exception:  # noqa: BLE001 - an unknown zone name: local time, like a missing tzdata
            pass
    return dt.datetime.now()


def plan(root: Path, ops: list[Operation], *, origin: str, message: str | None = None, notes: list[str] = (),
         project=None, alembic_ini: Path | None = None, alembic_name: str | None = None) -> PlannedRevision:
    """A revision on the current head of the project's (single) Alembic environment performing `ops`."""
    target = find_target(Path(root), project=project, alembic_ini=alembic_ini, alembic_name=alembic_name)
    message = message or describe(ops)
    rid = new_revision_id(target.revisions)
    created = _now(target)
    text = render(revision=rid, down_revision=target.head, message=message, created=created, ops=ops, origin=origin)
    path = target.root / target.folder / file_name(target.file_template, rid, slugify(message, target.slug_length),
                                                   created)
    return PlannedRevision(path, text, rid, target.head, list(ops), list(notes))


def plan_for_findings(root: Path, findings, url: str, settings=None, **options) -> PlannedRevision | None:
    """One revision for the DBA301/302/303 findings (which carry their catalog object); None if none can be fixed.

    `notes` of the plan (or of the NothingToWrite error) say which findings were left out."""
    from dbagents.revisions.live import operations

    ops, notes = operations(list(findings), url, settings)
    if not ops:
        raise NothingToWrite(notes)
    return plan(root, ops, notes=notes, origin="`dbagents check schema --emit-revision` from live findings "
                                             f"({', '.join(sorted({_rule_of(op) for op in ops}))})", **options)


def plan_for_changes(root: Path, changes, **options) -> PlannedRevision:
    """One revision for the schema changes of applied model fixes (and DBA204's validations)."""
    from dbagents.revisions.changes import operations

    ops, notes = operations(list(changes))
    if not ops:
        raise NothingToWrite(notes)
    return plan(root, ops, notes=notes, origin="`dbagents check --fix --emit-revision` from model fixes", **options)


def _rule_of(op: Operation) -> str:
    return op.why.split(":", 1)[0]


class NothingToWrite(Exception):
    """No finding or change could become a revision step; `notes` say why."""

    def __init__(self, notes: list[str]):
        self.notes = notes
        super().__init__("nothing to write")


def write_revision(planned: PlannedRevision) -> Path:
    """Write the planned file (atomic, refuses to overwrite); returns its path."""
    return write_new(planned.path, planned.text)


__all__ = ["NothingToWrite", "PlannedRevision", "plan", "plan_for_changes", "plan_for_findings", "write_revision"]
