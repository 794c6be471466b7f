"""DBA311: a nullable column that has a DEFAULT (it was probably meant to be NOT NULL)."""

from __future__ import annotations

from dbagents.findings import Severity
from dbagents.live.rules._base import LiveRule, qualified, sql_name, user_relation

QUERY = f"""
SELECT n.nspname AS schema, c.relname AS table, a.attname AS column,
       pg_get_expr(d.adbin, d.adrelid) AS default_expr
FROM pg_attribute a
JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT a.attnotnull AND a.attgenerated = '' AND a.attidentity = '' AND a.attnum > 0 AND NOT a.attisdropped
  AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND {user_relation()}
"""


def evaluate(rows, ctx):
    for row in rows:
        if row["default_expr"].strip().upper().startswith("NULL"):
            continue
        obj = qualified(row["schema"], row["table"], row["column"])
        yield RULE.finding(
            obj,
            f"column {obj} has DEFAULT {row['default_expr']} but allows NULL: an explicit NULL still gets in",
            f"ALTER TABLE {sql_name(row['schema'], row['table'])} ALTER COLUMN {sql_name(row['column'])} SET NOT NULL;"
            "  -- on a big table add a CHECK (… IS NOT NULL) NOT VALID, validate it, then SET NOT NULL",
        )


RULE = LiveRule(
    id="DBA311",
    name="nullable-column-with-default",
    summary="Nullable column with a DEFAULT",
    severity=Severity.INFO,
    what="Finds columns that have a DEFAULT (other than NULL) but no NOT NULL constraint. Identity and "
    "generated columns are skipped.",
    why="A default usually means the column always has a value, yet the missing NOT NULL lets an explicit "
    "NULL (or an ORM sending None) through; queries then have to handle three states. In SQLAlchemy this is "
    "typically `server_default=` on a column left `nullable=True`.",
    fix="Add NOT NULL (after cleaning existing NULLs), or drop the default if NULL is meaningful.",
    evaluate=evaluate,
    query=QUERY,
    bad_sql="""
CREATE TABLE invoices (id bigint PRIMARY KEY, status text DEFAULT 'draft');
""",
    good_sql="""
CREATE TABLE invoices (id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'draft', note text);
""",
    example_obj="invoices.status",
)
