"""DBA304: indexes never scanned since statistics were reset (unique, PK and FK-covering indexes skipped)."""

from __future__ import annotations

from datetime import datetime, timezone

from dbagents.findings import Severity
from dbagents.live.rules._base import LiveRule, qualified, sql_name, user_relation

QUERY = f"""
WITH stats AS (SELECT indexrelid, idx_scan FROM pg_stat_user_indexes),
candidates AS (
    SELECT i.indexrelid, i.indrelid, ic.relname AS name, ic.relkind::text AS relkind, i.indkey::int2[] AS keys,
           i.indnkeyatts AS nkey, n.nspname AS schema, c.relname AS table,
           CASE WHEN ic.relkind = 'i' THEN coalesce(st.idx_scan, 0)
                ELSE (SELECT coalesce(sum(ps.idx_scan), 0) FROM pg_partition_tree(i.indexrelid) pt
                      JOIN stats ps ON ps.indexrelid = pt.relid WHERE pt.isleaf) END AS scans
    FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_class c ON c.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN stats st ON st.indexrelid = i.indexrelid
    WHERE i.indisvalid AND NOT ic.relispartition AND NOT i.indisunique AND NOT i.indisexclusion
      AND {user_relation()}
)
SELECT cand.schema, cand.table, cand.name, cand.relkind, cand.keys, cand.nkey, cand.scans,
       CASE WHEN cand.relkind = 'i' THEN pg_relation_size(cand.indexrelid)
            ELSE (SELECT coalesce(sum(pg_relation_size(pt.relid)), 0) FROM pg_partition_tree(cand.indexrelid) pt
                  WHERE pt.isleaf) END AS size,
       coalesce((SELECT json_agg(f.conkey::int2[]) FROM pg_constraint f
                 WHERE f.conrelid = cand.indrelid AND f.contype = 'f'), '[]'::json) AS fk_keys,
       (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()) AS stats_reset,
       pg_postmaster_start_time() AS server_start, now() AS now
FROM candidates cand
WHERE cand.scans <= %(unused_index_max_scans)s
"""


def _covers_fk(row: dict) -> bool:
    keys = row["keys"][: row["nkey"]]
    return any(len(keys) >= len(fk) and set(keys[: len(fk)]) == set(fk) for fk in row["fk_keys"])


def _stats_window(row: dict) -> str:
    since = row["stats_reset"] or row["server_start"]
    origin = "statistics were reset" if row["stats_reset"] else "the server started (statistics never reset)"
    if since is None:
        return "since statistics began"
    now = row["now"] or datetime.now(timezone.utc)
    days = (now - since).total_seconds() / 86400
    return f"since {origin} at {since:%Y-%m-%d %H:%M} ({days:.1f} days ago)"


def evaluate(rows, ctx):
    limit = ctx.settings.unused_index_max_scans
    for row in rows:
        if row["scans"] > limit or row["size"] < ctx.settings.unused_index_min_size or _covers_fk(row):
            continue
        window = _stats_window(row)
        obj = qualified(row["schema"], row["table"])
        hint = f"DROP INDEX CONCURRENTLY {sql_name(row['schema'], row['name'])};"
        hint += "  -- check replicas first: their scans are not counted here"
        yield RULE.finding(
            obj,
            f"index {row['name']} on {obj} ({row['size'] // 1024} KiB) has {row['scans']} scans {window}",
            hint,
        )


RULE = LiveRule(
    id="DBA304",
    name="unused-index",
    summary="Index never used since statistics were reset",
    severity=Severity.INFO,
    what="Finds non-unique indexes with at most `unused_index_max_scans` scans (default 0) in "
    "`pg_stat_user_indexes` and at least `unused_index_min_size` bytes (default 1 MiB). Unique, primary-key, "
    "exclusion and foreign-key-covering indexes are skipped; partitioned indexes sum their partitions. The "
    "message says since when statistics were collected.",
    why="An unused index slows every write and takes disk and cache for nothing. Statistics are per server: "
    "scans on replicas are not counted, and a recent statistics reset makes every index look unused.",
    fix="Check the statistics window and your replicas, then drop the index (CONCURRENTLY).",
    evaluate=evaluate,
    query=QUERY,
    bad_sql="""
CREATE TABLE visits (id bigint PRIMARY KEY, path text);
INSERT INTO visits SELECT g, 'p' || g FROM generate_series(1, 200) g;
CREATE INDEX ix_visits_path ON visits (path);
""",
    good_sql="""
CREATE TABLE visits (id bigint PRIMARY KEY, path text);
INSERT INTO visits SELECT g, 'p' || g FROM generate_series(1, 200) g;
CREATE INDEX ix_visits_path ON visits (path);
SET enable_seqscan = off;
SELECT count(*) FROM visits WHERE path = 'p7';
RESET enable_seqscan;
""",
    example_obj="visits",
    test_settings={"unused_index_min_size": 0},
)
