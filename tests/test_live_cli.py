"""`dbagents check schema --database-url` end to end through the real CLI."""

from __future__ import annotations

import json
import socket

import pytest

psycopg = pytest.importorskip("psycopg")


def test_check_schema_reports_live_findings(run_cli, tmp_path, pg_server):
    url = pg_server.createdb("cli_live")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE parents (id bigint PRIMARY KEY);"
                     "CREATE TABLE kids (id bigint PRIMARY KEY, parent_id bigint REFERENCES parents (id));")
    result = run_cli("check", "schema", "--database-url", url, "--no-cache", "--format", "json", "--fail-on", "warning",
                     cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert any(f["rule"] == "DBA301" and f.get("object") == "public.kids.parent_id" for f in findings)


def test_check_schema_bad_url_is_one_line_exit_2(run_cli, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://app:cli-hunter2@127.0.0.1:{port}/prod?connect_timeout=2"
    result = run_cli("check", "schema", "--database-url", url, "--no-cache", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dbagents: error: cannot connect to PostgreSQL at host 127.0.0.1")
    assert f"port {port}, database prod" in lines[0]
    assert "cli-hunter2" not in result.stdout + result.stderr
