"""DBA303: duplicate indexes and indexes whose key columns are a prefix of another index."""

from __future__ import annotations

from collections import defaultdict

from dbagents.findings import Severity
from dbagents.live.rules._base import LiveRule, qualified, sql_name, user_relation

QUERY = f"""
SELECT n.nspname AS schema, c.relname AS table, ic.relname AS name, am.amname AS am,
       i.indisunique AS is_unique, i.indisprimary AS is_primary, i.indisexclusion AS is_exclusion,
       i.indkey::int2[] AS keys, i.indnkeyatts AS nkey, i.indclass::oid[] AS opclasses,
       i.indcollation::oid[] AS collations, i.indoption::int2[] AS options,
       pg_get_expr(i.indexprs, i.indrelid) AS exprs, pg_get_expr(i.indpred, i.indrelid) AS pred,
       pg_get_indexdef(i.indexrelid) AS definition,
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid
               AND k.contype IN ('p', 'u', 'x')) AS backs_constraint
FROM pg_index i
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


def evaluate(rows, ctx):
    by_table: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        by_table[(row["schema"], row["table"])].append(row)
    for (schema, table), indexes in sorted(by_table.items()):
        obj = qualified(schema, table)
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
                yield RULE.finding(
                    obj,
                    f"index {extra['name']} on {obj} duplicates {keeper['name']} (same columns, operator "
                    f"classes, collations, expressions and predicate): {extra['definition']}",
                    _drop_hint(schema, table, extra),
                )
        for small in indexes:
            if small["name"] in flagged:
                continue
            for big in sorted(indexes, key=lambda r: r["name"]):
                if big is not small and big["name"] not in flagged and _is_prefix_of(small, big):
                    flagged.add(small["name"])
                    yield RULE.finding(
                        obj,
                        f"index {small['name']} on {obj} is redundant: its columns are a prefix of "
                        f"{big['name']} ({big['definition']})",
                        _drop_hint(schema, table, small),
                    )
                    break


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
