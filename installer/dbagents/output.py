"""Shared CLI plumbing for commands that report findings: options, rendering and exit codes."""

from __future__ import annotations

import sys
from typing import Iterable, Mapping

import click

from dbagents.findings import Finding, RuleInfo, Severity, count_at_or_above
from dbagents.reporting import FORMATS, render
from dbagents.reporting.paths import relocate


def format_option(default: str = "text"):
    return click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default=default, show_default=True, help="Output format."
    )


def fail_on_option(default: str | None = "error"):
    return click.option(
        "--fail-on",
        type=click.Choice(["error", "warning", "info"]),
        default=default,
        show_default=default is not None,
        help="Exit 1 when a finding has this severity or worse.",
    )


def emit(
    findings: Iterable[Finding],
    rules: Mapping[str, RuleInfo],
    fmt: str,
    fail_on: Severity,
    *,
    root: str = ".",
    tool_name: str = "dbagents",
    extra: Mapping | None = None,
) -> int:
    """Print the report to stdout and return the exit code (0 clean, 1 findings at/above fail_on).

    Finding paths are relative to `root`; the report shows them relative to the current directory
    (absolute outside it), SARIF relative to the repository root (see `reporting.paths`).
    """
    items, base = relocate(findings, root, fmt)
    color = fmt == "text" and sys.stdout.isatty()
    text = render(items, rules, fmt, root=base, color=color, tool_name=tool_name, extra=extra)
    click.echo(text, nl=False)
    return 1 if count_at_or_above(items, fail_on) else 0
