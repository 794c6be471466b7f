"""Machine-readable JSON: a stable document the slash commands read."""

from __future__ import annotations

import json
from typing import Mapping

from dbagents import __version__
from dbagents.findings import Finding, RuleInfo, Severity


def render_json(findings: list[Finding], rules: Mapping[str, RuleInfo], *, tool_name: str, extra=None) -> str:
    used = sorted({f.rule_id for f in findings})
    doc = {
        "tool": tool_name,
        "version": __version__,
        "summary": {
            "total": len(findings),
            **{s.label: sum(1 for f in findings if f.severity == s) for s in Severity},
        },
        "findings": [
            {**f.to_dict(), "name": rules[f.rule_id].name if f.rule_id in rules else ""} for f in findings
        ],
        "rules": {
            rid: {"name": rules[rid].name, "summary": rules[rid].summary, "help_uri": rules[rid].help_uri}
            for rid in used
            if rid in rules
        },
    }
    if extra:
        doc.update(extra)
    return json.dumps(doc, indent=2) + "\n"
