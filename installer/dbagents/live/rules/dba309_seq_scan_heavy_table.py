"""DBA309: large tables read mostly by sequential scans (a missing index)."""

from __future__ import annotations

from dbagents.findings import Severity
from dbagents.live.rules._base import LiveRule, qualified, user_relation

QUERY = f"""
SELECT n.nspname AS schema, c.relname AS table, s.seq_scan, s.seq_tup_read, coalesce(s.idx_scan, 0) AS idx_scan,
       greatest(s.n_live_tup, c.reltuples::bigint) AS est_rows
FROM pg_stat_user_tables s
JOIN pg_class c ON c.oid = s.relid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND s.seq_scan >= %(seqscan_min_scans)s AND {user_relation()}
"""


def evaluate(rows, ctx):
    min_rows, min_scans = ctx.settings.seqscan_min_rows, ctx.settings.seqscan_min_scans
    for row in rows:
        seq_scans = row["seq_scan"]
        avg_read = row["seq_tup_read"] // max(seq_scans, 1)
        if row["est_rows"] < min_rows or seq_scans < min_scans or seq_scans <= row["idx_scan"] or avg_read < min_rows:
            continue
        obj = qualified(row["schema"], row["table"])
        yield RULE.finding(
            obj,
            f"table {obj} (~{row['est_rows']:,} rows) had {seq_scans:,} sequential scans reading ~{avg_read:,} "
            f"rows each, against {row['idx_scan']:,} index scans",
            "find the queries with pg_stat_statements (or EXPLAIN them) and index their WHERE/JOIN columns",
        )


RULE = LiveRule(
    id="DBA309",
    name="seq-scan-heavy-table",
    summary="Large table read mostly by sequential scans",
    severity=Severity.INFO,
    what="Uses `pg_stat_user_tables`: reports tables with at least `seqscan_min_rows` rows (default 10,000) "
    "whose sequential scans (at least `seqscan_min_scans`, default 50, each reading on average at least "
    "`seqscan_min_rows` rows) outnumber index scans. Partitions are reported one by one.",
    why="Repeated full scans of a large table mean a query filters or joins on columns without a usable "
    "index: latency grows with the table and each scan evicts useful pages from the cache.",
    fix="Find the queries (pg_stat_statements, EXPLAIN) and add the index they need.",
    evaluate=evaluate,
    query=QUERY,
    bad_sql="""
CREATE TABLE readings (id bigint PRIMARY KEY, sensor int, value float8);
INSERT INTO readings SELECT g, g % 50, random() FROM generate_series(1, 2000) g;
ANALYZE readings;
DO $$ BEGIN FOR i IN 1..12 LOOP PERFORM count(*) FROM readings WHERE sensor = i; END LOOP; END $$;
""",
    good_sql="""
CREATE TABLE readings (id bigint PRIMARY KEY, sensor int, value float8);
INSERT INTO readings SELECT g, g % 50, random() FROM generate_series(1, 2000) g;
CREATE INDEX ix_readings_sensor ON readings (sensor);
ANALYZE readings;
SET enable_seqscan = off;
DO $$ BEGIN FOR i IN 1..12 LOOP PERFORM count(*) FROM readings WHERE sensor = i; END LOOP; END $$;
RESET enable_seqscan;
""",
    example_obj="readings",
    test_settings={"seqscan_min_rows": 1000, "seqscan_min_scans": 10},
)
