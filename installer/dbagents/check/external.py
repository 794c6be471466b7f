"""Glue to the live-catalog and scratch-run checks: run them, then place their findings in the source."""

from __future__ import annotations

import dataclasses
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
    if not hasattr(models, "locate"):
        return finding
    # obj's third part is a column, or an index/constraint name: those are placed on their table
    where = models.locate(table, column) or (models.locate(table) if column else None)
    if not where:
        return finding
    relpath, line = where
    return dataclasses.replace(finding, path=relpath, line=line, col=1)


def run_external(project: Project, enabled: set[str], *, database_url: str | None, schemas: list[str],
                 scratch: bool, scratch_url: str | None, alembic_ini: Path | None, alembic_name: str | None = None,
                 groups: list[str] | None = None) -> list[Finding]:
    """Findings of the scratch run and the live checks, placed in the source and filtered by `enabled`.

    A scratch run that cannot finish raises ScratchError carrying every finding made before it (also those of
    the live checks, which still run), so the caller reports them before the error.
    """
    findings: list[Finding] = []
    live_settings = dict(project.config.sections.get("live", {}))
    scratch_error = None
    if scratch:
        from dbagents.scratch import ScratchError, run_scratch

        source = str(project.config.path) if project.config.path else "pyproject.toml"
        try:
            findings.extend(run_scratch(project.root, alembic_ini=alembic_ini, alembic_name=alembic_name,
                                        scratch_url=scratch_url, select=enabled, groups=groups, source=source,
                                        settings={**live_settings, **project.config.sections.get("scratch", {})}))
        except ScratchError as exc:
            scratch_error = exc
            findings.extend(exc.findings)
        except Exception as exc:  # noqa: BLE001 - a bug of ours must not lose the static findings either
            scratch_error = ScratchError(f"--scratch stopped by an internal error (please report it): "
                                         f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
    if database_url:
        try:
            from dbagents.live import run_live_checks
        except ImportError as exc:
            raise _missing("postgres", exc) from None
        findings.extend(run_live_checks(database_url, schemas=schemas or None, settings=live_settings,
                                        expected_heads=_expected_heads(project), select=enabled))
    placed = [locate(project, f) for f in findings if f.rule_id in enabled]
    if scratch_error is not None:
        scratch_error.findings = placed
        raise scratch_error
    return placed
