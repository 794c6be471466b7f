"""`dbagents check --scratch` end to end: the real CLI in a subprocess on a copy of the Alembic fixture project."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("alembic")
pytest.importorskip("psycopg")

FIXTURE = Path(__file__).parent / "fixtures" / "alembic_project"


@pytest.mark.slow
def test_check_scratch_reports_heads_drift_downgrades_and_live(run_cli, tmp_path):
    project = tmp_path / "proj"
    shutil.copytree(FIXTURE, project)
    result = run_cli("check", "--scratch", "--no-cache", "--format", "json", cwd=project,
                     env={"DATABASE_URL": "postgresql://app:cli-secret@db.invalid/real"})
    assert result.returncode == 1, result.stderr
    assert "executes alembic.ini's env.py and migrations" in result.stderr
    assert "cli-secret" not in result.stdout + result.stderr
    found = {(f["rule"], f["path"], f["line"]) for f in json.loads(result.stdout)["findings"]}
    assert ("DBA213", "migrations/versions/0004_tags.py", 5) in found
    assert ("DBA215", "migrations/versions/0003_user_note.py", 16) in found
    assert ("DBA215", "migrations/versions/0004_tags.py", 20) in found
    rules_at = {(rule, path) for rule, path, _ in found}
    assert ("DBA214", "app/models.py") in rules_at  # the lead maps public.invoices onto its model
    assert ("DBA301", "app/models.py") in rules_at and ("DBA307", "app/models.py") in rules_at


def test_check_scratch_with_non_empty_database_exits_2(run_cli, tmp_path, pg_server):
    import psycopg

    url = pg_server.createdb("cli_busy")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE things (id int)")
    project = tmp_path / "proj"
    shutil.copytree(FIXTURE, project)
    result = run_cli("check", "migrations", "--scratch", "--scratch-url", url, "--no-cache", cwd=project)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("dbagents: error: --scratch-url")
    assert "is not empty (relation public.things)" in result.stderr and "Traceback" not in result.stderr
