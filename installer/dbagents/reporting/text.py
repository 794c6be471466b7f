"""gcc-style text: ``path:line:col: ID [severity] message`` plus an indented hint line."""

from __future__ import annotations

from dbagents.findings import Finding, Severity

_COLORS = {Severity.ERROR: "\x1b[31m", Severity.WARNING: "\x1b[33m", Severity.INFO: "\x1b[36m"}
_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"


def location(f: Finding) -> str:
    if not f.path:
        return f.obj or "<database>"
    if f.line:
        return f"{f.path}:{f.line}:{max(f.col, 1)}"
    return f.path


def render_text(findings: list[Finding], *, color: bool = False) -> str:
    lines = []
    for f in findings:
        sev = f"[{f.severity.label}]"
        rid = f.rule_id
        if color:
            sev = f"{_COLORS[f.severity]}{sev}{_RESET}"
            rid = f"{_BOLD}{rid}{_RESET}"
        where = location(f)
        obj = f" ({f.obj})" if f.obj and f.path else ""
        lines.append(f"{where}: {rid} {sev} {f.message}{obj}")
        if f.hint:
            lines.append(f"    hint: {f.hint}")
    counts = {s: sum(1 for f in findings if f.severity == s) for s in Severity}
    if findings:
        lines.append(
            f"Found {len(findings)} finding{'s' if len(findings) != 1 else ''} "
            f"({counts[Severity.ERROR]} error, {counts[Severity.WARNING]} warning, {counts[Severity.INFO]} info)."
        )
    else:
        lines.append("All checks passed.")
    return "\n".join(lines) + "\n"
