"""Live PostgreSQL checks (DBA3xx): a handful of catalog queries in one read-only session.

`run_live_checks(url)` never writes: one connection named `dbagents`, a READ ONLY transaction with
statement_timeout and lock_timeout set, always rolled back. Findings carry `obj` (schema.table[.column]);
path and line are left for the caller to map onto models and migrations.
"""

from __future__ import annotations

from dbagents.errors import InputError
from dbagents.findings import Finding, RuleInfo
from dbagents.live.connection import describe_target, libpq_url, mask_url, readonly_session, scrub
from dbagents.live.rules import ALL_RULES, LiveContext, LiveRule
from dbagents.live.settings import LiveSettings

LIVE_RULES: dict[str, RuleInfo] = {rule.id: rule.info for rule in ALL_RULES}
RULES_BY_ID: dict[str, LiveRule] = {rule.id: rule for rule in ALL_RULES}

SYSTEM_SCHEMAS_SQL = """
SELECT nspname FROM pg_namespace n
WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND nspname NOT LIKE 'pg\\_temp\\_%%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_namespace'::regclass
                  AND e.objid = n.oid AND e.deptype = 'e')
ORDER BY nspname
"""

__all__ = ["LIVE_RULES", "LiveSettings", "mask_url", "run_live_checks", "readonly_session"]


def _resolve_schemas(conn, wanted: list[str] | None, target: str) -> list[str]:
    available = [r[0] for r in conn.execute(SYSTEM_SCHEMAS_SQL).fetchall()]
    if not wanted:
        return available
    missing = [s for s in wanted if s not in available]
    if missing:
        raise InputError(
            f"schema {', '.join(missing)} not found at {target} (schemas there: {', '.join(available) or 'none'}); "
            "fix --schema"
        )
    return list(dict.fromkeys(wanted))


def _run_rule(conn, rule: LiveRule, ctx: LiveContext) -> list[dict]:
    from psycopg.rows import dict_row

    if rule.fetch is not None:
        return rule.fetch(conn, ctx)
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(rule.query, ctx.params).fetchall()


def run_live_checks(
    url: str,
    *,
    schemas: list[str] | None = None,
    settings: dict | LiveSettings | None = None,
    expected_heads: set[str] | None = None,
    select: set[str] | None = None,
) -> list[Finding]:
    """Run the DBA3xx rules (all, or the ids in `select`) against the database at `url`; return sorted findings.

    `schemas`: schemas to check (default: every non-system schema). `settings`: see `LiveSettings`.
    `expected_heads`: Alembic head revisions for DBA310 (skipped when None).
    Raises InputError (one line, no password) when the database cannot be reached or a query fails.
    """
    cfg = settings if isinstance(settings, LiveSettings) else LiveSettings.from_mapping(settings)
    wanted = {s.upper() for s in select} if select else None
    rules = [r for r in ALL_RULES if wanted is None or r.id in wanted]
    target = describe_target(libpq_url(url))
    findings: list[Finding] = []
    import psycopg

    current = "schema discovery"
    with readonly_session(url, cfg) as conn:
        try:
            ctx = LiveContext(settings=cfg, schemas=_resolve_schemas(conn, schemas, target),
                              expected_heads=set(expected_heads) if expected_heads is not None else None)
            for rule in rules:
                current = rule.id
                rows = _run_rule(conn, rule, ctx)
                findings.extend(rule.evaluate(rows, ctx))
        except psycopg.errors.QueryCanceled:
            raise InputError(
                f"{current} catalog query at {target} exceeded statement_timeout ({cfg.statement_timeout_ms} ms); "
                "raise statement_timeout_ms in [tool.dbagents.live]"
            ) from None
        except psycopg.errors.LockNotAvailable:
            raise InputError(
                f"{current} waited longer than lock_timeout ({cfg.lock_timeout_ms} ms) at {target} "
                "(a migration holds a lock?); retry later or raise lock_timeout_ms in [tool.dbagents.live]"
            ) from None
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())
            raise InputError(f"{current} query failed at {target}: {scrub(reason, url)}") from None
    return sorted(findings)
