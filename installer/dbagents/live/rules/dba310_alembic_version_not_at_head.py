"""DBA310: the database's alembic_version is not the migrations' head(s)."""

from __future__ import annotations

from dbagents.findings import Severity
from dbagents.live.rules._base import LiveRule, qualified

FIND_TABLES = """
SELECT n.nspname AS schema, c.relname AS table,
       has_table_privilege(c.oid, 'SELECT') AS readable
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = %(version_table)s AND c.relkind IN ('r', 'p') AND n.nspname = ANY(%(schemas)s)
ORDER BY n.nspname
"""


def fetch(conn, ctx):
    """Find the version table(s) in the checked schemas and read their rows (one small read each)."""
    if ctx.expected_heads is None:
        return []
    from psycopg import sql

    params = {**ctx.params, "version_table": ctx.settings.version_table}
    with conn.cursor() as cur:
        tables = cur.execute(FIND_TABLES, params).fetchall()
        rows = []
        for schema, table, readable in tables:
            versions = None
            if readable:
                query = sql.SQL("SELECT version_num FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
                versions = sorted(r[0] for r in cur.execute(query).fetchall())
            rows.append({"schema": schema, "table": table, "versions": versions})
    return rows or [{"schema": None, "table": ctx.settings.version_table, "versions": None}]


def evaluate(rows, ctx):
    expected = set(ctx.expected_heads or ())
    if ctx.expected_heads is None:
        return
    heads = ", ".join(sorted(expected)) or "(no revisions)"
    for row in rows:
        if row["schema"] is None:
            if expected:
                where = ", ".join(ctx.schemas)
                yield RULE.finding(
                    row["table"],
                    f"no {row['table']} table in schema(s) {where}: the database was never migrated with "
                    f"Alembic, but the migrations' head is {heads}",
                    "run `alembic upgrade head` (or `alembic stamp head` if the schema was created another way)",
                )
            continue
        obj = qualified(row["schema"], row["table"])
        if row["versions"] is None:
            yield RULE.finding(obj, f"cannot read {obj}: permission denied; grant SELECT to the checking role")
            continue
        current = set(row["versions"])
        if current == expected:
            continue
        at = ", ".join(sorted(current)) or "(empty: base)"
        behind = expected - current
        yield RULE.finding(
            obj,
            f"{obj} is at {at} but the migrations' head is {heads}"
            + (" (pending migrations or a hotfix applied outside Alembic)" if behind else ""),
            "run `alembic upgrade head`; if the database is ahead, deploy the code that has its revisions",
        )


RULE = LiveRule(
    id="DBA310",
    name="alembic-version-not-at-head",
    summary="alembic_version is not at the migrations' head",
    severity=Severity.ERROR,
    what="Reads the `alembic_version` table (name configurable as `version_table`) in the checked schemas "
    "and compares its revisions with the head revisions of the project's migration scripts, which the static "
    "engine computes without executing them. Skipped when no heads are known.",
    why="A database behind its migrations runs code that expects columns it does not have; one ahead or on "
    "another branch was changed by a hotfix or another deploy, and the next `alembic upgrade` may fail.",
    fix="Run `alembic upgrade head` as part of the deploy, or stamp the database if it was migrated by hand.",
    evaluate=evaluate,
    fetch=fetch,
    bad_sql="""
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
INSERT INTO alembic_version VALUES ('1a2b3c4d5e6f');
""",
    good_sql="""
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
INSERT INTO alembic_version VALUES ('9f8e7d6c5b4a');
""",
    example_obj="alembic_version",
    test_kwargs={"expected_heads": {"9f8e7d6c5b4a"}},
)
