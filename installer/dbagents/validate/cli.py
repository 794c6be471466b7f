"""The `dbagents validate` command."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dbagents.findings import Severity
from dbagents.output import emit, fail_on_option, format_option


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@format_option()
@fail_on_option("error")
@click.option("--kind", type=click.Choice(["agent", "command", "skill"]), default=None,
              help="Treat single files outside agents/, commands/, skills/ as this kind.")
def validate_cmd(paths: tuple[Path, ...], fmt: str, fail_on: str, kind: str | None) -> None:
    """Check agents, commands, skills (SKILL.md), plugins and hook files the way Claude Code 2.1 reads them.

    PATH may be a .claude folder (its settings*.json hooks too), a plugin or marketplace folder (its
    hooks/hooks.json too), a project, or single files. `dbagents rule CC041` explains a finding.
    Default: ./.claude, or the current folder when there is none.
    """
    from dbagents.errors import InputError
    from dbagents.validate import VALIDATOR_RULES, report_root, validate_paths

    targets = list(paths) or [Path(".claude") if Path(".claude").is_dir() else Path(".")]
    missing = [p for p in targets if not p.exists()]
    if missing:
        raise InputError("path does not exist; pass a .claude folder, a plugin folder or agent/command files",
                         path=str(missing[0]))
    root = report_root(targets)
    findings = validate_paths(targets, kind=kind, root=root)
    code = emit(findings, VALIDATOR_RULES, fmt, Severity.parse(fail_on), root=str(root),
                tool_name="dbagents-validate")
    sys.exit(code)
