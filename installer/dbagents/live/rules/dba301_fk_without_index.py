"""DBA301: a foreign key whose columns are not the leading columns of any valid, non-partial index."""

from __future__ import annotations

from dbagents.findings import Severity
from dbagents.live.rules._base import LiveRule, qualified, quote_ident, sql_name, user_relation

QUERY = f"""
SELECT n.nspname AS schema, c.relname AS table, c.relkind::text AS relkind, con.conname AS name,
       con.conkey::int2[] AS conkey, fn.nspname AS ref_schema, fc.relname AS ref_table,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
       coalesce((SELECT json_agg(json_build_object('keys', i.indkey::int2[], 'nkey', i.indnkeyatts))
                 FROM pg_index i WHERE i.indrelid = con.conrelid AND i.indisvalid AND i.indpred IS NULL),
                '[]'::json) AS indexes
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class fc ON fc.oid = con.confrelid
JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE con.contype = 'f' AND con.conparentid = 0 AND {user_relation()}
"""


def _covered(conkey: list[int], indexes: list[dict]) -> bool:
    wanted = set(conkey)
    width = len(conkey)
    for index in indexes:
        keys = index["keys"][: index["nkey"]]
        if len(keys) >= width and set(keys[:width]) == wanted:
            return True
    return False


def evaluate(rows, ctx):
    for row in rows:
        if _covered(row["conkey"], row["indexes"]):
            continue
        cols = row["columns"]
        obj = qualified(row["schema"], row["table"], cols[0] if len(cols) == 1 else "")
        index_name = quote_ident(f"ix_{row['table']}_{'_'.join(cols)}"[:63])
        concurrently = "" if row["relkind"] == "p" else " CONCURRENTLY"
        yield RULE.finding(
            obj,
            f"foreign key {row['name']} on {row['schema']}.{row['table']}({', '.join(cols)}) has no index "
            f"starting with these columns; deletes and key updates on {row['ref_schema']}.{row['ref_table']} "
            f"scan {row['table']}",
            f"CREATE INDEX{concurrently} {index_name} ON {sql_name(row['schema'], row['table'])} "
            f"({', '.join(quote_ident(c) for c in cols)});",
            detail={"kind": "fk_without_index", "schema": row["schema"], "table": row["table"],
                    "columns": list(cols), "constraint": row["name"], "partitioned": row["relkind"] == "p"},
        )


RULE = LiveRule(
    id="DBA301",
    name="fk-without-index",
    summary="Foreign key without an index on its columns",
    severity=Severity.WARNING,
    what="Finds foreign keys whose columns are not the leading columns (in any order) of a valid, "
    "non-partial index on the referencing table. Partitioned tables are checked once, on the parent.",
    why="PostgreSQL indexes the referenced side of a foreign key, never the referencing side. Every "
    "DELETE or key UPDATE on the parent must find the child rows, which without an index is a sequential "
    "scan of the child table while holding locks; joins from parent to children are slow too.",
    fix="Create an index whose leading columns are the foreign key's columns (CONCURRENTLY on a live table).",
    evaluate=evaluate,
    query=QUERY,
    bad_sql="""
CREATE TABLE customers (id bigint PRIMARY KEY);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES customers (id));
""",
    good_sql="""
CREATE TABLE customers (id bigint PRIMARY KEY);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES customers (id));
CREATE INDEX ix_orders_customer_id ON orders (customer_id);
""",
    example_obj="orders.customer_id",
)
