"""Where a finding is worth saying: one policy per rule and file role, dialect guards and the SQLAlchemy pin,
applied once in the engine after the rules (the rules' own, cached output is untouched).

1. File roles (facts/_file_roles.py): test, bench, script, revision, past-revision, code. POLICY says what each
   rule becomes there: "off" (not reported) or "info"; anything unlisted is "on". `[tool.dbagents.per-role]`
   overrides any cell (`test = { DBA501 = "on" }`), `[tool.dbagents.roles]` assigns roles by glob.
2. Dialect guards (facts/dialect_guards.py): findings of the PostgreSQL rules inside a branch that only runs on
   another database are dropped.
3. SQLAlchemy pin (facts/_sqlalchemy_pin.py): on a 1.x project, DBA101's "removed in 2.0" errors are upgrade
   work: info findings saying so, plus one summary warning at the pin.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter

from dbagents.check.facts._file_roles import ROLES, FileRoles
from dbagents.check.facts._sqlalchemy_pin import Pin, pinned_sqlalchemy
from dbagents.check.facts.dialect_guards import KEY as GUARDS
from dbagents.check.facts.dialect_guards import in_guarded
from dbagents.check.project_settings import is_migration_rule
from dbagents.findings import Finding, Severity
from dbagents.check.rules.dba102_legacy_declarative_style import MESSAGES as DBA102_MESSAGES

# Rule -> role -> "off" | "info". Why each cell:
# - test/bench: SQL built from test values, models and sessions that only exist for a test, a filter or a loop in a
#   test body, the credentials of a throwaway test database are not problems of the shipped code.
# - script: operators' one-off commands build SQL from identifiers they read from the catalog or type in
#   themselves (whoever runs them already holds the database); a commit or a lazy load per row in a command run
#   once by hand is not worth saying either.
# - past-revision: nobody edits a revision that has shipped. Every migration rule (DBA2xx but the graph rule
#   DBA213, see project_settings.is_migration_rule) and the code rules stay silent there; only the heads and
#   the revisions right below them are judged (or, with migrations-start-after, those after the cut-off).
# - revision: a data migration in a recent revision runs once per database, like a script; its per-row loads and
#   ORM habits are worth a note (info), not a warning (after-audit 2026-12-03: 5 of 10 DBA116 warnings sat in one
#   such loop over a small table).
_TESTS = {"test": "off", "bench": "off"}
_PAST = {"past-revision": "off"}
_ONCE = {"revision": "info"}
BACKREF = DBA102_MESSAGES["backref"]  # DBA102's one finding a 1.x project can act on (back_populates exists there)
POLICY: dict[str, dict[str, str]] = {
    "DBA101": dict(_PAST),
    "DBA108": dict(_TESTS),
    "DBA110": dict(_TESTS),
    "DBA111": dict(_TESTS),
    "DBA113": dict(_TESTS),
    "DBA114": dict(_TESTS),
    "DBA115": {**_TESTS, "script": "off", **_ONCE, **_PAST},
    "DBA116": {**_TESTS, "script": "off", **_ONCE, **_PAST},
    "DBA501": {**_TESTS, "script": "off", **_PAST},
    "DBA502": dict(_TESTS),
    "DBA503": dict(_TESTS),
}
ROLE_WORDS = {"test": "test files", "bench": "benchmarks", "script": "one-off scripts and CLI commands",
              "revision": "recent Alembic revisions", "past-revision": "past Alembic revisions"}
# Rules whose claim is about PostgreSQL itself (locks, types, limits): not judged in another dialect's branch.
POSTGRES_ONLY = frozenset({"DBA105", "DBA108", "DBA109", "DBA201", "DBA202", "DBA203", "DBA204", "DBA205", "DBA206",
                           "DBA207", "DBA208", "DBA209", "DBA211", "DBA216", "DBA217", "DBA218", "DBA219"})


def action(rule_id: str, role: str, overrides: dict[str, dict[str, str]]) -> str:
    """"on" | "info" | "off" for this rule in a file of this role; the longest matching override prefix wins."""
    cells = overrides.get(role, {})
    best = max((p for p in cells if rule_id.startswith(p) or p == "ALL"), key=len, default=None)
    if best is not None:
        return cells[best]
    return policy(rule_id).get(role, "on")


def policy(rule_id: str) -> dict[str, str]:
    """The default cells of one rule: POLICY, plus "off" on past revisions for every migration rule."""
    cells = POLICY.get(rule_id, {})
    return {**_PAST, **cells} if is_migration_rule(rule_id) else cells


def _needs_revisions(overrides) -> frozenset[str]:
    if overrides.get("revision") or overrides.get("past-revision"):
        return frozenset({"*"})
    return frozenset(r for r, cells in POLICY.items() if "revision" in cells or "past-revision" in cells)


def apply_context(findings: list[Finding], project) -> list[Finding]:
    config = project.config
    roles = FileRoles(project)
    revision_rules = _needs_revisions(config.per_role)
    out: list[Finding] = []
    judged = config.in_progress  # the run's scope (the hook's file, --only-files, --changed-since); empty = all
    root = str(project.root)
    for f in findings:
        if not f.path:
            out.append(f)
            continue
        if judged and os.path.normpath(os.path.join(root, f.path)) not in judged and not _counted_for_upgrade(f):
            continue  # outside the scope the filter stage keeps: no need to learn its role (the revision graph)
        if f.rule_id in POSTGRES_ONLY:
            result = project.files.get(f.path)
            if result is not None and in_guarded(result.facts.get(GUARDS), f.line):
                continue
        need = "*" in revision_rules or f.rule_id in revision_rules or is_migration_rule(f.rule_id)
        verdict = action(f.rule_id, roles.of(f.path, need), config.per_role)
        if verdict == "off":
            continue
        if verdict == "info" and f.severity > Severity.INFO:
            f = dataclasses.replace(f, severity=Severity.INFO)
        out.append(f)
    return _upgrade_work(out, project)


def _counted_for_upgrade(f: Finding) -> bool:
    """A removed-in-2.0 use: the upgrade-work summary at the pin counts every one, in scope or not."""
    return f.rule_id == "DBA101" and f.severity == Severity.ERROR


def _upgrade_work(findings: list[Finding], project) -> list[Finding]:
    # DBA101's severity is its classification (its doc's table): error = removed in 2.0, warning = moved,
    # info = legacy. No setting raises it, so an error here is exactly "removed in 2.0", whatever the wording.
    removed = [f for f in findings if _counted_for_upgrade(f)]
    # DBA102 keeps only what 1.x can do today (back_populates for backref=): Mapped[]/mapped_column(),
    # DeclarativeBase and WriteOnlyMapped need 2.0, and 2.0 still runs the old style.
    style = {f for f in findings if f.rule_id == "DBA102" and f.message != BACKREF}
    if not removed and not style:
        return findings
    pin = project_pin(project)
    if pin is None or pin.major >= 2:
        return findings
    findings = [f for f in findings if f not in style]
    if not removed:
        return findings
    where = pin.source or ("[tool.dbagents] sqlalchemy" if project.config.sqlalchemy else "the project's pins")
    gone = set(removed)
    keep = [f for f in findings if f not in gone]
    for f in removed:
        keep.append(dataclasses.replace(
            f, severity=Severity.INFO,
            message=f"upgrade work: {f.message}; it runs on the pinned SQLAlchemy {pin.version}, change it before "
                    "moving to 2.0"))
    files = Counter(f.path for f in removed)
    first = min(removed)
    summary = Finding(
        pin.source if pin.source else "", pin.line, 1 if pin.line else 0, "DBA101",
        f"SQLAlchemy {pin.version} is pinned here ({where}); moving to 2.0 means changing {len(removed)} uses of "
        f"APIs 2.0 removed in {len(files)} files (reported as info, first at {first.path}:{first.line})",
        Severity.WARNING,
        "plan the upgrade with SQLAlchemy's 2.0 migration guide (SQLALCHEMY_WARN_20=1 on 1.4 shows each use); "
        'set [tool.dbagents] sqlalchemy = "2.0" once the upgrade is done')
    return sorted(keep + [summary])


def project_pin(project) -> Pin | None:
    """The SQLAlchemy line of the checked project: the setting, else the root's (or the config folder's) pins."""
    config = project.config
    pin = pinned_sqlalchemy(project.root, config.sqlalchemy)
    if pin is None and config.root is not None and config.root.resolve() != project.root.resolve():
        found = pinned_sqlalchemy(config.root)
        if found is not None:
            pin = Pin(found.version, "", 0)  # outside the checked folder: the summary carries no path
    return pin


def where_doc(rule_id: str) -> str:
    """The generated "## Where it applies" section of a rule's doc."""
    cells = policy(rule_id)
    lines = []
    for role in ROLES:
        if role in cells:
            what = "not reported" if cells[role] == "off" else "reported as info"
            lines.append(f"- {ROLE_WORDS[role]}: {what}.")
    if rule_id in POSTGRES_ONLY:
        lines.append("- Code in a branch that only runs on another database (`if bind.dialect.name == \"sqlite\":`, "
                     "`if not is_postgres():`, the `else` of a PostgreSQL check) is not judged: the claim is about "
                     "PostgreSQL.")
    if rule_id == "DBA102":
        lines.append("- On a project pinned to SQLAlchemy 1.x, only `backref=` is reported: `Mapped[]`, "
                     "`mapped_column()`, `DeclarativeBase` and `WriteOnlyMapped` need 2.0, and 2.0 still runs the "
                     "1.x style.")
    if rule_id == "DBA101":
        lines.append("- On a project pinned to SQLAlchemy 1.x (its lock file, requirements, pyproject, setup.cfg, or "
                     '`sqlalchemy = "1.4"` in `[tool.dbagents]`), APIs removed in 2.0 still work: each use is '
                     "reported as info, as upgrade work, with one warning at the pin that counts them.")
    head = "Everywhere." if not lines else "Everywhere, except:"
    return ("\n## Where it applies\n" + head + "\n" + "\n".join(lines) + ("\n" if lines else "")
            + "\nFile roles: test (a tests/, test/, testing/ or fixtures/ folder; test_*.py, *_test.py, conftest.py), "
            "bench (bench/, benchmarks/), script (scripts/, bin/, cli/, a top-level tools/, management/commands/, "
            "cli.py, manage.py), "
            "revision / past revision (Alembic revisions; past = at or before `migrations-start-after`, or without "
            "it any revision more than one step below a head; never one in the run's scope: --changed-since, "
            "--only-files, the hook). Change any of it in `[tool.dbagents.per-role]` "
            f'(e.g. `test = {{ {rule_id} = "on" }}`) and assign roles by glob in `[tool.dbagents.roles]`.\n')
