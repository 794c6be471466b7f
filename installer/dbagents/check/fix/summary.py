"""What a fix run says after the report: how many findings it fixed (or would), where, and what is left to do."""

from __future__ import annotations

from collections import Counter

from dbagents.check.fix.run import FixRun
from dbagents.reporting.paths import display_path


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary_lines(run: FixRun, *, wrote: bool) -> list[str]:
    root = str(run.outcome.project.root)
    edits = run.edits
    per_rule = Counter(e.finding.rule_id for e in edits if e.finding is not None)
    rules = ", ".join(f"{rid} {n}" for rid, n in sorted(per_rule.items()))
    verb = "Fixed" if wrote else "Would fix"
    lines = [f"{verb} {_plural(len(edits), 'finding')} in {_plural(len(run.files), 'file')}"
             + (f" ({rules})." if rules else ".")]
    if run.unsafe_left:
        lines.append(f"{_plural(run.unsafe_left, 'finding')} of rules with an unsafe fix (schema or behaviour "
                     "change): see them with `dbagents check --diff --unsafe-fixes`.")
    changes = run.schema_changes
    if changes:
        tables = sorted({c.table for c in changes})
        lines.append(f"{_plural(len(changes), 'schema change')} in the models ({', '.join(tables)}) need an Alembic "
                     "revision: add --emit-revision to write it.")
    for step in run.follow_ups:
        where = display_path(step.path, root)
        lines.append(f"{where}:{step.line}: constraint {step.name or '?'} on {step.table} is added NOT VALID: "
                     "validate it in a follow-up revision (--emit-revision writes it).")
    lines.extend(run.notes)
    return lines


def json_extra(run: FixRun, *, wrote: bool) -> dict:
    """The fix run for the JSON report's `fix` key."""
    root = str(run.outcome.project.root)
    return {
        "applied": wrote,
        "fixed": [{"path": display_path(e.finding.path, root), "line": e.finding.line, "rule": e.finding.rule_id}
                  for e in run.edits if e.finding is not None],
        "files": [display_path(p, root) for p in sorted(run.files)],
        "schema_changes": [vars(c) for c in run.schema_changes],
        "follow_ups": [vars(c) for c in run.follow_ups],
        "notes": list(run.notes),
    }
