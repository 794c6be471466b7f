"""DBA307: timestamp without time zone, json instead of jsonb, FK column type different from the referenced one."""

from __future__ import annotations

from dbagents.findings import Severity
from dbagents.live.rules._base import LiveRule, qualified, sql_name, user_relation

QUERY = f"""
SELECT 'type' AS kind, n.nspname AS schema, c.relname AS table, a.attname AS column,
       format_type(a.atttypid, a.atttypmod) AS column_type, NULL::text AS ref, NULL::text AS ref_type,
       NULL::text AS constraint_name
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped
  AND a.atttypid IN ('timestamp'::regtype, 'json'::regtype) AND {user_relation()}
UNION ALL
SELECT 'fk', n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
       rn.nspname || '.' || rc.relname || '.' || ra.attname, format_type(ra.atttypid, ra.atttypmod), con.conname
FROM pg_constraint con
CROSS JOIN LATERAL unnest(con.conkey, con.confkey) AS k(attnum, ref_attnum)
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
JOIN pg_class rc ON rc.oid = con.confrelid
JOIN pg_namespace rn ON rn.oid = rc.relnamespace
JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.ref_attnum
WHERE con.contype = 'f' AND con.conparentid = 0 AND a.atttypid <> ra.atttypid AND {user_relation()}
"""


def evaluate(rows, ctx):
    for row in rows:
        obj = qualified(row["schema"], row["table"], row["column"])
        target = f"{sql_name(row['schema'], row['table'])} ALTER COLUMN {sql_name(row['column'])}"
        if row["kind"] == "fk":
            yield RULE.finding(
                obj,
                f"foreign key {row['constraint_name']}: column {obj} is {row['column_type']} but the referenced "
                f"column {row['ref']} is {row['ref_type']}; every join and check needs a cast",
                f"ALTER TABLE {target} TYPE {row['ref_type']};",
            )
        elif row["column_type"].startswith("json"):
            yield RULE.finding(
                obj,
                f"column {obj} is json: stored as text, re-parsed on every access, no equality or GIN index",
                f"ALTER TABLE {target} TYPE jsonb USING {sql_name(row['column'])}::jsonb;",
            )
        else:
            yield RULE.finding(
                obj,
                f"column {obj} is {row['column_type']}: the value has no time zone, so the instant it "
                "means depends on the writer's session",
                f"ALTER TABLE {target} TYPE timestamptz USING {sql_name(row['column'])} AT TIME ZONE 'UTC';"
                "  -- use the zone the values were written in",
            )


RULE = LiveRule(
    id="DBA307",
    name="column-type-smell",
    summary="timestamp without time zone, json, or FK type mismatch",
    severity=Severity.WARNING,
    what="Finds columns of type `timestamp without time zone` or `json` and foreign-key columns whose type "
    "differs from the referenced column's type (e.g. integer referencing bigint). Partitions are covered by "
    "their parent.",
    why="`timestamp` stores wall-clock time without an offset, so values written from different time zones "
    "cannot be compared. `json` is re-parsed on every read and cannot be indexed like `jsonb`. A foreign key "
    "whose type differs from its target forces casts and can overflow before the parent key does.",
    fix="Use timestamptz, jsonb, and the exact type of the referenced column (SQLAlchemy: "
    "`DateTime(timezone=True)`, `JSONB`, `BigInteger` on both sides).",
    evaluate=evaluate,
    query=QUERY,
    bad_sql="""
CREATE TABLE authors (id bigint PRIMARY KEY);
CREATE TABLE posts (id bigint PRIMARY KEY, author_id integer REFERENCES authors (id),
                    published_at timestamp, meta json);
CREATE INDEX ix_posts_author_id ON posts (author_id);
""",
    good_sql="""
CREATE TABLE authors (id bigint PRIMARY KEY);
CREATE TABLE posts (id bigint PRIMARY KEY, author_id bigint REFERENCES authors (id),
                    published_at timestamptz, meta jsonb);
CREATE INDEX ix_posts_author_id ON posts (author_id);
""",
    example_obj="posts.author_id",
)
