"""Merge raw hits from all tests (and xdist workers) into findings; the terminal summary; the report file.

A finding is one (rule, project line, object or statement). It keeps every test it happened in with that
test's own count, the project stack, the library frame that touched the attribute and, for DBA401, the
query that loaded the rows. Paths are relative to the pytest rootdir (the SARIF file: to the repository
root, base %SRCROOT%); a library file is named from its package (`pydantic/main.py`).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

from dbagents.findings import Finding, Severity
from dbagents.pytest_plugin.analysis import short

RULE_ORDER = ("DBA401", "DBA402", "DBA403", "DBA404")
RULE_TITLES = {"DBA401": "N+1 lazy loads", "DBA402": "statements repeated from one call site",
               "DBA403": "query budgets exceeded", "DBA404": "lazy loads under an AsyncSession"}
STATEMENT_WIDTH = 1000  # the report's `statement` fields
TABLE_SQL_WIDTH = 100  # SQL in the terminal
TABLE_ROWS = 30  # findings shown per rule in the terminal unless -v
MESSAGE_TESTS = 3  # tests named in a message (the report lists all)

_HINTS = {
    "DBA401": "eager-load it on the query that produced the objects{loaded}: .options(selectinload({obj})) "
    "(or joinedload for many-to-one); add raiseload('*') to catch the rest",
    "DBA402": "fetch all keys in one statement (IN / join / executemany) instead of one per row",
    "DBA403": "remove the extra queries or raise the dbagents_max_queries budget",
    "DBA404": "load {obj} eagerly (selectinload) or await it: await obj.awaitable_attrs.<attr>",
}
_EXPIRED_HINT = (
    "{obj} was eager-loaded{loaded} and then expired (commit(), expire() or refresh()), so every object "
    "reloads it alone: read what you need before the commit, re-query after it (the same select with its "
    "loader option, plus .execution_options(populate_existing=True) for objects already in the session), "
    "or create the session with expire_on_commit=False"
)


@dataclass
class Merged:
    """One finding with everything the hits of all its tests said about it (absolute file names)."""

    rule: str
    file: str
    line: int
    obj: str
    count: int = 0
    tests: dict[str, int] = field(default_factory=dict)  # nodeid -> that test's own count
    failed: bool = False
    budget: int | None = None
    statement: str = ""
    stack: list = field(default_factory=list)
    touched: list | None = None
    loaded_by: dict | None = None
    expired: bool = False
    loops: list = field(default_factory=list)  # DBA402: (file, line) of the loops around it, innermost first


def merge(hits: list[dict]) -> list[Merged]:
    """One Merged per (rule, file, line, object or statement), ordered by rule then place."""
    groups: dict[tuple, Merged] = {}
    for hit in hits:
        key = (hit["rule"], hit["file"], hit["line"], hit["obj"])
        merged = groups.get(key)
        if merged is None:
            merged = groups[key] = Merged(hit["rule"], hit["file"], hit["line"], hit["obj"], budget=hit.get("budget"),
                                          statement=hit["obj"] if hit["rule"] == "DBA402" else "")
        if hit["count"] > merged.count:  # the places named are those of the worst test, as its count is
            merged.stack, merged.touched = hit.get("stack") or [], hit.get("touched")
            merged.loaded_by, merged.loops = hit.get("loaded_by"), hit.get("loops") or []
        merged.count = max(merged.count, hit["count"])
        merged.tests[hit["nodeid"]] = max(merged.tests.get(hit["nodeid"], 0), hit["count"])
        merged.failed = merged.failed or hit.get("failed", False)
        merged.expired = merged.expired or hit.get("expired", False)
    return sorted(groups.values(), key=lambda m: (RULE_ORDER.index(m.rule), m.file, m.line, m.obj))


# -- paths -------------------------------------------------------------------------------------------
def display_path(filename: str, root: Path) -> str:
    """Relative to `root` when inside it; a library file from its package folder on; else absolute."""
    if not filename:
        return ""
    path = Path(filename)
    parts = path.parts
    for marker in ("site-packages", "dist-packages"):  # also a virtualenv inside the rootdir
        if marker in parts:
            return "/".join(parts[len(parts) - parts[::-1].index(marker):])
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return path.as_posix()


def _place(site, root: Path) -> str:
    return f"{display_path(site[0], root)}:{site[1]}" if site and site[0] else "?"


def repository_root(rootdir: Path) -> Path:
    """The nearest folder at or above the rootdir holding `.git` (the rootdir itself if none)."""
    for folder in (rootdir, *rootdir.parents):
        if (folder / ".git").exists():
            return folder
    return rootdir


# -- texts -----------------------------------------------------------------------------------------
def tests_text(tests: dict[str, int], limit: int = MESSAGE_TESTS) -> str:
    """'in a.py::t' or 'in 5 tests: a.py::t (7), b.py::u (3), c.py::v (2) and 2 more' (worst first)."""
    ordered = sorted(tests.items(), key=lambda item: (-item[1], item[0]))
    if len(ordered) == 1:
        return f"in {ordered[0][0]}"
    named = ", ".join(f"{nodeid} ({count})" for nodeid, count in ordered[:limit])
    more = f" and {len(ordered) - limit} more" if len(ordered) > limit else ""
    return f"in {len(ordered)} tests: {named}{more}"


def message(m: Merged) -> str:
    where = tests_text(m.tests)
    if m.rule == "DBA401":
        cause = ", each reloaded after it was expired" if m.expired else ""
        return f"N+1: {m.obj} lazy-loaded for {m.count} instances of one query result{cause} ({where})"
    if m.rule == "DBA402":
        return f"one statement ran {m.count} times from one call site ({where})"
    if m.rule == "DBA403":
        return f"{m.count} SQL statements, budget is {m.budget} (dbagents_max_queries) {where}"
    return f"lazy load of {m.obj} under an AsyncSession raised MissingGreenlet ({where})"


def hint(m: Merged, root: Path) -> str:
    loaded = ""
    if m.loaded_by and m.loaded_by.get("file"):
        loaded = f" (the query at {_place((m.loaded_by['file'], m.loaded_by['line']), root)})"
    if m.rule == "DBA401" and m.expired:
        return _EXPIRED_HINT.format(obj=m.obj, loaded=loaded)
    return _HINTS[m.rule].format(obj=m.obj, loaded=loaded)


def context_line(m: Merged, root: Path, with_statement: bool = True) -> str:
    """'loaded by SELECT … at app/x.py:38, touched in pydantic/main.py:596 called from app/x.py:39'."""
    parts = []
    if m.loaded_by and (m.loaded_by.get("file") or m.loaded_by.get("statement")):
        sql = short(m.loaded_by.get("statement") or "a query", TABLE_SQL_WIDTH)
        at = f" at {_place((m.loaded_by['file'], m.loaded_by['line']), root)}" if m.loaded_by.get("file") else ""
        parts.append(f"loaded by {sql}{at}")
    if m.rule == "DBA402" and with_statement:
        parts.append(short(m.statement, TABLE_SQL_WIDTH))
    if m.loops:
        outer = f" (inside the loop at {_place(m.loops[1], root)})" if len(m.loops) > 1 else ""
        parts.append(f"in the loop at {_place(m.loops[0], root)}{outer}")
    if m.touched:
        parts.append(f"touched in {_place(m.touched, root)} called from {_place((m.file, m.line), root)}")
    if len(m.stack) > 1:
        parts.append("via " + " < ".join(_place(site, root) for site in m.stack[1:4])
                     + (" < ..." if len(m.stack) > 4 else ""))
    return ", ".join(parts)


def to_finding(m: Merged, root: Path) -> Finding:
    return Finding(
        path=display_path(m.file, root),
        line=m.line,
        col=0,
        rule_id=m.rule,
        message=message(m),
        severity=Severity.ERROR if m.failed else Severity.WARNING,
        hint=hint(m, root),
        obj=m.obj if m.rule in ("DBA401", "DBA404") else "",
    )


def details(m: Merged, root: Path) -> dict:
    """The report's per-finding fields beyond a plain finding."""
    data: dict = {"count": m.count, "tests": [{"test": nodeid, "count": count}
                            for nodeid, count in sorted(m.tests.items(), key=lambda i: (-i[1], i[0]))]}
    if m.statement:
        data["statement"] = short(m.statement, STATEMENT_WIDTH)
    if m.loaded_by:
        data["loaded_by"] = {"path": display_path(m.loaded_by.get("file", ""), root),
                             "line": m.loaded_by.get("line", 0),
                             "statement": short(m.loaded_by.get("statement", ""), STATEMENT_WIDTH)}
    if m.touched:
        data["touched_in"] = {"path": display_path(m.touched[0], root), "line": m.touched[1]}
    if m.loops:
        data["loops"] = [{"path": display_path(f, root), "line": line} for f, line in m.loops]
    if m.stack:
        data["stack"] = [{"path": display_path(f, root), "line": line} for f, line in m.stack]
    if m.rule == "DBA401":
        data["expired"] = m.expired
    return data


# -- terminal --------------------------------------------------------------------------------------
def summary_lines(merged: list[Merged], root: Path, verbose: bool = False) -> list[str]:
    """Grouped by rule (DBA401 first), a total per rule, one row per finding plus its context line."""
    lines = []
    for rule in RULE_ORDER:
        rows = [m for m in merged if m.rule == rule]
        if not rows:
            continue
        tests = {nodeid for m in rows for nodeid in m.tests}
        lines.append(f"{rule} {RULE_TITLES[rule]}: {len(rows)} finding(s) in {len(tests)} test(s)")
        shown = rows if verbose else rows[:TABLE_ROWS]
        for m in shown:
            finding = to_finding(m, root)
            place = f"{finding.path}:{finding.line}" if finding.path else "?"
            lines.append(f"  {finding.severity.label:7}  {place}  {finding.message}")
            extra = context_line(m, root)
            if extra:
                lines.append(f"           {extra}")
        if len(shown) < len(rows):
            lines.append(f"  ... {len(rows) - len(shown)} more {rule} (-v shows all; --dbagents-report=PATH lists all)")
    totals = ", ".join(f"{rule} {sum(1 for m in merged if m.rule == rule)}"
                       for rule in RULE_ORDER if any(m.rule == rule for m in merged))
    lines.append(f"total: {totals}")
    return lines


# -- report file -----------------------------------------------------------------------------------
def write_report(path: Path, merged: list[Merged], rootdir: Path, extra: dict) -> None:
    """SARIF when the name ends in .sarif, JSON otherwise; written atomically, mode 0666 less the umask."""
    from dbagents.pytest_plugin.rules import RUNTIME_RULES
    from dbagents.reporting import render

    if path.suffix.lower() == ".sarif":
        base = repository_root(rootdir)
        ordered = sorted(merged, key=lambda m: to_finding(m, base))
        doc = json.loads(render([to_finding(m, base) for m in ordered], RUNTIME_RULES, "sarif", root=str(base)))
        _add_sarif_details(doc, ordered, base)
    else:
        ordered = sorted(merged, key=lambda m: to_finding(m, rootdir))
        doc = json.loads(render([to_finding(m, rootdir) for m in ordered], RUNTIME_RULES, "json",
                                root=str(rootdir), extra=extra))
        counts = {rule: sum(1 for m in merged if m.rule == rule) for rule in RULE_ORDER}
        doc["summary"]["by_rule"] = {rule: n for rule, n in counts.items() if n}
        for entry, m in zip(doc["findings"], ordered):
            entry.pop("column", None)  # not known for a runtime frame
            entry.update(details(m, rootdir))
    _write_atomically(path, json.dumps(doc, indent=2) + "\n")


def _add_sarif_details(doc: dict, ordered: list[Merged], base: Path) -> None:
    for result, m in zip(doc["runs"][0]["results"], ordered):
        for location in result.get("locations", ()):
            location.get("physicalLocation", {}).get("region", {}).pop("startColumn", None)
        related = []
        if m.loaded_by and m.loaded_by.get("file"):
            text = "loaded by " + short(m.loaded_by.get("statement") or "this query", 300)
            related.append(_sarif_location(m.loaded_by["file"], m.loaded_by["line"], text, base))
        if m.touched:
            related.append(_sarif_location(m.touched[0], m.touched[1], "touched in this library frame", base))
        for filename, line in m.loops:
            related.append(_sarif_location(filename, line, "the loop", base))
        for filename, line in m.stack[1:]:
            related.append(_sarif_location(filename, line, "called from", base))
        for number, location in enumerate(related, 1):
            location["id"] = number
        if related:
            result["relatedLocations"] = related
        result["properties"] = {"tests": [{"test": t, "count": c} for t, c in sorted(m.tests.items())]}
        if m.statement:
            result["properties"]["statement"] = short(m.statement, STATEMENT_WIDTH)


def _sarif_location(filename: str, line: int, text: str, base: Path) -> dict:
    path = Path(filename)
    try:
        artifact = {"uri": path.resolve().relative_to(base.resolve()).as_posix(), "uriBaseId": "%SRCROOT%"}
    except (ValueError, OSError):
        artifact = {"uri": path.resolve().as_uri()}  # a library outside the repository
    return {"physicalLocation": {"artifactLocation": artifact, "region": {"startLine": line}},
            "message": {"text": text}}


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for any output
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
