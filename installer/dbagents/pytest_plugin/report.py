"""Merge raw hits from all tests (and xdist workers) into findings; print the table; write the file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from dbagents.findings import Finding, Severity

_HINTS = {
    "DBA401": "eager-load it on the query that produced the objects: .options(selectinload({obj})) "
    "(or joinedload for many-to-one); add raiseload('*') to catch the rest",
    "DBA402": "fetch all keys in one statement (IN / join / executemany) instead of one per row",
    "DBA403": "remove the extra queries or raise the dbagents_max_queries budget",
    "DBA404": "load {obj} eagerly (selectinload) or await it: await obj.awaitable_attrs.<attr>",
}


def relative_path(filename: str, root: Path) -> str:
    if not filename:
        return ""
    path = Path(filename)
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _message(rule: str, obj: str, count: int, tests: list[str], budget: int | None) -> str:
    where = f"in {tests[0]}" + (f" and {len(tests) - 1} more test(s)" if len(tests) > 1 else "")
    if rule == "DBA401":
        return f"N+1: {obj} lazy-loaded for {count} instances of one query result ({where})"
    if rule == "DBA402":
        return f"statement executed {count} times in one test ({where}): {obj}"
    if rule == "DBA403":
        return f"{count} SQL statements, budget is {budget} (dbagents_max_queries) in {tests[0]}"
    return f"lazy load of {obj} under an AsyncSession raised MissingGreenlet ({where})"


def to_findings(hits: list[dict], root: Path) -> list[Finding]:
    """One finding per (rule, place, object); count = the worst test, tests listed in the message."""
    groups: dict[tuple, dict] = {}
    for hit in hits:
        key = (hit["rule"], relative_path(hit["file"], root), hit["line"], hit["obj"])
        group = groups.setdefault(key, {"count": 0, "tests": [], "failed": False, "budget": hit.get("budget")})
        group["count"] = max(group["count"], hit["count"])
        if hit["nodeid"] not in group["tests"]:
            group["tests"].append(hit["nodeid"])
        group["failed"] = group["failed"] or hit.get("failed", False)
    findings = []
    for (rule, path, line, obj), group in groups.items():
        findings.append(
            Finding(
                path=path,
                line=line,
                col=0,
                rule_id=rule,
                message=_message(rule, obj, group["count"], group["tests"], group["budget"]),
                severity=Severity.ERROR if group["failed"] else Severity.WARNING,
                hint=_HINTS[rule].format(obj=obj),
                obj=obj if rule in ("DBA401", "DBA404") else "",
            )
        )
    return sorted(findings)


def summary_table(findings: list[Finding]) -> list[str]:
    """Rows for the terminal: rule, place, what, worst count."""
    rows = [("rule", "severity", "location", "what")]
    for f in findings:
        place = f"{f.path}:{f.line}" if f.path else "?"
        rows.append((f.rule_id, f.severity.label, place, f.message))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return ["  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row)) for row in rows]


def write_report(path: Path, findings: list[Finding], root: Path, extra: dict) -> None:
    """SARIF when the name ends in .sarif, JSON otherwise; written atomically."""
    from dbagents.pytest_plugin.rules import RUNTIME_RULES
    from dbagents.reporting import render

    fmt = "sarif" if path.suffix.lower() == ".sarif" else "json"
    text = render(findings, RUNTIME_RULES, fmt, root=str(root), extra=extra if fmt == "json" else None)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".dbagents-", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
