"""The text of a revision file from a Target and a list of operations (the way our DBA2xx rules want it).

upgrade() and downgrade() each start with a session-level `SET lock_timeout` (a plain SET, not SET LOCAL: it must
survive the commits of the autocommit blocks, see DBA211); consecutive steps that must not run in the migration
transaction share one `with op.get_context().autocommit_block():`; downgrade() undoes the operations in reverse.
"""

from __future__ import annotations

import datetime as dt
import textwrap

from dbagents.revisions.ops import Operation, Step
from dbagents.revisions.source import literal

LOCK_TIMEOUT = "5s"


def _comment_lines(comments, indent: str, width: int = 110) -> list[str]:
    out = []
    for comment in comments:
        wrapped = textwrap.wrap(comment, width - len(indent) - 2) or [""]
        out += [f"{indent}# {wrapped[0]}", *(f"{indent}#   {part}" for part in wrapped[1:])]
    return out


def _body(steps: list[Step]) -> list[str]:
    out = ["    # fail fast instead of queueing traffic behind a lock; a plain SET (not LOCAL) outlives the commits",
           f"    op.execute({literal(f'SET lock_timeout = {LOCK_TIMEOUT!r}')})"]
    in_block = False
    for step in steps:
        if step.autocommit and step.lines:
            if not in_block:
                out.append("    with op.get_context().autocommit_block():  # CONCURRENTLY / VALIDATE: own transaction")
                in_block = True
            out.extend(_comment_lines(step.comments, "        "))
            out.extend("    " + line for line in step.lines)
        else:
            in_block = in_block and not step.lines
            out.extend(_comment_lines(step.comments, "    " + ("    " if in_block else "")))
            out.extend(step.lines)
    return out


def render(*, revision: str, down_revision: str | None, message: str, created: dt.datetime, ops: list[Operation],
           origin: str, notes: list[str] = ()) -> str:
    """The whole revision file. `origin` says which command wrote it; `notes` are extra docstring lines."""
    up_steps = [step for op in ops for step in op.upgrade()]
    down_steps = [step for op in reversed(ops) for step in op.downgrade()]
    irreversible = not any(step.lines for step in down_steps)
    needs_postgresql = "postgresql." in "\n".join(line for s in up_steps + down_steps for line in s.lines)
    review = [r for op in ops for r in op.review]
    doc = [message, "", f"Revision ID: {revision}", f"Revises: {down_revision or ''}",
           f"Create Date: {created.isoformat(sep=' ')}", "", f"Written by {origin}."]
    if any(s.autocommit and "index" in "".join(s.lines) for s in up_steps + down_steps):
        doc.append("Concurrent index steps that fail (lock_timeout, a duplicate key) leave an INVALID index behind: drop "
                   "it (DROP INDEX CONCURRENTLY) before running the upgrade again.")
    if review:
        doc.append(f"Review before deploying: {len(review)} step{'s' * (len(review) != 1)} marked REVIEW below.")
    doc.extend(notes)
    doc = [part for line in doc for part in (textwrap.wrap(line, 110) or [""])]
    lines = ['"""' + doc[0], *doc[1:], '"""', "", "import sqlalchemy as sa", "from alembic import op"]
    if needs_postgresql:
        lines.append("from sqlalchemy.dialects import postgresql")
    lines += ["", f"revision = {literal(revision)}", f"down_revision = {literal(down_revision)}",
              "branch_labels = None", "depends_on = None", "", "", "def upgrade() -> None:", *_body(up_steps), "", ""]
    if irreversible:
        lines.append("def downgrade() -> None:  # noqa: DBA212 - nothing in upgrade() can be undone, see below")
        lines.extend(_comment_lines([c for s in down_steps for c in s.comments], "    "))
        lines.append("    pass")
    else:
        lines.append("def downgrade() -> None:")
        lines.extend(_body(down_steps))
    text = "\n".join(lines) + "\n"
    compile(text, "<revision>", "exec")  # a bug of ours must never reach the user's versions folder
    return text

