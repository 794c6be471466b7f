"""DBA303: duplicate indexes and indexes whose key columns are a prefix of another index."""

from __future__ import annotations

from collections import defaultdict

from dbagents.findings import Severity
from dbagents.live.rules._base import LiveRule, qualified, sql_name, user_relation

QUERY = f"""
SELECT i.indexrelid AS oid, n.nspname AS schema, c.relname AS table, ic.relname AS name, am.amname AS am,
       i.indisunique AS is_unique, i.indisprimary AS is_primary, i.indisexclusion AS is_exclusion,
       i.indkey::int2[] AS keys, i.indnkeyatts AS nkey, i.indclass::oid[] AS opclasses,
       i.indcollation::oid[] AS collations, i.indoption::int2[] AS options,
       pg_get_expr(i.indexprs, i.indrelid) AS exprs, pg_get_expr(i.indpred, i.indrelid) AS pred,
       (k.conindid IS NOT NULL) AS backs_constraint
FROM pg_index i
LEFT JOIN (SELECT DISTINCT conindid FROM pg_constraint WHERE contype IN ('p', 'u', 'x')) k ON k.conindid = i.indexrelid
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_am am ON am.oid = ic.relam
WHERE i.indisvalid AND NOT ic.relispartition AND {user_relation()}
"""


def _signature(row: dict) -> tuple:
    return (row["am"], tuple(row["keys"]), row["nkey"], tuple(row["opclasses"]), tuple(row["collations"]),
            tuple(row["options"]), row["exprs"], row["pred"])


def _keeper_rank(row: dict) -> tuple:
    return (not row["is_primary"], not row["backs_constraint"], not row["is_unique"], row["name"])


def _is_prefix_of(small: dict, big: dict) -> bool:
    """`small`'s key columns (same opclass, collation, order) lead `big`'s key columns, and it adds nothing."""
    width = small["nkey"]
    if small["am"] != "btree" or big["am"] != "btree" or small["is_unique"] or small["backs_constraint"]:
        return False
    if small["exprs"] or big["exprs"] or 0 in small["keys"] or small["pred"] != big["pred"]:
        return False
    if len(small["keys"]) != width or width >= big["nkey"]:  # INCLUDE columns, or not shorter
        return False
    return all(small[k][:width] == big[k][:width] for k in ("keys", "opclasses", "collations", "options"))


def _redundancies(rows):
    """(table obj, redundant index, the index that makes it redundant, "duplicate" | "prefix") per finding."""
    by_table: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        by_table[(row["schema"], row["table"])].append(row)
    for (schema, table), indexes in sorted(by_table.items()):
        flagged: set[str] = set()
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for index in indexes:
            groups[_signature(index)].append(index)
        for group in groups.values():
            if len(group) < 2:
                continue
            keeper, *extras = sorted(group, key=_keeper_rank)
            for extra in extras:
                flagged.add(extra["name"])
                yield extra, keeper, "duplicate"
        for small in indexes:
            if small["name"] in flagged:
                continue
            for big in sorted(indexes, key=lambda r: r["name"]):
                if big is not small and big["name"] not in flagged and _is_prefix_of(small, big):
                    flagged.add(small["name"])
                    yield small, big, "prefix"
                    break


def fetch(conn, ctx):
    """One catalog query; index definitions (costly to deparse) only for the indexes that will be reported."""
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(QUERY, ctx.params).fetchall()
        involved = sorted({r["oid"] for pair in _redundancies(rows) for r in pair[:2]})
        definitions = {}
        if involved:
            cur.execute("SELECT o AS oid, pg_get_indexdef(o) AS definition FROM unnest(%s::oid[]) AS o", (involved,))
            definitions = {r["oid"]: r["definition"] for r in cur.fetchall()}
    for row in rows:
        row["definition"] = definitions.get(row["oid"], "")
    return rows


def evaluate(rows, ctx):
    for extra, other, kind in _redundancies(rows):
        schema, table = extra["schema"], extra["table"]
        obj = qualified(schema, table)
        if kind == "duplicate":
            message = (f"index {extra['name']} on {obj} duplicates {other['name']} (same columns, operator "
                       f"classes, collations, expressions and predicate): {extra['definition']}")
        else:
            message = (f"index {extra['name']} on {obj} is redundant: its columns are a prefix of "
                       f"{other['name']} ({other['definition']})")
        detail = {"kind": "redundant_index", "schema": schema, "table": table, "name": extra["name"],
                  "definition": extra["definition"], "backs_constraint": extra["backs_constraint"],
                  "kept": other["name"]}
        yield RULE.finding(obj, message, _drop_hint(schema, table, extra), detail=detail)


def _drop_hint(schema: str, table: str, index: dict) -> str:
    name = sql_name(schema, index["name"])
    if index["backs_constraint"]:
        return f"drop the duplicate constraint: ALTER TABLE {sql_name(schema, table)} DROP CONSTRAINT {sql_name(index['name'])};"
    return f"DROP INDEX CONCURRENTLY {name};  -- and remove it from the models/migrations"


RULE = LiveRule(
    id="DBA303",
    name="redundant-index",
    summary="Duplicate or prefix-redundant index",
    severity=Severity.WARNING,
    what="Finds, per table, indexes identical to another one (same access method, key and INCLUDE columns, "
    "operator classes, collations, sort options, expressions and predicate), and plain B-tree indexes whose "
    "key columns are a leading prefix of another B-tree index with the same predicate. Unique indexes and "
    "indexes backing a constraint are never reported as the redundant prefix.",
    why="Every extra index slows every INSERT/UPDATE, takes disk and cache, and makes vacuum longer, while "
    "the planner can answer the same queries from the other index.",
    fix="Drop the redundant index (CONCURRENTLY) and remove it from the models or migrations.",
    evaluate=evaluate,
    query=QUERY,
    fetch=fetch,
    bad_sql="""
CREATE TABLE events (id bigint PRIMARY KEY, kind text, created_at timestamptz);
CREATE INDEX ix_events_kind ON events (kind);
CREATE INDEX ix_events_kind_created ON events (kind, created_at);
""",
    good_sql="""
CREATE TABLE events (id bigint PRIMARY KEY, kind text, created_at timestamptz);
CREATE INDEX ix_events_kind_created ON events (kind, created_at);
CREATE INDEX ix_events_created ON events (created_at);
""",
    example_obj="events",
)
