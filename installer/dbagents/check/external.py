"""Glue to the live-catalog and scratch-run checks: run them, then place their findings in the source."""

from __future__ import annotations

from pathlib import Path

from dbagents.check.project import Project
from dbagents.errors import InputError
from dbagents.findings import Finding


def _missing(extra: str, exc: ImportError) -> InputError:
    return InputError(f"this check needs the '{extra}' extra ({exc.name} is not installed); "
                      f"run: pip install 'dbagents[{extra}]'")


def _expected_heads(project: Project) -> set[str] | None:
    try:
        graph = project.get("alembic")
    except KeyError:
        return None
    heads = getattr(graph, "heads", None)
    return set(heads) if heads else None


def locate(project: Project, finding: Finding) -> Finding:
    """Give a live finding (obj = schema.table[.column]) the file:line of the model that defines it."""
    if finding.path or not finding.obj:
        return finding
    try:
        models = project.get("models")
    except KeyError:
        return finding
    parts = finding.obj.split(".")
    if len(parts) < 2:
        return finding
    table, column = parts[1], (parts[2] if len(parts) > 2 else None)
    where = models.locate(table, column) if hasattr(models, "locate") else None
    if not where:
        return finding
    relpath, line = where
    return Finding(relpath, line, 1, finding.rule_id, finding.message, finding.severity, finding.hint, finding.obj)


def run_external(project: Project, enabled: set[str], *, database_url: str | None, schemas: list[str],
                 scratch: bool, scratch_url: str | None, alembic_ini: Path | None) -> list[Finding]:
    findings: list[Finding] = []
    live_settings = dict(project.config.sections.get("live", {}))
    if scratch:
        try:
            from dbagents.scratch import run_scratch
        except ImportError as exc:
            raise _missing("scratch", exc) from None
        findings.extend(run_scratch(project.root, alembic_ini=alembic_ini, scratch_url=scratch_url,
                                    settings={**live_settings, **project.config.sections.get("scratch", {})}))
    if database_url:
        try:
            from dbagents.live import run_live_checks
        except ImportError as exc:
            raise _missing("postgres", exc) from None
        findings.extend(run_live_checks(database_url, schemas=schemas or None, settings=live_settings,
                                        expected_heads=_expected_heads(project), select=enabled))
    return [locate(project, f) for f in findings if f.rule_id in enabled]
