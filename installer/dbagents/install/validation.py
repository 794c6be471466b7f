"""Refuse to install a bundle that fails `dbagents validate`: check it laid out as a project's .claude folder."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from dbagents.errors import InputError
from dbagents.install.source import BundleSource


def validate_bundle(source: BundleSource) -> None:
    """Raise InputError (exit 2) when the bundle as shipped has validation errors; print each one first."""
    from dbagents.findings import Severity
    from dbagents.validate import validate_paths

    with tempfile.TemporaryDirectory(prefix="dbagents-bundle-") as tmp:
        claude = Path(tmp) / ".claude"
        for sf in source.files:
            dest = claude / sf.relpath
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(sf.raw)
        findings = validate_paths([claude])
    errors = [f for f in findings if f.severity >= Severity.ERROR]
    if not errors:
        return
    for f in errors:
        click.echo(f"bundle/{f.path}:{f.line}:{f.col}: {f.rule_id} [error] {f.message}", err=True)
    raise InputError(
        f"the dbagents {source.version} bundle fails validation ({len(errors)} error(s) above); nothing was "
        "installed. Reinstall dbagents or report this as a bug",
        path=str(source.root),
    )
