"""Turn one test's log into raw findings (plain dicts, so xdist workers can send them)."""

from __future__ import annotations

from collections import defaultdict

from dbagents.pytest_plugin.sqlnorm import is_transaction_control, normalize_sql


def _hit(rule: str, site, nodeid: str, obj: str, count: int, detail: str = "", **extra) -> dict:
    filename, line = site if site else ("", 0)
    return {"rule": rule, "file": filename, "line": line, "obj": obj, "count": count,
            "detail": detail, "nodeid": nodeid, **extra}


def lazy_load_hits(log, nodeid: str) -> list[dict]:
    """DBA401: per (Model.attr, call site) the largest number of instances of one result."""
    best: dict[tuple, int] = {}
    for (attr, site, _group), owners in log.lazy.items():
        if len(owners) >= 2:
            best[(attr, site)] = max(best.get((attr, site), 0), len(owners))
    return [_hit("DBA401", site, nodeid, attr, count) for (attr, site), count in best.items()]


def repeated_statement_hits(log, nodeid: str, threshold: int, origin_plain: str = "") -> list[dict]:
    """DBA402: normalized statements (not from relationship loads or allowed blocks) run >= threshold."""
    if threshold <= 0:
        return []
    totals: dict[str, int] = defaultdict(int)
    raw_by_norm: dict[str, list[str]] = defaultdict(list)
    for (statement, origin), count in log.counts.items():
        if origin != origin_plain or is_transaction_control(statement):
            continue
        norm = normalize_sql(statement)
        totals[norm] += count
        raw_by_norm[norm].append(statement)
    hits = []
    for norm, total in totals.items():
        if total < threshold:
            continue
        raws = raw_by_norm[norm]
        site = next((log.repeat_site[r] for r in raws if log.repeat_site.get(r)), None)
        site = site or next((log.first_site[r] for r in raws if log.first_site.get(r)), None)
        hits.append(_hit("DBA402", site, nodeid, norm, total, norm))
    return hits


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


def describe(hit: dict) -> str:
    """One line for a failure message or the terminal."""
    rule, count, obj = hit["rule"], hit["count"], hit["obj"]
    if rule == "DBA401":
        return f"{rule} N+1: {obj} lazy-loaded for {count} instances of one query result"
    if rule == "DBA402":
        return f"{rule} statement executed {count} times: {_short(obj)}"
    if rule == "DBA403":
        return f"{rule} {count} SQL statements, budget is {hit['budget']} (dbagents_max_queries)"
    return f"{rule} lazy load of {obj} under an AsyncSession (MissingGreenlet)"


def _short(sql: str, width: int = 100) -> str:
    return sql if len(sql) <= width else sql[: width - 3] + "..."
