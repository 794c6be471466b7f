"""Turn one test's log into raw findings (plain dicts, so xdist workers can send them)."""

from __future__ import annotations

import os
from collections import defaultdict

from dbagents.pytest_plugin.frames import MAX_STACK
from dbagents.pytest_plugin.loops import find_loops, is_test_code, loop_frames
from dbagents.pytest_plugin.sqlnorm import is_transaction_control, normalize_sql


def _hit(rule: str, site, nodeid: str, obj: str, count: int, detail: str = "", **extra) -> dict:
    filename, line = site if site else ("", 0)
    return {"rule": rule, "file": filename, "line": line, "obj": obj, "count": count,
            "detail": detail, "nodeid": nodeid, **extra}


def _sites(frames) -> list[list]:
    return [[filename, line] for filename, line in frames]


def lazy_load_hits(log, nodeid: str) -> list[dict]:
    """DBA401: per (Model.attr, call site) the largest number of instances of one result, with the
    query that loaded them, the library frame that touched the attribute and the project stack."""
    best: dict[tuple, tuple[int, int]] = {}
    for (attr, site, group), owners in log.lazy.items():
        if len(owners) >= 2 and len(owners) > best.get((attr, site), (0, 0))[0]:
            best[(attr, site)] = (len(owners), group)
    hits = []
    for (attr, site), (count, group) in best.items():
        where = log.lazy_where.get((attr, site, group))
        loaded_site, statement = log.results.get(group, (None, None))
        hits.append(_hit(
            "DBA401", site, nodeid, attr, count,
            stack=_sites(where.stack) if where else [],
            touched=list(where.touched) if where and where.touched and where.stack else None,
            loaded_by={"file": loaded_site[0] if loaded_site else "", "line": loaded_site[1] if loaded_site else 0,
                       "statement": _sql(statement)},
            expired=(attr, site, group) in log.expired,
        ))
    return hits


def repeated_statement_hits(log, nodeid: str, threshold: int, test_file: str = "", rootdir: str = "") -> list[dict]:
    """DBA402: one normalized statement run `threshold` or more times from one project call site (the
    same chain of project frames and lines: a loop or a comprehension, not separate calls). A loop in
    test code (the test seeding data, or calling an endpoint N times) is the test's own repetition and
    is not reported; when it calls a project loop, that loop must reach `threshold` in one pass."""
    if threshold <= 0:
        return []
    rootdir = rootdir or os.path.dirname(test_file)
    totals: dict[tuple, int] = defaultdict(int)
    members: dict[tuple, set] = defaultdict(set)  # (fingerprint, stack) -> the recorded texts behind it
    touched: dict[tuple, object] = {}
    for (statement, stack), count in log.repeats.items():
        if not stack:
            continue  # no project frame ran it: not the project's loop
        key = (normalize_sql(statement), stack)
        totals[key] += count
        members[key].add((statement, stack))
        touched.setdefault(key, log.repeat_touched.get((statement, stack)))
    hits = []
    for (norm, stack), total in totals.items():
        if total < threshold:
            continue
        loops = find_loops(stack)
        if loops and test_file and is_test_code(loops[0][0], test_file, rootdir):
            continue
        one_pass = _pass_frame(stack, test_file, rootdir) if loops and test_file else None
        if one_pass is not None and _largest_pass(log.order, members[(norm, stack)], stack, one_pass) < threshold:
            continue  # the test's loop repeated a project loop that runs it fewer times per call
        library = touched.get((norm, stack))
        hits.append(_hit("DBA402", stack[0], nodeid, norm, total, norm, stack=_sites(stack),
                         touched=list(library) if library else None, loops=_sites(loops)))
    return hits


def _pass_frame(stack, test_file: str, rootdir: str):
    """When a loop in test code encloses the project's loops: the outermost project loop inside it, with
    its frame (one run of that loop is one pass of the project's own repetition). Else None."""
    candidate = None
    for frame in loop_frames(stack):
        if is_test_code(frame[1], test_file, rootdir):
            return candidate
        candidate = frame
    return None


def _largest_pass(order, members: set, stack: tuple, frame) -> int:
    """The most executions of one statement within one pass of the loop in `frame` (index, file, first
    and last line of the loop). A pass ends when a statement runs outside that loop's frame: one whose
    stack does not have that file at a line of the loop below the same outer frames. A statement with no
    project frame or a stack cut short at MAX_STACK cannot tell and ends nothing; so do passes with no
    statement between them, which then count as one."""
    index, filename, first, last = frame
    outer = stack[index + 1:]
    depth = len(outer)
    best = current = 0
    for key in order:
        if key in members:
            current += 1
            best = max(best, current)
            continue
        frames = key[1]
        size = len(frames)
        if size > depth:
            loop_file, line = frames[size - depth - 1]
            if loop_file == filename and first <= line <= last and frames[size - depth:] == outer:
                continue  # inside the same pass
        if not frames or size >= MAX_STACK:
            continue
        current = 0
    return best


def counted_statements(log) -> list[str]:
    """Statements that count against a query budget (transaction control excluded)."""
    return [s for s in log.statements if not is_transaction_control(s)]


def budget_hit(log, nodeid: str, budget: int, test_site) -> dict | None:
    """DBA403: more statements than `dbagents_max_queries(budget)` allows."""
    statements = counted_statements(log)
    if len(statements) <= budget:
        return None
    return _hit("DBA403", test_site, nodeid, nodeid, len(statements), budget=budget,
                statements=[normalize_sql(s) for s in statements])


def async_lazy_hits(log, nodeid: str) -> list[dict]:
    """DBA404: lazy loads that raised MissingGreenlet under an AsyncSession."""
    seen: dict[tuple, int] = defaultdict(int)
    for attr, site in log.async_lazy:
        seen[(attr, site)] += 1
    return [_hit("DBA404", site, nodeid, attr, count) for (attr, site), count in seen.items()]


def _sql(statement) -> str:
    """The SQL of a recorded ORM statement (default dialect), normalized; "" if it cannot compile."""
    if statement is None:
        return ""
    try:
        return normalize_sql(str(statement))
    except Exception:  # a dialect-only construct: the location still says which query it was
        return ""


def describe(hit: dict) -> str:
    """One line for a failure message or the terminal."""
    rule, count, obj = hit["rule"], hit["count"], hit["obj"]
    if rule == "DBA401":
        cause = " (eager-loaded, then expired)" if hit.get("expired") else ""
        return f"{rule} N+1: {obj} lazy-loaded for {count} instances of one query result{cause}"
    if rule == "DBA402":
        return f"{rule} statement executed {count} times from one call site: {short(obj)}"
    if rule == "DBA403":
        return f"{rule} {count} SQL statements, budget is {hit['budget']} (dbagents_max_queries)"
    return f"{rule} lazy load of {obj} under an AsyncSession (MissingGreenlet)"


def short(sql: str, width: int = 100) -> str:
    return sql if len(sql) <= width else sql[: width - 3] + "..."
