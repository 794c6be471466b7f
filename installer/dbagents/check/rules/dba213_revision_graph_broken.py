"""DBA213: the revision graph has several heads, an unknown down_revision, a duplicate id or a cycle."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts._alembic_checks import FILES
from dbagents.check.project_settings import settings_doc
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity


def _rev(rev: str, down: str, body: str = "    pass\n", extra: str = "") -> str:
    return (f'from alembic import op\n\nrevision = "{rev}"\ndown_revision = {down}\n{extra}\n\n'
            f"def upgrade():\n{body}\n\ndef downgrade():\n    pass\n")


def _labels_of(env, head: str) -> set[str]:
    """Branch labels on `head` and all of its ancestors."""
    labels: set[str] = set()
    todo, seen = [head], set()
    while todo:
        rid = todo.pop()
        if rid in seen or rid not in env.revisions:
            continue
        seen.add(rid)
        rev = env.revisions[rid]
        labels.update(rev.branch_labels)
        todo.extend(rev.down_revisions)
    return labels


def _independent_branches(env) -> bool:
    """Every head sits on its own labelled branch (Alembic's documented multiple-bases layout)."""
    label_sets = [_labels_of(env, h) for h in env.heads]
    if not all(label_sets):
        return False
    for i, a in enumerate(label_sets):
        for b in label_sets[i + 1:]:
            if a & b:
                return False
    return True


class RevisionGraphBroken(ProjectRule):
    id = "DBA213"
    name = "revision-graph-broken"
    revision_files_only = True
    groups = ("migrations",)
    severity = Severity.ERROR
    summary = "The Alembic revision graph has several heads, an unknown down_revision, a duplicate id or a cycle."
    hint = "run `alembic merge heads`, or fix the down_revision so the history is one line"
    doc = """
## What it does
Builds the revision graph of every migration environment (each `script_location` of each alembic.ini
section, `version_locations`, and versions folders found without a config) and reports:
several heads (two revisions that both revise the same parent, unless each head is on its own labelled
branch), a `down_revision` naming a revision that does not exist, the same revision id in two files, and a
cycle in `down_revision`. Heads and missing parents are only judged when the run checked every file of the
versions folder (checking a single changed revision cannot tell whether its parent exists).

## Why is this bad
`alembic upgrade head` refuses to run with several heads, and an unknown parent, a duplicate id or a cycle
make Alembic fail to load the history at all — the deploy stops at the migration step. Several heads
usually appear when two branches each added a migration and were merged in git.

## Example
```python
# versions/b2_add_plan.py
revision = "b2"
down_revision = "a1"
# versions/c3_add_note.py
revision = "c3"
down_revision = "a1"   # a second head
```

## Fix
`alembic merge -m "merge heads" heads` creates a revision with `down_revision = ("b2", "c3")`; or point one
revision's `down_revision` at the other if neither is deployed yet.
""" + settings_doc("DBA213")
    valid = [
        Example(_rev("b2", '"a1"'), path="migrations/versions/b2.py",
                files={**FILES, "migrations/versions/a1.py": _rev("a1", "None")}),
        Example(_rev("d4", '("b2", "c3")'), path="migrations/versions/d4.py",
                files={**FILES, "migrations/versions/a1.py": _rev("a1", "None"),
                       "migrations/versions/b2.py": _rev("b2", '"a1"'),
                       "migrations/versions/c3.py": _rev("c3", '"a1"')}, note="merge revision"),
        Example(_rev("b2", "None", extra='branch_labels = ("billing",)'), path="migrations/versions/b2.py",
                files={**FILES, "migrations/versions/a1.py": _rev("a1", "None", extra='branch_labels = ("core",)')},
                note="independent labelled branches"),
    ]
    invalid = [
        Example(_rev("c3", '"a1"'), path="migrations/versions/c3.py",
                files={**FILES, "migrations/versions/a1.py": _rev("a1", "None"),
                       "migrations/versions/b2.py": _rev("b2", '"a1"')}, lines=(3,), note="two heads"),
        Example(_rev("b2", '"zz9"'), path="migrations/versions/b2.py",
                files={**FILES, "migrations/versions/a1.py": _rev("a1", "None")}, lines=(4,)),
        Example(_rev("a1", "None"), path="migrations/versions/a1_copy.py",
                files={**FILES, "migrations/versions/a1.py": _rev("a1", "None")}, lines=(3,), note="duplicate"),
        Example(_rev("a1", '"b2"'), path="migrations/versions/a1.py",
                files={**FILES, "migrations/versions/b2.py": _rev("b2", '"a1"')}, note="cycle"),
    ]

    def check(self, project) -> Iterable[Finding]:
        graph = project.get("alembic")
        for env in graph.envs:
            where = f" in {env.name}" if len(graph.envs) > 1 else ""
            # When only some revision files were checked (e.g. pre-commit passing changed files), parents and
            # children outside the run are unknown: only duplicates and cycles among the checked files count.
            for rev, parent in env.missing if env.complete else ():
                yield self.finding(
                    rev.relpath, rev.down_line or rev.line, 1,
                    f"revision {rev.revision} revises {parent!r}, which does not exist{where}",
                    hint="point down_revision at an existing revision id (see `alembic history`)",
                )
            for rid, revs in env.duplicates.items():
                first = revs[0]
                for dup in revs[1:]:
                    yield self.finding(
                        dup.relpath, dup.line, 1,
                        f"revision id {rid!r} is also used by {first.relpath}:{first.line}",
                        hint="give one of them a new id (and update the down_revision that points at it)",
                    )
            for cycle in env.cycles:
                rev = env.revisions[cycle[0]]
                yield self.finding(
                    rev.relpath, rev.down_line or rev.line, 1,
                    f"down_revision cycle: {' -> '.join([*cycle, cycle[0]])}",
                    hint="break the cycle so the history has a base",
                )
            if env.complete and len(env.heads) > 1 and not any(r.down_unknown for r in env.revisions.values()):
                if env.missing or env.cycles or _independent_branches(env):
                    continue
                heads = sorted(env.heads)
                for head in heads:
                    rev = env.revisions[head]
                    others = ", ".join(h for h in heads if h != head)
                    yield self.finding(
                        rev.relpath, rev.line, 1,
                        f"revision {head} is one of {len(heads)} heads{where} (others: {others}); "
                        "`alembic upgrade head` will refuse to run",
                    )
