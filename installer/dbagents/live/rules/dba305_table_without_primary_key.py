"""DBA305: tables (and partitioned tables) without a primary key."""

from __future__ import annotations

from dbagents.findings import Severity
from dbagents.live.rules._base import LiveRule, qualified, sql_name, user_relation

QUERY = f"""
SELECT n.nspname AS schema, c.relname AS table, c.relkind::text AS relkind,
       (SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
          AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey) k(attnum) JOIN pg_attribute a
                          ON a.attrelid = c.oid AND a.attnum = k.attnum WHERE NOT a.attnotnull)
        ORDER BY ic.relname LIMIT 1) AS promotable_index
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {user_relation()}
  AND NOT EXISTS (SELECT 1 FROM pg_constraint p WHERE p.conrelid = c.oid AND p.contype = 'p')
"""


def evaluate(rows, ctx):
    for row in rows:
        obj = qualified(row["schema"], row["table"])
        kind = "partitioned table" if row["relkind"] == "p" else "table"
        if row["promotable_index"]:
            hint = (f"ALTER TABLE {sql_name(row['schema'], row['table'])} ADD PRIMARY KEY USING INDEX "
                    f"{sql_name(row['promotable_index'])};")
        else:
            hint = (f"ALTER TABLE {sql_name(row['schema'], row['table'])} ADD COLUMN id bigint GENERATED ALWAYS "
                    "AS IDENTITY PRIMARY KEY;  -- or a primary key on the natural key")
        yield RULE.finding(obj, f"{kind} {obj} has no primary key", hint)


RULE = LiveRule(
    id="DBA305",
    name="table-without-primary-key",
    summary="Table without a primary key",
    severity=Severity.WARNING,
    what="Finds ordinary and partitioned tables (partitions are covered by their parent) with no PRIMARY KEY "
    "constraint. When a unique index on NOT NULL columns exists, the hint promotes it.",
    why="Without a primary key rows cannot be addressed reliably: duplicates creep in, logical replication "
    "cannot replicate UPDATE/DELETE, and the SQLAlchemy ORM cannot map the table.",
    fix="Add a primary key (an identity column, or promote an existing unique index on NOT NULL columns).",
    evaluate=evaluate,
    query=QUERY,
    bad_sql="""
CREATE TABLE audit_log (happened_at timestamptz NOT NULL, message text);
""",
    good_sql="""
CREATE TABLE audit_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                        happened_at timestamptz NOT NULL, message text);
""",
    example_obj="audit_log",
)
