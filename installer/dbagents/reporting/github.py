"""GitHub Actions workflow commands (``::error file=…``) so findings show up as annotations."""

from __future__ import annotations

from typing import Mapping

from dbagents.findings import Finding, RuleInfo, Severity

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(findings: list[Finding], rules: Mapping[str, RuleInfo]) -> str:
    out = []
    for f in findings:
        props = []
        if f.path:
            props.append(f"file={_escape_prop(f.path)}")
            if f.line:
                props.append(f"line={f.line}")
                props.append(f"col={max(f.col, 1)}")
        name = rules[f.rule_id].name if f.rule_id in rules else ""
        props.append(f"title={_escape_prop(f'{f.rule_id} {name}'.strip())}")
        msg = f.message + (f" ({f.obj})" if f.obj else "") + (f" Hint: {f.hint}" if f.hint else "")
        out.append(f"::{_LEVEL[f.severity]} {','.join(props)}::{_escape_data(msg)}")
    return "\n".join(out) + ("\n" if out else "")
