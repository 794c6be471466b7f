"""Reporters turn findings (plus rule metadata as plain data) into text, JSON, SARIF or GitHub annotations."""

from __future__ import annotations

from typing import Iterable, Mapping

from dbagents.findings import Finding, RuleInfo

FORMATS = ("text", "json", "sarif", "github")


def render(
    findings: Iterable[Finding],
    rules: Mapping[str, RuleInfo],
    fmt: str,
    *,
    root: str = ".",
    color: bool = False,
    tool_name: str = "dbagents",
    extra: Mapping | None = None,
) -> str:
    """Render findings in one of FORMATS. `rules` maps rule id to its metadata."""
    items = sorted(findings)
    if fmt == "text":
        from dbagents.reporting.text import render_text

        return render_text(items, color=color)
    if fmt == "json":
        from dbagents.reporting.json_report import render_json

        return render_json(items, rules, tool_name=tool_name, extra=extra)
    if fmt == "sarif":
        from dbagents.reporting.sarif import render_sarif

        return render_sarif(items, rules, root=root, tool_name=tool_name)
    if fmt == "github":
        from dbagents.reporting.github import render_github

        return render_github(items, rules)
    raise ValueError(f"unknown format {fmt!r}")
