"""DBA302: invalid indexes (failed CREATE INDEX CONCURRENTLY) and NOT VALID constraints."""

from __future__ import annotations

from dbagents.findings import Severity
from dbagents.live.rules._base import LiveRule, qualified, sql_name, user_relation

QUERY = f"""
SELECT 'index' AS kind, n.nspname AS schema, c.relname AS table, ic.relname AS name,
       ic.relkind::text AS subkind, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid AND {user_relation()}
UNION ALL
SELECT 'constraint', n.nspname, c.relname, con.conname, con.contype::text, pg_get_constraintdef(con.oid)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT con.convalidated AND con.conparentid = 0 AND {user_relation()}
"""


def evaluate(rows, ctx):
    for row in rows:
        obj = qualified(row["schema"], row["table"])
        detail = {"kind": "invalid_index" if row["kind"] == "index" else "not_valid_constraint",
                  "schema": row["schema"], "table": row["table"], "name": row["name"],
                  "definition": row["definition"], "partitioned": row["subkind"] == "I"}
        if row["kind"] == "index":
            index = sql_name(row["schema"], row["name"])
            if row["subkind"] == "I":
                message = (f"partitioned index {row['name']} on {obj} is invalid: not every partition has an "
                           "attached index, so it is not enforced or used on all partitions")
                hint = f"create the missing partition indexes and ALTER INDEX {index} ATTACH PARTITION <partition_index>;"
            else:
                message = (f"index {row['name']} on {obj} is invalid (a failed or running CREATE INDEX "
                           "CONCURRENTLY): writes maintain it but queries never use it")
                hint = f"REINDEX INDEX CONCURRENTLY {index};  -- or DROP INDEX CONCURRENTLY {index}; and create it again"
        else:
            kind = {"f": "foreign key", "c": "check constraint"}.get(row["subkind"], "constraint")
            message = (f"{kind} {row['name']} on {obj} is NOT VALID: existing rows were never checked "
                       f"({row['definition']})")
            hint = (f"ALTER TABLE {sql_name(row['schema'], row['table'])} VALIDATE CONSTRAINT {sql_name(row['name'])};"
                    "  -- takes only a SHARE UPDATE EXCLUSIVE lock")
        yield RULE.finding(obj, message, hint, detail=detail)


RULE = LiveRule(
    id="DBA302",
    name="invalid-index-or-constraint",
    summary="Invalid index or NOT VALID constraint",
    severity=Severity.WARNING,
    what="Finds indexes with `indisvalid = false` (a CREATE INDEX CONCURRENTLY that failed or is still "
    "running, or a partitioned index missing partitions) and CHECK / foreign-key constraints still marked "
    "NOT VALID.",
    why="An invalid index costs write time and disk but is never used by the planner, and a unique one "
    "does not guarantee uniqueness. A NOT VALID constraint is enforced for new rows only: old rows may "
    "violate it, and the planner cannot rely on it.",
    fix="Rebuild or drop the invalid index; validate NOT VALID constraints once the data is clean.",
    evaluate=evaluate,
    query=QUERY,
    bad_sql="""
CREATE TABLE accounts (id bigint PRIMARY KEY, balance numeric NOT NULL);
ALTER TABLE accounts ADD CONSTRAINT balance_not_negative CHECK (balance >= 0) NOT VALID;
""",
    good_sql="""
CREATE TABLE accounts (id bigint PRIMARY KEY, balance numeric NOT NULL);
ALTER TABLE accounts ADD CONSTRAINT balance_not_negative CHECK (balance >= 0) NOT VALID;
ALTER TABLE accounts VALIDATE CONSTRAINT balance_not_negative;
""",
    example_obj="accounts",
)
