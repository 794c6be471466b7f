"""What a live rule is: metadata, one catalog query, a pure function over its rows, and a tested example."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from dbagents.findings import Finding, RuleInfo, Severity
from dbagents.live.settings import LiveSettings


@dataclass
class LiveContext:
    """What every rule may read besides its rows: settings, the schemas checked, Alembic's expected heads."""

    settings: LiveSettings
    schemas: list[str]
    expected_heads: set[str] | None = None
    database: str = ""

    @property
    def params(self) -> dict[str, Any]:
        s = self.settings
        return {"schemas": self.schemas, "seqscan_min_scans": s.seqscan_min_scans,
                "unused_index_max_scans": s.unused_index_max_scans}


@dataclass(frozen=True)
class LiveRule:
    """One DBA3xx rule. `query` runs once per audit (bind parameter %(schemas)s); `evaluate` turns rows into findings.

    `fetch` replaces `query` for rules that must read more than the catalog (DBA310 reads alembic_version).
    `bad_sql`/`good_sql` are executed by the tests on real PostgreSQL: the first must produce a finding whose
    obj ends with `example_obj`, the second must produce none.
    """

    id: str
    name: str
    summary: str
    severity: Severity
    what: str
    why: str
    fix: str
    evaluate: Callable[[list[dict], LiveContext], Iterable[Finding]]
    bad_sql: str
    good_sql: str
    example_obj: str
    query: str = ""
    fetch: Callable[[Any, LiveContext], list[dict]] | None = None
    test_settings: dict = field(default_factory=dict)
    test_kwargs: dict = field(default_factory=dict)

    @property
    def info(self) -> RuleInfo:
        return RuleInfo(self.id, self.name, self.summary, self.severity, self.help)

    @property
    def help(self) -> str:
        return (
            f"## What it does\n\n{self.what.strip()}\n\n"
            f"## Why is this bad\n\n{self.why.strip()}\n\n"
            f"## Example\n\n```sql\n{self.bad_sql.strip()}\n```\n\n"
            f"## Fix\n\n{self.fix.strip()}\n\n```sql\n{self.good_sql.strip()}\n```\n"
        )

    def finding(self, obj: str, message: str, hint: str = "", severity: Severity | None = None,
                detail: dict | None = None) -> Finding:
        """`detail`: the catalog object as data (what `--emit-revision` builds a migration from)."""
        return Finding("", 0, 0, self.id, message, severity or self.severity, hint, obj, detail=detail)


def qualified(*parts: str) -> str:
    return ".".join(p for p in parts if p)


def quote_ident(name: str) -> str:
    """Quote an identifier for hint SQL only when PostgreSQL would need it."""
    if name and (name[0].isalpha() or name[0] == "_") and name.replace("_", "a").isalnum() and name == name.lower():
        return name
    return '"' + name.replace('"', '""') + '"'


def sql_name(*parts: str) -> str:
    return ".".join(quote_ident(p) for p in parts if p)


def user_relation(rel: str = "c", ns: str = "n") -> str:
    """SQL predicate: relation in a checked schema and not owned by an extension."""
    return (
        f"{ns}.nspname = ANY(%(schemas)s) AND NOT EXISTS (SELECT 1 FROM pg_depend ext "
        f"WHERE ext.classid = 'pg_class'::regclass AND ext.objid = {rel}.oid AND ext.deptype = 'e')"
    )
